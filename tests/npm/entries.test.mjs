// The package's layout and its per-runtime entry points:
// - the tarball ships exactly the files of package.json "files", every `exports` target
//   exists, and each condition resolves to the intended entry;
// - the browser entry (fetch + instantiateStreaming of the .wasm next to it, top-level
//   await) works, here under Node.js with `fetch` serving file: URLs as a browser or a
//   bundler's dev server would serve the asset;
// - the Node.js entries carry no path to the .wasm (it is inlined), and the edge and
//   worker entries import it as a module. (They run in tests/npm/nextjs.test.mjs and
//   tests/npm/workerd.test.mjs.)

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { AUDIENCE, ROOT, auth0Vector, makeKey, sign, userClaims, jwksOf } from "./lib/harness.mjs";

const require = createRequire(import.meta.url);
const PKG_DIR = path.dirname(require.resolve("tokengate/package.json"));
const pkg = JSON.parse(readFileSync(path.join(PKG_DIR, "package.json"), "utf8"));
const TARBALL = process.env.TOKENGATE_TARBALL ?? path.join(ROOT, "target/npm/tokengate.tgz");

function resolveWith(conditions, specifier = "tokengate") {
  const args = conditions.flatMap((c) => ["--conditions", c]);
  const out = execFileSync(
    process.execPath,
    [...args, "--input-type=module", "-e", `console.log(import.meta.resolve(${JSON.stringify(specifier)}))`],
    { cwd: path.dirname(fileURLToPath(import.meta.url)), encoding: "utf8" },
  );
  return path.basename(fileURLToPath(out.trim()));
}

test("the tarball ships exactly the listed files", () => {
  const listed = execFileSync("tar", ["-tzf", TARBALL], { encoding: "utf8" })
    .trim()
    .split("\n")
    .map((f) => f.replace(/^package\//, ""))
    .sort();
  assert.deepEqual(listed, [...pkg.files, "package.json"].sort());
  assert.equal(pkg.type, "module");
  assert.equal(pkg.name, "tokengate");
  assert.match(pkg.version, /^\d+\.\d+\.\d+/);
});

test("every exports target exists", () => {
  const targets = [];
  const walk = (v) => (typeof v === "string" ? targets.push(v) : Object.values(v).forEach(walk));
  walk(pkg.exports);
  for (const t of new Set(targets)) assert.ok(existsSync(path.join(PKG_DIR, t)), t);
  assert.ok(existsSync(path.join(PKG_DIR, pkg.main)));
  assert.ok(existsSync(path.join(PKG_DIR, pkg.types)));
});

test("conditions pick the runtime's entry", () => {
  assert.equal(resolveWith([]), "node.mjs");
  assert.equal(resolveWith(["edge-light"]), "edge.mjs");
  assert.equal(resolveWith(["workerd", "worker", "browser"]), "workerd.mjs");
  assert.equal(resolveWith(["worker", "browser"]), "browser.mjs");
  assert.equal(resolveWith(["browser"]), "browser.mjs");
  assert.equal(resolveWith([], "tokengate/edge"), "edge.mjs");
  assert.equal(resolveWith([], "tokengate/browser"), "browser.mjs");
  assert.equal(path.basename(require.resolve("tokengate")), "node.cjs");
  assert.equal(path.basename(require.resolve("tokengate/node")), "node.cjs");
});

test("entries load the wasm the way their runtime allows", () => {
  // The code, without comment lines.
  const read = (f) =>
    readFileSync(path.join(PKG_DIR, f), "utf8")
      .split("\n")
      .filter((l) => !/^\s*(\/\/|\/?\*)/.test(l))
      .join("\n");
  for (const f of ["node.mjs", "node.cjs"]) {
    assert.doesNotMatch(read(f), /import\.meta\.url|__dirname|readFileSync|\.wasm["']/, f);
    assert.match(read(f), /tokengate_wasm\.cjs/, f);
  }
  assert.match(read("edge.mjs"), /from "\.\/tokengate_bg\.wasm\?module"/);
  assert.match(read("workerd.mjs"), /from "\.\/tokengate_bg\.wasm"/);
  assert.match(read("browser.mjs"), /new URL\("\.\/tokengate_bg\.wasm", import\.meta\.url\)/);
  for (const f of ["init.js", "api.js", "tokengate_bg.js"]) assert.doesNotMatch(read(f), /import\.meta/, f);
});

test("browser entry: fetches the .wasm next to it, top-level await, then works", async () => {
  const original = globalThis.fetch;
  const fetched = [];
  globalThis.fetch = async (input) => {
    const url = new URL(String(input));
    fetched.push(url.href);
    if (url.protocol !== "file:") return original(input);
    return new Response(readFileSync(fileURLToPath(url)), {
      headers: { "content-type": "application/wasm" },
    });
  };
  let tg;
  try {
    tg = await import("tokengate/browser");
  } finally {
    globalThis.fetch = original;
  }
  assert.deepEqual(fetched, [new URL("tokengate_bg.wasm", `file://${PKG_DIR}/`).href]);
  // decode is synchronous once the import completed.
  const key = makeKey("ES256");
  const token = sign(key, userClaims("https://idp.example/"));
  const d = tg.decode(token);
  assert.equal(d.ok, true);
  assert.equal(d.hint.kind, "user");
  const v = tg.createVerifier({ issuer: "https://idp.example/", audience: AUDIENCE, jwks: jwksOf([key]) });
  assert.equal((await v.verify(token)).ok, true);
  const vec = auth0Vector();
  const a = tg.createVerifier({
    issuer: vec.issuer,
    audience: vec.audience,
    jwks: vec.jwks,
    currentDate: () => new Date(vec.verify_at * 1000),
  });
  assert.equal((await a.verify(vec.token)).principal.kind, "machine");
});
