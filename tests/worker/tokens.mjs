// Test issuer: signs JWTs with node:crypto (ES256, RS256, EdDSA) and serves its JWKS.

import crypto from "node:crypto";

const b64u = (buf) => Buffer.from(buf).toString("base64url");

export class Issuer {
  constructor({ issuer = "https://idp.test/", audience = "https://api.example.com", alg = "ES256" } = {}) {
    this.issuer = issuer;
    this.audience = audience;
    this.alg = alg;
    this.keys = [];
    this.rotate();
  }

  /** Adds a new current key (the previous ones stay published). */
  rotate(kid = crypto.randomUUID()) {
    let pair;
    if (this.alg === "ES256") pair = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
    else if (this.alg === "RS256") pair = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
    else pair = crypto.generateKeyPairSync("ed25519");
    const jwk = { ...pair.publicKey.export({ format: "jwk" }), kid, alg: this.alg, use: "sig" };
    this.keys.push({ kid, privateKey: pair.privateKey, jwk });
    this.current = this.keys[this.keys.length - 1];
    return kid;
  }

  jwks() {
    return { keys: this.keys.map((k) => k.jwk) };
  }

  sign(claims, { kid = this.current.kid, header = {}, key = this.current } = {}) {
    const now = Math.floor(Date.now() / 1000);
    const h = { alg: this.alg, typ: "at+jwt", kid, ...header };
    const p = { iss: this.issuer, aud: this.audience, iat: now, exp: now + 3600, ...claims };
    const input = `${b64u(JSON.stringify(h))}.${b64u(JSON.stringify(p))}`;
    let sig;
    if (this.alg === "ES256") {
      sig = crypto.sign("sha256", Buffer.from(input), { key: key.privateKey, dsaEncoding: "ieee-p1363" });
    } else if (this.alg === "RS256") {
      sig = crypto.sign("sha256", Buffer.from(input), key.privateKey);
    } else {
      sig = crypto.sign(null, Buffer.from(input), key.privateKey);
    }
    return `${input}.${b64u(sig)}`;
  }

  /** An Auth0-shaped client-credentials token. */
  machine(scope = "read:builds", client = "svc-builder", extra = {}) {
    return this.sign({ sub: `${client}@clients`, azp: client, gty: "client-credentials", scope, ...extra });
  }

  /** An Auth0-shaped user token with RBAC permissions. */
  user(permissions = [], scope = "openid profile", extra = {}) {
    return this.sign({ sub: "auth0|user-1", azp: "spa-client", scope, permissions, ...extra });
  }
}
