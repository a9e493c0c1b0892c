//! The compiled rules: configuration, per-issuer verification rules and route policy.
//!
//! A [`Gate`] is built once from a [`Config`] and answers the pipeline's
//! ([`Authenticator`](crate::Authenticator)) questions without any I/O: which route a
//! request takes ([`Gate::route`]), which issuer a token names ([`Gate::peek`], size cap
//! first), which key and algorithm it owes a signature check to ([`Gate::select_key`]),
//! whether its claims hold once the signature did ([`Gate::complete`], and
//! [`Gate::revalidate`] for a kept verification), whether a principal meets a route's
//! requirement ([`Gate::authorize`]) and what a refusal looks like on the wire
//! ([`Gate::deny`]). [`extract_token`] reads the token out of a request's headers.

use crate::alg::Alg;
use crate::classify::classify;
use crate::config::Config;
use crate::dpop::{DpopMode, DpopRules};
use crate::error::ChallengeParams;
use crate::jwk::{Key, KeySet};
use crate::policy::{Policy, PolicyError, RouteMatch};
use crate::resource_metadata::MetadataDefaults;
use crate::revocation::RevocationError;
pub use crate::verify::Verified;
use crate::verify::{self, IssuerRules, Unverified};
use crate::UnixSeconds;
use crate::{ConfigError, Deny, ErrorCode, JwksError, RequestError, SenderError, TokenError};

/// Why a request or a token was refused, by stage.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum AuthError {
    /// The request itself (no token, a malformed `Authorization` header, a path not in
    /// canonical form).
    Request(RequestError),
    /// The token (malformed, unknown issuer, bad signature, claims).
    Token(TokenError),
    /// The issuer's keys could not be had.
    Keys(JwksError),
    /// The route refused the principal.
    Policy(PolicyError),
    /// The sender was not proven (DPoP proof, client certificate).
    Sender(SenderError),
    /// The token was revoked, or the revocation store could not be read.
    Revocation(RevocationError),
    /// The configuration does not allow the decision (a client registry entry naming
    /// an undeclared rate-limit binding): refused, fail closed.
    Config(ConfigError),
}

impl AuthError {
    /// The denial to answer with (status, code, the challenges `gate`'s configuration
    /// calls for: RFC 6750 `Bearer`, RFC 9449 `DPoP`, RFC 9728 `resource_metadata`);
    /// a policy error carries its `scope="..."` hint, `use_dpop_nonce` its nonce.
    pub fn deny(&self, gate: &Gate) -> Deny {
        let hint = self.scope_hint();
        let mut deny = gate.deny(self, hint.as_deref());
        deny.dpop_nonce = self.dpop_nonce();
        deny
    }

    /// The denial with `realm` and a `Bearer` challenge only; a policy error carries
    /// its `scope="..."` hint.
    pub fn to_deny(&self, realm: &str) -> Deny {
        let hint = self.scope_hint();
        let mut deny = Deny::from_error(self, realm, hint.as_deref());
        deny.dpop_nonce = self.dpop_nonce();
        deny
    }

    /// The fresh nonce of a `use_dpop_nonce` error.
    pub fn dpop_nonce(&self) -> Option<String> {
        match self {
            AuthError::Sender(SenderError::UseNonce { nonce, .. }) => Some(nonce.clone()),
            _ => None,
        }
    }

    /// The stable code of the error.
    pub fn code(&self) -> &'static str {
        ErrorCode::code(self)
    }

    /// The `scope="..."` hint of a policy error ([`PolicyError::scope_hint`]).
    pub fn scope_hint(&self) -> Option<String> {
        match self {
            AuthError::Policy(e) => e.scope_hint(),
            _ => None,
        }
    }
}

impl ErrorCode for AuthError {
    fn info(&self) -> &'static crate::error::catalogue::CodeInfo {
        match self {
            AuthError::Request(e) => e.info(),
            AuthError::Token(e) => e.info(),
            AuthError::Keys(e) => e.info(),
            AuthError::Policy(e) => e.info(),
            AuthError::Sender(e) => e.info(),
            AuthError::Revocation(e) => e.info(),
            AuthError::Config(e) => e.info(),
        }
    }
}

impl std::fmt::Display for AuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuthError::Request(e) => e.fmt(f),
            AuthError::Token(e) => e.fmt(f),
            AuthError::Keys(e) => e.fmt(f),
            AuthError::Policy(e) => e.fmt(f),
            AuthError::Sender(e) => e.fmt(f),
            AuthError::Revocation(e) => e.fmt(f),
            AuthError::Config(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for AuthError {}

impl From<RequestError> for AuthError {
    fn from(e: RequestError) -> Self {
        AuthError::Request(e)
    }
}
impl From<TokenError> for AuthError {
    fn from(e: TokenError) -> Self {
        AuthError::Token(e)
    }
}
impl From<JwksError> for AuthError {
    fn from(e: JwksError) -> Self {
        AuthError::Keys(e)
    }
}
impl From<SenderError> for AuthError {
    fn from(e: SenderError) -> Self {
        AuthError::Sender(e)
    }
}
impl From<RevocationError> for AuthError {
    fn from(e: RevocationError) -> Self {
        AuthError::Revocation(e)
    }
}
impl From<PolicyError> for AuthError {
    fn from(e: PolicyError) -> Self {
        AuthError::Policy(e)
    }
}

/// A signature check owed to the pipeline: verify the token's signing input and
/// signature with this key under this algorithm (see
/// [`SignatureBackend`](crate::authenticator::SignatureBackend)).
#[derive(Debug, Clone, Copy)]
pub struct SignatureCheck<'k> {
    /// The selected key (its `jwk` has the public members for WebCrypto).
    pub key: &'k Key,
    /// The algorithm, chosen from the key.
    pub alg: Alg,
}

/// What to do with a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// A public route: forward without identity.
    Public,
    /// Allowed: forward with this identity.
    Allow(Box<Verified>),
    /// Denied: answer with this status, code and challenge.
    Deny(Deny),
}

/// The composed authorizer built from a [`Config`].
#[derive(Debug, Clone)]
pub struct Gate {
    config: Config,
    rules: Vec<IssuerRules>,
    policy: Policy,
    dpop: DpopRules,
    challenges: ChallengeParams,
    kept_claims: Vec<String>,
}

/// The rate limit one allowed request counts against ([`Gate::rate_limit`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimit {
    /// The Workers Rate Limiting binding.
    pub binding: String,
    /// Its period in seconds: the `Retry-After` when it says no.
    pub period: u32,
    /// The key to count under (`<issuer>|<key name>|<value>`).
    pub key: String,
}

impl RateLimit {
    /// The 429 denial when the binding says the key is over its limit.
    pub fn exceeded(&self) -> PolicyError {
        PolicyError::RateLimited {
            retry_after: self.period,
        }
    }

    /// The 503 denial when the binding could not be asked (`why` goes to the log).
    pub fn unavailable(&self, why: String) -> PolicyError {
        PolicyError::RateLimitUnavailable(why)
    }
}

impl Gate {
    /// Validates the configuration and builds the gate.
    pub fn new(config: Config) -> Result<Gate, ConfigError> {
        config.validate()?;
        let rules = config.issuers.iter().map(|i| i.rules()).collect();
        let policy = Policy::new(&config.policy_config())?;
        let dpop = DpopRules::new(config.dpop.as_ref(), config.leeway);
        let requires = |m: DpopMode| config.issuers.iter().any(|i| i.dpop == m);
        let constrained_route = config
            .routes
            .iter()
            .any(|r| r.require.as_ref().is_some_and(|q| q.sender_constrained));
        let advertise = config.dpop.is_some() || requires(DpopMode::Required) || constrained_route;
        let challenges = ChallengeParams {
            bearer: requires(DpopMode::Allowed),
            dpop_algs: advertise.then(|| dpop.algs()),
            resource_metadata: config.resource_metadata.as_ref().map(|m| m.metadata_url()),
        };
        let mut kept_claims: Vec<String> = Vec::new();
        let mut keep = |name: String| {
            if !kept_claims.contains(&name) {
                kept_claims.push(name);
            }
        };
        for r in &config.routes {
            for name in r.require.iter().flat_map(|q| q.claims.keys()) {
                keep(crate::rules::claim_root(name));
            }
            if let Some(rl) = &r.rate_limit {
                keep(crate::rules::claim_root(&rl.key));
            }
        }
        if config.revocation.is_some() {
            keep("jti".into());
        }
        for name in &config.keep_claims {
            keep(crate::rules::claim_root(name));
        }
        Ok(Gate {
            config,
            rules,
            policy,
            dpop,
            challenges,
            kept_claims,
        })
    }

    /// The compiled DPoP rules (the `dpop` section with its defaults, and the leeway).
    pub fn dpop_rules(&self) -> &DpopRules {
        &self.dpop
    }

    /// The challenges this gate's denials carry.
    pub fn challenges(&self) -> &ChallengeParams {
        &self.challenges
    }

    /// The RFC 9728 protected-resource metadata document, when `resource_metadata` is
    /// configured and `path` (without query) is its well-known path: the JSON body to
    /// serve (without a token, whatever the routes say, with
    /// `Access-Control-Allow-Origin: *`). The members the section leaves out come from
    /// the rest of the configuration: the issuers as `authorization_servers`, the DPoP
    /// algorithms, whether every issuer requires DPoP.
    pub fn resource_metadata(&self, path: &str) -> Option<String> {
        let m = self.config.resource_metadata.as_ref()?;
        if !m.serves(path) {
            return None;
        }
        Some(m.document_json(&self.metadata_defaults()))
    }

    /// What the metadata document says where its section is silent.
    pub fn metadata_defaults(&self) -> MetadataDefaults {
        let issuers = &self.config.issuers;
        MetadataDefaults {
            authorization_servers: issuers.iter().map(|i| i.issuer.clone()).collect(),
            dpop_signing_alg_values_supported: self
                .dpop
                .algorithms
                .iter()
                .map(|a| a.as_str().to_owned())
                .collect(),
            dpop_bound_access_tokens_required: issuers.iter().all(|i| i.dpop == DpopMode::Required),
            ..MetadataDefaults::default()
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The verification rules of each issuer, in configuration order.
    pub fn issuer_rules(&self) -> &[IssuerRules] {
        &self.rules
    }

    /// The compiled route policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Finds the route rule for a request (the path without query string).
    pub fn route(&self, method: &str, path: &str) -> RouteMatch<'_> {
        self.policy.route(method, path)
    }

    /// Parses a token and finds its issuer (size cap first). No keys are needed yet.
    pub fn peek<'a>(&self, token: &'a str) -> Result<Unverified<'a>, TokenError> {
        verify::peek(token, &self.rules, self.config.max_token_bytes)
    }

    /// The key and algorithm (chosen from the key) whose signature check a peeked
    /// token owes, from its issuer's key set.
    pub fn select_key<'k>(
        &self,
        unverified: &Unverified<'_>,
        keys: &'k KeySet,
    ) -> Result<SignatureCheck<'k>, TokenError> {
        let rules = self.rules_for(unverified)?;
        let (key, alg) = verify::select_key(unverified, keys, rules)?;
        Ok(SignatureCheck { key, alg })
    }

    /// Given whether the owed signature check passed, validates the claims at `now`
    /// (unix seconds) and classifies the token.
    pub fn complete(
        &self,
        unverified: &Unverified<'_>,
        check: &SignatureCheck<'_>,
        signature_ok: bool,
        now: UnixSeconds,
    ) -> Result<Verified, TokenError> {
        if !signature_ok {
            return Err(TokenError::SignatureInvalid);
        }
        let rules = self.rules_for(unverified)?;
        let token = verify::finish(
            unverified,
            check.key,
            check.alg,
            rules,
            self.config.leeway,
            now,
        )?;
        let principal = classify(&token.claims, &self.config.classify)?;
        Ok(Verified { token, principal })
    }

    /// Verifies a peeked token with keys at hand and the Rust signature backend, with no
    /// cache: [`Gate::select_key`], the signature, [`Gate::complete`]. The pipeline
    /// ([`Authenticator`](crate::Authenticator)) takes the same steps with its keys,
    /// its signature backend and its cache.
    pub fn verify_with(
        &self,
        unverified: &Unverified<'_>,
        keys: &KeySet,
        now: UnixSeconds,
    ) -> Result<Verified, TokenError> {
        let check = self.select_key(unverified, keys)?;
        let ok = crate::alg::verify_signature(
            check.alg,
            &check.key.material,
            unverified.jws.signing_input.as_bytes(),
            &unverified.jws.signature,
        );
        self.complete(unverified, &check, ok, now)
    }

    /// Checks again, at `now`, the claims of a token verified earlier for issuer
    /// `issuer` (the time claims above all): what a token cache hit redoes. The caller
    /// also checks that the key set has not changed since.
    pub fn revalidate(
        &self,
        issuer: usize,
        verified: &Verified,
        now: UnixSeconds,
    ) -> Result<(), TokenError> {
        let rules = self.rules.get(issuer).ok_or(TokenError::IssuerMismatch)?;
        verify::validate_claims(&verified.token.claims, rules, self.config.leeway, now)
    }

    /// `verified` (of issuer `issuer`) as a token cache keeps it: only what
    /// [`Gate::revalidate`] and the adapters read ([`Verified::for_reuse`]). `None` for
    /// an issuer index this gate does not have.
    pub fn for_reuse(&self, issuer: usize, verified: Verified) -> Option<Verified> {
        Some(verified.for_reuse(self.rules.get(issuer)?, &self.kept_claims))
    }

    /// The claims a token cache keeps besides those verification reads, because the
    /// gateway rules read them on every request: the top-level claims of the routes'
    /// claim rules and rate-limit keys, `jti` when revocation is on, and the adapter's
    /// own ([`Config::keep_claims`]: the Worker's claim headers).
    pub fn kept_claims(&self) -> &[String] {
        &self.kept_claims
    }

    fn rules_for(&self, unverified: &Unverified<'_>) -> Result<&IssuerRules, TokenError> {
        self.rules
            .get(unverified.issuer_index)
            .ok_or(TokenError::IssuerMismatch)
    }

    /// Applies the route's requirement to a verified token (its principal, and its
    /// claims for claim rules).
    pub fn authorize(&self, route: &RouteMatch<'_>, verified: &Verified) -> Result<(), AuthError> {
        if route.rejected {
            return Err(RequestError::PathRejected.into());
        }
        Ok(self
            .policy
            .authorize(route, &verified.principal, &verified.token.claims)?)
    }

    /// The rate limit a request allowed on `route` counts against, for the token
    /// `verified`: the binding (the client's own `tier`, a client-registry entry's
    /// `rate_limit_binding`, when given, else the route's), its period (the
    /// `Retry-After` of a 429) and the key. `Ok(None)`: the route has no rate limit.
    /// `Err`: the key's claim is missing (`claim_not_allowed`), or `tier` names a
    /// binding the configuration does not declare (`config_invalid`: fail closed).
    pub fn rate_limit(
        &self,
        route: &RouteMatch<'_>,
        verified: &Verified,
        tier: Option<&str>,
    ) -> Result<Option<RateLimit>, AuthError> {
        let Some(rule) = route
            .index
            .and_then(|i| self.policy.route_config(i))
            .and_then(|r| r.rate_limit.as_ref())
        else {
            return Ok(None);
        };
        let binding = tier.unwrap_or(&rule.binding);
        let Some(declared) = self.config.rate_limits.get(binding) else {
            return Err(AuthError::Config(ConfigError::invalid(
                "rate_limit_binding",
                format!("{binding:?} is not declared in rate_limits"),
            )));
        };
        let key = crate::rules::rate_limit_key(rule, &verified.principal, &verified.token.claims)
            .map_err(|name| PolicyError::ClaimNotAllowed(name.to_owned()))?;
        Ok(Some(RateLimit {
            binding: binding.to_owned(),
            period: declared.period,
            key,
        }))
    }

    /// Turns any tokengate error into a denial with this gate's realm and challenges.
    pub fn deny(&self, err: &dyn ErrorCode, scope_hint: Option<&str>) -> Deny {
        Deny::with_challenges(err, &self.config.realm, scope_hint, &self.challenges)
    }

    /// Turns a policy error into a denial (403 with `scope="..."` where it applies).
    pub fn deny_policy(&self, err: &PolicyError) -> Deny {
        let hint = err.scope_hint();
        self.deny(err, hint.as_deref())
    }
}

/// How a token was presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `Authorization: Bearer` (RFC 6750), or the token cookie.
    Bearer,
    /// `Authorization: DPoP` (RFC 9449 §7.1): a `DPoP` proof header must come with it.
    Dpop,
}

/// Extracts the token from an `Authorization` header value and/or a `Cookie`
/// header value (with the configured cookie name).
///
/// The scheme (`Bearer` or `DPoP`) is case-insensitive. Two different tokens are an
/// error; the same token in both places is accepted. Returns `Ok(None)` when there is
/// no token at all. See [`extract_presented`] for the scheme too.
pub fn extract_token<'a>(
    authorization: Option<&'a str>,
    cookie_header: Option<&'a str>,
    cookie_name: Option<&str>,
) -> Result<Option<&'a str>, RequestError> {
    Ok(extract_presented(authorization, cookie_header, cookie_name)?.map(|(t, _)| t))
}

/// As [`extract_token`], with the [`Scheme`] the token came with (a cookie counts as
/// `Bearer`).
pub fn extract_presented<'a>(
    authorization: Option<&'a str>,
    cookie_header: Option<&'a str>,
    cookie_name: Option<&str>,
) -> Result<Option<(&'a str, Scheme)>, RequestError> {
    let from_header = match authorization {
        None => None,
        Some(v) => {
            let v = v.trim();
            let (scheme, rest) = v.split_once(' ').ok_or_else(|| {
                RequestError::BadAuthorization("expected \"Bearer <token>\"".into())
            })?;
            let scheme = if scheme.eq_ignore_ascii_case("bearer") {
                Scheme::Bearer
            } else if scheme.eq_ignore_ascii_case("dpop") {
                Scheme::Dpop
            } else {
                return Err(RequestError::BadAuthorization(
                    "the scheme must be Bearer or DPoP".into(),
                ));
            };
            let t = rest.trim_start_matches(' ');
            if t.is_empty() || t.contains(char::is_whitespace) {
                return Err(RequestError::BadAuthorization(
                    "expected exactly one token after the scheme".into(),
                ));
            }
            Some((t, scheme))
        }
    };
    let from_cookie = match (cookie_header, cookie_name) {
        (Some(h), Some(name)) => {
            let mut found = None;
            for pair in h.split(';') {
                if let Some((k, v)) = pair.trim().split_once('=') {
                    if k.trim() == name {
                        let v = v.trim().trim_matches('"');
                        if found.is_some_and(|f| f != v) {
                            return Err(RequestError::MultipleTokens);
                        }
                        if !v.is_empty() {
                            found = Some(v);
                        }
                    }
                }
            }
            found
        }
        _ => None,
    };
    match (from_header, from_cookie) {
        (Some((a, _)), Some(b)) if a != b => Err(RequestError::MultipleTokens),
        (Some(a), _) => Ok(Some(a)),
        (None, b) => Ok(b.map(|t| (t, Scheme::Bearer))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_extraction() {
        assert_eq!(
            extract_token(Some("Bearer abc"), None, None),
            Ok(Some("abc"))
        );
        assert_eq!(
            extract_token(Some("bEaReR abc"), None, None),
            Ok(Some("abc"))
        );
        assert_eq!(extract_token(None, None, None), Ok(None));
        assert!(extract_token(Some("Basic abc"), None, None).is_err());
        assert!(extract_token(Some("Bearer"), None, None).is_err());
        assert!(extract_token(Some("Bearer a b"), None, None).is_err());
        assert_eq!(
            extract_token(None, Some("x=1; at=tok"), Some("at")),
            Ok(Some("tok"))
        );
        assert_eq!(
            extract_token(Some("Bearer tok"), Some("at=tok"), Some("at")),
            Ok(Some("tok"))
        );
        assert_eq!(
            extract_token(Some("Bearer a"), Some("at=b"), Some("at")),
            Err(RequestError::MultipleTokens)
        );
        assert_eq!(
            extract_token(None, Some("at=a; at=b"), Some("at")),
            Err(RequestError::MultipleTokens)
        );
    }
}
