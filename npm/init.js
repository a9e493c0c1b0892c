// Instantiation shared by the entry points. wasm-bindgen's `--target bundler` output is
// used: tokengate_bg.js holds the JS side of the bindings (the exported functions, and
// the functions the WebAssembly module imports) and knows nothing about how the module
// is loaded. Each entry point loads or imports the module in the way its runtime
// allows and hands it to `instantiate` (or instantiates it itself with `imports` and
// calls `finish`).
//
// No `instanceof WebAssembly.Module` check here: Next.js's edge runtime hands out
// modules created in another realm, for which such checks fail.

import * as bindings from "./tokengate_bg.js";

/** The import object of the WebAssembly module (its only import module). */
export const imports = { "./tokengate_bg.js": bindings };

/** Connects an instance to the bindings and runs the module's start function. */
export function finish(instance) {
  bindings.__wbg_set_wasm(instance.exports);
  if (typeof instance.exports.__wbindgen_start === "function") instance.exports.__wbindgen_start();
}

/**
 * Registers the runtime's synchronous signature check (node-crypto.js in Node.js); the
 * other entries have none and use WebCrypto.
 */
export function useHostVerify(fn) {
  bindings.__setHostVerify(fn);
}

/** Instantiates a compiled WebAssembly.Module synchronously. */
export function instantiate(module) {
  finish(new WebAssembly.Instance(module, imports));
}
