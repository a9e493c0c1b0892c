// The public API shared by every entry point of the package. Each entry point
// (node.mjs, node.cjs, edge.mjs, workerd.mjs, browser.mjs) first instantiates the
// WebAssembly module in the way its runtime allows (see init.js), then re-exports these
// functions.
//
// The functions are thin: option checking, verification, classification and policy
// all happen in the Rust core (crates/js). This layer gives verifiers a plain object
// shape (so that `const { verify } = verifier` works and the wasm handle's `free()`
// stays private; the handle is released by a FinalizationRegistry when the verifier is
// garbage-collected), freezes results, and keeps the results of repeated tokens:
//
// verify(token) asks the wasm side `verifyNow`, which answers synchronously when no
// I/O is needed (keys in memory; Node.js checks signatures synchronously), with the
// promise of WebCrypto's verify when that is all it waits for (edge runtimes: this
// layer awaits it and hands the outcome back with `resume`, which spares the wasm side
// its promise machinery), else with a promise, and keeps each success under an id (the wasm side keeps no other cache of
// verified tokens here, so tokens are not hashed). This layer keeps the result by
// token string (the exact string: no hashing, no collision), and a later verify of the
// same token only asks the wasm side `recheck(id)`: the same key set, still usable
// without a fetch or refresh, and the time claims (exp, nbf, iat, maxTokenAge) valid
// now, the rules of a token cache hit. A repeated token thus costs a Map lookup and one
// small call instead of passing the token into wasm and rebuilding the result. Results
// are deeply frozen because the same object is handed out again. authorize() is
// verify() followed by the requirement, checked on the kept success
// (`authorizeKept`).
//
// verify(token) and authorize(token) take the token as a bearer token: a
// sender-constrained one (DPoP-bound `cnf.jkt`, certificate-bound `cnf["x5t#S256"]`) is
// refused there (its kept result is that refusal, while the success itself stays kept
// on the wasm side). verifyRequest(request) and authorizeRequest(request) read the
// request: the `Authorization` scheme (Bearer or DPoP), the method, URL and `DPoP`
// header for the proof, and the client certificate the caller names; the sender check
// runs on the kept success for every request (`senderKept`: a proof is never reused).

import * as bindings from "./tokengate_bg.js";

/** The kept results hold at most this many token characters in all (about 16 MiB). */
const MEMO_MAX_CHARS = 8 * 1024 * 1024;

/** Freezes a JSON value (plain objects, arrays, primitives) and everything in it.
 * Object.values over for...in: about 2.5x faster on a verify result (Node 24). */
function deepFreeze(value) {
  const values = Object.values(value);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v !== null && typeof v === "object") deepFreeze(v);
  }
  return Object.freeze(value);
}

function isThenable(v) {
  return v !== null && typeof v === "object" && typeof v.then === "function";
}

/**
 * Builds a verifier. Throws a TypeError naming the option when an option is invalid.
 * @param {import("./index.js").VerifierOptions} options
 * @returns {import("./index.js").Verifier}
 */
export function createVerifier(options) {
  const inner = bindings.createVerifier(options);
  const capacity = inner.memoCapacity();
  // With a revocation store, every reuse of a kept result is checked again
  // (`revocationKept`: the verifier's cache of store answers, then the store).
  const revocation = inner.checksRevocation();
  /** token -> { id, result } in insertion order (the oldest goes first when full). */
  const memo = new Map();
  let memoChars = 0;

  function remember(token, id, result) {
    if (id === 0) return;
    const old = memo.get(token);
    if (old !== undefined) {
      memo.delete(token);
      memoChars -= token.length;
    }
    while (memo.size > 0 && (memo.size >= capacity || memoChars + token.length > MEMO_MAX_CHARS)) {
      const oldest = memo.keys().next().value;
      memo.delete(oldest);
      memoChars -= oldest.length;
    }
    memo.set(token, { id, result });
    memoChars += token.length;
  }

  /**
   * { id, result } for a token (id 0: not kept), synchronously when possible, else a
   * promise of it. Throws when currentDate misbehaves.
   */
  function verifyKept(token) {
    const keep = capacity > 0 && typeof token === "string";
    if (keep) {
      const hit = memo.get(token);
      if (hit !== undefined) {
        if (inner.recheck(hit.id)) return revocation ? unrevoked(token, hit) : hit;
        memo.delete(token);
        memoChars -= token.length;
      }
    }
    return settle(token, keep, inner.verifyNow(token, keep));
  }

  /**
   * A kept result once its revocation check passes now: the hit itself, else the
   * failure (token_revoked, revocation_unavailable) as a result not kept (id 0); a
   * promise of one when the store is read.
   */
  function unrevoked(token, hit) {
    const answer = (r) => {
      if (r === true) return hit;
      // No longer kept: a full verification (which checks revocation too).
      if (r === null) return settle(token, true, inner.verifyNow(token, true));
      return { id: 0, result: deepFreeze(r) };
    };
    const r = inner.revocationKept(hit.id);
    return isThenable(r) ? r.then(answer) : answer(r);
  }

  /**
   * What verifyNow (or resume) answered, as verifyKept's answer: a result (sync), a
   * WebCrypto promise to await and hand back through resume ([promise, wait]), or a
   * promise of [result, id].
   */
  function settle(token, keep, r) {
    if (Array.isArray(r)) {
      const [promise, wait] = r;
      return Promise.resolve(promise).then(
        (value) => settle(token, keep, inner.resume(wait, true, value)),
        () => settle(token, keep, inner.resume(wait, false, undefined)),
      );
    }
    if (isThenable(r)) {
      return r.then(([result, id]) => {
        deepFreeze(result);
        if (keep) remember(token, id, result);
        return { id, result };
      });
    }
    deepFreeze(r);
    const id = keep ? inner.lastId() : 0;
    if (keep) remember(token, id, r);
    return { id, result: r };
  }

  function verify(token) {
    let kept;
    try {
      kept = verifyKept(token);
    } catch (e) {
      return Promise.reject(e);
    }
    return isThenable(kept) ? kept.then((k) => k.result) : Promise.resolve(kept.result);
  }

  /** The answer of authorize once the token is verified. */
  function decide(token, requirement, { id, result }) {
    if (!result.ok) return result;
    const d = id === 0 ? null : inner.authorizeKept(requirement, id);
    if (d === true) return result;
    // Not kept (tokenCacheSize 0): the full path, without a cache.
    if (d === null) return inner.authorize(token, requirement).then(deepFreeze);
    return deepFreeze(d);
  }

  function authorize(token, requirement) {
    try {
      // An invalid requirement throws here (a rejection), whatever the token.
      inner.authorizeKept(requirement, 0);
      const kept = verifyKept(token);
      if (isThenable(kept)) return kept.then((k) => decide(token, requirement, k));
      return Promise.resolve(decide(token, requirement, kept));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** The full request path, without a kept verification. */
  function requestFull(authorization, parts, requirement) {
    return inner.authorizeRequest(authorization, parts, requirement).then(deepFreeze);
  }

  /** The answer of authorizeRequest once the token is verified (as a bearer token). */
  function decideRequest(presented, authorization, parts, requirement, kept) {
    // A bearer token without a client certificate: exactly authorize(token).
    if (!presented.dpop && parts.clientCertificate === undefined) {
      return decide(presented.token, requirement, kept);
    }
    const { id, result } = kept;
    // Not kept: a failure of the token itself (a success is always kept here).
    if (id === 0) return result.ok ? requestFull(authorization, parts, requirement) : result;
    const r = inner.senderKept(id, presented.token, presented.dpop, parts, requirement);
    if (r === null) return requestFull(authorization, parts, requirement);
    return isThenable(r) ? r.then(deepFreeze) : deepFreeze(r);
  }

  function authorizeRequest(request, requirement, options) {
    try {
      inner.authorizeKept(requirement, 0);
      const parts = requestParts(request, options);
      const authorization = requestHeader(request, "authorization") ?? undefined;
      if (capacity === 0) return requestFull(authorization, parts, requirement);
      const presented = inner.presented(authorization);
      if (!presented.ok) return Promise.resolve(deepFreeze(presented));
      const kept = verifyKept(presented.token);
      const go = (k) => decideRequest(presented, authorization, parts, requirement, k);
      return isThenable(kept) ? kept.then(go) : Promise.resolve(go(kept));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  function verifyRequest(request, options) {
    return authorizeRequest(request, undefined, options);
  }

  function resourceMetadata(path) {
    if (path !== undefined && typeof path !== "string") {
      throw new TypeError("resourceMetadata: the path must be a string");
    }
    const doc = inner.resourceMetadata(path);
    return doc === undefined || doc === null ? null : JSON.parse(doc);
  }

  function metadataResponse(request) {
    if (!request || typeof request.url !== "string") {
      throw new TypeError("metadataResponse: expected a Request (Fetch API)");
    }
    const doc = inner.resourceMetadata(new URL(request.url, "http://localhost").pathname);
    if (doc === undefined || doc === null) return null;
    return metadataAnswer(String(request.method ?? "GET").toUpperCase(), doc);
  }

  return Object.freeze({
    verify,
    authorize,
    verifyRequest,
    authorizeRequest,
    resourceMetadata,
    metadataResponse,
    resourceMetadataUrl: () => inner.resourceMetadataUrl() ?? null,
    dpopNonce: () => inner.dpopNonce() ?? null,
  });
}

/** A request header: Fetch `Headers`, or a plain object (Node's IncomingMessage). */
function requestHeader(request, name) {
  const h = request.headers;
  if (typeof h.get === "function") return h.get(name);
  const v = h[name];
  if (v === undefined || v === null) return null;
  // Several values of one header come as an array: joined as Headers joins them.
  return Array.isArray(v) ? v.join(", ") : String(v);
}

/** What the sender check reads of a request (see `RequestParts` in crates/js). */
function requestParts(request, options) {
  if (request === null || typeof request !== "object" || request.headers === null || typeof request.headers !== "object") {
    throw new TypeError("tokengate: expected a Request (Fetch API), or { method, url, headers }");
  }
  if (options !== undefined && (options === null || typeof options !== "object")) {
    throw new TypeError("tokengate: the request options must be an object");
  }
  const cert = options?.clientCertificate;
  if (cert !== undefined && cert !== null && typeof cert !== "string") {
    throw new TypeError("tokengate: clientCertificate must be a string (the certificate's SHA-256 fingerprint)");
  }
  return {
    method: typeof request.method === "string" ? request.method : "GET",
    url: String(options?.url ?? request.url ?? ""),
    dpop: requestHeader(request, "dpop") ?? undefined,
    clientCertificate: cert === null || cert === "" ? undefined : cert,
  };
}

const METADATA_METHODS = "GET, HEAD, OPTIONS";

/** The answer at the metadata path: the Worker's (RFC 9728 §3, readable cross-origin). */
function metadataAnswer(method, doc) {
  const headers = new Headers({ "access-control-allow-origin": "*" });
  if (method === "GET" || method === "HEAD") {
    headers.set("content-type", "application/json");
    headers.set("cache-control", "public, max-age=300");
    return new Response(method === "GET" ? doc : null, { status: 200, headers });
  }
  if (method === "OPTIONS") {
    headers.set("access-control-allow-methods", METADATA_METHODS);
    return new Response(null, { status: 204, headers });
  }
  headers.set("allow", METADATA_METHODS);
  return new Response(null, { status: 405, headers });
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
 * The store key of a revocation entry: `<issuer>|<jti|client|sub>|<id>` (the core's
 * format, which the verifier's `revocation.store` and the Worker's `REVOKED` namespace
 * are read with).
 * @param {string} issuer
 * @param {"jti" | "client" | "sub"} by
 * @param {string} id
 * @returns {string}
 */
export function revocationKey(issuer, by, id) {
  return bindings.revocationKey(issuer, by, id);
}

/**
 * The value of a revocation entry revoking a client's or subject's tokens issued up to
 * `before` (unix seconds): `{"before":<before>}`.
 * @param {number} before
 * @returns {string}
 */
export function revocationValue(before) {
  return bindings.revocationValue(before);
}

/**
 * The error catalogue: every stable code with its stage, HTTP status, OAuth `error`
 * value, description and help text (a fresh array on every call).
 * @returns {import("./index.js").ErrorInfo[]}
 */
export function errorCatalogue() {
  return bindings.errorCatalogue();
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
 * Whether a forwarder must drop an inbound header: identity headers (`x-tokengate-*`),
 * the origin-secret header and method-override headers, in any case and with `_` read
 * as `-` (the edge authorizer's rule).
 * @param {string} name
 * @param {string} [originSecretHeader] default `x-tokengate-secret`
 * @returns {boolean}
 */
export function isReservedHeader(name, originSecretHeader) {
  return bindings.isReservedHeader(name, originSecretHeader);
}

/**
 * An identity header value as the edge authorizer sends it: percent-encoded (bytes
 * outside visible ASCII, spaces and `%`); an array's elements encoded and joined with
 * one space. `decodeURIComponent` gives the value back.
 * @param {string | readonly string[]} value
 * @returns {string}
 */
export function encodeHeaderValue(value) {
  return bindings.encodeHeaderValue(value);
}

// ---------------------------------------------------------------------------------
// The core's rules, for token inspectors (the decoder page asks these instead of
// keeping copies): the key-URL rule, OIDC discovery, the time state, typ and the
// algorithms.
// ---------------------------------------------------------------------------------

/**
 * Whether tokengate would fetch keys from a URL: https, or http on a loopback host.
 * @param {string} url
 * @returns {import("./index.js").RuleResult}
 */
export function checkFetchUrl(url) {
  return bindings.checkFetchUrl(url);
}

/**
 * The OIDC discovery URL tokengate reads for an issuer, when it may fetch it.
 * @param {string} issuer
 * @returns {import("./index.js").DiscoveryUrlResult}
 */
export function discoveryUrl(issuer) {
  return bindings.discoveryUrl(issuer);
}

/**
 * The `jwks_uri` of an OIDC discovery document (JSON text) whose `issuer` must be
 * exactly `issuer`.
 * @param {string} document
 * @param {string} issuer
 * @returns {import("./index.js").DiscoveryResult}
 */
export function jwksUriFromDiscovery(document, issuer) {
  return bindings.jwksUriFromDiscovery(document, issuer);
}

/**
 * What a verifier's claim validation says of a token's exp, nbf and iat at a time.
 * @param {import("./index.js").JWTClaims} claims
 * @param {number} nowSeconds
 * @param {number} [clockTolerance] default 60
 * @returns {import("./index.js").TimeStateResult}
 */
export function timeState(claims, nowSeconds, clockTolerance) {
  return bindings.timeState(claims, nowSeconds, clockTolerance);
}

/**
 * The `requiredTyp` rule for a header's `typ` value.
 * @param {unknown} typ
 * @param {string} requiredTyp
 * @returns {import("./index.js").TypResult}
 */
export function checkTyp(typ, requiredTyp) {
  return bindings.checkTyp(typ, requiredTyp);
}

/**
 * Whether decoded header and claims look like an OpenID Connect ID token rather than an
 * access token: `{ signals, message }` (as `decode()`'s `idToken`), or null.
 * @param {import("./index.js").JWTHeader} header
 * @param {import("./index.js").JWTClaims} claims
 * @returns {import("./index.js").IdTokenHint | null}
 */
export function idTokenHint(header, claims) {
  return bindings.idTokenHint(header, claims);
}

/**
 * A requirement's claim rules and delegation rules against a decoded token's claims,
 * rule by rule (the core's own rules; the policy check of the decoder page and
 * `tokengate decode`).
 * @param {import("./index.js").Requirement | null | undefined} requirement
 * @param {import("./index.js").JWTClaims} claims
 * @returns {import("./index.js").PolicyCheck}
 */
export function policyCheck(requirement, claims) {
  return bindings.policyCheck(requirement, claims);
}

/**
 * The JWS algorithms tokengate verifies.
 * @returns {import("./index.js").AlgorithmInfo[]}
 */
export function algorithms() {
  return bindings.algorithms();
}

/**
 * Checks an edge-authorizer configuration document (the Worker's `TOKENGATE_CONFIG`
 * JSON text) the way the Worker reads it, without I/O or secrets.
 * @param {string} json
 * @returns {import("./index.js").WorkerConfigCheck}
 */
export function checkWorkerConfig(json) {
  return bindings.checkWorkerConfig(json);
}

// ---------------------------------------------------------------------------------
// Route helpers for Fetch-API handlers (Next.js route handlers and proxy.ts, Workers,
// Deno, Bun, Node's Request/Response): the answers and the forwarded headers of the
// edge authorizer, from the same core rules.
// ---------------------------------------------------------------------------------

/**
 * The edge authorizer's answer to a refused request: the status, the
 * `WWW-Authenticate` challenge (400/401/403: RFC 6750 `Bearer`, and RFC 9449 `DPoP`
 * and RFC 9728 `resource_metadata` where configured), `DPoP-Nonce` with
 * `use_dpop_nonce`, `cache-control: no-store` and the JSON
 * body `{ error, error_description, code }`. A 5xx's description is a fixed text (the
 * message may carry URLs or fetch errors): the message goes to `console.error`.
 * @param {import("./index.js").TokengateError} error
 * @returns {Response}
 */
export function denyResponse(error) {
  if (error === null || typeof error !== "object" || typeof error.code !== "string") {
    throw new TypeError("denyResponse: expected a tokengate error ({ code, message, status })");
  }
  const body = bindings.denialBody(error.code, String(error.message ?? ""));
  const headers = new Headers({ "content-type": "application/json", "cache-control": "no-store" });
  if (error.wwwAuthenticate) headers.set("www-authenticate", error.wwwAuthenticate);
  // RFC 9449 §8: the nonce a `use_dpop_nonce` refusal asks the client to use.
  if (typeof error.dpopNonce === "string") headers.set("dpop-nonce", error.dpopNonce);
  if (error.status >= 500) console.error(`tokengate: ${error.code}: ${error.message}`);
  return new Response(body, { status: error.status, headers });
}

/**
 * The identity headers the edge authorizer sets for a principal (`x-tokengate-kind`,
 * `-subject`, `-client-id`, `-scopes`, `-issuer`, `-user-id`, `-actor`), values
 * percent-encoded as the edge encodes them (`decodeURIComponent` gives them back).
 * @param {import("./index.js").Principal} principal
 * @param {{ clientName?: string }} [options] the client's name, when you know it
 * @returns {Record<string, string>}
 */
export function identityHeaders(principal, options) {
  if (principal === null || typeof principal !== "object") {
    throw new TypeError("identityHeaders: expected a principal");
  }
  const name = options?.clientName;
  return Object.fromEntries(bindings.identityHeaders(JSON.stringify(principal), typeof name === "string" ? name : undefined));
}

/** Hop-by-hop and framing headers a forwarder does not copy (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set([
  "host", "connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer",
  "upgrade", "content-length", "proxy-authorization", "proxy-authenticate",
]);

/**
 * The request headers for an upstream, as the edge authorizer forwards them: the
 * inbound ones minus every header a client could spoof identity or the method with
 * (`isReservedHeader`: `x-tokengate-*`, the origin-secret header and method
 * overrides, in any case and with `_` for `-`), minus hop-by-hop headers, plus the
 * principal's identity headers. With `forwardAuthorization: false`, the `Authorization`
 * and `DPoP` headers are dropped together.
 * @param {Headers} incoming
 * @param {import("./index.js").Principal} principal
 * @param {import("./index.js").ForwardOptions} [options]
 * @returns {Headers}
 */
export function forwardHeaders(incoming, principal, options) {
  if (!incoming || typeof incoming.forEach !== "function") {
    throw new TypeError("forwardHeaders: expected the request's Headers");
  }
  const secretHeader = options?.originSecretHeader;
  const keepAuthorization = options?.forwardAuthorization !== false;
  const out = new Headers();
  incoming.forEach((value, name) => {
    const n = name.toLowerCase();
    // The DPoP proof goes upstream only with the token it proves.
    if (HOP_BY_HOP.has(n) || (!keepAuthorization && (n === "authorization" || n === "dpop"))) return;
    if (bindings.isReservedHeader(n, secretHeader)) return;
    out.append(name, value);
  });
  for (const [name, value] of Object.entries(identityHeaders(principal, options))) out.set(name, value);
  return out;
}

/**
 * Wraps a Fetch-API handler: the request is checked by the verifier's
 * `authorizeRequest` (the token of `Authorization: Bearer` or `DPoP` with its proof,
 * the client certificate `options.clientCertificate(request)` names, then
 * `requirement`); a refused request gets `denyResponse` (401/403 with the challenge,
 * 400 for a malformed header, 503 when the issuer's keys are unavailable), an allowed
 * one `handler(request, principal, ...rest)` (`rest` is what the framework passes
 * after the request, e.g. Next.js's `{ params }`).
 *
 * `verifier` may be a function returning the verifier, so that it is built on first
 * use (e.g. from environment variables not set at build time); `requirement` may be a
 * function of the request (e.g. by method), and `null` means any valid token.
 * @template {unknown[]} R
 * @param {import("./index.js").Verifier | (() => import("./index.js").Verifier)} verifier
 * @param {import("./index.js").Requirement | null | ((request: Request) => import("./index.js").Requirement | null)} requirement
 * @param {(request: Request, principal: import("./index.js").Principal, ...rest: R) => Response | Promise<Response>} handler
 * @param {import("./index.js").ProtectOptions} [options]
 * @returns {(request: Request, ...rest: R) => Promise<Response>}
 */
export function protect(verifier, requirement, handler, options) {
  if (typeof verifier !== "function" && (verifier === null || typeof verifier !== "object" || typeof verifier.authorizeRequest !== "function")) {
    throw new TypeError("protect: the first argument must be a verifier (createVerifier) or a function returning one");
  }
  if (requirement !== null && requirement !== undefined && typeof requirement !== "object" && typeof requirement !== "function") {
    throw new TypeError("protect: the requirement must be an object, a function of the request, or null");
  }
  if (typeof handler !== "function") throw new TypeError("protect: the handler must be a function");
  const certificate = options?.clientCertificate;
  if (certificate !== undefined && typeof certificate !== "function") {
    throw new TypeError("protect: options.clientCertificate must be a function of the request");
  }
  return async function protectedHandler(request, ...rest) {
    const v = typeof verifier === "function" ? verifier() : verifier;
    const need = typeof requirement === "function" ? requirement(request) : requirement;
    const perRequest = certificate === undefined ? undefined : { clientCertificate: (await certificate(request, ...rest)) ?? undefined };
    const result = await v.authorizeRequest(request, need ?? undefined, perRequest);
    if (!result.ok) return denyResponse(result.error);
    return handler(request, result.principal, ...rest);
  };
}
