// The signature backends (crates/webcrypto/src/lib.rs: node:crypto's synchronous verify, which
// the Node.js entry registers (npm/node-crypto.js), and the runtime's WebCrypto;
// src/alg.rs: the Rust code compiled to WebAssembly) must give the same answers:
//
// - Project Wycheproof vectors (tests/vectors/wycheproof, the files of
//   tests/wycheproof.rs) through the internal hook `__verifySignature` (crates/js/src/internal.rs) with each
//   backend: node:crypto and WebCrypto must actually do every check (no silent
//   fallback), all three backends must agree on every case, and the answers must be the expected ones ("acceptable"
//   cases are rejected, as on the Rust side);
// - whole tokens (RS256, PS256, ES256, ES384, EdDSA signed with node:crypto, and HS256)
//   through createVerifier with `signatureBackend` "auto" (the default), "node",
//   "webcrypto" and "wasm", with a spy on crypto.subtle.verify showing which backend
//   ran;
// - the fallbacks: an importKey failure and a runtime without crypto.subtle.

import { test } from "node:test";
import assert from "node:assert/strict";
import { createHmac, generateKeyPairSync, sign as cryptoSign, constants, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import * as tg from "tokengate";
import { AUDIENCE, ROOT, b64url, now } from "./lib/harness.mjs";

const { createVerifier } = tg;
// The internal hook is no export of the package: it lives on the wasm-bindgen module
// (tokengate_bg.js), which no `exports` entry exposes. Imported by its path, it is the
// instance the Node.js entry above initialised (with node:crypto registered).
const PKG_DIR = path.dirname(createRequire(import.meta.url).resolve("tokengate/package.json"));
const { __verifySignature } = await import(pathToFileURL(path.join(PKG_DIR, "tokengate_bg.js")).href);
assert.equal(typeof __verifySignature, "function");
assert.equal("__verifySignature" in tg, false, "the hook is not part of the package's API");
const VECTORS = path.resolve(ROOT, "tests/vectors/wycheproof");
const ISSUER = "https://issuer.example/";

const hex = (s) => Buffer.from(s, "hex");

/** A Wycheproof group's key as JWK text; EC groups without a JWK give the point. */
function groupJwk(group, crv) {
  const jwk = group.publicKeyJwk ?? group.keyJwk;
  if (jwk) return JSON.stringify(jwk);
  const point = hex(group.publicKey.uncompressed);
  const len = (point.length - 1) / 2;
  return JSON.stringify({
    kty: "EC",
    crv,
    x: point.subarray(1, 1 + len).toString("base64url"),
    y: point.subarray(1 + len).toString("base64url"),
  });
}

// File, algorithm, and the least number of valid and invalid cases the file must hold
// (its counts as vendored), so that a truncated or empty file fails instead of passing.
const PRIMITIVES = [
  ["rsa_signature_2048_sha256_test.json", "RS256", 9, 249],
  ["rsa_signature_2048_sha384_test.json", "RS384", 7, 250],
  ["rsa_signature_2048_sha512_test.json", "RS512", 8, 250],
  ["rsa_signature_3072_sha256_test.json", "RS256", 8, 250],
  ["rsa_signature_4096_sha256_test.json", "RS256", 7, 250],
  ["rsa_pss_2048_sha256_mgf1_32_test.json", "PS256", 63, 45],
  ["rsa_pss_2048_sha384_mgf1_48_test.json", "PS384", 95, 46],
  ["rsa_pss_4096_sha512_mgf1_64_test.json", "PS512", 132, 47],
  ["ecdsa_secp256r1_sha256_p1363_test.json", "ES256", 173, 89],
  ["ecdsa_secp384r1_sha384_p1363_test.json", "ES384", 193, 87],
  ["ed25519_test.json", "EdDSA", 88, 63],
];

test("Wycheproof: both backends agree and match the expected results", async (t) => {
  for (const [file, alg, minValid, minInvalid] of PRIMITIVES) {
    await t.test(`${file} (${alg})`, async (t) => {
      const doc = JSON.parse(readFileSync(path.join(VECTORS, file), "utf8"));
      const crv = alg === "ES384" ? "P-384" : "P-256";
      const counts = { valid: 0, invalid: 0, acceptable: 0 };
      const failures = [];
      for (const group of doc.testGroups) {
        const jwk = groupJwk(group, crv);
        for (const c of group.tests) {
          counts[c.result]++;
          const expected = c.result === "valid";
          const msg = hex(c.msg);
          const sig = hex(c.sig);
          let web, wasm, node;
          try {
            web = await __verifySignature(alg, jwk, msg, sig, "webcrypto");
            wasm = await __verifySignature(alg, jwk, msg, sig, "wasm");
            node = await __verifySignature(alg, jwk, msg, sig, "node");
          } catch (e) {
            // A key that does not load: every case of the group must be invalid.
            web = wasm = node = false;
            if (expected) failures.push(`tcId ${c.tcId}: key did not load: ${e.message}`);
            continue;
          }
          if (web === null) failures.push(`tcId ${c.tcId}: WebCrypto did not do the check`);
          if (node === null) failures.push(`tcId ${c.tcId}: node:crypto did not do the check`);
          if (node !== wasm) failures.push(`tcId ${c.tcId}: node:crypto says ${node}, wasm says ${wasm}`);
          else if (web !== wasm) failures.push(`tcId ${c.tcId} (${c.result}): webcrypto ${web}, wasm ${wasm}: ${c.comment}`);
          else if (web !== expected) failures.push(`tcId ${c.tcId} (${c.result}): both ${web}: ${c.comment}`);
        }
      }
      t.diagnostic(`${counts.valid} valid, ${counts.invalid} invalid, ${counts.acceptable} acceptable (rejected)`);
      const ran = counts.valid + counts.invalid + counts.acceptable;
      assert.equal(ran, doc.numberOfTests, `${file}: ran ${ran} cases, the file declares ${doc.numberOfTests}`);
      assert.ok(
        counts.valid >= minValid && counts.invalid >= minInvalid,
        `${file}: ${counts.valid} valid and ${counts.invalid} invalid cases, expected at least ${minValid} and ${minInvalid}`,
      );
      assert.deepEqual(failures, [], `${failures.length} mismatches`);
    });
  }
});

test("__verifySignature: HMAC is Rust only; bad arguments throw", async () => {
  const k = Buffer.alloc(32, 7);
  const jwk = JSON.stringify({ kty: "oct", k: k.toString("base64url") });
  const msg = Buffer.from("hello");
  const tag = createHmac("sha256", k).update(msg).digest();
  assert.equal(await __verifySignature("HS256", jwk, msg, tag, "webcrypto"), null);
  assert.equal(await __verifySignature("HS256", jwk, msg, tag, "node"), null);
  assert.equal(await __verifySignature("HS256", jwk, msg, tag, "auto"), null);
  assert.equal(await __verifySignature("HS256", jwk, msg, tag, "wasm"), true);
  assert.throws(() => __verifySignature("none", jwk, msg, tag, "wasm"), TypeError);
  assert.throws(() => __verifySignature("HS256", jwk, msg, tag, "native"), TypeError);
  assert.throws(() => __verifySignature("ES256", '{"kty":"EC"}', msg, tag, "wasm"), TypeError);
});

// ---------------------------------------------------------------------------------
// Whole tokens through createVerifier.
// ---------------------------------------------------------------------------------

/** Signing keys for every asymmetric family, made with node:crypto. */
function makeKeys() {
  const out = {};
  const add = (alg, pair, signOpts) => {
    const kid = `${alg.toLowerCase()}-${randomUUID().slice(0, 8)}`;
    const jwk = { ...pair.publicKey.export({ format: "jwk" }), kid, alg, use: "sig" };
    out[alg] = { alg, kid, jwk, sign: (input) => cryptoSign(signOpts.hash, Buffer.from(input), { key: pair.privateKey, ...signOpts.opts }) };
  };
  const rsa = () => generateKeyPairSync("rsa", { modulusLength: 2048 });
  add("RS256", rsa(), { hash: "sha256" });
  add("PS256", rsa(), { hash: "sha256", opts: { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } });
  add("ES256", generateKeyPairSync("ec", { namedCurve: "P-256" }), { hash: "sha256", opts: { dsaEncoding: "ieee-p1363" } });
  add("ES384", generateKeyPairSync("ec", { namedCurve: "P-384" }), { hash: "sha384", opts: { dsaEncoding: "ieee-p1363" } });
  add("EdDSA", generateKeyPairSync("ed25519"), { hash: null });
  return out;
}

function token(key, extra = {}) {
  const t = now();
  const claims = { iss: ISSUER, aud: AUDIENCE, sub: `user-${randomUUID()}`, iat: t, exp: t + 600, ...extra };
  const input = `${b64url({ alg: key.alg, typ: "JWT", kid: key.kid })}.${b64url(claims)}`;
  return `${input}.${key.sign(input).toString("base64url")}`;
}

/** The token with its signature changed: one bit flipped, or cut short. */
function tamper(tok, how) {
  const [h, p, s] = tok.split(".");
  const sig = Buffer.from(s, "base64url");
  if (how === "flip") sig[sig.length >> 1] ^= 1;
  const bytes = how === "short" ? sig.subarray(0, sig.length - 1) : sig;
  return `${h}.${p}.${bytes.toString("base64url")}`;
}

/** Counts calls of crypto.subtle.verify while `fn` runs. */
async function spyVerify(fn) {
  const subtle = globalThis.crypto.subtle;
  const original = subtle.verify;
  let calls = 0;
  subtle.verify = function (...args) {
    calls++;
    return original.apply(this, args);
  };
  try {
    await fn();
  } finally {
    delete subtle.verify;
    if (subtle.verify !== original) subtle.verify = original;
  }
  return calls;
}

const KEYS = makeKeys();
const JWKS = { keys: Object.values(KEYS).map((k) => k.jwk) };

for (const backend of [undefined, "auto", "node", "webcrypto", "wasm"]) {
  test(`createVerifier with signatureBackend ${backend ?? "(default)"}`, async (t) => {
    const v = createVerifier({ issuer: ISSUER, audience: AUDIENCE, jwks: JWKS, signatureBackend: backend });
    for (const key of Object.values(KEYS)) {
      await t.test(key.alg, async () => {
        const good = token(key);
        let r;
        const calls = await spyVerify(async () => {
          r = await v.verify(good);
        });
        assert.equal(r.ok, true, JSON.stringify(r.error));
        assert.equal(r.header.alg, key.alg);
        assert.equal(calls, backend === "webcrypto" ? 1 : 0, "crypto.subtle.verify calls");
        // A second verify of the same token is a cache hit: no signature check.
        assert.equal(await spyVerify(async () => assert.equal((await v.verify(good)).ok, true)), 0);
        for (const how of ["flip", "short"]) {
          const bad = await v.verify(tamper(token(key), how));
          assert.equal(bad.ok, false, how);
          assert.equal(bad.error.code, "signature_invalid", how);
        }
        // Signed by another key of the set under this key's kid.
        const other = Object.values(KEYS).find((k) => k !== key && k.alg !== key.alg);
        const forged = token({ ...key, sign: other.sign });
        assert.equal((await v.verify(forged)).error.code, "signature_invalid");
      });
    }
  });
}

test("HS256 secrets are checked by the Rust backend under webcrypto", async () => {
  const secret = Buffer.alloc(32, 3);
  const v = createVerifier({ issuer: ISSUER, audience: AUDIENCE, secret: secret.toString("base64url") });
  const t = now();
  const input = `${b64url({ alg: "HS256", typ: "JWT" })}.${b64url({ iss: ISSUER, aud: AUDIENCE, sub: "m", iat: t, exp: t + 60 })}`;
  const tok = `${input}.${createHmac("sha256", secret).update(input).digest("base64url")}`;
  let r;
  assert.equal(await spyVerify(async () => (r = await v.verify(tok))), 0);
  assert.equal(r.ok, true, JSON.stringify(r.error));
  assert.equal((await v.verify(tamper(tok, "flip"))).error.code, "signature_invalid");
});

test("an importKey failure falls back to the Rust backend", async () => {
  const keys = makeKeys(); // fresh keys: nothing imported yet
  const subtle = globalThis.crypto.subtle;
  const original = subtle.importKey;
  let imports = 0;
  subtle.importKey = function () {
    imports++;
    return Promise.reject(new DOMException("not supported here", "NotSupportedError"));
  };
  try {
    const v = createVerifier({ issuer: ISSUER, audience: AUDIENCE, jwks: { keys: Object.values(keys).map((k) => k.jwk) }, signatureBackend: "webcrypto" });
    for (const key of Object.values(keys)) {
      const r = await v.verify(token(key));
      assert.equal(r.ok, true, `${key.alg}: ${JSON.stringify(r.error)}`);
      assert.equal((await v.verify(tamper(token(key), "flip"))).error.code, "signature_invalid");
    }
    // The failure is remembered: one import attempt per key.
    assert.equal(imports, Object.keys(keys).length);
  } finally {
    delete subtle.importKey;
    if (subtle.importKey !== original) subtle.importKey = original;
  }
});

test("the WebCrypto promise the wrapper awaits: only a fulfilled true is valid", async () => {
  // verify() awaits crypto.subtle.verify's promise in JS and hands the outcome back to
  // the wasm side (crates/webcrypto poll_handoff, Verifier.resume). Whatever the
  // promise does other than fulfil with true is an invalid signature.
  const subtle = globalThis.crypto.subtle;
  const original = subtle.verify;
  const answers = {
    rejects: () => Promise.reject(new DOMException("bad", "OperationError")),
    throws: () => {
      throw new TypeError("bad");
    },
    "fulfils with 1": () => Promise.resolve(1),
    'fulfils with "true"': () => Promise.resolve("true"),
    "returns true (no promise)": () => true,
    "fulfils with true": () => Promise.resolve(true),
  };
  const v = createVerifier({ issuer: ISSUER, audience: AUDIENCE, jwks: JWKS, signatureBackend: "webcrypto" });
  // Keys imported (by the real WebCrypto) before verify is replaced.
  for (const key of Object.values(KEYS)) assert.equal((await v.verify(token(key))).ok, true);
  try {
    for (const [what, answer] of Object.entries(answers)) {
      subtle.verify = answer;
      const valid = what === "fulfils with true" || what === "returns true (no promise)";
      for (const key of Object.values(KEYS)) {
        const r = await v.verify(token(key));
        if (valid) assert.equal(r.ok, true, `${what} ${key.alg}: ${JSON.stringify(r.error)}`);
        else assert.equal(r.error?.code, "signature_invalid", `${what} ${key.alg}`);
      }
    }
  } finally {
    delete subtle.verify;
    if (subtle.verify !== original) subtle.verify = original;
  }
  // Many verifications in flight at once each get their own answer.
  const good = Object.values(KEYS).flatMap((key) => [token(key), token(key)]);
  const bad = Object.values(KEYS).map((key) => tamper(token(key), "flip"));
  const all = await Promise.all([...good, ...bad].map((t) => v.verify(t)));
  assert.deepEqual(all.map((r) => r.ok), [...good.map(() => true), ...bad.map(() => false)]);
});

test("a runtime without crypto.subtle uses the Rust backend", async () => {
  const descriptor = Object.getOwnPropertyDescriptor(globalThis, "crypto");
  Object.defineProperty(globalThis, "crypto", { value: undefined, configurable: true, writable: true });
  try {
    // "webcrypto": without node:crypto's synchronous check, as on edge runtimes.
    const v = createVerifier({ issuer: ISSUER, audience: AUDIENCE, jwks: JWKS, signatureBackend: "webcrypto" });
    for (const key of Object.values(KEYS)) {
      assert.equal((await v.verify(token(key))).ok, true, key.alg);
      assert.equal((await v.verify(tamper(token(key), "flip"))).error.code, "signature_invalid");
    }
  } finally {
    Object.defineProperty(globalThis, "crypto", descriptor);
  }
  assert.ok(globalThis.crypto.subtle);
});

test("the node backend needs node:crypto, which the Node.js entry has", () => {
  // Registered by node.mjs / node.cjs: "node" is accepted here, and the default uses it.
  assert.doesNotThrow(() => createVerifier({ issuer: ISSUER, audience: AUDIENCE, jwks: JWKS, signatureBackend: "node" }));
});

test("signatureBackend is validated", () => {
  assert.throws(
    () => createVerifier({ issuer: ISSUER, audience: AUDIENCE, jwks: JWKS, signatureBackend: "native" }),
    (e) => e instanceof TypeError && /invalid option "signatureBackend"/.test(e.message),
  );
  assert.throws(
    () => createVerifier({ issuer: ISSUER, audience: AUDIENCE, jwks: JWKS, signatureBackend: 1 }),
    TypeError,
  );
});
