// The synchronous signature backend of the Node.js entries (node.mjs, node.cjs):
// node:crypto's one-shot `verify`, registered with the WebAssembly module through
// init.js's `useHostVerify`. WebCrypto's `crypto.subtle.verify` does the same
// OpenSSL check but through a promise and a thread-pool hop, which in Node.js costs
// more than an RSA-2048 check itself; this function returns at once.
//
// Called by crates/webcrypto/src/lib.rs as hostVerify(alg, jwk, message, signature): `alg` a JWS
// algorithm name, `jwk` the key's public JWK as an object (the same object each time
// for the same key and algorithm, so the imported KeyObject is kept in a WeakMap on
// it), `message` and `signature` Uint8Arrays. Returns true or false, or undefined
// when it cannot do the check (an algorithm it does not know, a key node:crypto will
// not import): the caller then asks WebCrypto, then the Rust backend. Signature
// lengths (ECDSA r||s, Ed25519) are checked by the caller before.

import { createPublicKey, verify, constants } from "node:crypto";

/** JWS algorithm -> [digest, how the key is passed]. */
const ALGS = {
  RS256: ["sha256", "rsa"],
  RS384: ["sha384", "rsa"],
  RS512: ["sha512", "rsa"],
  PS256: ["sha256", "pss", 32],
  PS384: ["sha384", "pss", 48],
  PS512: ["sha512", "pss", 64],
  ES256: ["sha256", "ec"],
  ES384: ["sha384", "ec"],
  EdDSA: [null, "okp"],
};

/** jwk object -> { digest, key } (the argument of verify), or null (cannot import). */
const prepared = new WeakMap();

function prepare(alg, jwk) {
  const spec = ALGS[alg];
  if (spec === undefined) return null;
  const [digest, how, saltLength] = spec;
  let keyObject;
  try {
    keyObject = createPublicKey({ key: jwk, format: "jwk" });
  } catch {
    return null;
  }
  const type = keyObject.asymmetricKeyType;
  let key;
  if (how === "rsa" && type === "rsa") key = keyObject;
  else if (how === "pss" && type === "rsa")
    key = { key: keyObject, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength };
  else if (how === "ec" && type === "ec") key = { key: keyObject, dsaEncoding: "ieee-p1363" };
  else if (how === "okp" && type === "ed25519") key = keyObject;
  else return null;
  return { digest, key };
}

export function hostVerify(alg, jwk, message, signature) {
  let p = prepared.get(jwk);
  if (p === undefined) {
    p = prepare(alg, jwk);
    prepared.set(jwk, p);
  }
  if (p === null) return undefined;
  try {
    return verify(p.digest, message, p.key, signature);
  } catch {
    // A malformed signature (node:crypto throws for some): not valid.
    return false;
  }
}
