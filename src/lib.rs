//! tokengate: verify OAuth2/OIDC JWT access tokens, tell machine tokens from user
//! tokens, and enforce per-route policy.
//!
//! The core is sans-IO: every function takes bytes, configuration and the current time
//! and returns a decision. The Cloudflare Worker (`crates/worker`) and the JS bindings
//! (`crates/js`) are thin adapter crates that only do I/O and translation; the host
//! signature backend they share is `crates/webcrypto`.
#![warn(missing_docs)]

pub mod alg;
pub mod authenticator;
pub mod classify;
pub mod config;
pub mod error;
pub mod exchange;
pub mod fetch_url;
pub mod gate;
pub mod headers;
pub mod jwk;
pub mod jwks_cache;
pub mod jws;
pub mod keys;
pub mod mint;
mod percent;
pub mod policy;
pub mod token_cache;
pub mod verify;

/// A point in time as the core takes it everywhere: unix seconds. Adapters convert their
/// clock (JS milliseconds, `SystemTime`) once, at the boundary.
pub type UnixSeconds = u64;

/// The JSON object of a token's claims (its payload).
pub type Claims = serde_json::Map<String, serde_json::Value>;

pub use alg::Alg;
pub use authenticator::{
    poll_once, Authenticator, Credentials, Kept, RustBackend, SignatureBackend, TokenCookie,
    Verification,
};
pub use classify::{Kind, Principal};
pub use config::Config;
pub use error::catalogue::{CodeInfo, Stage, CATALOGUE};
pub use error::{ConfigError, Deny, ErrorCode, InternalError, JwksError, RequestError, TokenError};
pub use gate::{extract_token, AuthError, Decision, Gate, SignatureCheck};
pub use jwk::KeySet;
pub use verify::Verified;
