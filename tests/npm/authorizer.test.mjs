// The no-Rust path of issue 14, end to end: a project made by `tokengate init` from the
// packed tarball alone (TOKENGATE_TARBALL), its dependencies installed with npm, and
// `wrangler dev` / `wrangler deploy --dry-run` run in it with no `cargo` on PATH. The
// Worker is the package's prebuilt `tokengate/authorizer`; a local issuer (OIDC
// discovery + JWKS) and a local origin listen on 127.0.0.1.
//
// Checked: public route, 401/403 answers with their challenge, identity headers (and
// spoofed ones dropped), the origin secret, the client registry (CLIENTS KV), the token
// exchange with signing keys from `tokengate keygen` as a secret (.dev.vars), and the
// dry-run bundle. Prints the install-to-first-request time.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Issuer } from "../worker/tokens.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, "../..");
const TARBALL = process.env.TOKENGATE_TARBALL;
const API = "https://api.example.com";
const GRANT = "urn:ietf:params:oauth:grant-type:token-exchange";
const AT = "urn:ietf:params:oauth:token-type:access_token";

if (!TARBALL || !fs.existsSync(TARBALL)) {
  throw new Error("TOKENGATE_TARBALL must name the packed tarball (tests/npm/run.sh sets it)");
}

/** PATH with node (and npm/npx beside it) and the system directories: no cargo, no rustc. */
function pathWithoutRust() {
  const nodeDir = path.dirname(fs.realpathSync(process.execPath));
  const dirs = [nodeDir, "/usr/bin", "/bin"];
  for (const tool of ["cargo", "rustc", "wasm-bindgen", "worker-build"]) {
    for (const d of dirs) assert.ok(!fs.existsSync(path.join(d, tool)), `${tool} is in ${d}`);
  }
  return dirs.join(":");
}

function listen(handler) {
  return new Promise((resolve) => {
    const server = http.createServer(handler);
    server.listen(0, "127.0.0.1", () => resolve(server));
  });
}

const freePort = () =>
  new Promise((resolve) => {
    const s = http.createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

let dir, env, wrangler, port, base, idp, idpServer, origin, originServer, installMs, firstRequestMs;
const seen = [];

function run(cmd, args, opts = {}) {
  return execFileSync(cmd, args, { cwd: dir, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], ...opts });
}

/** Starts `wrangler dev` in the project with `args`; resolves once it listens. */
async function startDev(args) {
  const child = spawn("npx", ["wrangler", "dev", ...args], { cwd: dir, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  let out = "";
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`wrangler dev did not start:\n${out}`)), 120_000);
    const onData = (d) => {
      out += d;
      if (/Ready on http/.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("exit", (code) => reject(new Error(`wrangler dev exited (${code}):\n${out}`)));
  });
  return child;
}

const stop = (child) => {
  try {
    process.kill(-child.pid, "SIGTERM");
  } catch {}
};

before(async () => {
  const t0 = performance.now();
  env = { ...process.env, PATH: pathWithoutRust(), NO_COLOR: "1", WRANGLER_SEND_METRICS: "false", CI: "1" };
  delete env.CARGO_HOME;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tokengate-authorizer-"));

  // The CLI of the tarball writes the project (unpacked with npm itself, not from pkg/).
  const unpack = path.join(dir, "unpack");
  fs.mkdirSync(unpack);
  execFileSync("tar", ["-xzf", TARBALL, "-C", unpack], { env });
  execFileSync(process.execPath, [path.join(unpack, "package/cli.js"), "init", path.join(dir, "app")], { env, encoding: "utf8" });
  dir = path.join(dir, "app");

  // The project's own dependencies: the tarball and the wrangler this repository pins
  // (within the template's range), from npm's cache where it has them.
  const wranglerVersion = JSON.parse(fs.readFileSync(path.join(ROOT, "node_modules/wrangler/package.json"), "utf8")).version;
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"));
  // The template pins the wrangler this repository tests with (as the lowest version of
  // its range) and the compatibility date of the repository's own wrangler.toml.
  assert.equal(pkg.devDependencies.wrangler, `^${wranglerVersion}`, "the template's wrangler range starts at the tested version");
  const date = (f) => fs.readFileSync(f, "utf8").match(/^compatibility_date\s*=\s*"([0-9-]+)"/m)?.[1];
  assert.equal(date(path.join(dir, "wrangler.toml")), date(path.join(ROOT, "wrangler.toml")));
  run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error", TARBALL, `wrangler@${wranglerVersion}`], { timeout: 300_000 });
  installMs = performance.now() - t0;

  idp = new Issuer({ issuer: "http://127.0.0.1:0/" });
  idpServer = await listen((req, res) => {
    const iss = idp.issuer;
    res.setHeader("content-type", "application/json");
    if (req.url === "/.well-known/openid-configuration") {
      res.end(JSON.stringify({ issuer: iss, jwks_uri: `${iss}.well-known/jwks.json` }));
    } else if (req.url === "/.well-known/jwks.json") {
      res.end(JSON.stringify(idp.jwks()));
    } else {
      res.statusCode = 404;
      res.end("{}");
    }
  });
  idp.issuer = `http://127.0.0.1:${idpServer.address().port}/`;
  originServer = await listen((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      seen.push({ method: req.method, url: req.url, headers: req.headers });
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body }));
    });
  });
  origin = `http://127.0.0.1:${originServer.address().port}`;
  port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const edgeIssuer = `${base}/`;

  // The generated wrangler.toml, pointed at the local issuer and origin, the client
  // registry binding enabled: the rest is the template as written.
  const config = {
    issuers: [
      { issuer: idp.issuer, audiences: [API] },
      { issuer: edgeIssuer, audiences: [API] },
    ],
    origin,
    routes: [
      { path: "/health", public: true },
      { path: "/*", methods: ["POST", "PUT", "PATCH", "DELETE"], require: { scopes_all: ["update:builds"], machines_bypass_scopes: true } },
    ],
    unmatched: "any_valid_token",
    exchange: {
      issuer: edgeIssuer,
      actors: [{ client_id: "build-runner", audiences: [API] }],
      audiences: [{ audience: API, scopes: ["update:builds"], max_lifetime: 3600 }],
    },
  };
  let toml = fs.readFileSync(path.join(dir, "wrangler.toml"), "utf8");
  const block = /TOKENGATE_CONFIG = '''[\s\S]*?'''/;
  assert.match(toml, block);
  toml = toml.replace(block, `TOKENGATE_CONFIG = '''\n${JSON.stringify(config, null, 2)}\n'''`);
  assert.match(toml, /# \[\[kv_namespaces\]\]\n# binding = "CLIENTS"\n# id = "\.\.\."/);
  toml = toml.replace(/# \[\[kv_namespaces\]\]\n# binding = "CLIENTS"\n# id = "\.\.\."/, '[[kv_namespaces]]\nbinding = "CLIENTS"\nid = "00000000000000000000000000000002"');
  fs.writeFileSync(path.join(dir, "wrangler.toml"), toml);

  // Secrets for `wrangler dev`: the exchange's signing keys (the CLI's keygen) and the
  // origin secret.
  const keys = run(process.execPath, ["node_modules/tokengate/cli.js", "keygen"]).trim();
  JSON.parse(keys);
  fs.writeFileSync(path.join(dir, ".dev.vars"), `TOKENGATE_SIGNING_KEYS='${keys}'\nTOKENGATE_ORIGIN_SECRET='origin-s3cret'\n`);
  run(process.execPath, ["node_modules/tokengate/cli.js", "check", "wrangler.toml"]);

  run("npx", ["wrangler", "kv", "key", "put", "--binding", "CLIENTS", "--local", "build-runner", JSON.stringify({ name: "Build runner" })], { timeout: 120_000 });

  wrangler = await startDev(["--ip", "127.0.0.1", "--port", String(port)]);
  const res = await fetch(`${base}/health`);
  assert.equal(res.status, 200);
  await res.arrayBuffer();
  firstRequestMs = performance.now() - t0;
  console.log(`[authorizer] npm install ${(installMs / 1000).toFixed(1)} s; install to first answered request ${(firstRequestMs / 1000).toFixed(1)} s`);
});

after(async () => {
  if (wrangler) stop(wrangler);
  idpServer?.close();
  originServer?.close();
});

const get = (p, token, init = {}) =>
  fetch(`${base}${p}`, { ...init, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...init.headers } });

test("a public route reaches the origin without a token", async () => {
  const res = await get("/health");
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.url, "/health");
  assert.equal(body.headers["x-tokengate-kind"], undefined);
});

test("no token: 401 with the RFC 6750 challenge and the JSON body", async () => {
  const res = await get("/builds/1");
  assert.equal(res.status, 401);
  assert.equal(res.headers.get("www-authenticate"), 'Bearer realm="tokengate"');
  assert.deepEqual(await res.json(), { code: "token_missing", error: "unauthorized", error_description: "no access token was presented" });
});

test("a forged token: 401 invalid_token", async () => {
  const forged = new Issuer({ issuer: idp.issuer }).sign({ sub: "auth0|x" }, { kid: idp.current.kid });
  const res = await get("/builds/1", forged);
  assert.equal(res.status, 401);
  assert.match(res.headers.get("www-authenticate"), /error="invalid_token"/);
});

test("a user reads with identity headers; spoofed ones and the secret header are replaced", async () => {
  const res = await get("/builds/1?x=1", idp.user([], "read:builds"), {
    headers: { "x-tokengate-kind": "machine", x_tokengate_subject: "admin", "x-tokengate-secret": "guess" },
  });
  assert.equal(res.status, 200);
  const { headers, url } = await res.json();
  assert.equal(url, "/builds/1?x=1");
  assert.equal(headers["x-tokengate-kind"], "user");
  assert.equal(headers["x-tokengate-subject"], "auth0|user-1");
  assert.equal(headers["x-tokengate-client-id"], "spa-client");
  assert.equal(headers["x-tokengate-scopes"], "read:builds");
  assert.equal(headers["x-tokengate-issuer"], idp.issuer);
  assert.equal(headers.x_tokengate_subject, undefined);
  assert.equal(headers["x-tokengate-secret"], "origin-s3cret");
});

test("writes: a user needs update:builds (403 insufficient_scope), a machine may", async () => {
  const denied = await get("/builds/1", idp.user(["read:builds"]), { method: "PUT" });
  assert.equal(denied.status, 403);
  assert.equal((await denied.json()).code, "insufficient_scope");
  assert.match(denied.headers.get("www-authenticate"), /error="insufficient_scope"/);
  const allowed = await get("/builds/1", idp.user(["update:builds"]), { method: "PUT" });
  assert.equal(allowed.status, 200);
  const machine = await get("/builds/1", idp.machine("", "build-runner"), { method: "DELETE" });
  assert.equal(machine.status, 200);
  const { method, headers } = await machine.json();
  assert.equal(method, "DELETE");
  assert.equal(headers["x-tokengate-kind"], "machine");
  assert.equal(decodeURIComponent(headers["x-tokengate-client-name"]), "Build runner", "the client registry (CLIENTS KV)");
});

test("the token exchange signs with the keys of `tokengate keygen`", async () => {
  const body = new URLSearchParams({
    grant_type: GRANT, audience: API, scope: "update:builds",
    subject_token: idp.user(["update:builds"]), subject_token_type: AT,
    actor_token: idp.machine("", "build-runner"), actor_token_type: AT,
  });
  const res = await fetch(`${base}/oauth/token`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body });
  const out = await res.json();
  assert.equal(res.status, 200, JSON.stringify(out));
  const keys = JSON.parse(fs.readFileSync(path.join(dir, ".dev.vars"), "utf8").match(/TOKENGATE_SIGNING_KEYS='(.*)'/)[1]);
  const header = JSON.parse(Buffer.from(out.access_token.split(".")[0], "base64url"));
  assert.equal(header.kid, keys.keys[0].kid);
  const put = await get("/builds/2", out.access_token, { method: "PUT" });
  assert.equal(put.status, 200);
  const { headers } = await put.json();
  assert.equal(headers["x-tokengate-user-id"], "auth0|user-1");
  assert.equal(headers["x-tokengate-actor"], "build-runner");
});

test("wrangler deploy --dry-run bundles the prebuilt Worker", () => {
  const outdir = path.join(dir, "dist");
  run("npx", ["wrangler", "deploy", "--dry-run", "--outdir", outdir], { timeout: 120_000 });
  const files = fs.readdirSync(outdir);
  const wasm = files.filter((f) => f.endsWith(".wasm"));
  assert.equal(wasm.length, 1, files.join(", "));
  const shipped = fs.readFileSync(path.join(outdir, wasm[0]));
  const packaged = fs.readFileSync(path.join(dir, "node_modules/tokengate/authorizer/index_bg.wasm"));
  assert.ok(shipped.equals(packaged), "the bundle carries the package's wasm unchanged");
  console.log(`[authorizer] dry-run bundle: ${files.join(", ")}`);
});

test("an ORIGIN service binding takes the place of the origin URL", async () => {
  // A second Worker as the origin, run beside the authorizer by one `wrangler dev`.
  const svc = path.join(dir, "origin-svc");
  fs.mkdirSync(svc, { recursive: true });
  fs.writeFileSync(path.join(svc, "index.js"),
    'export default { fetch: (r) => Response.json({ via: "service", path: new URL(r.url).pathname, kind: r.headers.get("x-tokengate-kind") }) };\n');
  fs.writeFileSync(path.join(svc, "wrangler.toml"), 'name = "origin-svc"\nmain = "index.js"\ncompatibility_date = "2026-10-20"\n');
  const bound = path.join(dir, "wrangler.service.toml");
  fs.writeFileSync(bound, fs.readFileSync(path.join(dir, "wrangler.toml"), "utf8") + '\n[[services]]\nbinding = "ORIGIN"\nservice = "origin-svc"\n');
  const p2 = await freePort();
  const child = await startDev(["-c", bound, "-c", path.join(svc, "wrangler.toml"), "--ip", "127.0.0.1", "--port", String(p2)]);
  try {
    const before = seen.length;
    const res = await fetch(`http://127.0.0.1:${p2}/builds/3`, { headers: { authorization: `Bearer ${idp.user([], "read:builds")}` } });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { via: "service", path: "/builds/3", kind: "user" });
    assert.equal((await fetch(`http://127.0.0.1:${p2}/builds/3`)).status, 401);
    assert.equal(seen.length, before, "the origin URL got nothing");
  } finally {
    stop(child);
  }
});
