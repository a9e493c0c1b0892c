//! Errors, one `#[non_exhaustive]` enum per stage.
//!
//! Every error has a stable snake_case [`ErrorCode::code`] that JS callers can switch
//! on, a lowercase message (its `Display`), and the HTTP status it maps to
//! ([`ErrorCode::status`]), all read from its row of the [catalogue](crate::CATALOGUE). [`Deny`] turns
//! any of them into what an HTTP adapter answers, including the RFC 6750
//! `WWW-Authenticate` value.

use std::fmt;

pub mod catalogue;

use catalogue::{Challenge, CodeInfo};

/// What every tokengate error exposes to adapters and JS callers.
///
/// An implementation only names the [catalogue](crate::CATALOGUE) row of each variant
/// ([`info`](Self::info)); the code, status and challenge are that row's.
pub trait ErrorCode: fmt::Display {
    /// The catalogue row of this error.
    fn info(&self) -> &'static CodeInfo;
    /// The stable snake_case code, e.g. `token_expired`.
    fn code(&self) -> &'static str {
        self.info().code
    }
    /// The HTTP status this error maps to.
    fn status(&self) -> u16 {
        self.info().status
    }
    /// The RFC 6750 `error` attribute for `WWW-Authenticate`, if the error has one.
    fn oauth_error(&self) -> Option<&'static str> {
        self.info().challenge.error()
    }
}

/// Errors of the token verification stage: parsing, key selection, signature and claims.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenError {
    /// The token is larger than the configured cap (checked before any parsing).
    TooLarge {
        /// The size of the token in bytes.
        len: usize,
        /// The configured cap in bytes.
        max: usize,
    },
    /// The token is not a well-formed compact JWS.
    Malformed(String),
    /// The algorithm is not allowed for this key or by the configuration.
    AlgNotAllowed(String),
    /// No usable key matches the token.
    KeyNotFound(String),
    /// The signature does not verify.
    SignatureInvalid,
    /// The `crit` header names an extension tokengate does not implement.
    CritUnsupported(String),
    /// The `typ` header does not match the required type.
    TypMismatch(String),
    /// `exp` is in the past (beyond the leeway).
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    NotYetValid,
    /// `iat` is in the future (beyond the leeway), or the token is older than allowed.
    IssuedInFuture,
    /// `iss` is not a configured issuer.
    IssuerMismatch,
    /// `aud` contains no configured audience.
    AudienceMismatch,
    /// A required claim is absent.
    ClaimMissing(String),
    /// A claim has the wrong type or an invalid value.
    ClaimInvalid(String),
    /// The token is older than the configured maximum age.
    TooOld,
}

impl ErrorCode for TokenError {
    fn info(&self) -> &'static CodeInfo {
        use catalogue as c;
        match self {
            Self::TooLarge { .. } => &c::TOKEN_TOO_LARGE,
            Self::Malformed(_) => &c::TOKEN_MALFORMED,
            Self::AlgNotAllowed(_) => &c::ALG_NOT_ALLOWED,
            Self::KeyNotFound(_) => &c::KEY_NOT_FOUND,
            Self::SignatureInvalid => &c::SIGNATURE_INVALID,
            Self::CritUnsupported(_) => &c::CRIT_UNSUPPORTED,
            Self::TypMismatch(_) => &c::TYP_MISMATCH,
            Self::Expired => &c::TOKEN_EXPIRED,
            Self::NotYetValid => &c::TOKEN_NOT_YET_VALID,
            Self::IssuedInFuture => &c::ISSUED_IN_FUTURE,
            Self::IssuerMismatch => &c::ISSUER_MISMATCH,
            Self::AudienceMismatch => &c::AUDIENCE_MISMATCH,
            Self::ClaimMissing(_) => &c::CLAIM_MISSING,
            Self::ClaimInvalid(_) => &c::CLAIM_INVALID,
            Self::TooOld => &c::TOKEN_TOO_OLD,
        }
    }
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { len, max } => {
                write!(f, "token is {len} bytes, larger than the {max}-byte limit")
            }
            Self::Malformed(why) => write!(f, "token is malformed: {why}"),
            Self::AlgNotAllowed(why) => write!(f, "algorithm not allowed: {why}"),
            Self::KeyNotFound(why) => write!(f, "no usable key: {why}"),
            Self::SignatureInvalid => f.write_str("signature does not verify"),
            Self::CritUnsupported(name) => {
                write!(f, "critical header extension {name:?} is not supported")
            }
            Self::TypMismatch(why) => write!(f, "token type mismatch: {why}"),
            Self::Expired => f.write_str("token has expired"),
            Self::NotYetValid => f.write_str("token is not valid yet (nbf is in the future)"),
            Self::IssuedInFuture => f.write_str("token was issued in the future (iat)"),
            Self::IssuerMismatch => f.write_str("token issuer is not trusted"),
            Self::AudienceMismatch => f.write_str("token audience is not accepted"),
            Self::ClaimMissing(name) => write!(f, "required claim {name:?} is missing"),
            Self::ClaimInvalid(why) => write!(f, "invalid claim: {why}"),
            Self::TooOld => f.write_str("token is older than the maximum age"),
        }
    }
}

impl std::error::Error for TokenError {}

/// Errors of the key-set stage: parsing a JWKS and fetching keys.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JwksError {
    /// The JWKS document is invalid as a whole (not JSON, duplicate `kid`s, mixed
    /// secret and public keys, too large).
    Invalid(String),
    /// The JWKS parsed but has no usable key.
    NoUsableKey,
    /// No usable key set can be had (fetch failed and no fresh or stale set is held).
    Unavailable(String),
}

impl ErrorCode for JwksError {
    fn info(&self) -> &'static CodeInfo {
        match self {
            Self::Invalid(_) => &catalogue::JWKS_INVALID,
            Self::NoUsableKey => &catalogue::JWKS_NO_USABLE_KEY,
            Self::Unavailable(_) => &catalogue::JWKS_UNAVAILABLE,
        }
    }
}

impl fmt::Display for JwksError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Invalid(why) => write!(f, "key set is invalid: {why}"),
            Self::NoUsableKey => f.write_str("key set has no usable key"),
            Self::Unavailable(why) => write!(f, "signing keys are unavailable: {why}"),
        }
    }
}

impl std::error::Error for JwksError {}

/// Errors of the configuration stage; the message names the bad field.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// The configuration is not valid JSON or does not match the schema.
    Parse(String),
    /// A field has an invalid value.
    Invalid {
        /// The path of the field, e.g. `issuers[0].jwks_uri`.
        field: String,
        /// What is wrong with it.
        why: String,
    },
}

impl ConfigError {
    /// A JSON parse or schema error of the configuration, with a lowercase message.
    pub fn from_json_error(e: &serde_json::Error) -> Self {
        let mut s = e.to_string();
        s.make_ascii_lowercase();
        Self::Parse(s)
    }

    /// The field an [`Invalid`](ConfigError::Invalid) error names.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::Invalid { field, .. } => Some(field),
            Self::Parse(_) => None,
        }
    }

    /// Shorthand for [`ConfigError::Invalid`].
    pub fn invalid(field: impl Into<String>, why: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            why: why.into(),
        }
    }
}

impl ErrorCode for ConfigError {
    fn info(&self) -> &'static CodeInfo {
        match self {
            Self::Parse(_) | Self::Invalid { .. } => &catalogue::CONFIG_INVALID,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Parse(why) => write!(f, "invalid configuration: {why}"),
            Self::Invalid { field, why } => write!(f, "invalid configuration: {field}: {why}"),
        }
    }
}

impl std::error::Error for ConfigError {}

/// Errors of reading the request: where the token comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestError {
    /// No token was presented.
    TokenMissing,
    /// The `Authorization` header is present but is not a bearer token.
    BadAuthorization(String),
    /// Two different tokens were presented (header and cookie).
    MultipleTokens,
    /// A `_method` query parameter names another method than the request's own
    /// (origins that honour it would run a method the route was not authorized for).
    MethodOverride,
    /// The request path is not in canonical form (dot segments, encoded separators,
    /// spellings the readings of the path disagree on).
    PathRejected,
}

impl ErrorCode for RequestError {
    fn info(&self) -> &'static CodeInfo {
        match self {
            // RFC 6750 §3.1: a request without authentication gets no error code.
            Self::TokenMissing => &catalogue::TOKEN_MISSING,
            // Both are the RFC 6750 `invalid_request`, under one code.
            Self::BadAuthorization(_) | Self::MultipleTokens => &catalogue::INVALID_REQUEST,
            Self::MethodOverride => &catalogue::METHOD_OVERRIDE_REJECTED,
            Self::PathRejected => &catalogue::PATH_REJECTED,
        }
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TokenMissing => f.write_str("no access token was presented"),
            Self::BadAuthorization(why) => write!(f, "malformed authorization header: {why}"),
            Self::MultipleTokens => {
                f.write_str("more than one access token was presented (header and cookie)")
            }
            Self::MethodOverride => {
                f.write_str("a _method query parameter may only name the request's own method")
            }
            Self::PathRejected => f.write_str("the request path is not in canonical form"),
        }
    }
}

impl std::error::Error for RequestError {}

/// Errors of the sender-constraint stage: DPoP proofs (RFC 9449) and certificate-bound
/// tokens (RFC 8705).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SenderError {
    /// The DPoP proof is missing, malformed, or breaks one of its rules (the message
    /// says which).
    InvalidProof(String),
    /// The proof's `jti` was used before within its window.
    Replayed,
    /// The proof needs a (fresh) nonce: `nonce` is the one to use (the `DPoP-Nonce`
    /// header of the answer).
    UseNonce {
        /// The fresh nonce.
        nonce: String,
        /// Why the proof's nonce was not accepted.
        why: String,
    },
    /// A bearer presentation that must be DPoP: the token is DPoP-bound, or its issuer
    /// requires DPoP.
    DpopRequired(String),
    /// The proof's key is not the one the token is bound to, or a DPoP presentation of
    /// a token that is not DPoP-bound.
    BindingMismatch(String),
    /// A certificate-bound token without its certificate.
    MtlsMismatch(String),
    /// The token's `cnf` is malformed or names a confirmation method tokengate does not
    /// check.
    BindingUnsupported(String),
    /// Proofs cannot be checked for replay right now (the replay store failed or is
    /// not configured).
    ReplayUnavailable(String),
    /// Nonces are on and the nonce secret is missing or too short.
    NonceUnavailable,
}

impl ErrorCode for SenderError {
    fn info(&self) -> &'static CodeInfo {
        use catalogue as c;
        match self {
            Self::InvalidProof(_) => &c::INVALID_DPOP_PROOF,
            Self::Replayed => &c::DPOP_PROOF_REPLAYED,
            Self::UseNonce { .. } => &c::USE_DPOP_NONCE,
            Self::DpopRequired(_) => &c::DPOP_REQUIRED,
            Self::BindingMismatch(_) => &c::DPOP_BINDING_MISMATCH,
            Self::MtlsMismatch(_) => &c::MTLS_BINDING_MISMATCH,
            Self::BindingUnsupported(_) => &c::BINDING_UNSUPPORTED,
            Self::ReplayUnavailable(_) => &c::DPOP_REPLAY_UNAVAILABLE,
            Self::NonceUnavailable => &c::CONFIG_INVALID,
        }
    }
}

impl fmt::Display for SenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidProof(why) => write!(f, "invalid dpop proof: {why}"),
            Self::Replayed => f.write_str("invalid dpop proof: the proof (its jti) was already used"),
            Self::UseNonce { why, .. } => write!(f, "dpop nonce required: {why}"),
            Self::DpopRequired(why) => write!(f, "dpop required: {why}"),
            Self::BindingMismatch(why) => write!(f, "dpop binding mismatch: {why}"),
            Self::MtlsMismatch(why) => write!(f, "certificate binding mismatch: {why}"),
            Self::BindingUnsupported(why) => write!(f, "unsupported token binding: {why}"),
            Self::ReplayUnavailable(why) => {
                write!(f, "dpop proofs cannot be checked for replay: {why}")
            }
            Self::NonceUnavailable => f.write_str(
                "invalid configuration: dpop.nonce is on and the secret TOKENGATE_DPOP_NONCE_SECRET is missing or shorter than 32 bytes",
            ),
        }
    }
}

impl std::error::Error for SenderError {}

/// A failure of the edge itself while handling a request (500 `internal_error`); the
/// message is for the log line only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InternalError(pub String);

impl ErrorCode for InternalError {
    fn info(&self) -> &'static CodeInfo {
        &catalogue::INTERNAL_ERROR
    }
}

impl fmt::Display for InternalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "internal error: {}", self.0)
    }
}

impl std::error::Error for InternalError {}

/// A denial, ready for an HTTP adapter: status, stable code, message and the RFC 6750
/// `WWW-Authenticate` value.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Deny {
    /// HTTP status: 400, 401, 403, 500 or 503.
    pub status: u16,
    /// The stable snake_case code.
    pub code: &'static str,
    /// The OAuth `error` value of the body (the catalogue row's).
    pub error: &'static str,
    /// The lowercase human-readable message.
    pub message: String,
    /// The `WWW-Authenticate` header value the catalogue row calls for (400, 401 and
    /// 403 of the authorizer; a refused client at the token endpoint), else `None`.
    pub www_authenticate: Option<String>,
    /// A fresh DPoP nonce for the `DPoP-Nonce` header (RFC 9449 §8), given with
    /// `use_dpop_nonce`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dpop_nonce: Option<String>,
}

/// Which challenges a denial's `WWW-Authenticate` carries, from the configuration:
/// `Bearer` where bearer tokens are accepted, `DPoP` (with its `algs`) where DPoP is
/// configured, each with `resource_metadata` when protected-resource metadata is served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChallengeParams {
    /// Whether bearer tokens are accepted (some issuer does not require DPoP).
    pub bearer: bool,
    /// The DPoP challenge's `algs` (space-separated) when DPoP is advertised.
    pub dpop_algs: Option<String>,
    /// The RFC 9728 metadata URL for the `resource_metadata` attribute.
    pub resource_metadata: Option<String>,
}

impl Default for ChallengeParams {
    /// A `Bearer` challenge only.
    fn default() -> Self {
        ChallengeParams {
            bearer: true,
            dpop_algs: None,
            resource_metadata: None,
        }
    }
}

impl ChallengeParams {
    /// The `WWW-Authenticate` value for `challenge` (see [`Challenge`]): the error
    /// attribute goes on the DPoP challenge for a DPoP error, or when bearer tokens are
    /// not accepted; `scope` on the challenge that carries the error.
    pub fn header(
        &self,
        challenge: Challenge,
        realm: &str,
        message: &str,
        scope: Option<&str>,
    ) -> Option<String> {
        let (on_bearer, on_dpop) = match challenge {
            Challenge::None => return None,
            Challenge::Bare => (None, None),
            Challenge::Error(e) if self.bearer || self.dpop_algs.is_none() => (Some(e), None),
            Challenge::Error(e) | Challenge::Dpop(e) => (None, Some(e)),
        };
        let dpop_only = matches!(challenge, Challenge::Dpop(_));
        let want_bearer = self.bearer || (self.dpop_algs.is_none() && !dpop_only);
        let want_dpop = self.dpop_algs.is_some() || dpop_only;
        let metadata = self.resource_metadata.as_deref().map(challenge_attribute);
        let mut parts: Vec<String> = Vec::with_capacity(2);
        let with_metadata = |mut s: String| {
            if let Some(m) = &metadata {
                s.push_str(if s.contains('=') { ", " } else { " " });
                s.push_str(m);
            }
            s
        };
        if want_bearer {
            let scope = (on_bearer.is_some() || on_dpop.is_none())
                .then_some(scope)
                .flatten();
            let b = www_authenticate(realm, on_bearer, Some(message), scope);
            parts.push(with_metadata(b));
        }
        if want_dpop {
            let scope = on_dpop.and(scope);
            let b = www_authenticate(realm, on_dpop, Some(message), scope);
            let mut d = format!("DPoP{}", &b["Bearer".len()..]);
            if let Some(algs) = &self.dpop_algs {
                d.push_str(if d.contains('=') { ", " } else { " " });
                d.push_str("algs=\"");
                d.push_str(algs);
                d.push('"');
            }
            parts.push(with_metadata(d));
        }
        Some(parts.join(", "))
    }
}

impl Deny {
    /// Builds a denial from any tokengate error. `realm` goes into `WWW-Authenticate`;
    /// `scope` is the space-separated scope a 403 asks for (RFC 6750 §3).
    pub fn from_error(err: &dyn ErrorCode, realm: &str, scope: Option<&str>) -> Self {
        Deny::with_challenges(err, realm, scope, &ChallengeParams::default())
    }

    /// As [`Deny::from_error`], with the challenges `params` calls for.
    pub fn with_challenges(
        err: &dyn ErrorCode,
        realm: &str,
        scope: Option<&str>,
        params: &ChallengeParams,
    ) -> Self {
        let info = err.info();
        let message = err.to_string();
        let www_authenticate = params.header(info.challenge, realm, &message, scope);
        Deny {
            status: info.status,
            code: info.code,
            error: info.error,
            message,
            www_authenticate,
            dpop_nonce: None,
        }
    }

    /// What a client is told: the message for a 4xx denial; for a 5xx a fixed text that
    /// says what the client can do, because the message may carry fetch errors, URLs,
    /// secret names or configuration diagnostics, which belong in the log only.
    /// `retry_after` (seconds) is named in a 503's text when given.
    pub fn public_description(&self, retry_after: Option<u64>) -> String {
        match self.status {
            ..=499 => self.message.clone(),
            503 => {
                // A fixed text per code: what is unavailable, never why.
                let what = if self.code == catalogue::DPOP_REPLAY_UNAVAILABLE.code {
                    "dpop proofs cannot be checked for replay right now"
                } else if self.code == catalogue::REVOCATION_UNAVAILABLE.code {
                    "the revocation store cannot be read right now"
                } else if self.code == catalogue::RATE_LIMIT_UNAVAILABLE.code {
                    "the rate limiter cannot be asked right now"
                } else {
                    "the token issuer's signing keys are unavailable right now"
                };
                match retry_after {
                    Some(s) => format!("{what}; retry after {s} seconds"),
                    None => format!("{what}; retry later"),
                }
            }
            _ if self.code == catalogue::CONFIG_INVALID.code => {
                "the authorizer is misconfigured; see its logs".into()
            }
            _ => "the authorizer could not handle the request; see its logs".into(),
        }
    }

    /// The `{ "error", "error_description", "code" }` JSON body an adapter sends; a 5xx
    /// carries only its [`public_description`](Self::public_description).
    pub fn body_json(&self) -> String {
        self.body_json_retry(None)
    }

    /// [`body_json`](Self::body_json) for a response that also carries `Retry-After:
    /// retry_after`, which a 503's description then names.
    pub fn body_json_retry(&self, retry_after: Option<u64>) -> String {
        serde_json::json!({
            "error": self.error,
            "error_description": self.public_description(retry_after),
            "code": self.code,
        })
        .to_string()
    }
}

/// Formats an RFC 6750 `WWW-Authenticate: Bearer ...` challenge.
///
/// Attribute values are quoted; `"` and `\` are escaped and characters outside the
/// RFC 6750 `error_description` set (printable ASCII) are dropped.
pub fn www_authenticate(
    realm: &str,
    error: Option<&str>,
    description: Option<&str>,
    scope: Option<&str>,
) -> String {
    let mut out = String::from("Bearer");
    let mut sep = " ";
    let mut attr = |name: &str, value: &str| {
        out.push_str(sep);
        sep = ", ";
        out.push_str(name);
        out.push('=');
        push_quoted(&mut out, value);
    };
    if !realm.is_empty() {
        attr("realm", realm);
    }
    if let Some(error) = error {
        attr("error", error);
        if let Some(d) = description {
            attr("error_description", d);
        }
    }
    if let Some(scope) = scope {
        attr("scope", scope);
    }
    out
}

/// The `resource_metadata="<url>"` attribute of a `WWW-Authenticate` challenge
/// (RFC 9728 §5.1), quoted as the challenge's other attributes are (the
/// [`Deny::www_authenticate`] value): `"` and `\` escaped, characters outside
/// printable ASCII dropped. `url` is normally
/// [`ResourceMetadataConfig::metadata_url`](crate::ResourceMetadataConfig::metadata_url).
pub fn challenge_attribute(url: &str) -> String {
    let mut out = String::from("resource_metadata=");
    push_quoted(&mut out, url);
    out
}

/// Appends `value` to `out` as a quoted attribute value of a `WWW-Authenticate`
/// challenge: in double quotes, `"` and `\` escaped with `\`, and characters outside
/// printable ASCII (the RFC 6750 `error_description` set) dropped.
pub(crate) fn push_quoted(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            _ => {}
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_token_has_no_error_attribute() {
        let d = Deny::from_error(&RequestError::TokenMissing, "api", None);
        assert_eq!(d.status, 401);
        assert_eq!(d.code, "token_missing");
        assert_eq!(d.www_authenticate.as_deref(), Some("Bearer realm=\"api\""));
    }

    #[test]
    fn invalid_token_challenge() {
        let d = Deny::from_error(&TokenError::Expired, "api", None);
        assert_eq!(
            d.www_authenticate.as_deref(),
            Some(
                "Bearer realm=\"api\", error=\"invalid_token\", error_description=\"token has expired\""
            )
        );
        assert!(d.body_json().contains("\"code\":\"token_expired\""));
    }

    #[test]
    fn quotes_are_escaped() {
        let v = www_authenticate("a\"b", Some("invalid_token"), Some("x\\y\u{7f}é"), None);
        assert_eq!(
            v,
            "Bearer realm=\"a\\\"b\", error=\"invalid_token\", error_description=\"x\\\\y\""
        );
    }

    #[test]
    fn server_error_bodies_carry_no_internals() {
        let d = Deny::from_error(
            &JwksError::Unavailable(
                "fetch https://idp.internal/jwks failed: TypeError: fetch failed".into(),
            ),
            "api",
            None,
        );
        assert!(
            d.message.contains("fetch failed"),
            "the log keeps the detail"
        );
        for body in [d.body_json(), d.body_json_retry(Some(30))] {
            assert!(!body.contains("fetch"), "{body}");
            assert!(!body.contains("idp.internal"), "{body}");
            assert!(body.contains("\"code\":\"jwks_unavailable\""), "{body}");
            assert!(body.contains("temporarily_unavailable"), "{body}");
        }
        assert!(d
            .body_json_retry(Some(30))
            .contains("retry after 30 seconds"));
        let c = Deny::from_error(
            &ConfigError::invalid("issuers[0].shared_secret", "secret \"HS_KEY\" is not set"),
            "api",
            None,
        );
        let v: serde_json::Value = serde_json::from_str(&c.body_json()).unwrap();
        assert_eq!(v["code"], "config_invalid");
        assert_eq!(v["error"], "server_error");
        assert_eq!(
            v["error_description"],
            "the authorizer is misconfigured; see its logs"
        );
        // 4xx bodies keep their message: it is what the client can act on.
        let t = Deny::from_error(&TokenError::Expired, "api", None);
        assert!(t.body_json().contains("token has expired"));
    }

    #[test]
    fn method_override_is_a_400() {
        let d = Deny::from_error(&RequestError::MethodOverride, "api", None);
        assert_eq!((d.status, d.code), (400, "method_override_rejected"));
        assert!(d
            .www_authenticate
            .as_deref()
            .is_some_and(|w| w.contains("error=\"invalid_request\"")));
    }

    #[test]
    fn challenges_come_from_the_catalogue() {
        let d = Deny::from_error(&RequestError::PathRejected, "api", None);
        assert_eq!((d.status, d.code), (400, "path_rejected"));
        assert!(d.body_json().contains("\"error\":\"invalid_request\""));
        let d = Deny::from_error(&InternalError("boom".into()), "api", None);
        assert_eq!(
            (d.status, d.code, d.www_authenticate.as_deref()),
            (500, "internal_error", None)
        );
        assert_eq!(d.message, "internal error: boom");
        assert!(!d.body_json().contains("boom"));
        let t: serde_json::Value = serde_json::from_str(
            &Deny::from_error(&RequestError::TokenMissing, "", None).body_json(),
        )
        .unwrap();
        assert_eq!(t["error"], "unauthorized");
    }

    #[test]
    fn jwks_errors_map_to_503_without_challenge() {
        let d = Deny::from_error(&JwksError::Unavailable("down".into()), "api", None);
        assert_eq!(d.status, 503);
        assert_eq!(d.www_authenticate, None);
    }
}
