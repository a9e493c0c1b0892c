//! RFC 8693 token exchange at the edge: the pure core.
//!
//! A service that must act for a user after the user's token has expired (a build
//! finishing long after `POST /builds` and then calling `PUT /builds/<id>` as that
//! user) exchanges the user's verified token for a narrower one that the edge signs
//! itself and later verifies like any other token.
//!
//! The adapter (the Worker) does the I/O:
//!
//! 1. reads the `application/x-www-form-urlencoded` body of `POST {path}`, size-capped
//!    at [`ExchangeConfig::max_request_bytes`], and parses it with
//!    [`ExchangeRequest::parse_form`];
//! 2. verifies `subject_token` and `actor_token` with the [`Gate`](crate::Gate) (any
//!    configured issuer, the edge's own included, so an exchanged token can be
//!    exchanged again);
//! 3. calls [`plan`] with both [`Verified`] tokens, which applies every rule below and
//!    returns the claims to issue;
//! 4. signs them with its [`SigningKey`](crate::mint::SigningKey) and answers
//!    [`response_json`], or [`ExchangeError::body_json`] with
//!    [`ErrorCode::status`] on error.
//!
//! # Rules of [`plan`]
//!
//! * `grant_type` must be `urn:ietf:params:oauth:grant-type:token-exchange`
//!   (else `unsupported_grant_type`, checked before any other parameter, also by
//!   [`ExchangeRequest::parse_form`]); `subject_token_type` and `actor_token_type` must
//!   be `urn:ietf:params:oauth:token-type:access_token` or `...:jwt`;
//!   `requested_token_type`, when given, must be `...:access_token` (else
//!   `invalid_request`).
//! * **The actor** is who calls. With an actor token it is that token's client id
//!   (`azp` / `client_id`), else its `sub`; the actor token must be a machine token
//!   (a user token as actor is `unauthorized_client`). Without an actor token (only
//!   when [`ExchangeConfig::require_actor_token`] is false) the actor is the subject
//!   token's own client: then whoever holds the user's token can exchange it, within
//!   the rules of that client. The actor must be listed in [`ExchangeConfig::actors`],
//!   from the rule's [`ActorRule::issuer`] when it names one, else from any issuer but
//!   the edge's own (else `unauthorized_client`). A rule must name its issuer when more
//!   than one issuer besides the edge's own is trusted (a configuration error
//!   otherwise).
//! * **The subject** must be a user token that has not expired (else `invalid_grant`).
//!   Machine subject tokens are refused (`invalid_grant`): a machine can obtain a
//!   narrower token for itself with its own client credentials, and an exchanged
//!   machine token, whose `client_id` names the actor rather than the machine, would
//!   no longer be recognised as a machine token by the `sub_is_client_id` rule, which
//!   could open user-only routes to it.
//! * **The target**: exactly one audience, from the `audience` parameters, or from
//!   `resource` when there is no `audience` (repeated identical values count once).
//!   When both are given every `resource` must equal the audience. It must be
//!   configured in [`ExchangeConfig::audiences`] and allowed for the actor (else
//!   `invalid_target`).
//! * **Scopes**: the requested scopes (default: the subject's scopes that the
//!   audience allows) must all be granted to the subject token and allowed for the
//!   audience (else `invalid_scope`); compared exactly, wildcards are not expanded. An
//!   empty result is `invalid_scope`.
//! * **Lifetime**: `requested_lifetime` (else [`ExchangeConfig::default_lifetime`]),
//!   capped at the audience's [`AudienceRule::max_lifetime`] and, unless
//!   [`AudienceRule::allow_beyond_subject`], at the subject token's remaining life. A
//!   delegated subject token, one that carries `act` (from any issuer) or that the
//!   edge issued itself (an exchanged token exchanged again), is always capped at its
//!   remaining life: `allow_beyond_subject` applies to a first exchange only, so a
//!   delegation cannot be renewed forever without a fresh user token. A lifetime of 0
//!   is `invalid_grant`.
//!
//! # The issued claims
//!
//! `iss` ([`ExchangeConfig::issuer`]), `sub` (the subject's `sub`: the user), `aud`
//! (the one audience), `client_id` (the actor), `scope` (space-separated), `iat`,
//! `exp`, `jti` (random) and `act` (RFC 8693 §4.1): `{"sub": <actor>}`, with the
//! subject token's own `act` nested inside when it has one, so exchanging an exchanged
//! token keeps the whole delegation chain. The subject token's `act` is kept as it is:
//! it was signed by a trusted issuer. **No other claim of the subject token is
//! copied**: not `permissions`, roles, `azp`, `gty` nor custom claims, so the issued
//! token grants exactly its `scope`. Since `sub` (the user) differs from `client_id`
//! (the actor), the issued token is classified as a user token acting through the
//! actor (`Principal::actor`), and routes can require or forbid such tokens with
//! `delegation`.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::classify::{classify, is_scope_token, ClassifyConfig, Kind, MAX_ACTOR_DEPTH};
use crate::error::catalogue::CodeInfo;
use crate::verify::Verified;
use crate::UnixSeconds;
use crate::{Claims, ConfigError, ErrorCode};

/// The token-exchange `grant_type` (RFC 8693 §2.1).
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// The token type of an OAuth access token (RFC 8693 §3).
pub const TOKEN_TYPE_ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";
/// The token type of a JWT (RFC 8693 §3).
pub const TOKEN_TYPE_JWT: &str = "urn:ietf:params:oauth:token-type:jwt";

/// The longest lifetime an exchanged token may be configured for: 30 days.
pub const MAX_LIFETIME_LIMIT: u64 = 30 * 24 * 3600;

fn default_path() -> String {
    "/oauth/token".into()
}
fn default_lifetime() -> u64 {
    300
}
fn default_max_request_bytes() -> usize {
    4096
}
fn default_true() -> bool {
    true
}

/// A client allowed to exchange tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActorRule {
    /// The client id of the actor token (`azp` / `client_id`, else its `sub`).
    pub client_id: String,
    /// The issuer the actor's token must come from. Required when more than one issuer
    /// besides the edge's own is trusted, so that a client of one cannot pass for a
    /// same-named client of another; `None` (one such issuer) accepts the client id from
    /// any configured issuer except the edge's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// The audiences it may request (each configured in [`ExchangeConfig::audiences`]).
    pub audiences: Vec<String>,
}

/// An audience that exchanged tokens may be issued for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AudienceRule {
    /// The `aud` of the issued tokens.
    pub audience: String,
    /// The scopes an issued token for this audience may carry (an allowlist).
    pub scopes: Vec<String>,
    /// The longest lifetime of an issued token, in seconds (at most 30 days).
    pub max_lifetime: u64,
    /// Whether an issued token may outlive the subject token (default false). Applies
    /// to a first exchange only: never to a subject token that carries `act` (from any
    /// issuer) or that the edge issued itself.
    #[serde(default)]
    pub allow_beyond_subject: bool,
}

/// The token-exchange settings (the `exchange` section of the configuration).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExchangeConfig {
    /// The path of the token endpoint (default `/oauth/token`).
    #[serde(default = "default_path")]
    pub path: String,
    /// The edge's own issuer URL: the `iss` of issued tokens. Required; https, or http
    /// on a loopback host. It must also be a configured issuer (with the public keys
    /// of the signing key) so that issued tokens verify.
    pub issuer: String,
    /// Which clients may exchange, and for which audiences.
    pub actors: Vec<ActorRule>,
    /// Which audiences tokens may be issued for, with their scopes and lifetimes.
    pub audiences: Vec<AudienceRule>,
    /// The lifetime when the request has no `requested_lifetime`, in seconds (default
    /// 300; still capped).
    #[serde(default = "default_lifetime")]
    pub default_lifetime: u64,
    /// The size cap of the request body, in bytes (default 4096).
    #[serde(default = "default_max_request_bytes")]
    pub max_request_bytes: usize,
    /// Whether the caller must prove who it is with its own (client-credentials)
    /// `actor_token` (default true). When false, a request without one acts as the
    /// subject token's own client, so anyone holding the subject token can exchange it.
    #[serde(default = "default_true")]
    pub require_actor_token: bool,
}

impl ExchangeConfig {
    /// Checks every field; field names in the error are prefixed with `prefix` (e.g.
    /// `exchange.`).
    pub fn validate(&self, prefix: &str) -> Result<(), ConfigError> {
        let at = |f: &str| format!("{prefix}{f}");
        if !self.path.starts_with('/')
            || self.path.contains(['?', '#'])
            || self
                .path
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(ConfigError::invalid(
                at("path"),
                "must be an absolute path without query, fragment or whitespace",
            ));
        }
        crate::fetch_url::check_fetch_url(&self.issuer)
            .map_err(|why| ConfigError::invalid(at("issuer"), why))?;
        if self.default_lifetime == 0 || self.default_lifetime > MAX_LIFETIME_LIMIT {
            return Err(ConfigError::invalid(
                at("default_lifetime"),
                format!("must be between 1 and {MAX_LIFETIME_LIMIT} seconds"),
            ));
        }
        if self.max_request_bytes < 256 || self.max_request_bytes > 1024 * 1024 {
            return Err(ConfigError::invalid(
                at("max_request_bytes"),
                "must be between 256 and 1048576",
            ));
        }
        if self.audiences.is_empty() {
            return Err(ConfigError::invalid(
                at("audiences"),
                "at least one audience is required",
            ));
        }
        for (i, a) in self.audiences.iter().enumerate() {
            let at = |f: &str| format!("{prefix}audiences[{i}].{f}");
            if a.audience.is_empty() {
                return Err(ConfigError::invalid(at("audience"), "must not be empty"));
            }
            if self.audiences[..i].iter().any(|b| b.audience == a.audience) {
                return Err(ConfigError::invalid(at("audience"), "is listed twice"));
            }
            if a.scopes.is_empty() {
                return Err(ConfigError::invalid(
                    at("scopes"),
                    "at least one scope is required",
                ));
            }
            for (j, s) in a.scopes.iter().enumerate() {
                if !is_scope_token(s) {
                    return Err(ConfigError::invalid(
                        at(&format!("scopes[{j}]")),
                        format!("{s:?} is not a valid scope token"),
                    ));
                }
            }
            if a.max_lifetime == 0 || a.max_lifetime > MAX_LIFETIME_LIMIT {
                return Err(ConfigError::invalid(
                    at("max_lifetime"),
                    format!("must be between 1 and {MAX_LIFETIME_LIMIT} seconds"),
                ));
            }
        }
        if self.actors.is_empty() {
            return Err(ConfigError::invalid(
                at("actors"),
                "at least one actor is required",
            ));
        }
        for (i, a) in self.actors.iter().enumerate() {
            let at = |f: &str| format!("{prefix}actors[{i}].{f}");
            if a.client_id.is_empty() {
                return Err(ConfigError::invalid(at("client_id"), "must not be empty"));
            }
            if self.actors[..i].iter().any(|b| b.client_id == a.client_id) {
                return Err(ConfigError::invalid(at("client_id"), "is listed twice"));
            }
            if a.issuer.as_deref() == Some("") {
                return Err(ConfigError::invalid(
                    at("issuer"),
                    "must not be empty (omit it instead)",
                ));
            }
            if a.audiences.is_empty() {
                return Err(ConfigError::invalid(
                    at("audiences"),
                    "at least one audience is required",
                ));
            }
            for (j, aud) in a.audiences.iter().enumerate() {
                if !self.audiences.iter().any(|r| r.audience == *aud) {
                    return Err(ConfigError::invalid(
                        at(&format!("audiences[{j}]")),
                        format!("{aud:?} is not configured in {prefix}audiences"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The rule of a configured audience.
    pub fn audience(&self, audience: &str) -> Option<&AudienceRule> {
        self.audiences.iter().find(|a| a.audience == audience)
    }

    /// The rule of an allowed actor.
    pub fn actor(&self, client_id: &str) -> Option<&ActorRule> {
        self.actors.iter().find(|a| a.client_id == client_id)
    }

    /// Checks the section against the configured issuers (`issuers[].issuer`): the
    /// edge's own [`issuer`](Self::issuer) must be one of them, so that issued tokens
    /// verify; an actor's [`issuer`](ActorRule::issuer) must be one; and when more than
    /// one issuer besides the edge's own is trusted, every actor must name its issuer,
    /// so that a client of one cannot pass for a same-named client of another.
    pub fn validate_issuers(&self, prefix: &str, issuers: &[&str]) -> Result<(), ConfigError> {
        if !issuers.contains(&self.issuer.as_str()) {
            return Err(ConfigError::invalid(
                format!("{prefix}issuer"),
                "must also be listed in issuers (with the signing key's public jwks) \
                 so that exchanged tokens verify",
            ));
        }
        let others = issuers.iter().filter(|i| **i != self.issuer).count();
        for (i, actor) in self.actors.iter().enumerate() {
            match &actor.issuer {
                Some(iss) if !issuers.contains(&iss.as_str()) => {
                    return Err(ConfigError::invalid(
                        format!("{prefix}actors[{i}].issuer"),
                        "is not a configured issuer",
                    ))
                }
                None if others > 1 => {
                    return Err(ConfigError::invalid(
                        format!("{prefix}actors[{i}].issuer"),
                        "is required when several issuers are trusted",
                    ))
                }
                _ => {}
            }
        }
        Ok(())
    }
}

impl ActorRule {
    /// Whether the rule accepts an actor whose token (or, without an actor token, the
    /// subject token) came from `actor_issuer`. A rule that names an issuer accepts
    /// only that one. A rule without one (allowed only when a single issuer besides
    /// the edge's own is trusted, see [`ExchangeConfig::validate_issuers`]) accepts any
    /// issuer but the edge's own (`own_issuer`): the edge issues no client tokens.
    pub fn accepts_issuer(&self, actor_issuer: &str, own_issuer: &str) -> bool {
        match &self.issuer {
            Some(i) => i == actor_issuer,
            None => actor_issuer != own_issuer,
        }
    }
}

/// Why a token exchange was refused: the RFC 6749 §5.2 / RFC 8693 §2.2.2 error.
///
/// The codes are the RFC names. The status is 400, except `unauthorized_client`
/// (401: the caller's own token is not allowed to exchange) and `server_error` (500).
/// The token endpoint answers [`body_json`](Self::body_json) (not a `WWW-Authenticate`
/// challenge).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExchangeError {
    /// The request is malformed: a missing or repeated parameter, an unsupported token
    /// type, a body too large, or a missing actor token.
    InvalidRequest(String),
    /// The subject token cannot be exchanged: expired, a machine token, or no lifetime
    /// is left.
    InvalidGrant(String),
    /// A requested scope is not granted to the subject or not allowed for the audience,
    /// or no scope is left.
    InvalidScope(String),
    /// No, several, or a not allowed target audience.
    InvalidTarget(String),
    /// The actor is not allowed to exchange tokens (or is not a machine).
    UnauthorizedClient(String),
    /// The `grant_type` is not token exchange.
    UnsupportedGrantType(String),
    /// The edge failed (e.g. its random source); 500.
    ServerError(String),
}

impl ExchangeError {
    /// The description (the message without the code).
    pub fn description(&self) -> &str {
        match self {
            Self::InvalidRequest(d)
            | Self::InvalidGrant(d)
            | Self::InvalidScope(d)
            | Self::InvalidTarget(d)
            | Self::UnauthorizedClient(d)
            | Self::UnsupportedGrantType(d)
            | Self::ServerError(d) => d,
        }
    }

    /// The RFC 6749 §5.2 error body: `{"error": <code>, "error_description": ...}`.
    ///
    /// The description is reduced to the characters RFC 6749 allows there (printable
    /// ASCII without `"` and `\`; `"` becomes `'`).
    pub fn body_json(&self) -> String {
        // A server error's detail (a signing or key failure) is for the log line only.
        let text = match self {
            Self::ServerError(_) => "the token service could not handle the request; see its logs",
            _ => self.description(),
        };
        let description: String = text
            .chars()
            .filter_map(|c| match c {
                '"' => Some('\''),
                '\\' => None,
                ' '..='~' => Some(c),
                _ => None,
            })
            .collect();
        json!({"error": self.info().error, "error_description": description}).to_string()
    }
}

impl ErrorCode for ExchangeError {
    fn info(&self) -> &'static CodeInfo {
        use crate::error::catalogue as c;
        match self {
            Self::InvalidRequest(_) => &c::EXCHANGE_INVALID_REQUEST,
            Self::InvalidGrant(_) => &c::INVALID_GRANT,
            Self::InvalidScope(_) => &c::INVALID_SCOPE,
            Self::InvalidTarget(_) => &c::INVALID_TARGET,
            Self::UnauthorizedClient(_) => &c::UNAUTHORIZED_CLIENT,
            Self::UnsupportedGrantType(_) => &c::UNSUPPORTED_GRANT_TYPE,
            Self::ServerError(_) => &c::SERVER_ERROR,
        }
    }
}

impl fmt::Display for ExchangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code(), self.description())
    }
}

impl std::error::Error for ExchangeError {}

/// A parsed token-exchange request (RFC 8693 §2.1).
///
/// Its `Debug` output hides the tokens.
#[derive(Clone, PartialEq, Eq)]
pub struct ExchangeRequest {
    /// `grant_type`.
    pub grant_type: String,
    /// `subject_token`: the token to exchange.
    pub subject_token: String,
    /// `subject_token_type`.
    pub subject_token_type: String,
    /// `actor_token`: the caller's own token.
    pub actor_token: Option<String>,
    /// `actor_token_type` (present exactly when `actor_token` is).
    pub actor_token_type: Option<String>,
    /// `scope`, split on spaces (duplicates removed); `None` when absent.
    pub scope: Option<Vec<String>>,
    /// The `audience` parameters (may repeat).
    pub audiences: Vec<String>,
    /// The `resource` parameters (may repeat).
    pub resources: Vec<String>,
    /// `requested_lifetime` in seconds (an extension parameter).
    pub requested_lifetime: Option<u64>,
    /// `requested_token_type`.
    pub requested_token_type: Option<String>,
}

impl fmt::Debug for ExchangeRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExchangeRequest")
            .field("grant_type", &self.grant_type)
            .field("subject_token", &"<redacted>")
            .field("subject_token_type", &self.subject_token_type)
            .field(
                "actor_token",
                &self.actor_token.as_ref().map(|_| "<redacted>"),
            )
            .field("actor_token_type", &self.actor_token_type)
            .field("scope", &self.scope)
            .field("audiences", &self.audiences)
            .field("resources", &self.resources)
            .field("requested_lifetime", &self.requested_lifetime)
            .field("requested_token_type", &self.requested_token_type)
            .finish()
    }
}

/// Decodes one `application/x-www-form-urlencoded` name or value: `+` is a space and
/// `%XX` a byte; a `%` not followed by two hex digits, or bytes that are not UTF-8, are
/// errors.
fn form_decode(s: &[u8]) -> Result<String, ExchangeError> {
    let out = crate::percent::decode_form(s, true).ok_or_else(|| {
        ExchangeError::InvalidRequest("the form body has an invalid percent-encoding".into())
    })?;
    String::from_utf8(out)
        .map_err(|_| ExchangeError::InvalidRequest("the form body is not utf-8".into()))
}

fn set_once(slot: &mut Option<String>, name: &str, value: String) -> Result<(), ExchangeError> {
    if slot.is_some() {
        return Err(ExchangeError::InvalidRequest(format!(
            "parameter {name} is repeated"
        )));
    }
    *slot = Some(value);
    Ok(())
}

/// The `name=value` pairs of a form body, still encoded; empty pairs are skipped and a
/// pair without `=` has an empty value.
fn form_pairs(body: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    body.split(|b| *b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.iter().position(|b| *b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &[][..]),
        })
}

/// Finds `grant_type` in a form body before any other parameter is looked at (RFC 6749
/// §5.2: a grant type the endpoint does not support is answered as such, whatever else
/// the request holds). Pairs whose name does not decode are skipped here: they are not
/// `grant_type`, and the full parse reports them. A missing or repeated `grant_type` is
/// `invalid_request`, any value but token exchange `unsupported_grant_type`.
fn check_grant_type(body: &[u8]) -> Result<String, ExchangeError> {
    let mut found: Option<String> = None;
    for (name, value) in form_pairs(body) {
        if form_decode(name).ok().as_deref() != Some("grant_type") {
            continue;
        }
        let value = form_decode(value)?;
        if !value.is_empty() {
            set_once(&mut found, "grant_type", value)?;
        }
    }
    let grant_type = found
        .ok_or_else(|| ExchangeError::InvalidRequest("parameter grant_type is missing".into()))?;
    if grant_type != GRANT_TYPE {
        return Err(unsupported_grant_type());
    }
    Ok(grant_type)
}

fn unsupported_grant_type() -> ExchangeError {
    ExchangeError::UnsupportedGrantType(format!("grant_type must be {GRANT_TYPE}"))
}

fn is_token_type(t: &str) -> bool {
    t == TOKEN_TYPE_ACCESS_TOKEN || t == TOKEN_TYPE_JWT
}

impl ExchangeRequest {
    /// Parses an `application/x-www-form-urlencoded` body of at most `max_bytes`.
    ///
    /// `+` is a space and `%XX` a byte (the result must be UTF-8). Only the size cap
    /// comes before `grant_type`, which is checked before every other parameter: any
    /// value but token exchange is `unsupported_grant_type` whatever else the body
    /// holds (RFC 6749 §5.2). Parameters with an empty value count as absent (RFC 6749
    /// §3.1); unknown parameters are ignored; `audience` and `resource` may repeat, any
    /// other known parameter repeated is `invalid_request`, as is a body over the cap, a
    /// missing `grant_type`, `subject_token` or `subject_token_type`, an `actor_token` without
    /// `actor_token_type` (or the reverse) and a `requested_lifetime` that is not a
    /// number of seconds. A scope that is not an RFC 6749 scope token is
    /// `invalid_scope`.
    pub fn parse_form(body: &[u8], max_bytes: usize) -> Result<Self, ExchangeError> {
        if body.len() > max_bytes {
            return Err(ExchangeError::InvalidRequest(format!(
                "the request body is larger than {max_bytes} bytes"
            )));
        }
        let grant_type = check_grant_type(body)?;
        let mut subject_token = None;
        let mut subject_token_type = None;
        let mut actor_token = None;
        let mut actor_token_type = None;
        let mut scope = None;
        let mut requested_lifetime = None;
        let mut requested_token_type = None;
        let mut audiences: Vec<String> = Vec::new();
        let mut resources: Vec<String> = Vec::new();
        for (name, value) in form_pairs(body) {
            let name = form_decode(name)?;
            let value = form_decode(value)?;
            if value.is_empty() {
                continue;
            }
            let slot = match name.as_str() {
                // Checked (and repeats refused) by `check_grant_type` above.
                "grant_type" => continue,
                "subject_token" => &mut subject_token,
                "subject_token_type" => &mut subject_token_type,
                "actor_token" => &mut actor_token,
                "actor_token_type" => &mut actor_token_type,
                "scope" => &mut scope,
                "requested_lifetime" => &mut requested_lifetime,
                "requested_token_type" => &mut requested_token_type,
                "audience" => {
                    if !audiences.contains(&value) {
                        audiences.push(value);
                    }
                    continue;
                }
                "resource" => {
                    if !resources.contains(&value) {
                        resources.push(value);
                    }
                    continue;
                }
                _ => continue,
            };
            set_once(slot, &name, value)?;
        }
        let missing =
            |name: &str| ExchangeError::InvalidRequest(format!("parameter {name} is missing"));
        let subject_token = subject_token.ok_or_else(|| missing("subject_token"))?;
        let subject_token_type = subject_token_type.ok_or_else(|| missing("subject_token_type"))?;
        match (&actor_token, &actor_token_type) {
            (Some(_), None) => return Err(missing("actor_token_type")),
            (None, Some(_)) => {
                return Err(ExchangeError::InvalidRequest(
                    "actor_token_type is given without actor_token".into(),
                ))
            }
            _ => {}
        }
        let requested_lifetime = match requested_lifetime {
            None => None,
            Some(s) => Some(
                s.bytes()
                    .all(|b| b.is_ascii_digit())
                    .then(|| s.parse::<u64>().ok())
                    .flatten()
                    .ok_or_else(|| {
                        ExchangeError::InvalidRequest(
                            "requested_lifetime must be a number of seconds".into(),
                        )
                    })?,
            ),
        };
        let scope = match scope {
            None => None,
            Some(s) => {
                let mut list: Vec<String> = Vec::new();
                for item in s.split(' ').filter(|i| !i.is_empty()) {
                    if !is_scope_token(item) {
                        return Err(ExchangeError::InvalidScope(
                            "the scope parameter contains an invalid scope token".into(),
                        ));
                    }
                    if !list.iter().any(|x| x == item) {
                        list.push(item.to_owned());
                    }
                }
                Some(list)
            }
        };
        Ok(ExchangeRequest {
            grant_type,
            subject_token,
            subject_token_type,
            actor_token,
            actor_token_type,
            scope,
            audiences,
            resources,
            requested_lifetime,
            requested_token_type,
        })
    }
}

/// Limits a client-chosen string quoted in an error description.
fn quote(s: &str) -> String {
    let short: String = s.chars().take(100).collect();
    format!("'{short}'")
}

/// Applies the exchange rules (see the module docs (`src/exchange.rs`)) and returns the claims of
/// the token to issue, to be signed by the adapter.
///
/// `subject` and `actor` must already be verified (signature, issuer, audience and
/// time) by the [`Gate`](crate::Gate); `plan` still refuses an expired subject. `now`
/// is in unix seconds.
pub fn plan(
    req: &ExchangeRequest,
    subject: &Verified,
    actor: Option<&Verified>,
    cfg: &ExchangeConfig,
    now: UnixSeconds,
) -> Result<Claims, ExchangeError> {
    use ExchangeError as E;

    // The request.
    if req.grant_type != GRANT_TYPE {
        return Err(unsupported_grant_type());
    }
    if !is_token_type(&req.subject_token_type) {
        return Err(E::InvalidRequest(
            "subject_token_type must be an access token or a jwt".into(),
        ));
    }
    if let Some(t) = &req.actor_token_type {
        if !is_token_type(t) {
            return Err(E::InvalidRequest(
                "actor_token_type must be an access token or a jwt".into(),
            ));
        }
    }
    if let Some(t) = &req.requested_token_type {
        if t != TOKEN_TYPE_ACCESS_TOKEN {
            return Err(E::InvalidRequest(format!(
                "requested_token_type must be {TOKEN_TYPE_ACCESS_TOKEN}"
            )));
        }
    }

    // The actor.
    let actor_issuer = actor.map_or(&subject.principal.issuer, |a| &a.principal.issuer);
    let actor_id = match actor {
        Some(a) => {
            if a.principal.kind != Kind::Machine {
                return Err(E::UnauthorizedClient(
                    "the actor token must be a machine (client credentials) token".into(),
                ));
            }
            a.principal
                .client_id
                .clone()
                .unwrap_or_else(|| a.principal.subject.clone())
        }
        None if req.actor_token.is_some() => {
            return Err(E::InvalidRequest("the actor token was not verified".into()))
        }
        None if cfg.require_actor_token => {
            return Err(E::InvalidRequest("parameter actor_token is missing".into()))
        }
        None => subject.principal.client_id.clone().ok_or_else(|| {
            E::InvalidRequest(
                "parameter actor_token is missing and the subject token names no client".into(),
            )
        })?,
    };
    let actor_rule = cfg
        .actor(&actor_id)
        .filter(|r| r.accepts_issuer(actor_issuer, &cfg.issuer))
        .ok_or_else(|| {
            E::UnauthorizedClient(format!(
                "client {} may not exchange tokens",
                quote(&actor_id)
            ))
        })?;

    // The subject.
    let sp = &subject.principal;
    // `exp` is the claim as read (it may be negative); compare in the claim's type.
    let now_claim = i64::try_from(now).unwrap_or(i64::MAX);
    let remaining = match sp.expires_at {
        Some(exp) if exp <= now_claim => {
            return Err(E::InvalidGrant("the subject token has expired".into()))
        }
        Some(exp) => Some(exp.saturating_sub(now_claim)),
        None => None,
    };
    if sp.kind != Kind::User {
        return Err(E::InvalidGrant(
            "only user tokens can be exchanged (a machine can get its own token)".into(),
        ));
    }
    let prior_act = match subject.token.claims.get("act") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.clone()),
    };
    let depth = sp.actor.as_ref().map_or(0, |a| a.chain().len());
    if depth >= MAX_ACTOR_DEPTH {
        return Err(E::InvalidGrant(
            "the subject token's delegation chain is too long".into(),
        ));
    }

    // The target.
    let audience = match req.audiences.as_slice() {
        [one] => {
            if req.resources.iter().any(|r| r != one) {
                return Err(E::InvalidTarget(
                    "resource and audience name different targets".into(),
                ));
            }
            one
        }
        [] => match req.resources.as_slice() {
            [one] => one,
            [] => {
                return Err(E::InvalidTarget(
                    "an audience (or resource) is required".into(),
                ))
            }
            _ => {
                return Err(E::InvalidTarget(
                    "only one resource may be requested".into(),
                ))
            }
        },
        _ => {
            return Err(E::InvalidTarget(
                "only one audience may be requested".into(),
            ))
        }
    };
    let aud_rule = cfg.audience(audience).ok_or_else(|| {
        E::InvalidTarget(format!(
            "tokens are not issued for audience {}",
            quote(audience)
        ))
    })?;
    if !actor_rule.audiences.iter().any(|a| a == audience) {
        return Err(E::InvalidTarget(format!(
            "client {} may not request audience {}",
            quote(&actor_id),
            quote(audience)
        )));
    }

    // The scopes.
    let scopes: Vec<String> = match &req.scope {
        Some(requested) => {
            for s in requested {
                if !sp.has_scope(s) {
                    return Err(E::InvalidScope(format!(
                        "scope {} is not granted to the subject token",
                        quote(s)
                    )));
                }
                if !aud_rule.scopes.iter().any(|a| a == s) {
                    return Err(E::InvalidScope(format!(
                        "scope {} is not allowed for audience {}",
                        quote(s),
                        quote(audience)
                    )));
                }
            }
            requested.clone()
        }
        None => sp
            .scopes
            .iter()
            .filter(|s| aud_rule.scopes.contains(s))
            .cloned()
            .collect(),
    };
    if scopes.is_empty() {
        return Err(E::InvalidScope("no scope is left to issue".into()));
    }

    // The lifetime.
    let mut lifetime = req
        .requested_lifetime
        .unwrap_or(cfg.default_lifetime)
        .min(aud_rule.max_lifetime);
    // A delegated token (one that carries `act`, from any issuer, or one the edge
    // issued itself) never buys a longer life by being exchanged again: otherwise an
    // actor could renew a delegation forever without the user. `allow_beyond_subject`
    // applies to a first exchange only.
    let delegated = prior_act.is_some() || sp.issuer == cfg.issuer;
    if !aud_rule.allow_beyond_subject || delegated {
        if let Some(rem) = remaining {
            lifetime = lifetime.min(u64::try_from(rem).unwrap_or(0));
        }
    }
    if lifetime == 0 {
        return Err(E::InvalidGrant("no lifetime is left to issue".into()));
    }

    // The claims.
    let jti = crate::mint::random_id().map_err(|e| E::ServerError(e.to_string()))?;
    let mut act = serde_json::Map::new();
    act.insert("sub".into(), Value::String(actor_id.clone()));
    if let Some(prior) = prior_act {
        act.insert("act".into(), prior);
    }
    let mut claims = Claims::new();
    claims.insert("iss".into(), Value::String(cfg.issuer.clone()));
    claims.insert("sub".into(), Value::String(sp.subject.clone()));
    claims.insert("aud".into(), Value::String(audience.clone()));
    claims.insert("client_id".into(), Value::String(actor_id));
    claims.insert("scope".into(), Value::String(scopes.join(" ")));
    claims.insert("iat".into(), now.into());
    claims.insert("exp".into(), now.saturating_add(lifetime).into());
    claims.insert("jti".into(), Value::String(jti));
    claims.insert("act".into(), Value::Object(act));

    // The issued token must read as the same user acting through the actor. With the
    // default rules (a superset of any configured rule list, and no m2m claim is
    // issued) a user here is a user under every configuration.
    match classify(&claims, &ClassifyConfig::default()) {
        Ok(p) if p.kind == Kind::User && p.actor.is_some() => Ok(claims),
        _ => Err(E::InvalidGrant(
            "the subject cannot be represented as a user acting through this client".into(),
        )),
    }
}

/// The RFC 8693 §2.2.1 success body for a signed token and the claims it was signed
/// from: `access_token`, `issued_token_type` (access token), `token_type` (`Bearer`),
/// `expires_in` (`exp - iat`) and `scope`.
pub fn response_json(access_token: &str, claims: &Claims) -> String {
    let num = |name: &str| claims.get(name).and_then(Value::as_i64);
    let expires_in = match (num("exp"), num("iat")) {
        (Some(exp), Some(iat)) => exp.saturating_sub(iat).max(0),
        _ => 0,
    };
    let mut body = json!({
        "access_token": access_token,
        "issued_token_type": TOKEN_TYPE_ACCESS_TOKEN,
        "token_type": "Bearer",
        "expires_in": expires_in,
    });
    if let (Some(scope), Some(o)) = (
        claims.get("scope").and_then(Value::as_str),
        body.as_object_mut(),
    ) {
        o.insert("scope".into(), scope.into());
    }
    body.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_come_from_the_catalogue() {
        let d =
            crate::Deny::from_error(&ExchangeError::UnauthorizedClient("x".into()), "api", None);
        assert_eq!(
            (d.status, d.code, d.error),
            (401, "unauthorized_client", "unauthorized_client")
        );
        assert_eq!(d.www_authenticate.as_deref(), Some("Bearer realm=\"api\""));
        let d = crate::Deny::from_error(&ExchangeError::InvalidRequest("x".into()), "api", None);
        assert_eq!((d.status, d.www_authenticate), (400, None));
    }

    #[test]
    fn form_decoding() {
        assert_eq!(form_decode(b"a+b%20c%2Bd").unwrap(), "a b c+d");
        assert_eq!(form_decode(b"%C3%A9").unwrap(), "é");
        assert!(form_decode(b"%").is_err());
        assert!(form_decode(b"%4").is_err());
        assert!(form_decode(b"%zz").is_err());
        assert!(form_decode(b"%FF").is_err());
    }

    #[test]
    fn server_error_bodies_carry_no_detail() {
        let e = ExchangeError::ServerError("signing key \"k1\" failed: secret missing".into());
        let v: Value = serde_json::from_str(&e.body_json()).unwrap();
        assert_eq!(v["error"], "server_error");
        assert_eq!(
            v["error_description"],
            "the token service could not handle the request; see its logs"
        );
        assert!(
            e.to_string().contains("secret missing"),
            "the log keeps the detail"
        );
    }

    #[test]
    fn body_json_is_rfc_6749_safe() {
        let e = ExchangeError::InvalidScope("scope \"a\\b\" é".into());
        let v: Value = serde_json::from_str(&e.body_json()).unwrap();
        assert_eq!(v["error"], "invalid_scope");
        assert_eq!(v["error_description"], "scope 'ab' ");
    }
}
