//! tokengate: verify OAuth2/OIDC JWT access tokens, tell machine tokens from user
//! tokens, and enforce per-route policy.
//!
//! The core is sans-IO: every function takes bytes, configuration and the current time
//! and returns a decision. The Cloudflare Worker (`crates/worker`) and the JS bindings
//! (`crates/js`) are thin adapter crates that only do I/O and translation; the host
//! signature backend they share is `crates/webcrypto`.
#![warn(missing_docs)]

// The modules are private; what the crate offers is the curated list below (by stage),
// plus the `headers` namespace (the identity headers' names and rules).
mod alg;
mod authenticator;
mod classify;
mod config;
mod dpop;
mod edge;
mod error;
mod exchange;
mod fetch_url;
mod gate;
pub mod headers;
mod id_token;
mod jwk;
mod jwks_cache;
mod jws;
mod keys;
mod mint;
mod percent;
mod policy;
mod resource_metadata;
mod revocation;
mod rules;
mod token_cache;
mod verify;

/// A point in time as the core takes it everywhere: unix seconds. Adapters convert their
/// clock (JS milliseconds, `SystemTime`) once, at the boundary.
pub type UnixSeconds = u64;

/// The JSON object of a token's claims (its payload).
pub type Claims = serde_json::Map<String, serde_json::Value>;

// The pipeline and its two seams (key I/O, signature backend).
pub use authenticator::{
    poll_once, Authenticator, Credentials, Kept, RustBackend, SignatureBackend, TokenCookie,
    Verification,
};
pub use gate::{
    extract_presented, extract_token, AuthError, Decision, Gate, RateLimit, Scheme, SignatureCheck,
};
pub use keys::{
    jwks_uri_from_discovery, store_key, wait_limit_ms, HttpResponse, KeyIo, KeyOutcome,
    KeyProvider, Keys,
};

// Configuration.
pub use config::{discovery_url, Config, IssuerConfig, KeySource, DEFAULT_LEEWAY, MAX_LEEWAY};
pub use fetch_url::check_fetch_url;
pub use jwks_cache::{
    check_fetch_status, generation_of, parse_cache_control_max_age, Action, CacheStatus,
    JwksCacheConfig, JwksCacheState,
};
// The edge authorizer's document: its own sections (`edge`, `origin`) and the check of
// a whole document without I/O (`tokengate check`, `checkWorkerConfig`).
pub use edge::{
    check_worker_config, exchange_issuer, inline_issuer_jwks, parse_worker_document, EdgeSettings,
    LogLevel, ServerTiming, WorkerConfig, WorkerConfigSummary, WorkerSettings,
};

// Protected resource metadata (RFC 9728).
pub use resource_metadata::{
    challenge_attribute, MetadataDefaults, ResourceMetadataConfig, WELL_KNOWN_PATH,
};

// Tokens and keys: JWS parsing, key sets, algorithms, verification.
pub use alg::{key_fits, rust_backend_checks, verify_signature, Alg, KeyMaterial};
pub use id_token::{id_token_signals, id_token_warning, IdTokenSignal};
pub use jwk::{Key, KeySet};
pub use jws::{
    b64_decode, b64_encode, jwe_header, parse as parse_jws, token_form, Jws, TokenForm,
    DEFAULT_MAX_TOKEN_BYTES,
};
pub use token_cache::{TokenCache, TokenKey};
pub use verify::{
    check_typ, normalise_typ, peek, time_state, validate_claims, verify, verify_jws, IssuerRules,
    TimeClaims, TimeState, Unverified, Verified, VerifiedToken, KEPT_EXTRA_CLAIMS,
    VALIDATED_CLAIMS,
};

// Sender-constrained tokens: DPoP proofs (RFC 9449), certificate-bound tokens (RFC 8705).
pub use dpop::{
    access_token_hash, binding_kind, binding_of, check_certificate, check_proof, jwk_thumbprint,
    normalise_htu, Binding, BindingKind, ClientCertificate, DpopConfig, DpopMode, DpopRequest,
    DpopRules, Nonces, PendingProof, ProofReplay, DEFAULT_PROOF_MAX_AGE, MAX_JTI_BYTES,
    MAX_PROOF_BYTES, MIN_NONCE_SECRET_BYTES, NONCE_PERIOD, NONCE_SECRET,
};

// Classification and policy.
pub use classify::{
    classify, parse_act, Actor, ClassifyConfig, ClassifyRule, DecidedBy, Kind, Principal,
    ScopeSource, MAX_ACTOR_DEPTH,
};
pub use policy::{
    actor_allowed, delegation_depth_allowed, Also, DefaultRule, Delegation, Policy, PolicyConfig,
    PolicyError, Requirement, RouteConfig, RouteMatch,
};

// Gateway rules: claim rules, claim headers, rate-limit keys, revocation.
pub use revocation::{
    entry_key as revocation_key, entry_value as revocation_value, lookup_keys as revocation_keys,
    revokes, RevocationCache, RevocationConfig, RevocationError, RevokedBy,
    DEFAULT_CACHE_SECONDS as DEFAULT_REVOCATION_CACHE_SECONDS,
    MAX_CACHE_SECONDS as MAX_REVOCATION_CACHE_SECONDS, MAX_KEY_BYTES as MAX_REVOCATION_KEY_BYTES,
};
pub use rules::{
    check_claim_rules, claim_at, claim_header_value, claim_root, claim_rule_holds, rate_limit_key,
    ClaimRule, ClaimRules, RateLimitBinding, RateLimitBindings, RateLimitRule,
    MAX_RATE_KEY_VALUE_BYTES,
};

// Token exchange and minting.
pub use exchange::{
    plan, response_json, ActorRule, AudienceRule, ExchangeConfig, ExchangeError, ExchangeRequest,
    GRANT_TYPE, MAX_LIFETIME_LIMIT, TOKEN_TYPE_ACCESS_TOKEN, TOKEN_TYPE_JWT,
};
pub use mint::{private_jwk_id, public_jwks, random_bytes, random_id, MintError, SigningKey};

// Errors: one enum per stage, and the catalogue of codes.
pub use error::catalogue::{
    authorizer_code, lookup as catalogue_row, markdown_table, Challenge, CodeInfo, Stage, CATALOGUE,
};
pub use error::{
    ChallengeParams, ConfigError, Deny, ErrorCode, InternalError, JwksError, RequestError,
    SenderError, TokenError,
};
