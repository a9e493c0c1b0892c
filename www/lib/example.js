// Example tokens, minted in the page with WebCrypto (a fresh ES256 key each time;
// nothing is fetched). Auth0-shaped: a client-credentials machine token and a user
// token with RBAC permissions.

import { b64urlEncode, b64urlEncodeJson } from "./jwt.js";

export const EXAMPLE_ISSUER = "https://example.eu.auth0.com/";
export const EXAMPLE_AUDIENCE = "https://api.example.com";

export function examplesAvailable() {
  return Boolean(globalThis.crypto?.subtle) && globalThis.isSecureContext !== false;
}

function randomId(n) {
  const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  const bytes = crypto.getRandomValues(new Uint8Array(n));
  return Array.from(bytes, (b) => alphabet[b % alphabet.length]).join("");
}

/** Returns { token, jwks, issuer, audience }. */
export async function makeExample(kind) {
  const pair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]);
  const pub = await crypto.subtle.exportKey("jwk", pair.publicKey);
  const kid = "example-" + randomId(8);
  const jwk = { kty: pub.kty, crv: pub.crv, x: pub.x, y: pub.y, kid, alg: "ES256", use: "sig" };
  const now = Math.floor(Date.now() / 1000);
  const clientId = randomId(32);
  const claims =
    kind === "machine"
      ? {
          iss: EXAMPLE_ISSUER,
          sub: `${clientId}@clients`,
          aud: EXAMPLE_AUDIENCE,
          iat: now - 120,
          exp: now - 120 + 86400,
          gty: "client-credentials",
          azp: clientId,
          scope: "read:builds update:builds",
          jti: randomId(16),
        }
      : {
          iss: EXAMPLE_ISSUER,
          sub: "auth0|" + randomId(24).toLowerCase(),
          aud: [EXAMPLE_AUDIENCE, EXAMPLE_ISSUER + "userinfo"],
          iat: now - 600,
          exp: now - 600 + 3900,
          azp: clientId,
          scope: "openid profile read:builds",
          permissions: ["read:builds", "read:logs"],
          "https://example.com/roles": ["builder"],
        };
  const header = { alg: "ES256", typ: "JWT", kid };
  const input = `${b64urlEncodeJson(header)}.${b64urlEncodeJson(claims)}`;
  const sig = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, pair.privateKey, new TextEncoder().encode(input));
  return {
    token: `${input}.${b64urlEncode(new Uint8Array(sig))}`,
    jwks: { keys: [jwk] },
    issuer: EXAMPLE_ISSUER,
    audience: EXAMPLE_AUDIENCE,
  };
}
