// The demo cannot ship by accident: with the `demo` environment of wrangler.toml
// (TOKENGATE_DEMO=1 and its configuration), the Worker serves only loopback requests,
// as `wrangler dev` on 127.0.0.1 makes them. A request to any other host (what a
// `wrangler deploy --env demo` would receive) is a 500 config_invalid, mints nothing and
// generates no key. Outside demo mode no key is ever generated.

import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { startWorker, ROOT } from "./harness.mjs";

/** The `[env.demo.vars]` of wrangler.toml, as `wrangler dev --env demo` binds them. */
function demoVars() {
  const toml = readFileSync(path.join(ROOT, "wrangler.toml"), "utf8");
  const section = toml.slice(toml.indexOf("[env.demo.vars]"));
  const demo = section.match(/^TOKENGATE_DEMO\s*=\s*"([^"]*)"/m);
  const config = section.match(/^TOKENGATE_CONFIG\s*=\s*'''([\s\S]*?)'''/m);
  assert.ok(demo && config, "wrangler.toml has [env.demo.vars] with TOKENGATE_DEMO and TOKENGATE_CONFIG");
  JSON.parse(config[1]);
  return { TOKENGATE_DEMO: demo[1], TOKENGATE_CONFIG: config[1] };
}

const PUBLIC = "https://tokengate-demo.example.workers.dev";
/** The KV keys where the demo keeps its generated keys (crates/worker/src/demo.rs, exchange.rs). */
const DEMO_KEYS = ["demo:signing-key:v1", "demo:edge-signing-keys:v1"];

async function noKeysGenerated(w) {
  for (const key of DEMO_KEYS) assert.equal(await w.kvGet("JWKS_CACHE", key), null, key);
}

async function refused(res) {
  const text = await res.text();
  // (A token in the message would be printed whole: keep only its start.)
  assert.equal(res.status, 500, text.slice(0, 60));
  assert.doesNotMatch(text, /eyJ/, "no token in the body");
  const body = JSON.parse(text);
  assert.equal(body.code, "config_invalid");
  assert.equal(body.error, "server_error");
  // The client learns the decision; the reason (the loopback rule) is in the log line.
  assert.equal(body.error_description, "the authorizer is misconfigured; see its logs");
  assert.equal(body.keys, undefined);
}

describe("demo gating", () => {
  test("on a public host the demo mints nothing, publishes no key and generates none", async () => {
    const w = await startWorker({ vars: demoVars() });
    try {
      for (const p of [
        "/__demo/token?kind=machine&scope=read:builds&format=raw",
        "/__demo/token?kind=user&scope=update:builds",
        "/__demo/jwks.json",
        "/.well-known/jwks.json",
        "/health",
        "/builds/42",
      ]) {
        await refused(await w.fetch(`${PUBLIC}${p}`));
      }
      const res = await w.fetch(`${PUBLIC}/oauth/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange",
      });
      await refused(res);
      await noKeysGenerated(w);
      const [line] = await w.requestLogs(1);
      assert.equal(line.decision, "config_error");
      assert.equal(line.code, "config_invalid");
      assert.match(line.message, /TOKENGATE_DEMO: .*loopback/);
      assert.equal(w.outboundCalls.length, 0);
    } finally {
      await w.dispose();
    }
  });

  test("the demo token's query is form-decoded, and a bad escape is a 400", async () => {
    const w = await startWorker({ vars: demoVars() });
    try {
      const res = await w.fetch(
        "http://127.0.0.1:8787/__demo/token?kind=user&scope=read%3Abuilds+update:builds&sub=a%2Bb&format=raw",
      );
      const token = await res.text();
      assert.equal(res.status, 200, token);
      const claims = JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString());
      assert.equal(claims.scope, "read:builds update:builds");
      assert.equal(claims.sub, "a+b");
      for (const q of ["scope=%E0%A4", "scope=%zz", "%FF=x"]) {
        const bad = await w.fetch(`http://127.0.0.1:8787/__demo/token?${q}`);
        assert.equal(bad.status, 400, q);
        assert.equal((await bad.json()).error, "invalid_request");
      }
    } finally {
      await w.dispose();
    }
  });

  test("on 127.0.0.1 and localhost it works, and a public host is refused afterwards too", async () => {
    const w = await startWorker({ vars: demoVars() });
    try {
      const res = await w.fetch("http://127.0.0.1:8787/__demo/token?kind=machine&format=raw");
      const token = await res.text();
      assert.equal(res.status, 200, token);
      assert.equal(token.split(".").length, 3);
      const jwks = await (await w.fetch("http://localhost:8787/__demo/jwks.json")).json();
      assert.equal(jwks.keys.length, 1);
      assert.equal(jwks.keys[0].d, undefined);
      assert.equal((await w.fetch("http://[::1]:8787/health")).status, 200);
      const put = await w.fetch("http://127.0.0.1:8787/builds/42", {
        method: "PUT",
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(put.status, 200, await put.clone().text());
      assert.equal((await put.json()).headers["x-tokengate-kind"], "machine");

      // The same isolate, its demo built: still nothing for a public host, nor for
      // names that only look local.
      for (const base of [PUBLIC, "http://127.0.0.1.nip.io:8787", "http://localhost.example.com"]) {
        await refused(await w.fetch(`${base}/__demo/token?kind=machine&format=raw`));
        await refused(await w.fetch(`${base}/__demo/jwks.json`));
      }
    } finally {
      await w.dispose();
    }
  });

  test("a loopback host from a remote client (cf-connecting-ip) is refused", async () => {
    const w = await startWorker({ vars: demoVars() });
    try {
      for (const ip of ["203.0.113.7", "2001:db8::1", "not an ip"]) {
        await refused(
          await w.fetch("http://127.0.0.1:8787/__demo/token?format=raw", { headers: { "cf-connecting-ip": ip } }),
        );
      }
      await noKeysGenerated(w);
      for (const ip of ["127.0.0.1", "::1", "::ffff:127.0.0.1"]) {
        const res = await w.fetch("http://127.0.0.1:8787/__demo/token?format=raw", {
          headers: { "cf-connecting-ip": ip },
        });
        assert.equal(res.status, 200, ip);
      }
    } finally {
      await w.dispose();
    }
  });

  test("outside demo mode a missing TOKENGATE_SIGNING_KEYS is a config error, never a generated key", async () => {
    for (const flag of [undefined, "0", "true", "yes", " 1"]) {
      const vars = demoVars();
      if (flag === undefined) delete vars.TOKENGATE_DEMO;
      else vars.TOKENGATE_DEMO = flag;
      const w = await startWorker({ vars });
      try {
        for (const p of ["/__demo/token?format=raw", "/.well-known/jwks.json", "/health"]) {
          const res = await w.fetch(`http://127.0.0.1:8787${p}`);
          const body = await res.json();
          assert.equal(res.status, 500, `${flag}: ${JSON.stringify(body)}`);
          assert.equal(body.code, "config_invalid");
          assert.doesNotMatch(body.error_description, /TOKENGATE_SIGNING_KEYS/);
        }
        const lines = await w.requestLogs(3);
        for (const line of lines) {
          assert.equal(line.code, "config_invalid");
          assert.match(line.message, /TOKENGATE_SIGNING_KEYS secret is not set/);
        }
        await noKeysGenerated(w);
      } finally {
        await w.dispose();
      }
    }
  });
});
