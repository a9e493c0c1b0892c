// Test fixture: a REAL OpenID provider and a real OAuth client, for end-to-end
// tests of tokengate with DPoP-bound JWT access tokens (RFC 9449 `cnf.jkt`,
// RFC 9068 `at+jwt`).
//
//   server  oidc-provider (panva) on 127.0.0.1:<ephemeral port>, client-credentials
//           grant, resource indicators with JWT access tokens signed by a key made
//           at start (ES256 by default), DPoP optional (bound when a proof is sent),
//           optionally DPoP nonces required at its token endpoint.
//   client  oauth4webapi (discovery + client-credentials grant with its DPoP
//           handle, one retry on `use_dpop_nonce`) and the `dpop` library (proofs
//           for requests to a protected resource).
//   negative tests  rawProof() signs any header and payload with a DPoP key, and
//           idp.signToken() any access-token payload with the provider's own key.
//
// Lives in its own directory with its own node_modules (npm ci --prefix tests/idp,
// done by scripts/setup.sh npm); import it as "../idp/index.mjs" from tests/worker
// or tests/npm. Self-test: node --test tests/idp/idp.test.mjs
import * as crypto from "node:crypto";
import * as http from "node:http";

import Provider, { errors as oidcErrors } from "oidc-provider";
import * as oauth from "oauth4webapi";
import * as dpopLib from "dpop";

export const DEFAULT_AUDIENCE = "https://api.example.com";
export const DEFAULT_SCOPE = "read:builds update:builds";
export const DEFAULT_CLIENT_ID = "m2m-client";
export const DEFAULT_CLIENT_SECRET = "m2m-client-secret-for-tests-only";

// JWS algorithms the provider accepts for DPoP proofs at its token endpoint.
const DPOP_ALGS = ["ES256", "ES384", "ES512", "PS256", "RS256", "Ed25519", "EdDSA"];

const b64u = (input) => Buffer.from(input).toString("base64url");
const fromB64uJson = (part) => JSON.parse(Buffer.from(part, "base64url").toString("utf8"));

/** Decodes a compact JWS without verifying it: { header, payload }. */
export function decodeJwt(jwt) {
  const [h, p] = String(jwt).split(".");
  return { header: fromB64uJson(h), payload: fromB64uJson(p) };
}

// Signing key of the provider (node:crypto only) as a private JWK with kid/alg/use.
function providerKey(alg) {
  let pair;
  switch (alg) {
    case "ES256": pair = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" }); break;
    case "ES384": pair = crypto.generateKeyPairSync("ec", { namedCurve: "P-384" }); break;
    case "ES512": pair = crypto.generateKeyPairSync("ec", { namedCurve: "P-521" }); break;
    case "RS256": case "PS256":
      pair = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }); break;
    case "EdDSA": case "Ed25519": pair = crypto.generateKeyPairSync("ed25519"); break;
    default: throw new TypeError(`unsupported signingAlg ${alg}`);
  }
  const jwk = pair.privateKey.export({ format: "jwk" });
  const kid = `idp-${alg.toLowerCase()}-${crypto.randomBytes(4).toString("hex")}`;
  return { jwk: { ...jwk, kid, alg, use: "sig" }, privateKey: pair.privateKey, kid };
}

// Per-provider in-memory storage (replay detection of DPoP jti, etc.); the same job
// as oidc-provider's built-in development adapter, which warns on every start.
function memoryAdapter() {
  const store = new Map();
  const live = (key) => {
    const item = store.get(key);
    if (item && item.expiresAt !== undefined && item.expiresAt <= Date.now()) {
      store.delete(key);
      return undefined;
    }
    return item;
  };
  return class MemoryAdapter {
    constructor(name) { this.name = name; }
    key(id) { return `${this.name}:${id}`; }
    async upsert(id, payload, expiresIn) {
      store.set(this.key(id), {
        payload: { ...payload },
        expiresAt: typeof expiresIn === "number" ? Date.now() + expiresIn * 1000 : undefined,
      });
    }
    async find(id) { return live(this.key(id))?.payload; }
    async findByUid(uid) {
      for (const [key] of store) {
        const p = key.startsWith(`${this.name}:`) && live(key)?.payload;
        if (p && p.uid === uid) return p;
      }
      return undefined;
    }
    async findByUserCode(userCode) {
      for (const [key] of store) {
        const p = key.startsWith(`${this.name}:`) && live(key)?.payload;
        if (p && p.userCode === userCode) return p;
      }
      return undefined;
    }
    async consume(id) {
      const item = live(this.key(id));
      if (item) item.payload.consumed = Math.floor(Date.now() / 1000);
    }
    async destroy(id) { store.delete(this.key(id)); }
    async revokeByGrantId(grantId) {
      for (const [key, item] of store) if (item.payload.grantId === grantId) store.delete(key);
    }
  };
}

function clientDefaults(client, scope) {
  return {
    grant_types: ["client_credentials"],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: "client_secret_basic",
    scope,
    ...client,
  };
}

/**
 * Starts oidc-provider on 127.0.0.1.
 *
 * options:
 *   audience    `aud` of the access tokens (the resource indicator; also the default
 *               resource when a request names none). Default "https://api.example.com".
 *   scope       scopes the resource server (and the default client) allow.
 *               Default "read:builds update:builds".
 *   clients     oidc-provider client metadata; each gets client_credentials defaults.
 *               Default: [{ client_id: "m2m-client", client_secret: DEFAULT_CLIENT_SECRET }].
 *               `dpop_bound_access_tokens: true` makes DPoP mandatory for a client.
 *   dpopNonce   true: the token endpoint requires DPoP nonces (`use_dpop_nonce`).
 *   signingAlg  JWS alg of the access tokens: ES256 (default), ES384, ES512, RS256,
 *               PS256, EdDSA.
 *   accessTokenTtl  seconds (default 600).
 *   extraTokenClaims  object, or (ctx, token) => object, added to access tokens.
 *   port, host  default 0 and "127.0.0.1".
 *
 * Resolves to { issuer, discovery, jwksUri, tokenEndpoint, audience, scope, clients,
 * kid, alg, jwks, provider, signToken(payload, header?), close() }.
 */
export async function startIdp(options = {}) {
  const {
    audience = DEFAULT_AUDIENCE,
    scope = DEFAULT_SCOPE,
    dpopNonce = false,
    signingAlg = "ES256",
    accessTokenTtl = 600,
    extraTokenClaims,
    port = 0,
    host = "127.0.0.1",
  } = options;
  const clients = (options.clients ?? [
    { client_id: DEFAULT_CLIENT_ID, client_secret: DEFAULT_CLIENT_SECRET },
  ]).map((c) => clientDefaults(c, scope));

  const server = http.createServer();
  server.keepAliveTimeout = 1000;
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => { server.off("error", reject); resolve(); });
  });
  const issuer = `http://${host}:${server.address().port}`;

  const key = providerKey(signingAlg);
  const resourceServer = {
    scope,
    audience,
    accessTokenTTL: accessTokenTtl,
    accessTokenFormat: "jwt",
    jwt: { sign: { alg: signingAlg, kid: key.kid } },
  };

  const configuration = {
    adapter: memoryAdapter(),
    clients,
    jwks: { keys: [key.jwk] },
    // Nothing here signs ID tokens, but keep the default alg one the keystore has.
    clientDefaults: { id_token_signed_response_alg: signingAlg === "Ed25519" ? "EdDSA" : signingAlg },
    enabledJWA: { dPoPSigningAlgValues: DPOP_ALGS },
    cookies: { keys: [crypto.randomBytes(32).toString("base64url")] },
    scopes: ["openid", ...scope.split(" ").filter(Boolean)],
    ttl: { ClientCredentials: accessTokenTtl },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      dPoP: {
        enabled: true,
        ...(dpopNonce
          ? { nonceSecret: crypto.randomBytes(32), requireNonce: () => true }
          : {}),
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: async (_ctx, _client, oneOf) => oneOf ?? audience,
        getResourceServerInfo: async (_ctx, resourceIndicator) => {
          if (resourceIndicator !== audience) throw new oidcErrors.InvalidTarget();
          return resourceServer;
        },
      },
    },
    ...(extraTokenClaims !== undefined
      ? {
          extraTokenClaims: async (ctx, token) =>
            typeof extraTokenClaims === "function" ? extraTokenClaims(ctx, token) : extraTokenClaims,
        }
      : {}),
  };

  const provider = new Provider(issuer, configuration);
  // Only unexpected (HTTP 500) errors; ordinary OAuth error responses are not logged.
  provider.on("server_error", (_ctx, err) => { console.error("[idp] server_error", err); });
  server.on("request", provider.callback());

  const publicJwk = { ...crypto.createPublicKey(key.privateKey).export({ format: "jwk" }),
    kid: key.kid, alg: signingAlg, use: "sig" };

  const idp = {
    issuer,
    discovery: `${issuer}/.well-known/openid-configuration`,
    jwksUri: `${issuer}/jwks`,
    tokenEndpoint: `${issuer}/token`,
    audience,
    scope,
    clients: clients.map((c) => ({ ...c })),
    clientId: clients[0]?.client_id,
    clientSecret: clients[0]?.client_secret,
    alg: signingAlg,
    kid: key.kid,
    jwks: { keys: [publicJwk] },
    provider,
    /**
     * Signs an arbitrary access-token payload with the provider's key (for tokens
     * the provider would never issue: expired, wrong aud, other cnf.jkt, ...).
     * Header defaults: { alg, typ: "at+jwt", kid }.
     */
    signToken(payload, header = {}) {
      return signWithKeyObject(key.privateKey, signingAlg,
        { alg: signingAlg, typ: "at+jwt", kid: key.kid, ...header }, payload);
    },
    close() {
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections?.();
      });
    },
  };
  return idp;
}

function signWithKeyObject(keyObject, alg, header, payload) {
  const input = `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(payload))}`;
  let sig;
  if (alg.startsWith("ES")) {
    sig = crypto.sign(`sha${alg.slice(2)}`, Buffer.from(input), { key: keyObject, dsaEncoding: "ieee-p1363" });
  } else if (alg === "PS256") {
    sig = crypto.sign("sha256", Buffer.from(input), {
      key: keyObject, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
  } else if (alg === "RS256") {
    sig = crypto.sign("sha256", Buffer.from(input), keyObject);
  } else {
    sig = crypto.sign(null, Buffer.from(input), keyObject);
  }
  return `${input}.${b64u(sig)}`;
}

/**
 * A DPoP key pair (WebCrypto CryptoKeyPair) made by the `dpop` library:
 * ES256 (default), PS256, RS256 or Ed25519. The private key is extractable unless
 * { extractable: false }, so negative tests can put `d` into a proof's jwk.
 */
export function generateDpopKeyPair(alg = "ES256", { extractable = true } = {}) {
  return dpopLib.generateKeyPair(alg, { extractable });
}

const asCache = new WeakMap();

async function authorizationServer(idp) {
  let as = asCache.get(idp);
  if (!as) {
    const issuerUrl = new URL(idp.issuer);
    const response = await oauth.discoveryRequest(issuerUrl, {
      algorithm: "oidc",
      [oauth.allowInsecureRequests]: true,
    });
    as = await oauth.processDiscoveryResponse(issuerUrl, response);
    asCache.set(idp, as);
  }
  return as;
}

/** The provider's metadata as oauth4webapi discovered it (cached per idp). */
export function discover(idp) {
  return authorizationServer(idp);
}

/**
 * Client-credentials token request with oauth4webapi.
 *   keyPair  DPoP key pair (one is generated when missing and dpop is true)
 *   scope    requested scope (default: all of idp.scope; "" or null: no scope parameter,
 *            then the token has no scope claim)
 *   resource resource indicator (default: none; the provider defaults to the audience)
 *   dpop     false for a plain Bearer token
 *   clientId, clientSecret  default: the idp's first client
 * Resolves to { access_token, token_type (as the server sent it: "DPoP"/"Bearer"),
 * expires_in, scope, header, claims, keyPair, response }.
 */
export async function getToken(idp, {
  keyPair, scope = idp.scope, resource, dpop = true,
  clientId = idp.clientId, clientSecret = idp.clientSecret,
} = {}) {
  const as = await authorizationServer(idp);
  const client = { client_id: clientId };
  const clientAuth = oauth.ClientSecretBasic(clientSecret);
  if (dpop && !keyPair) keyPair = await generateDpopKeyPair();
  const parameters = new URLSearchParams();
  if (scope) parameters.set("scope", scope);
  if (resource !== undefined) parameters.set("resource", resource);
  const options = { [oauth.allowInsecureRequests]: true };
  if (dpop) options.DPoP = oauth.DPoP(client, keyPair);

  let body;
  for (let attempt = 0; ; attempt++) {
    const response = await oauth.clientCredentialsGrantRequest(as, client, clientAuth, parameters, options);
    const raw = await response.clone().json().catch(() => undefined);
    try {
      await oauth.processClientCredentialsResponse(as, client, response);
      body = raw;
      break;
    } catch (err) {
      // The DPoP handle has cached the DPoP-Nonce of the response; retry once.
      if (attempt === 0 && oauth.isDPoPNonceError(err)) continue;
      // Name the server's answer in the message (oauth4webapi's is generic).
      const what = raw?.error
        ? `${raw.error}${raw.error_description ? `: ${raw.error_description}` : ""}`
        : `HTTP ${response.status}`;
      throw Object.assign(new Error(`token request failed: ${what}`, { cause: err }),
        { status: response.status, error: raw?.error, error_description: raw?.error_description });
    }
  }
  const { header, payload } = decodeJwt(body.access_token);
  return {
    access_token: body.access_token,
    token_type: body.token_type,
    expires_in: body.expires_in,
    scope: body.scope,
    header,
    claims: payload,
    keyPair,
  };
}

/**
 * A DPoP proof for a request to a protected resource, made by the `dpop` library:
 * generateProof(keyPair, htu, htm, nonce, accessToken). `iat` (seconds) overrides the
 * proof's time (then the same claims are signed with rawProof, as dpop sets iat itself).
 */
export async function proof(keyPair, { htm = "GET", htu, accessToken, nonce, iat } = {}) {
  if (typeof htu !== "string") throw new TypeError("proof: htu (string) is required");
  if (iat === undefined) return dpopLib.generateProof(keyPair, htu, htm, nonce, accessToken);
  return rawProof(keyPair, await dpopHeader(keyPair), {
    iat, jti: crypto.randomUUID(), htm, nonce, htu,
    ath: accessToken === undefined ? undefined : ath(accessToken),
  });
}

/** The header the dpop library puts on proofs: { alg, typ: "dpop+jwt", jwk }. */
export async function dpopHeader(keyPair) {
  return { alg: jwsAlg(keyPair.privateKey), typ: "dpop+jwt", jwk: await publicJwk(keyPair.publicKey) };
}

/** Public JWK (kty, crv, x, y / n, e) of a CryptoKey, or of a key pair. */
export async function publicJwk(key) {
  const k = key.publicKey ?? key;
  const { kty, crv, x, y, n, e } = await crypto.webcrypto.subtle.exportKey("jwk", k);
  return Object.fromEntries(Object.entries({ kty, crv, x, y, n, e }).filter(([, v]) => v !== undefined));
}

function jwsAlg(privateKey) {
  const a = privateKey.algorithm;
  switch (a.name) {
    case "ECDSA": return { "P-256": "ES256", "P-384": "ES384", "P-521": "ES512" }[a.namedCurve];
    case "RSA-PSS": return "PS256";
    case "RSASSA-PKCS1-v1_5": return "RS256";
    case "Ed25519": return "Ed25519";
    default: throw new TypeError(`unsupported key algorithm ${a.name}`);
  }
}

function subtleSignParams(privateKey) {
  const a = privateKey.algorithm;
  switch (a.name) {
    case "ECDSA": return { name: "ECDSA", hash: { "P-256": "SHA-256", "P-384": "SHA-384", "P-521": "SHA-512" }[a.namedCurve] };
    case "RSA-PSS": return { name: "RSA-PSS", saltLength: 32 };
    default: return { name: a.name };
  }
}

/**
 * Signs header and claims exactly as given (undefined members are dropped by
 * JSON.stringify) with keyPair.privateKey through WebCrypto; the signature algorithm
 * follows the key, whatever header.alg says. For deliberately bad proofs, e.g.
 *   rawProof(kp, { ...(await dpopHeader(kp)), typ: "JWT" }, claims)
 */
export async function rawProof(keyPair, header, claims) {
  const privateKey = keyPair.privateKey ?? keyPair;
  const input = `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(claims))}`;
  const sig = await crypto.webcrypto.subtle.sign(subtleSignParams(privateKey), privateKey, Buffer.from(input));
  return `${input}.${b64u(new Uint8Array(sig))}`;
}

/**
 * RFC 7638 JWK SHA-256 thumbprint of a public JWK (object), a public CryptoKey or a
 * key pair (those go through the dpop library's calculateThumbprint).
 */
export async function thumbprint(key) {
  if (key instanceof globalThis.CryptoKey || key?.publicKey instanceof globalThis.CryptoKey) {
    return dpopLib.calculateThumbprint(key.publicKey ?? key);
  }
  const members = {
    EC: ["crv", "kty", "x", "y"],
    OKP: ["crv", "kty", "x"],
    RSA: ["e", "kty", "n"],
  }[key.kty];
  if (!members) throw new TypeError(`thumbprint: unsupported kty ${key.kty}`);
  const canonical = JSON.stringify(Object.fromEntries(members.map((m) => [m, key[m]])));
  return crypto.createHash("sha256").update(canonical).digest("base64url");
}

/** DPoP `ath`: base64url(SHA-256(access token)). */
export function ath(token) {
  return crypto.createHash("sha256").update(String(token)).digest("base64url");
}

/**
 * Reference resource-server check by another implementation: oauth4webapi's
 * validateJwtAccessToken (RFC 9068 + RFC 9449) of a Request carrying
 * `Authorization: DPoP|Bearer <token>` (and a DPoP proof). Resolves to the claims or
 * rejects; handy as an oracle next to tokengate's answer.
 */
export async function validateRequest(idp, request, { audience = idp.audience, requireDPoP = false } = {}) {
  const as = await authorizationServer(idp);
  return oauth.validateJwtAccessToken(as, request, audience, {
    requireDPoP,
    [oauth.allowInsecureRequests]: true,
  });
}
