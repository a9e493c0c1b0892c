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
//
// ECDSA signatures (JWS's r||s) are handed to node:crypto as DER, converted here:
// node:crypto's own `dsaEncoding: "ieee-p1363"` conversion costs about 20 us per
// verify on top of a P-256 check of about 48 us (Node 24, this machine), the DER
// made here well under 1 us. Both give OpenSSL the same minimal DER of r and s.

import { createPublicKey, verify, constants } from "node:crypto";

/** JWS algorithm -> [digest, how the key is passed, the PSS salt length or the ECDSA r||s length]. */
const ALGS = {
  RS256: ["sha256", "rsa"],
  RS384: ["sha384", "rsa"],
  RS512: ["sha512", "rsa"],
  PS256: ["sha256", "pss", 32],
  PS384: ["sha384", "pss", 48],
  PS512: ["sha512", "pss", 64],
  ES256: ["sha256", "ec", 64],
  ES384: ["sha384", "ec", 96],
  EdDSA: [null, "okp"],
};

/** jwk object -> { digest, key, ecLen } (the arguments of verify; ecLen: the r||s
 * length of an ECDSA key, else 0), or null (cannot import). */
const prepared = new WeakMap();

function prepare(alg, jwk) {
  const spec = ALGS[alg];
  if (spec === undefined) return null;
  const [digest, how, param] = spec;
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
    key = { key: keyObject, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: param };
  else if (how === "ec" && type === "ec") key = keyObject;
  else if (how === "okp" && type === "ed25519") key = keyObject;
  else return null;
  return { digest, key, ecLen: how === "ec" ? param : 0 };
}

/** One half of r||s (bytes from..end) as a DER INTEGER at out[at]: minimal (leading
 * zeros dropped, one kept for zero), a 0x00 in front when the top bit is set (DER
 * integers are signed). Returns the next offset. */
function derInteger(sig, from, end, out, at) {
  while (from < end - 1 && sig[from] === 0) from++;
  const pad = sig[from] & 0x80 ? 1 : 0;
  out[at] = 0x02;
  out[at + 1] = end - from + pad;
  at += 2;
  if (pad) out[at++] = 0;
  out.set(sig.subarray(from, end), at);
  return at + (end - from);
}

/** JWS's r||s as DER (SEQUENCE { r INTEGER, s INTEGER }; at most 102 bytes for P-384,
 * so every length fits one byte). */
function p1363ToDer(sig) {
  const half = sig.length >> 1;
  const out = new Uint8Array(2 + 2 * (3 + half));
  let at = derInteger(sig, 0, half, out, 2);
  at = derInteger(sig, half, sig.length, out, at);
  out[0] = 0x30;
  out[1] = at - 2;
  return out.subarray(0, at);
}

export function hostVerify(alg, jwk, message, signature) {
  let p = prepared.get(jwk);
  if (p === undefined) {
    p = prepare(alg, jwk);
    prepared.set(jwk, p);
  }
  if (p === null) return undefined;
  if (p.ecLen !== 0) {
    // The caller checks the length; another one cannot be converted (and is invalid).
    if (signature.length !== p.ecLen) return false;
    signature = p1363ToDer(signature);
  }
  try {
    return verify(p.digest, message, p.key, signature);
  } catch {
    // A malformed signature (node:crypto throws for some): not valid.
    return false;
  }
}
