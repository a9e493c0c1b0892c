// A Cloudflare Worker written in plain JS that imports "tokengate", bundled by wrangler
// with no configuration beyond name/main/compatibility_date (`wrangler deploy --dry-run
// --outdir`, which resolves the package's `workerd` condition and turns its .wasm import
// into a CompiledWasm module), then run in workerd through Miniflare. Outbound fetches
// (OIDC discovery and JWKS of https://idp.test/) are answered by a mock in this process;
// a KV namespace is the verifier's shared `cache`, another (the KV binding itself) its
// revocation store.

import { test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { AUDIENCE, ROOT, jwksOf, machineClaims, makeKeys, now, sign, userClaims } from "./lib/harness.mjs";

const TARBALL = process.env.TOKENGATE_TARBALL ?? path.join(ROOT, "target/npm/tokengate.tgz");
const ISSUER = "https://idp.test/";

const WORKER = `
import { bearerToken, createVerifier, decode, forwardHeaders, protect } from "tokengate";

let verifier;
function getVerifier(env) {
  verifier ??= createVerifier({
    issuer: env.ISSUER,
    audience: env.AUDIENCE,
    cache: {
      get: (key) => env.JWKS_CACHE.get(key),
      set: (key, value, ttl) => env.JWKS_CACHE.put(key, value, { expirationTtl: Math.max(60, ttl) }),
    },
    // The KV namespace as it is: get(key) answers a promise of the value or null.
    revocation: { store: env.REVOKED, cacheSeconds: 0 },
  });
  return verifier;
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/decode") return Response.json(decode(url.searchParams.get("token") ?? ""));
    if (url.pathname === "/protected") {
      const guarded = protect(() => getVerifier(env), { scopesAll: ["read:builds"], machinesBypassScopes: true },
        (req, principal) => Response.json({ kind: principal.kind, upstream: Object.fromEntries(forwardHeaders(req.headers, principal)) }));
      return guarded(request);
    }
    const bearer = bearerToken(request.headers.get("authorization"));
    if (!bearer.ok) return Response.json(bearer, { status: bearer.error.status });
    const scope = request.method === "GET" ? "read:builds" : "update:builds";
    const r = await getVerifier(env).authorize(bearer.token, { scopesAll: [scope], machinesBypassScopes: true });
    const headers = !r.ok && r.error.wwwAuthenticate ? { "www-authenticate": r.error.wwwAuthenticate } : {};
    return Response.json(r, { status: r.ok ? 200 : r.error.status, headers });
  },
};
`;

function compatibilityDate() {
  const toml = readFileSync(path.join(ROOT, "wrangler.toml"), "utf8");
  return toml.match(/^compatibility_date\s*=\s*"([0-9-]+)"/m)?.[1] ?? "2025-01-01";
}

test("Cloudflare Worker (JS) bundled by wrangler, run in workerd", { timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), "tokengate-worker-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const date = compatibilityDate();
  writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "w", private: true, type: "module" }));
  writeFileSync(path.join(dir, "worker.js"), WORKER);
  writeFileSync(
    path.join(dir, "wrangler.toml"),
    `name = "tokengate-js-worker"\nmain = "worker.js"\ncompatibility_date = "${date}"\n`,
  );
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", TARBALL], { cwd: dir, stdio: "inherit" });
  const wrangler = path.join(ROOT, "node_modules/wrangler/bin/wrangler.js");
  execFileSync(process.execPath, [wrangler, "deploy", "--dry-run", "--outdir", "dist"], {
    cwd: dir,
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", WRANGLER_SEND_ERROR_REPORTS: "false" },
  });
  const dist = path.join(dir, "dist");
  const files = readdirSync(dist);
  const wasm = files.filter((f) => f.endsWith(".wasm"));
  assert.equal(wasm.length, 1, `one .wasm module in ${files}`);
  const bundle = readFileSync(path.join(dist, "worker.js"), "utf8");
  assert.match(bundle, /node_modules\/tokengate\/workerd\.mjs/, "the workerd entry was bundled");
  assert.doesNotMatch(bundle, /tokengate_wasm\.cjs|base64/, "no inlined wasm in the Worker bundle");

  const keys = makeKeys();
  const outbound = [];
  const outboundService = async (req) => {
    outbound.push(req.url);
    const u = new URL(req.url);
    if (u.href === `${ISSUER}.well-known/openid-configuration`) {
      return Response.json({ issuer: ISSUER, jwks_uri: `${ISSUER}jwks` });
    }
    if (u.href === `${ISSUER}jwks`) {
      return Response.json(jwksOf([keys.rs, keys.es, keys.ed]), { headers: { "cache-control": "max-age=600" } });
    }
    return new Response("not found", { status: 404 });
  };
  // The repository's devDependency (root node_modules), pinned with wrangler.
  const miniflare = await import("miniflare");
  const v4 = {
    host: "127.0.0.1",
    port: 0,
    cf: false,
    modules: [
      { type: "ESModule", path: path.join(dist, "worker.js") },
      { type: "CompiledWasm", path: path.join(dist, wasm[0]) },
    ],
    modulesRoot: dist,
    compatibilityDate: date,
    kvNamespaces: ["JWKS_CACHE", "REVOKED"],
    bindings: { ISSUER, AUDIENCE },
    outboundService,
  };
  const options = typeof miniflare.convertV4MiniflareOptions === "function" ? miniflare.convertV4MiniflareOptions(v4) : v4;
  const mf = new miniflare.Miniflare(options);
  t.after(() => mf.dispose());
  await mf.ready;

  const call = async (p, { token, method = "GET" } = {}) => {
    const headers = token ? { authorization: `Bearer ${token}` } : {};
    const res = await mf.dispatchFetch(`https://worker.test${p}`, { method, headers });
    return { status: res.status, headers: res.headers, json: await res.json() };
  };

  const user = sign(keys.rs, userClaims(ISSUER));
  let r = await call(`/decode?token=${user}`);
  assert.equal(r.json.ok, true);
  assert.equal(r.json.verified, false);
  assert.equal(r.json.hint.kind, "user");

  // protect(): the edge's answers and forwarded headers from a Fetch-API handler.
  r = await call("/protected");
  assert.equal(r.status, 401);
  assert.equal(r.headers.get("www-authenticate"), 'Bearer realm="tokengate"');
  assert.equal(r.json.code, "token_missing");
  {
    const res = await mf.dispatchFetch("https://worker.test/protected", {
      headers: { authorization: `Bearer ${user}`, "x-tokengate-kind": "machine", X_Tokengate_Subject: "admin" },
    });
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.kind, "user");
    assert.equal(body.upstream["x-tokengate-kind"], "user");
    assert.equal(body.upstream["x-tokengate-subject"], "auth0|user-1");
    assert.equal(body.upstream.x_tokengate_subject, undefined);
  }

  for (const key of [keys.rs, keys.es, keys.ed]) {
    r = await call("/builds", { token: sign(key, userClaims(ISSUER)) });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.principal.kind, "user");
  }
  r = await call("/builds", { token: user, method: "POST" });
  assert.equal(r.status, 403);
  assert.equal(r.json.error.code, "insufficient_scope");
  assert.match(r.headers.get("www-authenticate"), /scope="update:builds"/);
  r = await call("/builds", { token: sign(keys.ed, machineClaims(ISSUER)), method: "POST" });
  assert.equal(r.status, 200);
  assert.equal(r.json.principal.kind, "machine");
  assert.equal(r.json.principal.clientId, "ci-bot");
  r = await call("/builds", { token: sign(keys.rs, userClaims(ISSUER, { iat: now() - 7200, exp: now() - 3600 })) });
  assert.equal(r.status, 401);
  assert.equal(r.json.error.code, "token_expired");
  r = await call("/builds");
  assert.equal(r.status, 401);
  assert.equal(r.json.error.code, "token_missing");

  // Discovery and JWKS fetched once; the cache state is in KV for other isolates.
  assert.deepEqual(outbound, [`${ISSUER}.well-known/openid-configuration`, `${ISSUER}jwks`]);
  const kv = await mf.getKVNamespace("JWKS_CACHE");
  const key = crypto
    .createHash("sha256")
    .update(JSON.stringify([ISSUER, "discovery", `${ISSUER}.well-known/openid-configuration`]))
    .digest("hex");
  const stored = await kv.get(`jwks:v2:${key}`);
  assert.ok(stored && JSON.parse(stored).jwks, "the JWKS cache state is stored in KV");

  // Revocation from the KV namespace: an entry written as `tokengate revoke` writes it
  // refuses the client's tokens, a repeated (kept) one included.
  const { revocationKey, revocationValue } = await import("tokengate");
  const machine = sign(keys.es, machineClaims(ISSUER, { iat: now() - 10 }));
  r = await call("/builds", { token: machine });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  const revoked = await mf.getKVNamespace("REVOKED");
  await revoked.put(revocationKey(ISSUER, "client", "ci-bot"), revocationValue(now()));
  for (const p of ["/builds", "/builds", "/protected"]) {
    r = await call(p, { token: machine });
    assert.equal(r.status, 401, JSON.stringify(r.json));
    assert.equal(r.json.error?.code ?? r.json.code, "token_revoked");
  }
  r = await call("/builds", { token: sign(keys.es, userClaims(ISSUER)) });
  assert.equal(r.status, 200, "another client's token still passes");
});
