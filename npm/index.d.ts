// Type declarations of the tokengate npm package (the same for every entry point).

/** Whether a token was issued to a machine (client credentials, M2M) or to a user. */
export type Kind = "machine" | "user";

/** Which classification rule decided the kind. */
export type DecidedBy = "m2m_claim" | "gty" | "sub_is_client_id" | "sub_at_clients" | "default";

/** A classification rule (tried in order; the first that fires decides). */
export type ClassifyRule = "m2m_claim" | "gty" | "sub_is_client_id" | "sub_at_clients";

/** A claim scopes are read from: `scope` (string), `scp` (string or array), `permissions` (array). */
export type ScopeClaim = "scope" | "scp" | "permissions";

/** A JWS algorithm tokengate verifies. HS* only with a `secret`. `none` never. */
export type Algorithm =
  | "RS256"
  | "RS384"
  | "RS512"
  | "PS256"
  | "PS384"
  | "PS512"
  | "ES256"
  | "ES384"
  | "EdDSA"
  | "HS256"
  | "HS384"
  | "HS512";

/** A JSON Web Key (public). */
export interface JWK {
  kty: string;
  kid?: string;
  alg?: string;
  use?: string;
  key_ops?: string[];
  [member: string]: unknown;
}

/** A JSON Web Key Set. */
export interface JWKS {
  keys: JWK[];
}

/**
 * A shared key-value store for the JWKS cache state (for example Redis, Vercel KV,
 * Workers KV, or a Map in tests), so that many processes or isolates fetch the key set
 * once. Keys look like `jwks:v2:<hex>`, the SHA-256 of `[issuer, "jwks_uri" or
 * "discovery", url]` as JSON, so verifiers with the same issuer and different key
 * sources never share a state; values are JSON text. Stored states dated in the future
 * are refused. Errors are ignored (the store is an optimisation, never a dependency).
 */
export interface KeyValueCache {
  get(key: string): Promise<string | null | undefined> | string | null | undefined;
  set(key: string, value: string, ttlSeconds: number): Promise<unknown> | unknown;
}

/** Options that belong to one issuer. */
export interface IssuerOptions {
  /** The exact `iss` value, e.g. `https://tenant.auth0.com/`. */
  issuer: string;
  /** The accepted audience(s): the token's `aud` must contain one of them. */
  audience?: string | string[];
  /**
   * Where the JWKS is. Must be https, except for loopback hosts (127.0.0.1, ::1,
   * localhost). Default: OIDC discovery from `{issuer}/.well-known/openid-configuration`.
   */
  jwksUri?: string;
  /** An inline JWKS (nothing is fetched). */
  jwks?: JWKS;
  /** A shared HMAC secret, base64url without padding (at least 32 bytes), for HS* issuers. */
  secret?: string;
  /** Allowed algorithms (default: every asymmetric one, or HS256/384/512 with `secret`). */
  algorithms?: Algorithm[];
  /** Required `typ` header, e.g. `at+jwt` (compared case-insensitively). */
  requiredTyp?: string;
  /** Claims that must be present. */
  requiredClaims?: string[];
  /** Maximum token age in seconds, from `iat`. */
  maxTokenAge?: number;
  /** Whether `exp` is required (default true). */
  requireExp?: boolean;
  /**
   * DPoP (RFC 9449) for this issuer's tokens: `"allowed"` (default: bearer tokens and
   * DPoP-bound tokens, the latter only with their proof) or `"required"` (bearer tokens
   * are refused with `dpop_required`). A DPoP-bound token (`cnf.jkt`) is never accepted
   * as a bearer token, whatever this says.
   */
  dpop?: "allowed" | "required";
}

/**
 * How DPoP proofs (RFC 9449) are checked: the `DPoP` header of a request presenting
 * `Authorization: DPoP <token>` (`verifyRequest`, `authorizeRequest`, `protect`). With
 * this section, 401 challenges advertise DPoP (`WWW-Authenticate: DPoP algs="..."`).
 */
export interface DpopOptions {
  /** How old a proof may be from its `iat`, in seconds (default 300, at most 3600; `clockTolerance` is added). */
  proofMaxAge?: number;
  /**
   * Whether proofs must carry a nonce this verifier issued (RFC 9449 §8): a proof
   * without one, or with an expired one, is refused with `use_dpop_nonce` and a fresh
   * nonce in `error.dpopNonce` (`denyResponse` sends it as `DPoP-Nonce`). Needs
   * `dpopNonceSecret`; no shared state (a nonce is an HMAC of a time window).
   */
  nonce?: boolean;
  /**
   * The scheme and authority (and path prefix) clients use, when the request's own URL
   * is not what they sent (behind a proxy): `htu` is compared with this base followed
   * by the request's path.
   */
  publicBaseUrl?: string;
  /** The algorithms a proof may use (default: every asymmetric one). */
  algorithms?: Algorithm[];
}

/**
 * Where the `jti` of DPoP proofs are remembered, so that a proof is accepted once
 * within its window (RFC 9449 §11.1). The key is `<thumbprint>.<jti>` (the proof key's
 * RFC 7638 thumbprint, 43 characters, `.`, the proof's `jti`); `ttlSeconds` is how long
 * it must be remembered (whole seconds, at least 1). Give either `claim`, or `has` and
 * `put`:
 *
 * - `claim(key, ttlSeconds)`: record the key if it is new, atomically; resolve to
 *   `true` the first time, `false` when it was already there (a replay). Preferred
 *   when present, e.g. Redis `SET key 1 NX EX ttl` (`"OK"` → true).
 * - `has(key)` then `put(key, ttlSeconds)`: a truthy `has` is a replay. Two processes
 *   may both see `has` false for the same proof: across processes this is not atomic.
 *
 * A store that throws or rejects (or a `claim` that resolves to something else than a
 * boolean) refuses the request with `dpop_replay_unavailable` (503): the check fails
 * closed. Default: an in-memory store of this verifier (at most 100000 live entries,
 * then `dpop_replay_unavailable`), whose guarantee holds within one process only.
 */
export interface ReplayStore {
  claim?(key: string, ttlSeconds: number): Promise<boolean> | boolean;
  has?(key: string): Promise<unknown> | unknown;
  put?(key: string, ttlSeconds: number): Promise<unknown> | unknown;
}

/**
 * Where revocation entries are read: anything with `get(key)` answering the entry's
 * value (a string), or `null`/`undefined` when there is none, or a promise of it: a
 * Workers KV namespace (`env.REVOKED`, the edge authorizer's store), a wrapper over
 * Redis, a `Map` in tests. Keys are `<issuer>|jti|<jti>`, `<issuer>|client|<client_id>`
 * and `<issuer>|sub|<sub>`; values `{"before":<unix seconds>}` (a `jti` entry revokes its
 * token whatever the value; a client or subject entry every token of theirs with `iat` ≤
 * `before`; a value that is not that JSON revokes them all). `tokengate revoke` writes
 * entries. A store that throws, rejects or answers anything else than a string, `null` or
 * `undefined` refuses the request with `revocation_unavailable` (503): never an open door.
 */
export interface RevocationStore {
  get(key: string): Promise<string | null | undefined> | string | null | undefined;
}

/**
 * Revocation without introspection: every verification, reused (kept) ones included,
 * reads the token's `jti`, client and subject entries (up to three keys), a revoked token
 * is refused with `token_revoked` (401).
 */
export interface RevocationOptions {
  /** The store entries are read from (required; see {@link RevocationStore}). */
  store: RevocationStore;
  /**
   * How long this verifier keeps each answer of the store, present or absent, in
   * seconds (default 10, at most 300; 0 reads the store on every call): the bound on how
   * late it sees a new entry, besides the store's own propagation (Workers KV: up to
   * 60 s to other locations).
   */
  cacheSeconds?: number;
}

/**
 * RFC 9728 protected-resource metadata: the document `resourceMetadata()` returns and
 * `metadataResponse(request)` serves at `/.well-known/oauth-protected-resource` (with
 * the resource's path appended when it has one); 401 challenges then name it
 * (`resource_metadata="..."`). The members are those of RFC 9728 §2 in camelCase.
 */
export interface ResourceMetadataOptions {
  /** The resource identifier: an absolute https URL (http only on loopback) without query or fragment. */
  resource: string;
  /** Default: the configured issuers. */
  authorizationServers?: string[];
  scopesSupported?: string[];
  /** Default `["header"]`. */
  bearerMethodsSupported?: string[];
  resourceName?: string;
  resourceDocumentation?: string;
  resourcePolicyUri?: string;
  resourceTosUri?: string;
  tlsClientCertificateBoundAccessTokens?: boolean;
  /** Default: the DPoP algorithms (`dpopProofs.algorithms`). */
  dpopSigningAlgValuesSupported?: string[];
  /** Default: whether every issuer has `dpop: "required"`. */
  dpopBoundAccessTokensRequired?: boolean;
}

/** How tokens are classified as machine or user, and where roles are read from. */
export interface ClassifyOptions {
  /** Default: `["m2m_claim", "gty", "sub_is_client_id", "sub_at_clients"]`. */
  rules?: ClassifyRule[];
  /** A boolean claim asserting machine (`true`) or user (`false`). */
  m2mClaim?: string;
  /** For machine tokens: the claim naming the user the machine acts for. */
  userIdClaim?: string;
  /** The claim carrying roles (array or space-separated string). */
  rolesClaim?: string;
}

/** The JWKS cache policy; durations in seconds. */
export interface JwksCacheOptions {
  /** Freshness of a key set whose response has no usable Cache-Control (default 600). */
  defaultMaxAge?: number;
  /** Lower bound of the freshness taken from Cache-Control (default 60). */
  minMaxAge?: number;
  /** Upper bound of the freshness taken from Cache-Control (default 86400). */
  maxMaxAge?: number;
  /** At most one refetch (unknown `kid`, refresh, retry) per this many seconds (default 30). */
  cooldown?: number;
  /** How long the last good set is still served while refreshes fail (default 43200). */
  staleWindow?: number;
  /** Refresh in the background this long before the set goes stale (default 60). */
  refreshAhead?: number;
}

/**
 * Which code checks signatures. `"auto"` (the default): in Node.js (and Bun and Deno
 * through the `node` entry) node:crypto's synchronous `verify`, elsewhere the
 * runtime's `crypto.subtle` (Workers, edge runtimes, browsers), falling back to the
 * WebAssembly backend for HMAC secrets, runtimes without `crypto.subtle` and keys the
 * runtime will not import (e.g. Ed25519 where unsupported). `"node"`: as `"auto"`,
 * but `createVerifier` throws where node:crypto is not available. `"webcrypto"`:
 * `crypto.subtle` (then WebAssembly), never node:crypto. `"wasm"`: always the
 * WebAssembly (Rust) backend. All give the same answers (Project Wycheproof vectors).
 */
export type SignatureBackend = "auto" | "node" | "webcrypto" | "wasm";

interface CommonOptions {
  /** Clock skew tolerance in seconds for `exp`, `nbf` and `iat` (default 60, at most 3600). */
  clockTolerance?: number;
  classify?: ClassifyOptions;
  /** The claims scopes are merged from, in order (default `["scope", "scp", "permissions"]`). */
  scopeClaims?: ScopeClaim[];
  /** Size cap of a token in bytes, checked before parsing (default 16384). */
  maxTokenBytes?: number;
  /** The realm of `WWW-Authenticate` challenges (default `tokengate`). */
  realm?: string;
  /** Whether a granted `read:*` satisfies a required `read:builds` (default false). */
  wildcardScopes?: boolean;
  /** Entries of the in-process verified-token cache (default 4096; 0 disables it). */
  tokenCacheSize?: number;
  jwksCache?: JwksCacheOptions;
  /** Timeout of JWKS and discovery fetches in milliseconds (default 5000). */
  fetchTimeout?: number;
  /** The clock, for tests and replays (default: the system clock). */
  currentDate?: () => Date;
  /** A shared store for the JWKS cache state (see {@link KeyValueCache}). */
  cache?: KeyValueCache;
  /** Which code checks signatures (default `"auto"`; see {@link SignatureBackend}). */
  signatureBackend?: SignatureBackend;
  /** How DPoP proofs are checked (see {@link DpopOptions}); the issuers' `dpop` says whether they are needed. */
  dpopProofs?: DpopOptions;
  /**
   * The key of DPoP nonces (`dpopProofs.nonce`), at least 32 bytes: the Worker's secret
   * `TOKENGATE_DPOP_NONCE_SECRET`. Every process given the same value accepts the
   * nonces of the others.
   */
  dpopNonceSecret?: string;
  /** Where DPoP proof `jti` are remembered (see {@link ReplayStore}; default: in memory, per process). */
  replayStore?: ReplayStore;
  /** RFC 9728 protected-resource metadata (see {@link ResourceMetadataOptions}). */
  resourceMetadata?: ResourceMetadataOptions;
  /** Checks every token against a revocation store (see {@link RevocationOptions}); off when absent. */
  revocation?: RevocationOptions;
}

/** Options with one issuer. */
export interface SingleIssuerOptions extends CommonOptions, IssuerOptions {
  issuers?: undefined;
  audience: string | string[];
}

/**
 * Options with several issuers. `audience`, `algorithms`, `requiredTyp`,
 * `requiredClaims`, `maxTokenAge`, `requireExp` and `dpop` given at the top level are
 * defaults for every entry.
 */
export interface MultiIssuerOptions extends CommonOptions {
  issuers: IssuerOptions[];
  issuer?: undefined;
  audience?: string | string[];
  algorithms?: Algorithm[];
  requiredTyp?: string;
  requiredClaims?: string[];
  maxTokenAge?: number;
  requireExp?: boolean;
  dpop?: "allowed" | "required";
}

export type VerifierOptions = SingleIssuerOptions | MultiIssuerOptions;

/** One link of an RFC 8693 delegation (`act`) chain. */
export interface Actor {
  sub: string;
  /** The actor's `client_id`, when its `act` object has one (what `actors` matches, before `sub`). */
  clientId?: string;
  act?: Actor;
}

/** Who a verified token speaks for. */
export interface Principal {
  kind: Kind;
  /** The `sub` claim. */
  subject: string;
  /** `azp`, else `client_id`; null when neither is present. */
  clientId: string | null;
  /** Users: `sub`. Machines: the `classify.userIdClaim` claim, when present. */
  userId?: string;
  /** Granted scopes, merged from `scopeClaims` in order, without duplicates. */
  scopes: string[];
  /** Roles from `classify.rolesClaim` (empty without it). */
  roles: string[];
  issuer: string;
  /** The `aud` claim as a list. */
  audiences: string[];
  /** The `exp` claim, unix seconds. */
  expiresAt: number | null;
  decidedBy: DecidedBy;
  /** The delegation chain of a token with an `act` claim. */
  actor?: Actor;
  /**
   * How the token is bound to its sender (its `cnf` claim): `dpop` (`cnf.jkt`), `mtls`
   * (`cnf["x5t#S256"]`) or both; absent for a bearer token. In a verification result the
   * binding was proven (a valid DPoP proof, the matching client certificate); in
   * `decode()`'s hint it is only what the claims say.
   */
  binding?: "dpop" | "mtls" | "dpop_mtls";
}

/**
 * The stable error codes of the verifier and the Worker, in the order of the core's
 * catalogue (`errorCatalogue()` describes each); more may be added, so switch with a
 * default branch.
 */
export type ErrorCode =
  | "token_missing"
  | "invalid_request"
  | "path_rejected"
  | "method_override_rejected"
  | "token_too_large"
  | "token_malformed"
  | "alg_not_allowed"
  | "key_not_found"
  | "signature_invalid"
  | "crit_unsupported"
  | "typ_mismatch"
  | "token_expired"
  | "token_not_yet_valid"
  | "issued_in_future"
  | "token_too_old"
  | "issuer_mismatch"
  | "audience_mismatch"
  | "claim_missing"
  | "claim_invalid"
  | "invalid_dpop_proof"
  | "dpop_proof_replayed"
  | "use_dpop_nonce"
  | "dpop_required"
  | "dpop_binding_mismatch"
  | "mtls_binding_mismatch"
  | "binding_unsupported"
  | "dpop_replay_unavailable"
  | "token_revoked"
  | "revocation_unavailable"
  | "insufficient_scope"
  | "role_not_allowed"
  | "kind_not_allowed"
  | "client_not_allowed"
  | "delegation_required"
  | "delegation_forbidden"
  | "denied_by_default"
  | "sender_constraint_required"
  | "claim_not_allowed"
  | "actor_not_allowed"
  | "delegation_too_deep"
  | "rate_limited"
  | "rate_limit_unavailable"
  | "jwks_unavailable"
  | "jwks_invalid"
  | "jwks_no_usable_key"
  | "config_invalid"
  | "internal_error"
  | "signing_key_invalid"
  | (string & {});

/** Why a token was refused, ready for an HTTP answer. */
export interface TokengateError {
  code: ErrorCode;
  /** A lowercase human-readable message. */
  message: string;
  /** 400 (bad request), 401 (bad or missing token), 403 (policy), 503 (keys unavailable). */
  status: number;
  /**
   * The `WWW-Authenticate` value for 400/401/403 (RFC 6750 `Bearer`; with DPoP, the
   * RFC 9449 `DPoP` challenge; with `resourceMetadata`, its `resource_metadata`), null
   * otherwise.
   */
  wwwAuthenticate: string | null;
  /** With `use_dpop_nonce`: the nonce the client must put in its next proof (the `DPoP-Nonce` header). */
  dpopNonce?: string;
}

/** A JWT header. */
export interface JWTHeader {
  alg: string;
  typ?: string;
  kid?: string;
  [member: string]: unknown;
}

/** JWT claims. */
export interface JWTClaims {
  iss?: string;
  sub?: string;
  aud?: string | string[];
  exp?: number;
  nbf?: number;
  iat?: number;
  jti?: string;
  azp?: string;
  client_id?: string;
  scope?: string;
  [claim: string]: unknown;
}

export interface VerifySuccess {
  ok: true;
  principal: Principal;
  claims: JWTClaims;
  header: JWTHeader;
}

export interface VerifyFailure {
  ok: false;
  error: TokengateError;
}

export type VerifyResult = VerifySuccess | VerifyFailure;

/** What a token must satisfy in `authorize`; every given constraint must hold. */
export interface Requirement {
  /** Allowed kinds (default both). */
  kinds?: Kind | Kind[];
  /** Scopes that must all be granted. */
  scopesAll?: string | string[];
  /** Scopes of which at least one must be granted. */
  scopesAny?: string | string[];
  /** Roles of which at least one must be granted. */
  rolesAny?: string | string[];
  /** Allowed client ids (`azp` / `client_id`). */
  clients?: string | string[];
  /** Machines skip the scope and role checks (kinds, clients and delegation still apply). */
  machinesBypassScopes?: boolean;
  /** Whether a delegated token (with `act`) is required or forbidden. */
  delegation?: "required" | "forbidden";
  /**
   * Only sender-constrained tokens (DPoP-bound or certificate-bound, their binding
   * proven by the request) pass; bearer tokens get `sender_constraint_required`.
   */
  senderConstrained?: boolean;
  /**
   * Rules on the token's claims, by claim name (or an RFC 6901 JSON pointer when it
   * starts with `/`: `/org/id`), e.g. `{ org_id: { anyOf: ["org_A", "org_B"] } }`; every
   * rule must hold, for machines too, else `claim_not_allowed` (403; the message names the
   * claim, never its value).
   */
  claims?: Record<string, ClaimRule>;
  /**
   * The allowed current actors of a delegated token: its outermost `act`'s `client_id`,
   * else its `sub`, must be one of these (else `actor_not_allowed`); a token without
   * `act` is refused (`delegation_required`).
   */
  actors?: string | string[];
  /** The most nested `act` objects a token may carry (0 refuses every delegated token), else `delegation_too_deep`. */
  maxDelegationDepth?: number;
}

/** One claim's rule in {@link Requirement.claims}: the operators given must all hold. */
export interface ClaimRule {
  /** The claim equals this JSON value (`1` equals `1.0`; `"1"` does not equal `1`). */
  equals?: unknown;
  /** The claim equals one of these, or (an array claim) one of its elements does. */
  anyOf?: unknown[];
  /** The claim is an array containing every one of these. */
  includes?: unknown[];
  /** `true`: the claim is present and not null; `false`: it is absent or null. */
  present?: boolean;
}

/** What `verifyRequest` and `authorizeRequest` take besides the request. */
export interface RequestOptions {
  /**
   * The SHA-256 fingerprint of the request's TLS client certificate, verified by your
   * TLS server: hex (Node's `req.socket.getPeerCertificate().fingerprint256`, colons
   * allowed) or base64url (as `cnf["x5t#S256"]`). Give it only when the certificate
   * was verified (`req.socket.authorized`). A certificate-bound token needs it to match.
   */
  clientCertificate?: string | null;
  /**
   * The absolute URL the client used, when `request.url` is not it (e.g. Node's
   * relative `req.url`); the DPoP proof's `htu` is compared with it (or with
   * `dpopProofs.publicBaseUrl` and its path).
   */
  url?: string;
}

/**
 * A request as `verifyRequest` reads it: a Fetch `Request`, or anything with its
 * `method`, `url` and `headers` (a `Headers` or a plain object of header values).
 */
export type RequestLike =
  | Request
  | { method?: string; url?: string; headers: Headers | Record<string, string | string[] | undefined> };

/** How `protect` checks requests. */
export interface ProtectOptions<Req extends Request = Request, Rest extends unknown[] = unknown[]> {
  /** The client certificate's SHA-256 fingerprint for a request (see {@link RequestOptions.clientCertificate}). */
  clientCertificate?: (request: Req, ...rest: Rest) => string | null | undefined | Promise<string | null | undefined>;
}

export interface Verifier {
  /**
   * Verifies a token (signature, issuer, audience, times) and classifies it. Never
   * throws for a bad token: the result says why. A missing token (`null`,
   * `undefined`, `""`) is `token_missing`. Results are deeply frozen: a repeated
   * token gets the same result object again (after its times and keys are checked
   * anew), so copy a result before changing it.
   */
  verify(token: string | null | undefined): Promise<VerifyResult>;
  /**
   * Verifies, then checks the requirement. Policy denials are 403s with codes such as
   * `insufficient_scope` (whose `wwwAuthenticate` names the missing scope). Rejects
   * with a TypeError only when the requirement itself is invalid. Results are deeply
   * frozen.
   */
  authorize(token: string | null | undefined, requirement?: Requirement): Promise<VerifyResult>;
  /**
   * Verifies the token of a request: `Authorization: Bearer <token>`, or
   * `Authorization: DPoP <token>` with exactly one `DPoP` proof header (RFC 9449:
   * `typ`, `alg`, public `jwk`, signature, `htm` = the method, `htu` = the URL, `iat`,
   * `ath`, the token's `cnf.jkt`, the nonce, and a `jti` not seen before in the
   * `replayStore`), and a certificate-bound token against `options.clientCertificate`.
   * `verify(token)` and `authorize(token)` take the token as a bearer token, so they
   * refuse sender-constrained tokens (`dpop_required`, `mtls_binding_mismatch`).
   */
  verifyRequest(request: RequestLike, options?: RequestOptions): Promise<VerifyResult>;
  /** `verifyRequest`, then the requirement (as `authorize`). */
  authorizeRequest(request: RequestLike, requirement?: Requirement, options?: RequestOptions): Promise<VerifyResult>;
  /**
   * The RFC 9728 document (`resourceMetadata` option) when `path` is its well-known path
   * (without `path`: the document at its own path); else null.
   */
  resourceMetadata(path?: string): Record<string, unknown> | null;
  /**
   * The answer to a request for the metadata document's path: 200 with the JSON to GET
   * (and HEAD), 204 to a CORS preflight, 405 otherwise, all with
   * `Access-Control-Allow-Origin: *`, no token needed; null for any other path (or
   * without `resourceMetadata`).
   */
  metadataResponse(request: Request): Response | null;
  /** The metadata document's URL that 401 challenges name (`resource_metadata="..."`), or null. */
  resourceMetadataUrl(): string | null;
  /** A fresh DPoP nonce (for a `DPoP-Nonce` header on any answer), or null when `dpopProofs.nonce` is off. */
  dpopNonce(): string | null;
}

/**
 * Builds a verifier. Throws a TypeError naming the option when an option is invalid
 * (`tokengate: invalid option "audience": ...`). Performs no I/O: keys are fetched on
 * first use, with the global `fetch`.
 */
export function createVerifier(options: VerifierOptions): Verifier;

export interface DecodeOptions {
  classify?: ClassifyOptions;
  scopeClaims?: ScopeClaim[];
  maxTokenBytes?: number;
}

/**
 * What a string presented as a token is, judged by its shape alone:
 * - `jws`: three parts with a JSON header, a signed JWT (the only form tokengate
 *   verifies; a failure of this form is refused for another reason, e.g. `alg` none);
 * - `jwe`: a five-part encrypted token (JWE, RFC 7516): its header is readable
 *   (`jweHeader`), its claims are encrypted for the API. Auth0 issues these when the
 *   API has "JSON Web Encryption" enabled;
 * - `opaque`: token characters only and no JOSE header: an opaque (reference) access
 *   token only its issuer can read, e.g. Auth0's when the authorization request names
 *   no `audience`. Request a JWT (Auth0: the `audience` parameter of your API) or
 *   introspect it at the issuer (RFC 7662);
 * - `scheme_prefixed`: starts with `Bearer ` or `Authorization:` (pass the token alone);
 * - `whitespace`: contains whitespace or line breaks;
 * - `json`: a JSON document (e.g. a JSON serialisation), not a compact token;
 * - `wrong_parts`: a JOSE header, then neither three nor five dot-separated parts;
 * - `empty`, `too_large` (over `maxTokenBytes`: not looked at), `other`.
 */
export type TokenForm =
  | "jws"
  | "jwe"
  | "opaque"
  | "scheme_prefixed"
  | "whitespace"
  | "json"
  | "wrong_parts"
  | "empty"
  | "too_large"
  | "other";

/**
 * A sign that a JWS is an OpenID Connect ID token: `nonce`, `at_hash`, `c_hash`;
 * `aud_is_client` (`aud` is one value equal to `azp` or not a URL, and no access-token
 * claim such as `scope`, `scp`, `permissions`, `roles`, `client_id` or `gty`);
 * `auth_time` and `typ_not_at_jwt` are listed only with one of those.
 */
export type IdTokenSignal = "nonce" | "at_hash" | "c_hash" | "aud_is_client" | "auth_time" | "typ_not_at_jwt";

/**
 * The claims of a decoded JWS look like an OpenID Connect ID token, not an access
 * token. APIs must receive access tokens: an ID token's audience is the client, so a
 * verifier configured with the API's audience refuses it (`audience_mismatch`). A
 * token typed `at+jwt` (RFC 9068) never gets this.
 */
export interface IdTokenHint {
  /** What was seen, strongest first (never a claim's value). */
  signals: IdTokenSignal[];
  /** A lowercase warning naming the signals and the fix. */
  message: string;
}

/** The protected header of a JWE: readable without the key; it has `enc`. */
export interface JWEHeader {
  /** Key management, e.g. `RSA-OAEP`, `dir`, `ECDH-ES`. */
  alg?: string;
  /** Content encryption, e.g. `A256GCM`. */
  enc?: string;
  kid?: string;
  /** The content type of the encrypted payload (`JWT` for a nested signed token). */
  cty?: string;
  [member: string]: unknown;
}

export interface DecodeSuccess {
  ok: true;
  /** Always false: decode checks no signature, issuer, audience or time. */
  verified: false;
  /** Always `"jws"`. */
  form: "jws";
  header: JWTHeader;
  claims: JWTClaims;
  /** How the token would be classified if it were valid; null if its claims cannot be. */
  hint: Principal | null;
  /** Why the claims cannot be classified, when `hint` is null. */
  hintError?: TokengateError;
  /** Set when the claims look like an ID token used as an access token (a warning). */
  idToken: IdTokenHint | null;
}

export interface DecodeFailure {
  ok: false;
  verified: false;
  /** What the token is instead of a decodable JWS; `error.message` says it in words. */
  form: TokenForm;
  /** `token_malformed` (the message says what the token is), `token_too_large`, ... */
  error: TokengateError;
  /** The readable protected header of a JWE, when `form` is `"jwe"`. */
  jweHeader?: JWEHeader;
}

export type DecodeResult = DecodeSuccess | DecodeFailure;

/**
 * Decodes a token WITHOUT verifying it, for display and debugging. Never throws for
 * a bad token. Throws a TypeError only for invalid options. A token that is not a
 * signed JWT says what it is (`form`: an encrypted `jwe` with its `jweHeader`, an
 * `opaque` token, ...); a JWS whose claims look like an ID token decodes with
 * `idToken` set.
 */
export function decode(token: string, options?: DecodeOptions): DecodeResult;

/** One row of the error catalogue. */
export interface ErrorInfo {
  /** The stable code; the token endpoint's RFC 6749 codes have stage `exchange`. */
  code: ErrorCode;
  stage: "request" | "token" | "policy" | "keys" | "config" | "internal" | "exchange";
  /** The HTTP status the code is answered with. */
  status: number;
  /** The OAuth `error` value of the JSON body (e.g. `invalid_token`). */
  error: string;
  /** A one-line lowercase description of when the code is given. */
  description: string;
  /** A short help text: what the code means and what to do. */
  help: string;
}

/** Every stable error code with its stage, status, OAuth `error`, description and help. */
export function errorCatalogue(): ErrorInfo[];

export type BearerTokenResult =
  | { ok: true; token: string | null }
  | { ok: false; error: TokengateError };

/**
 * Reads the token of an `Authorization` header value (`Bearer <token>`, scheme
 * case-insensitive). `token` is null when the header is absent; another scheme or a
 * malformed value is a 400 `invalid_request`.
 */
export function bearerToken(authorization: string | null | undefined): BearerTokenResult;

/**
 * Whether a forwarder must drop an inbound header before passing a request on: an
 * identity header (`x-tokengate-*`), the origin-secret header (`originSecretHeader`,
 * default `x-tokengate-secret`) or a method-override header (`x-http-method-override`,
 * `x-method-override`, `x-http-method`), in any case and with `_` read as `-` (CGI-style
 * servers read `X_Tokengate_Kind` as `X-Tokengate-Kind`). The edge authorizer's rule.
 */
export function isReservedHeader(name: string, originSecretHeader?: string): boolean;

/**
 * An identity header value as the edge authorizer sends it: every byte of the UTF-8
 * text outside visible ASCII, the space and `%` become `%XX`, so the value is exact
 * (`decodeURIComponent` gives it back) and a header can always carry it; an array's
 * elements are encoded and joined with one space (`scopes`).
 */
export function encodeHeaderValue(value: string | readonly string[]): string;

/**
 * The edge authorizer's answer to a refused request: `error.status`, the
 * `WWW-Authenticate` challenge (400/401/403), `DPoP-Nonce` when `error.dpopNonce` is
 * set (`use_dpop_nonce`), `cache-control: no-store` and the JSON
 * body `{ error, error_description, code }`. For a 5xx the description is a fixed
 * text and the message is written to `console.error` (it may carry URLs or fetch
 * errors, which clients are not told).
 */
export function denyResponse(error: TokengateError): Response;

/**
 * The identity headers the edge authorizer sets for a principal: `x-tokengate-kind`,
 * `-subject`, `-client-id` (and `-client-name` when `clientName` is given), `-scopes`,
 * `-issuer`, `-user-id` (when there is one) and `-actor` (a delegated token's chain),
 * values encoded as by `encodeHeaderValue`.
 */
export function identityHeaders(principal: Principal, options?: { clientName?: string }): Record<string, string>;

/** How `forwardHeaders` builds an upstream request's headers. */
export interface ForwardOptions {
  /** The origin-secret header, dropped from inbound requests (default `x-tokengate-secret`). */
  originSecretHeader?: string;
  /** Whether the `Authorization` header (and with it the `DPoP` proof header) goes upstream (default true). */
  forwardAuthorization?: boolean;
  /** The client's name, sent as `x-tokengate-client-name`. */
  clientName?: string;
}

/**
 * An upstream request's headers, as the edge authorizer forwards them: the inbound
 * headers minus those a client could spoof identity or the method with
 * (`isReservedHeader`) and hop-by-hop headers (`host`, `connection`, `content-length`,
 * ...), plus the principal's `identityHeaders`.
 */
export function forwardHeaders(incoming: Headers, principal: Principal, options?: ForwardOptions): Headers;

/**
 * Wraps a Fetch-API handler (Next.js route handlers and `proxy.ts`, Workers, Deno,
 * Bun): the request is checked by `verifier.authorizeRequest` (a bearer token, or a
 * DPoP-bound token with its proof; the client certificate that
 * `options.clientCertificate` names) against `requirement`; a refused
 * request gets `denyResponse` (401/403 with the challenge, `DPoP-Nonce` with
 * `use_dpop_nonce`, 400 for a malformed
 * `Authorization` header, 503 when the keys are unavailable), an allowed one
 * `handler(request, principal, ...rest)`, where `rest` is what the framework passes
 * after the request (Next.js: `{ params }`).
 *
 * `verifier` may be a function returning the verifier (built on first use);
 * `requirement` may be a function of the request; `null` accepts any valid token.
 *
 * @example
 * export const GET = protect(verifier, { scopesAll: ["read:builds"] },
 *   (request, principal) => Response.json({ user: principal.userId }));
 */
export function protect<Req extends Request, Rest extends unknown[]>(
  verifier: Verifier | (() => Verifier),
  requirement: Requirement | null | ((request: Req) => Requirement | null),
  handler: (request: Req, principal: Principal, ...rest: Rest) => Response | Promise<Response>,
  options?: ProtectOptions<Req, Rest>,
): (request: Req, ...rest: Rest) => Promise<Response>;

/** Resolves once the WebAssembly module is ready (it always is once the import completes). */
export const ready: Promise<void>;

// ---------------------------------------------------------------------------------
// The core's rules, for token inspectors (what the decoder page shows). Pure: no I/O.
// ---------------------------------------------------------------------------------

/** The answer of a rule about a URL: allowed, or why not. */
export type RuleResult = { ok: true } | { ok: false; message: string };

/**
 * Whether tokengate would fetch keys from `url` (a `jwksUri`, or a `jwks_uri` found by
 * discovery): https, or http on a loopback host (`localhost`, `*.localhost`,
 * `127.0.0.0/8`, `[::1]`); never with credentials in the URL. The rule `createVerifier`
 * applies to `jwksUri`. Throws a TypeError when `url` is not a string.
 */
export function checkFetchUrl(url: string): RuleResult;

export type DiscoveryUrlResult = { ok: true; url: string } | { ok: false; message: string };

/**
 * The OIDC discovery URL tokengate reads for `issuer`
 * (`{issuer}/.well-known/openid-configuration`, one slash between them), when the
 * URL rule allows fetching it. Throws a TypeError when `issuer` is not a string.
 */
export function discoveryUrl(issuer: string): DiscoveryUrlResult;

export type DiscoveryResult = { ok: true; jwksUri: string } | { ok: false; message: string };

/**
 * Reads an OIDC discovery document (its JSON text, duplicate keys refused) as the
 * verifier does: its `issuer` must be exactly `issuer` (OIDC Discovery 1.0 §4.3) and its
 * `jwks_uri` must pass `checkFetchUrl`. Throws a TypeError when an argument is not a
 * string.
 */
export function jwksUriFromDiscovery(document: string, issuer: string): DiscoveryResult;

/**
 * Where a token's time claims put it: `valid`; `grace` (at or past `exp`, inside the
 * clock tolerance, still accepted); `no-exp` (valid in time, but refused unless
 * `requireExp` is false); or refused: `expired`, `not-yet-valid` (`nbf`),
 * `issued-in-future` (`iat`), `invalid` (a time claim that is not a finite number).
 */
export type TimeState =
  | "valid"
  | "grace"
  | "no-exp"
  | "expired"
  | "not-yet-valid"
  | "issued-in-future"
  | "invalid";

export type TimeStateResult =
  | { state: "valid" | "grace" | "no-exp"; error: null }
  | {
      state: "expired" | "not-yet-valid" | "issued-in-future" | "invalid";
      /** What a verifier answers (`token_expired`, ...). */
      error: { code: ErrorCode; message: string };
    };

/**
 * What a verifier's claim validation says of `exp`, `nbf` and `iat` at `nowSeconds`
 * (unix seconds, rounded down like the verifier's clock) with `clockTolerance` seconds
 * of tolerance (default 60; 0 to 3600, rounded down, as the option). `maxTokenAge`,
 * issuer and audience are not considered. Throws a TypeError when `claims` is not an
 * object or a number is invalid.
 */
export function timeState(claims: JWTClaims, nowSeconds: number, clockTolerance?: number): TimeStateResult;

export type TypResult = { ok: true } | { ok: false; error: { code: "typ_mismatch"; message: string } };

/**
 * The `requiredTyp` rule for a header's `typ` value (`undefined` when absent): a string
 * equal to `requiredTyp` ignoring case and an `application/` prefix (`at+jwt` and
 * `application/at+jwt` are the same). Throws a TypeError when `requiredTyp` is not a
 * string.
 */
export function checkTyp(typ: unknown, requiredTyp: string): TypResult;

export interface AlgorithmInfo {
  name: Algorithm;
  /** HMAC: verified only for issuers configured with a `secret`. */
  symmetric: boolean;
  /** In the default `algorithms` allowlist (the asymmetric ones). */
  allowedByDefault: boolean;
}

/** The JWS algorithms tokengate verifies, in a stable order. */
export function algorithms(): AlgorithmInfo[];

/** One claim rule of a {@link PolicyCheck}. */
export interface ClaimRuleCheck {
  /** The claim's name or JSON pointer, as the requirement names it. */
  name: string;
  /** The rule (its operators as the requirement gives them). */
  rule: ClaimRule;
  /** Whether the token's claim satisfies the rule (what `authorize` decides). */
  pass: boolean;
  /** Whether the token has the claim (not null). */
  present: boolean;
  /** The token's own value of the claim (null when absent). */
  value: unknown;
}

/** What {@link policyCheck} says of a decoded token's claim rules and delegation rules. */
export interface PolicyCheck {
  /** Every claim rule, `actors` and `maxDelegationDepth` given holds. */
  pass: boolean;
  /** Each claim rule of the requirement, in name order. */
  claims: ClaimRuleCheck[];
  delegation: {
    /** The number of nested `act` objects (0: not delegated); null when `act` is invalid. */
    depth: number | null;
    /** The actors' `sub`, outermost (current) first. */
    chain: string[];
    /** The current actor's id (its `client_id`, else its `sub`), or null. */
    actor: string | null;
    /** The requirement's `maxDelegationDepth`, or null. */
    maxDepth: number | null;
    /** depth ≤ maxDepth; null without `maxDelegationDepth`. */
    depthPass: boolean | null;
    /** The requirement's `actors`, or null. */
    actors: string[] | null;
    /** The current actor is one of `actors`; null without `actors`. */
    actorPass: boolean | null;
    /** Why the `act` claim cannot be read (a verifier refuses the token), or null. */
    error: string | null;
  };
}

/**
 * A requirement's claim rules (`claims`) and delegation rules (`actors`,
 * `maxDelegationDepth`) against a decoded token's claims, rule by rule, by the core's own
 * rules: the policy check of the decoder page and `tokengate decode`. Verifies nothing.
 * Throws the TypeError `authorize` rejects with for an invalid requirement, and one when
 * `claims` is not an object.
 */
export function policyCheck(requirement: Requirement | null | undefined, claims: JWTClaims): PolicyCheck;

/**
 * Whether a decoded header and claims look like an OpenID Connect ID token rather than
 * an access token (the rule of `decode()`'s `idToken`): `{ signals, message }`, or null.
 * Throws a TypeError when either is not an object.
 */
export function idTokenHint(header: object, claims: object): IdTokenHint | null;

// ---------------------------------------------------------------------------------
// The edge authorizer's configuration, checked as the Worker reads it (`tokengate check`).
// ---------------------------------------------------------------------------------

/** What a valid edge-authorizer configuration document holds. */
export interface WorkerConfigSummary {
  /** The trusted issuers (`iss` values), in order. */
  issuers: string[];
  /** The number of routes. */
  routes: number;
  /** Where allowed requests go, when `origin` is set. */
  origin: string | null;
  /**
   * The token exchange's own issuer, when there is an `exchange` section: the check
   * assumed its signing keys (the Worker's `TOKENGATE_SIGNING_KEYS` secret) present.
   */
  exchangeIssuer: string | null;
  /** The secrets the document names (`issuers[].shared_secret`), which a check cannot read. */
  secrets: string[];
}

export type WorkerConfigCheck =
  | { ok: true; summary: WorkerConfigSummary }
  | {
      ok: false;
      error: {
        code: "config_invalid";
        /** `invalid configuration: <field>: <why>`, or the JSON / schema error. */
        message: string;
        /** The bad field's path (`issuers[0].jwks_uri`, `edge.log`); null for a JSON or schema error. */
        field: string | null;
      };
    };

/**
 * Checks an edge-authorizer configuration document (the Worker's `TOKENGATE_CONFIG`
 * JSON text) with the Worker's own code: its `edge` and `origin` sections, then the
 * rest as the core reads it. No I/O and no secrets: an `exchange` section is checked as
 * if the signing keys were set (a placeholder public key stands in for them), and
 * shared secrets are only named. Throws a TypeError when `json` is not a string.
 */
export function checkWorkerConfig(json: string): WorkerConfigCheck;

/**
 * The store key of a revocation entry (see {@link RevocationStore}):
 * `<issuer>|<jti|client|sub>|<id>`, the format the verifier's `revocation.store` and
 * the edge authorizer's `REVOKED` namespace are read with. Throws a TypeError for
 * another `by`, an empty issuer or id, or a key over 512 bytes (never looked up).
 */
export function revocationKey(issuer: string, by: "jti" | "client" | "sub", id: string): string;

/**
 * The value of a revocation entry: `{"before":<before>}`, revoking the client's or
 * subject's tokens issued (`iat`) up to `before` (unix seconds; a `jti` entry revokes its
 * token whatever the value). Throws a TypeError unless `before` is a non-negative whole
 * number.
 */
export function revocationValue(before: number): string;
