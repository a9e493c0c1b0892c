// Node.js entry (ESM; `node.cjs` is the same file bundled as CommonJS by
// scripts/build-pkg.sh). Also picked by Bun and Deno through the `node` condition.
//
// The WebAssembly bytes are inlined as base64 (tokengate_wasm.cjs, a CommonJS module
// so that node.cjs shares it) rather than read from a path next to this file: a
// bundler (Next.js server bundles, for example) moves this module into its own output,
// where a path computed from `import.meta.url` or `__dirname` no longer points at the
// .wasm file. A string survives any bundling.
// Compiling from bytes is allowed in Node.js (edge runtimes forbid it; they get
// edge.mjs / workerd.mjs instead).

import { instantiate, useHostVerify } from "./init.js";
import { hostVerify } from "./node-crypto.js";
import wasmBase64 from "./tokengate_wasm.cjs";

function fromBase64(text) {
  if (typeof Buffer === "function") return Buffer.from(text, "base64");
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

instantiate(new WebAssembly.Module(fromBase64(wasmBase64)));
// Signatures through node:crypto's synchronous verify (see node-crypto.js).
useHostVerify(hostVerify);

export { createVerifier, decode, errorCatalogue, bearerToken, isReservedHeader, encodeHeaderValue } from "./api.js";
export { checkFetchUrl, discoveryUrl, jwksUriFromDiscovery, timeState, checkTyp, algorithms, idTokenHint } from "./api.js";
export { protect, denyResponse, identityHeaders, forwardHeaders } from "./api.js";
export { checkWorkerConfig, revocationKey, revocationValue, policyCheck } from "./api.js";
/** Resolves once the WebAssembly module is ready; here it already is. */
export const ready = Promise.resolve();
