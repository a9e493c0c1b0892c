// Entry for Cloudflare Workers (`workerd` condition): wrangler's bundler turns a
// `.wasm` import into a precompiled WebAssembly.Module (Workers, like other edge
// runtimes, forbid compiling WebAssembly from bytes at run time).

import wasmModule from "./tokengate_bg.wasm";
import { instantiate } from "./init.js";

instantiate(wasmModule);

export { createVerifier, decode, errorCatalogue, bearerToken, isReservedHeader, encodeHeaderValue } from "./api.js";
export { checkFetchUrl, discoveryUrl, jwksUriFromDiscovery, timeState, checkTyp, algorithms, idTokenHint } from "./api.js";
export { protect, denyResponse, identityHeaders, forwardHeaders } from "./api.js";
export { checkWorkerConfig, revocationKey, revocationValue, policyCheck } from "./api.js";
/** Resolves once the WebAssembly module is ready; here it already is. */
export const ready = Promise.resolve();
