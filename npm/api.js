// The public API shared by every entry point of the package. Each entry point
// (node.mjs, node.cjs, edge.mjs, workerd.mjs, browser.mjs) first instantiates the
// WebAssembly module in the way its runtime allows (see init.js), then re-exports these
// functions.
//
// The functions are thin: option checking, verification, classification and policy
// all happen in the Rust core (src/js.rs). This layer only gives verifiers a plain
// object shape, so that `const { verify } = verifier` works and the wasm handle's
// `free()` stays private (the handle is released by a FinalizationRegistry when the
// verifier is garbage-collected).

import * as bindings from "./tokengate_bg.js";

/**
 * Builds a verifier. Throws a TypeError naming the option when an option is invalid.
 * @param {import("./index.js").VerifierOptions} options
 * @returns {import("./index.js").Verifier}
 */
export function createVerifier(options) {
  const inner = bindings.createVerifier(options);
  return Object.freeze({
    verify: (token) => inner.verify(token),
    authorize: (token, requirement) => inner.authorize(token, requirement),
  });
}

/**
 * Decodes a token WITHOUT verifying it (for display and debugging only).
 * @param {string} token
 * @param {import("./index.js").DecodeOptions} [options]
 * @returns {import("./index.js").DecodeResult}
 */
export function decode(token, options) {
  return bindings.decode(token, options);
}

/**
 * Reads the token of an `Authorization: Bearer <token>` header value.
 * @param {string | null | undefined} authorization
 * @returns {import("./index.js").BearerTokenResult}
 */
export function bearerToken(authorization) {
  return bindings.bearerToken(authorization);
}

/**
 * INTERNAL, not part of the API (no semver guarantee): checks one signature with a
 * public JWK (JSON text) through one signature backend, for the tests and benchmarks
 * that compare them. Resolves to a boolean, or null when backend "webcrypto" cannot
 * do the check (there is no fallback here).
 * @param {import("./index.js").Algorithm} alg
 * @param {string} jwk
 * @param {Uint8Array} message
 * @param {Uint8Array} signature
 * @param {import("./index.js").SignatureBackend} backend
 * @returns {Promise<boolean | null>}
 */
export function __verifySignature(alg, jwk, message, signature, backend) {
  return bindings.__verifySignature(alg, jwk, message, signature, backend);
}
