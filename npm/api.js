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
        if (inner.recheck(hit.id)) return hit;
        memo.delete(token);
        memoChars -= token.length;
      }
    }
    return settle(token, keep, inner.verifyNow(token, keep));
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

  return Object.freeze({ verify, authorize });
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
 * The edge authorizer's answer to a refused request: the status, the RFC 6750
 * `WWW-Authenticate` challenge (400/401/403), `cache-control: no-store` and the JSON
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
 * principal's identity headers.
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
    if (HOP_BY_HOP.has(n) || (!keepAuthorization && n === "authorization")) return;
    if (bindings.isReservedHeader(n, secretHeader)) return;
    out.append(name, value);
  });
  for (const [name, value] of Object.entries(identityHeaders(principal, options))) out.set(name, value);
  return out;
}

/**
 * Wraps a Fetch-API handler: the request's bearer token is verified and checked
 * against `requirement`; a refused request gets `denyResponse` (401/403 with the RFC
 * 6750 challenge, 400 for a malformed header, 503 when the issuer's keys are
 * unavailable), an allowed one `handler(request, principal, ...rest)` (`rest` is what
 * the framework passes after the request, e.g. Next.js's `{ params }`).
 *
 * `verifier` may be a function returning the verifier, so that it is built on first
 * use (e.g. from environment variables not set at build time); `requirement` may be a
 * function of the request (e.g. by method), and `null` means any valid token.
 * @template {unknown[]} R
 * @param {import("./index.js").Verifier | (() => import("./index.js").Verifier)} verifier
 * @param {import("./index.js").Requirement | null | ((request: Request) => import("./index.js").Requirement | null)} requirement
 * @param {(request: Request, principal: import("./index.js").Principal, ...rest: R) => Response | Promise<Response>} handler
 * @returns {(request: Request, ...rest: R) => Promise<Response>}
 */
export function protect(verifier, requirement, handler) {
  if (typeof verifier !== "function" && (verifier === null || typeof verifier !== "object" || typeof verifier.authorize !== "function")) {
    throw new TypeError("protect: the first argument must be a verifier (createVerifier) or a function returning one");
  }
  if (requirement !== null && requirement !== undefined && typeof requirement !== "object" && typeof requirement !== "function") {
    throw new TypeError("protect: the requirement must be an object, a function of the request, or null");
  }
  if (typeof handler !== "function") throw new TypeError("protect: the handler must be a function");
  return async function protectedHandler(request, ...rest) {
    const bearer = bindings.bearerToken(request.headers.get("authorization"));
    if (!bearer.ok) return denyResponse(bearer.error);
    const v = typeof verifier === "function" ? verifier() : verifier;
    const need = typeof requirement === "function" ? requirement(request) : requirement;
    const result = await v.authorize(bearer.token, need ?? undefined);
    if (!result.ok) return denyResponse(result.error);
    return handler(request, result.principal, ...rest);
  };
}
