// One cold-start sample, in a fresh process (V8 shares compiled wasm between
// compilations of the same bytes in one process, so repeating in-process would
// measure a cache). Prints one JSON line of milliseconds:
//
//   compile      WebAssembly.compile(bytes of pkg/tokengate_bg.wasm)
//   instantiate  WebAssembly.instantiate(module, imports of tokengate_bg.js)
//   import       await import("pkg/node.mjs") in a process that has not compiled it
//                (base64 decode + synchronous compile + instantiate + glue), measured
//                in a second fresh process by the "import" mode
//   firstVerify  createVerifier({jwks}) + the first verify() after the import (lazy
//                wasm compilation of the verification path, JWKS parsing)
//
//   node bench/wasm/sample.mjs instantiate <pkgDir>
//   node bench/wasm/sample.mjs import <pkgDir> <fixture.json>

import { readFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [mode, pkgDir, fixture] = process.argv.slice(2);

if (mode === "instantiate") {
  const bytes = readFileSync(path.join(pkgDir, "tokengate_bg.wasm"));
  const glue = await import(pathToFileURL(path.join(pkgDir, "tokengate_bg.js")).href);
  const t0 = performance.now();
  const module = await WebAssembly.compile(bytes);
  const t1 = performance.now();
  const instance = await WebAssembly.instantiate(module, { "./tokengate_bg.js": glue });
  const t2 = performance.now();
  if (!instance.exports.memory) throw new Error("no memory export");
  console.log(JSON.stringify({ compile: t1 - t0, instantiate: t2 - t1, total: t2 - t0 }));
} else if (mode === "import") {
  const f = JSON.parse(readFileSync(fixture, "utf8"));
  const t0 = performance.now();
  const tg = await import(pathToFileURL(path.join(pkgDir, "node.mjs")).href);
  const t1 = performance.now();
  const date = new Date(f.now * 1000);
  const v = tg.createVerifier({ issuer: f.issuer, audience: f.audience, jwks: f.jwks, currentDate: () => date });
  const r = await v.verify(f.token);
  const t2 = performance.now();
  if (!r.ok) throw new Error(`first verify failed: ${JSON.stringify(r.error)}`);
  console.log(JSON.stringify({ import: t1 - t0, firstVerify: t2 - t1 }));
} else {
  throw new Error(`unknown mode ${mode}`);
}
