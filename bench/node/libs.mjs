// The libraries compared in Node, each through its usual verification API with the
// key(s) imported once up front, the issuer, audience and algorithm checked, and the
// clock fixed at `now` (so pre-signed tokens stay valid however long a run takes).
//
// Each adapter's setup() returns { verify(token), ok(result) }: verify may return a
// value or a promise (the timing loop awaits only promises); ok() says whether the
// result is a successful verification (checked on every call of the correctness pass).

import crypto from "node:crypto";
import path from "node:path";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { ISSUER, AUDIENCE } from "../lib/keys.mjs";

const require = createRequire(import.meta.url);

/** Where the tokengate package is (pkg/, built by scripts/build-pkg.sh). */
export const PKG_DIR = process.env.TOKENGATE_PKG_DIR || path.resolve(import.meta.dirname, "../../pkg");

async function tokengate({ alg, jwks, now }, extra) {
  const tg = await import(pathToFileURL(path.join(PKG_DIR, "node.mjs")).href);
  const date = new Date(now * 1000);
  const verifier = tg.createVerifier({
    issuer: ISSUER,
    audience: AUDIENCE,
    jwks,
    algorithms: [alg],
    currentDate: () => date,
    ...extra,
  });
  return { verify: (t) => verifier.verify(t), ok: (r) => r && r.ok === true };
}

async function fastJwt({ alg, key, now }, extra) {
  const { createVerifier } = require("fast-jwt");
  const verify = createVerifier({
    key: key.pem,
    algorithms: [alg],
    allowedIss: ISSUER,
    allowedAud: AUDIENCE,
    clockTimestamp: now * 1000,
    ...extra,
  });
  return { verify, ok: (r) => r && r.iss === ISSUER };
}

export const LIBS = {
  // tokengate's npm build (pkg/node.mjs), inline JWKS, fixed clock, default options:
  // signatures through node:crypto's synchronous verify (signatureBackend "auto"),
  // repeated tokens served from the kept results (tokenCacheSize 4096).
  tokengate: {
    label: "tokengate",
    setup: (args) => tokengate(args, {}),
  },
  // The same with signatureBackend "webcrypto" (what edge runtimes and browsers use):
  // crypto.subtle.verify, asynchronous, as jose.
  "tokengate-webcrypto": {
    label: "tokengate (webcrypto)",
    setup: (args) => tokengate(args, { signatureBackend: "webcrypto" }),
  },
  // jose (panva): jwtVerify with createLocalJWKSet (kid lookup, imported CryptoKeys
  // cached inside the set), WebCrypto underneath.
  jose: {
    label: "jose",
    async setup({ alg, jwks, now }) {
      const jose = await import("jose");
      const keySet = jose.createLocalJWKSet(jwks);
      const opts = { issuer: ISSUER, audience: AUDIENCE, algorithms: [alg], currentDate: new Date(now * 1000) };
      return { verify: (t) => jose.jwtVerify(t, keySet, opts), ok: (r) => r && r.payload && r.payload.iss === ISSUER };
    },
  },
  // jsonwebtoken (auth0): synchronous jwt.verify with a pre-imported KeyObject.
  jsonwebtoken: {
    label: "jsonwebtoken",
    async setup({ alg, key, now }) {
      const jwt = require("jsonwebtoken");
      const keyObject = crypto.createPublicKey({ key: key.jwk, format: "jwk" });
      const opts = { algorithms: [alg], issuer: ISSUER, audience: AUDIENCE, clockTimestamp: now };
      return { verify: (t) => jwt.verify(t, keyObject, opts), ok: (r) => r && r.iss === ISSUER };
    },
  },
  // fast-jwt (nearform): createVerifier with the PEM key, synchronous; its token cache
  // is off by default.
  "fast-jwt": {
    label: "fast-jwt",
    setup: (args) => fastJwt(args, {}),
  },
  // fast-jwt with its documented verified-token cache (`cache: true`, 1000 entries):
  // the closest like-for-like to tokengate's default cache on the warm path.
  "fast-jwt+cache": {
    label: "fast-jwt (cache)",
    setup: (args) => fastJwt(args, { cache: true }),
  },
};
