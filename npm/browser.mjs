// Entry for browsers, web workers and any runtime without a more specific condition.
//
// The .wasm file is located with `new URL(..., import.meta.url)`, which browsers
// resolve natively and bundlers (webpack 5, Vite, Parcel, Turbopack) recognise as an
// asset reference. It is fetched and compiled asynchronously (browsers limit synchronous
// compilation on the main thread), so this module uses top-level await: once
// `import { decode } from "tokengate"` completes, the module is ready and `decode`
// works synchronously.

import { finish, imports } from "./init.js";

const url = new URL("./tokengate_bg.wasm", import.meta.url);

async function load() {
  if (typeof WebAssembly.instantiateStreaming === "function") {
    try {
      return await WebAssembly.instantiateStreaming(fetch(url), imports);
    } catch {
      // Served without the application/wasm content type, or no streaming support:
      // fall back to compiling the bytes.
    }
  }
  const response = await fetch(url);
  if (!response.ok) throw new Error(`tokengate: cannot load ${url}: HTTP ${response.status}`);
  return WebAssembly.instantiate(await response.arrayBuffer(), imports);
}

finish((await load()).instance);

export { createVerifier, decode, errorCatalogue, bearerToken, isReservedHeader, encodeHeaderValue } from "./api.js";
export { checkFetchUrl, discoveryUrl, jwksUriFromDiscovery, timeState, checkTyp, algorithms, idTokenHint } from "./api.js";
export { protect, denyResponse, identityHeaders, forwardHeaders } from "./api.js";
export { checkWorkerConfig, revocationKey, revocationValue, policyCheck } from "./api.js";
/** Resolves once the WebAssembly module is ready; here it already is. */
export const ready = Promise.resolve();
