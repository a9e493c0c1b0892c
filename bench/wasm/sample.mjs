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
// and, in the "worker" mode, for the Worker's build/index_bg.wasm:
//
//   compile      WebAssembly.compile(bytes)
//   instantiate  WebAssembly.instantiate(module, stubs): the imports are generated from
//                WebAssembly.Module.imports (functions that throw when called, fresh
//                memories, tables and globals, WebAssembly.JSTag for tags), since index.js, the Worker's glue,
//                imports the wasm as a compiled module (workerd's way) and cannot run
//                in Node. Instantiation links and initialises memory; it calls no
//                import unless the module has a start section (worker-build's has
//                none: its glue, at module evaluation, instantiates synchronously and
//                then calls __wbindgen_start, which is not timed here)
//
//   node bench/wasm/sample.mjs instantiate <pkgDir>
//   node bench/wasm/sample.mjs import <pkgDir> <fixture.json>
//   node bench/wasm/sample.mjs worker <buildDir>

import { readFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [mode, pkgDir, fixture] = process.argv.slice(2);

/** An import object for `module` with a stand-in for each import (see the header). */
function stubImports(module) {
  const imports = {};
  for (const { module: m, name, kind } of WebAssembly.Module.imports(module)) {
    imports[m] ??= {};
    if (kind === "function") {
      imports[m][name] = () => {
        throw new Error(`stub import ${m}.${name} called`);
      };
    } else if (kind === "memory") imports[m][name] = new WebAssembly.Memory({ initial: 1 });
    else if (kind === "table") imports[m][name] = new WebAssembly.Table({ initial: 1, element: "anyfunc" });
    else if (kind === "global") imports[m][name] = new WebAssembly.Global({ value: "i32", mutable: false }, 0);
    // wasm-bindgen's exception-handling builds import the JS tag (__wbindgen_jstag).
    else if (kind === "tag") imports[m][name] = WebAssembly.JSTag;
    else throw new Error(`import ${m}.${name} of kind ${kind}: no stub`);
  }
  return imports;
}

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
} else if (mode === "worker") {
  const bytes = readFileSync(path.join(pkgDir, "index_bg.wasm"));
  const t0 = performance.now();
  const module = await WebAssembly.compile(bytes);
  const t1 = performance.now();
  const imports = stubImports(module);
  const t2 = performance.now();
  const instance = await WebAssembly.instantiate(module, imports);
  const t3 = performance.now();
  if (!instance.exports.memory) throw new Error("no memory export");
  console.log(JSON.stringify({ compile: t1 - t0, instantiate: t3 - t2, total: t1 - t0 + (t3 - t2), imports: WebAssembly.Module.imports(module).length }));
} else {
  throw new Error(`unknown mode ${mode}`);
}
