// Entry for edge runtimes that bundle with `edge-light` (Next.js edge route handlers
// and middleware, Vercel Edge Functions).
//
// Edge runtimes forbid compiling WebAssembly from bytes at run time, so the module is
// imported as a precompiled WebAssembly.Module: Next.js's edge bundler supports the
// `?module` suffix for exactly this.

import wasmModule from "./tokengate_bg.wasm?module";
import { instantiate } from "./init.js";

instantiate(wasmModule);

export { createVerifier, decode, errorCatalogue, bearerToken, isReservedHeader, encodeHeaderValue } from "./api.js";
export { checkFetchUrl, discoveryUrl, jwksUriFromDiscovery, timeState, checkTyp, algorithms, idTokenHint } from "./api.js";
export { protect, denyResponse, identityHeaders, forwardHeaders } from "./api.js";
export { checkWorkerConfig, revocationKey, revocationValue, policyCheck } from "./api.js";
/** Resolves once the WebAssembly module is ready; here it already is. */
export const ready = Promise.resolve();
