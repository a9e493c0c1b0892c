// End to end: the Next.js example (examples/nextjs) with the packed tarball, built with
// `next build` and served by `next start` on 127.0.0.1, against a local issuer (JWKS)
// and an upstream that echoes what it receives. Real HTTP requests check allow/deny and
// the forwarded identity headers in the Node.js route, the edge route and proxy.ts.
//
// Environment:
//   TOKENGATE_TARBALL   the packed package (run.sh sets it; default target/npm/tokengate.tgz)
//   TOKENGATE_E2E_DIR   where the example is copied and installed (default: a directory
//                       under the OS temp dir, reused between runs so that node_modules
//                       and Next's build cache make reruns fast)
//   TOKENGATE_NEXT_BUNDLERS  comma-separated: turbopack (default, Next 16's default
//                       bundler) and/or webpack (`next build --webpack`)

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { createServer } from "node:http";
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  AUDIENCE,
  ROOT,
  machineClaims,
  makeKeys,
  now,
  sign,
  startIssuer,
  userClaims,
} from "./lib/harness.mjs";

const EXAMPLE = path.join(ROOT, "examples/nextjs");
const TARBALL = process.env.TOKENGATE_TARBALL ?? path.join(ROOT, "target/npm/tokengate.tgz");
const APP = process.env.TOKENGATE_E2E_DIR ?? path.join(tmpdir(), "tokengate-nextjs-e2e");
const BUNDLERS = (process.env.TOKENGATE_NEXT_BUNDLERS ?? "turbopack").split(",").filter(Boolean);
const ENV = { ...process.env, NEXT_TELEMETRY_DISABLED: "1" };

function run(cmd, args, opts = {}) {
  execFileSync(cmd, args, { stdio: ["ignore", "inherit", "inherit"], env: ENV, ...opts });
}

/** Copies the example (sources only) over APP, keeping node_modules and .next/cache. */
function prepareApp() {
  assert.ok(existsSync(TARBALL), `${TARBALL} is missing: run tests/npm/run.sh (it packs the package)`);
  mkdirSync(APP, { recursive: true });
  for (const entry of readdirSync(APP)) {
    if (entry !== "node_modules" && entry !== ".next") rmSync(path.join(APP, entry), { recursive: true, force: true });
  }
  rmSync(path.join(APP, ".next"), { recursive: true, force: true, maxRetries: 2 });
  for (const entry of readdirSync(EXAMPLE)) {
    if (["node_modules", ".next", "next-env.d.ts"].includes(entry) || entry.endsWith(".tsbuildinfo")) continue;
    cpSync(path.join(EXAMPLE, entry), path.join(APP, entry), { recursive: true });
  }
  // The example depends on the tarball by a path relative to the repository; here it is
  // installed from its absolute path (npm records the new integrity in the copy only).
  const t0 = Date.now();
  run("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", TARBALL], { cwd: APP });
  // The installed package is this build (npm reuses an installed tarball dependency
  // whose spec did not change, whatever the tarball now contains).
  const installed = readFileSync(path.join(APP, "node_modules/tokengate/tokengate_bg.wasm"));
  const packed = execFileSync("tar", ["-xzOf", TARBALL, "package/tokengate_bg.wasm"], {
    maxBuffer: 64 << 20,
  });
  assert.ok(installed.equals(packed), "node_modules/tokengate is not the packed build");
  return Date.now() - t0;
}

async function freePort() {
  const s = createServer();
  await new Promise((r) => s.listen(0, "127.0.0.1", r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

/** An upstream that answers every request with what it received. */
async function startUpstream() {
  const requests = [];
  const server = createServer(async (req, res) => {
    let body = "";
    for await (const chunk of req) body += chunk;
    const seen = { method: req.method, url: req.url, headers: req.headers, body };
    requests.push(seen);
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify(seen));
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    requests,
    close: () => new Promise((r) => server.close(r)),
  };
}

async function startNext(env) {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [path.join(APP, "node_modules/next/dist/bin/next"), "start", "-H", "127.0.0.1", "-p", String(port)],
    { cwd: APP, env: { ...ENV, ...env }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`next start exited:\n${output}`);
    try {
      const r = await fetch(`${base}/`);
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`next start did not come up:\n${output}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    base,
    output: () => output,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

const ROUTES = [
  ["Node.js route handler", "/api/proxy"],
  ["edge route handler", "/api/edge"],
  ["proxy.ts", "/upstream"],
];

test("the example's lockfile installs on every platform (each @next/swc binary is listed)", () => {
  const lock = JSON.parse(readFileSync(path.join(EXAMPLE, "package-lock.json"), "utf8"));
  const next = lock.packages["node_modules/next"];
  const wanted = Object.keys(next.optionalDependencies ?? {}).filter((d) => d.startsWith("@next/swc-"));
  assert.ok(wanted.length >= 8, `next lists its swc binaries: ${wanted}`);
  for (const dep of wanted) {
    const entry = lock.packages[`node_modules/${dep}`];
    assert.ok(entry?.version && entry.integrity, `${dep} is in the lockfile with its version and integrity`);
  }
});

test("Next.js example: next build, next start, allow/deny in every runtime", { timeout: 15 * 60_000 }, async (t) => {
  const installMs = prepareApp();
  t.diagnostic(`npm install in ${APP}: ${(installMs / 1000).toFixed(1)} s`);

  const keys = makeKeys();
  const idp = await startIssuer({ keys: [keys.rs, keys.es] });
  const upstream = await startUpstream();
  t.after(() => idp.close());
  t.after(() => upstream.close());

  for (const bundler of BUNDLERS) {
    await t.test(`${bundler}`, async (t) => {
      const args = [path.join(APP, "node_modules/next/dist/bin/next"), "build"];
      if (bundler === "webpack") args.push("--webpack");
      rmSync(path.join(APP, ".next"), { recursive: true, force: true, maxRetries: 2 });
      const t0 = Date.now();
      run(process.execPath, args, { cwd: APP });
      const buildSeconds = (Date.now() - t0) / 1000;
      t.diagnostic(`next build (${bundler}): ${buildSeconds.toFixed(1)} s`);
      console.error(`[nextjs e2e] next build (${bundler}) took ${buildSeconds.toFixed(1)} s`);

      idp.resetCounts();
      const server = await startNext({
        TOKENGATE_ISSUER: idp.issuer,
        TOKENGATE_AUDIENCE: AUDIENCE,
        TOKENGATE_JWKS_URI: idp.jwksUri,
        UPSTREAM_URL: upstream.url,
      });
      t.after(() => server.stop());

      const reader = sign(keys.rs, userClaims(idp.issuer));
      const writer = sign(keys.es, userClaims(idp.issuer, { permissions: ["read:builds", "update:builds"] }));
      const nobody = sign(keys.rs, userClaims(idp.issuer, { permissions: [] }));
      const machine = sign(keys.es, machineClaims(idp.issuer, { scope: "" }));
      const expired = sign(keys.rs, userClaims(idp.issuer, { iat: now() - 7200, exp: now() - 3600 }));
      const wrongAud = sign(keys.rs, userClaims(idp.issuer, { aud: "https://other.example" }));
      const forged = `${sign(keys.rs, userClaims(idp.issuer, { sub: "admin" })).split(".").slice(0, 2).join(".")}.${reader.split(".")[2]}`;
      const oddSub = "auth0|a\nb é%";
      const odd = sign(keys.rs, userClaims(idp.issuer, { sub: oddSub }));
      // What the upstream must never see from the client, in spellings a CGI-style
      // server folds into an identity header or a method override.
      const spoofed = {
        "x-tokengate-kind": "machine",
        "x-tokengate-subject": "root",
        X_Tokengate_Kind: "machine",
        X_TOKENGATE_SCOPES: "update:builds",
        "x_tokengate-client_id": "ci-bot",
        x_tokengate_user_id: "root",
        "X-HTTP-Method-Override": "DELETE",
        X_HTTP_METHOD_OVERRIDE: "DELETE",
        "X-Method-Override": "DELETE",
        "X-HTTP-Method": "DELETE",
      };
      const RESERVED = ["x-tokengate-", "x-http-method-override", "x-method-override", "x-http-method"];
      const reservedSeen = (headers) =>
        Object.keys(headers)
          .map((k) => k.toLowerCase().replaceAll("_", "-"))
          .filter((k) => RESERVED.some((r) => (r.endsWith("-") ? k.startsWith(r) : k === r)))
          .sort();

      const call = async (url, { token, method = "GET", body, headers = {} } = {}) => {
        const h = { ...headers };
        if (token) h.authorization = `Bearer ${token}`;
        const res = await fetch(`${server.base}${url}`, { method, headers: h, body, redirect: "manual" });
        const text = await res.text();
        let json;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        return { status: res.status, headers: res.headers, json, text };
      };

      for (const [name, prefix] of ROUTES) {
        await t.test(name, async () => {
          const hits = () => upstream.requests.length;
          const where = `${name} (${bundler})`;

          // A user with read:builds reads; identity headers reach the upstream, and
          // spoofed ones do not.
          let r = await call(`${prefix}/builds/42?page=2`, { token: reader, headers: spoofed });
          assert.equal(r.status, 200, `${where}: ${r.text}\n${server.output()}`);
          assert.equal(r.json.url, "/builds/42?page=2");
          assert.equal(r.json.method, "GET");
          assert.equal(r.json.headers["x-tokengate-kind"], "user");
          assert.equal(r.json.headers["x-tokengate-subject"], "auth0|user-1");
          assert.equal(r.json.headers["x-tokengate-client-id"], "spa-client");
          assert.equal(r.json.headers["x-tokengate-scopes"], "openid profile read:builds");
          assert.deepEqual(
            reservedSeen(r.json.headers),
            ["x-tokengate-client-id", "x-tokengate-issuer", "x-tokengate-kind", "x-tokengate-scopes", "x-tokengate-subject", "x-tokengate-user-id"],
            `${where}: ${Object.keys(r.json.headers).join(", ")}`,
          );

          // A claim a header cannot carry arrives percent-encoded, exactly (not a 500).
          r = await call(`${prefix}/builds/42`, { token: odd });
          assert.equal(r.status, 200, `${where}: ${r.text}`);
          assert.equal(r.json.headers["x-tokengate-subject"], "auth0|a%0Ab%20%C3%A9%25");
          assert.equal(decodeURIComponent(r.json.headers["x-tokengate-subject"]), oddSub);

          // A method override does not reach the upstream: a POST stays a POST.
          r = await call(`${prefix}/builds`, { token: machine, method: "POST", body: "{}", headers: spoofed });
          assert.equal(r.status, 200, `${where}: ${r.text}`);
          assert.equal(r.json.method, "POST");
          assert.deepEqual(reservedSeen(r.json.headers), ["x-tokengate-client-id", "x-tokengate-issuer", "x-tokengate-kind", "x-tokengate-scopes", "x-tokengate-subject"]);

          // Writes: a user needs update:builds.
          const before = hits();
          r = await call(`${prefix}/builds`, { token: reader, method: "POST", body: "{}" });
          assert.equal(r.status, 403, `${where}: ${r.text}`);
          assert.equal(r.json.code, "insufficient_scope");
          assert.match(r.headers.get("www-authenticate"), /error="insufficient_scope"/);
          assert.match(r.headers.get("www-authenticate"), /scope="update:builds"/);
          assert.equal(hits(), before, "a denied request never reaches the upstream");

          r = await call(`${prefix}/builds`, { token: writer, method: "POST", body: '{"ref":"main"}' });
          assert.equal(r.status, 200, `${where}: ${r.text}`);
          assert.equal(r.json.method, "POST");
          assert.equal(r.json.body, '{"ref":"main"}');
          assert.match(r.json.headers["x-tokengate-scopes"], /update:builds/);

          // Machines may do everything, even without scopes.
          r = await call(`${prefix}/builds/42`, { token: machine, method: "DELETE" });
          assert.equal(r.status, 200, `${where}: ${r.text}`);
          assert.equal(r.json.method, "DELETE");
          assert.equal(r.json.headers["x-tokengate-kind"], "machine");
          assert.equal(r.json.headers["x-tokengate-client-id"], "ci-bot");
          assert.equal(r.json.headers["x-tokengate-subject"], "ci-bot@clients");

          // Users without the permission cannot even read.
          r = await call(`${prefix}/builds`, { token: nobody });
          assert.equal(r.status, 403, `${where}: ${r.text}`);
          assert.match(r.headers.get("www-authenticate"), /scope="read:builds"/);

          // Bad or missing tokens.
          r = await call(`${prefix}/builds`);
          assert.equal(r.status, 401, `${where}: ${r.text}`);
          // The edge authorizer's body, from tokengate's protect().
          assert.deepEqual(r.json, { code: "token_missing", error: "unauthorized", error_description: "no access token was presented" });
          assert.equal(r.headers.get("www-authenticate"), 'Bearer realm="tokengate"');
          r = await call(`${prefix}/builds`, { headers: { authorization: "Basic dXNlcjpwYXNz" } });
          assert.equal(r.status, 400, `${where}: ${r.text}`);
          assert.equal(r.json.code, "invalid_request");
          for (const [token, code] of [
            [expired, "token_expired"],
            [wrongAud, "audience_mismatch"],
            [forged, "signature_invalid"],
            ["not-a-jwt", "token_malformed"],
          ]) {
            r = await call(`${prefix}/builds`, { token });
            assert.equal(r.status, 401, `${where} ${code}: ${r.text}`);
            assert.equal(r.json.code, code);
            assert.equal(r.json.error, "invalid_token");
            assert.match(r.headers.get("www-authenticate"), /error="invalid_token"/);
          }
          assert.equal(hits(), before + 2);
        });
      }

      await t.test("client page: browser entry bundled, its .wasm served as an asset", async () => {
        const page = await call("/decode");
        assert.equal(page.status, 200);
        assert.match(page.text, /Decode an access token/);
        const media = path.join(APP, ".next/static/media");
        const assets = existsSync(media) ? readdirSync(media).filter((f) => /^tokengate_bg\..*\.wasm$/.test(f)) : [];
        assert.equal(assets.length, 1, `one tokengate .wasm asset in .next/static/media: ${assets}`);
        const res = await fetch(`${server.base}/_next/static/media/${assets[0]}`);
        assert.equal(res.status, 200);
        assert.equal(res.headers.get("content-type"), "application/wasm");
        const served = Buffer.from(await res.arrayBuffer());
        assert.ok(served.equals(readFileSync(path.join(APP, "node_modules/tokengate/tokengate_bg.wasm"))));
      });

      // Each runtime instance (Node.js routes, the edge sandbox, the proxy) keeps the
      // key set in memory: a handful of fetches for all those requests.
      const fetches = idp.count("/jwks");
      t.diagnostic(`JWKS fetches across ${ROUTES.length} runtimes: ${fetches}`);
      assert.ok(fetches >= 1 && fetches <= ROUTES.length, `JWKS fetched ${fetches} times`);
      await server.stop();
    });
  }
});
