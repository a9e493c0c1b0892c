//! The composed authorizer: configuration, verification, classification and policy.
//!
//! A [`Gate`] is built once from a [`Config`]. It is sans-IO: an adapter reads the
//! request, asks the gate what to do, fetches keys when told to, and carries out the
//! [`Decision`]. The usual flow is:
//!
//! 1. [`extract_token`] from the `Authorization` header and optional cookie;
//! 2. [`Gate::route`] (public routes need no token);
//! 3. [`Gate::peek`] (size cap, parse, issuer) to learn which issuer's keys are needed;
//! 4. [`Gate::verify`] with that issuer's [`KeySet`], through the [`TokenCache`];
//! 5. [`Gate::authorize`] the [`Principal`] for the route.

use crate::alg::{verify_signature, Alg};
use crate::classify::{classify, Principal};
use crate::config::Config;
use crate::jwk::{Key, KeySet};
use crate::policy::{Policy, PolicyError, RouteMatch};
use crate::token_cache::{TokenCache, TokenKey};
use crate::verify::{self, IssuerRules, Unverified, VerifiedToken};
use crate::{ConfigError, Deny, ErrorCode, RequestError, TokenError};

/// A verified, classified token: what the token cache holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    /// The verified token (header, claims, algorithm, key id).
    pub token: VerifiedToken,
    /// Its classification.
    pub principal: Principal,
}

/// A signature check owed by [`Gate::begin`]: verify the token's signing input and
/// signature with this key under this algorithm.
#[derive(Debug, Clone, Copy)]
pub struct SignatureCheck<'k> {
    /// The selected key (its `jwk` has the public members for WebCrypto).
    pub key: &'k Key,
    /// The algorithm, chosen from the key.
    pub alg: Alg,
    /// The token's verified-token cache key (its SHA-256), computed once.
    pub cache_key: TokenKey,
}

/// The outcome of [`Gate::begin`].
#[derive(Debug, Clone)]
pub enum Begin<'k> {
    /// The token was verified before with the same keys (the claims were rechecked).
    Cached(Box<Verified>),
    /// The signature must be checked, then [`Gate::complete`] called.
    Check(SignatureCheck<'k>),
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
}

impl Gate {
    /// Validates the configuration and builds the gate.
    pub fn new(config: Config) -> Result<Gate, ConfigError> {
        config.validate()?;
        let rules = config.issuers.iter().map(|i| i.rules()).collect();
        let policy = Policy::new(&config.policy_config())?;
        Ok(Gate {
            config,
            rules,
            policy,
        })
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

    /// Verifies and classifies a peeked token with its issuer's keys at `now` (unix
    /// seconds). A token already in `cache` for the same key-set `generation` skips the
    /// signature check; the claims' time checks are always redone.
    pub fn verify(
        &self,
        token: &str,
        unverified: &Unverified<'_>,
        keys: &KeySet,
        generation: u64,
        cache: &mut TokenCache<Verified>,
        now: i64,
    ) -> Result<Verified, TokenError> {
        match self.begin(token, unverified, keys, generation, cache, now)? {
            Begin::Cached(v) => Ok(*v),
            Begin::Check(check) => {
                let ok = verify_signature(
                    check.alg,
                    &check.key.material,
                    unverified.jws.signing_input.as_bytes(),
                    &unverified.jws.signature,
                );
                self.complete(unverified, &check, ok, generation, cache, now)
            }
        }
    }

    /// The first half of [`Gate::verify`] for hosts that check signatures themselves
    /// (WebCrypto): a cache hit, or the key and algorithm whose signature check is
    /// owed. The bytes to check are `unverified.jws.signing_input` and
    /// `unverified.jws.signature`.
    pub fn begin<'k>(
        &self,
        token: &str,
        unverified: &Unverified<'_>,
        keys: &'k KeySet,
        generation: u64,
        cache: &mut TokenCache<Verified>,
        now: i64,
    ) -> Result<Begin<'k>, TokenError> {
        let rules = self.rules_for(unverified)?;
        let now_u = u64::try_from(now).unwrap_or(0);
        // A disabled cache (capacity 0: the JS bindings keep results themselves) is
        // neither asked nor filled, so the token is not hashed for it.
        let cache_key = if cache.capacity() == 0 {
            TokenKey::UNUSED
        } else {
            TokenCache::<Verified>::key(token)
        };
        if let Some(hit) = cache.get(&cache_key, generation, now_u) {
            verify::validate_claims(&hit.token.claims, rules, self.config.leeway, now)?;
            return Ok(Begin::Cached(Box::new(hit)));
        }
        let (key, alg) = verify::select_key(unverified, keys, rules)?;
        Ok(Begin::Check(SignatureCheck {
            key,
            alg,
            cache_key,
        }))
    }

    /// The second half of [`Gate::verify`]: given whether the owed signature check
    /// passed, validates the claims, classifies and fills the cache.
    #[allow(clippy::too_many_arguments)]
    pub fn complete(
        &self,
        unverified: &Unverified<'_>,
        check: &SignatureCheck<'_>,
        signature_ok: bool,
        generation: u64,
        cache: &mut TokenCache<Verified>,
        now: i64,
    ) -> Result<Verified, TokenError> {
        if !signature_ok {
            return Err(TokenError::SignatureInvalid);
        }
        let rules = self.rules_for(unverified)?;
        let token_v = verify::finish(
            unverified,
            check.key,
            check.alg,
            rules,
            self.config.leeway,
            now,
        )?;
        let principal = classify(&token_v.claims, &self.config.classify)?;
        let verified = Verified {
            token: token_v,
            principal,
        };
        if let (Some(exp), true) = (verified.principal.expires_at, cache.capacity() > 0) {
            let until = u64::try_from(exp)
                .unwrap_or(0)
                .saturating_add(self.config.leeway);
            let now_u = u64::try_from(now).unwrap_or(0);
            cache.insert(check.cache_key, verified.clone(), until, generation, now_u);
        }
        Ok(verified)
    }

    /// Checks again, at `now`, the claims of a token verified earlier for issuer
    /// `issuer` (the time claims above all): what a token cache hit redoes. The caller
    /// also checks that the key set has not changed since.
    pub fn revalidate(
        &self,
        issuer: usize,
        verified: &Verified,
        now: i64,
    ) -> Result<(), TokenError> {
        let rules = self.rules.get(issuer).ok_or(TokenError::IssuerMismatch)?;
        verify::validate_claims(&verified.token.claims, rules, self.config.leeway, now)
    }

    fn rules_for(&self, unverified: &Unverified<'_>) -> Result<&IssuerRules, TokenError> {
        self.rules
            .get(unverified.issuer_index)
            .ok_or(TokenError::IssuerMismatch)
    }

    /// Applies the route's requirement to a principal.
    pub fn authorize(
        &self,
        route: &RouteMatch<'_>,
        principal: &Principal,
    ) -> Result<(), PolicyError> {
        self.policy.authorize(route, principal)
    }

    /// Turns any tokengate error into a denial with this gate's realm.
    pub fn deny(&self, err: &dyn ErrorCode, scope_hint: Option<&str>) -> Deny {
        Deny::from_error(err, &self.config.realm, scope_hint)
    }

    /// Turns a policy error into a denial (403 with `scope="..."` where it applies).
    pub fn deny_policy(&self, err: &PolicyError) -> Deny {
        let hint = err.scope_hint();
        self.deny(err, hint.as_deref())
    }

    /// The whole decision for a request whose keys are at hand: a convenience for
    /// callers with inline or already-fetched keys (tests, the JS `authorize`).
    ///
    /// `keys` is asked for the key set of the token's issuer (by index) and returns it
    /// with its generation, or the error that made keys unavailable.
    pub fn decide<F>(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        mut keys: F,
        cache: &mut TokenCache<Verified>,
        now: i64,
    ) -> Decision
    where
        F: FnMut(usize) -> Result<(KeySet, u64), crate::JwksError>,
    {
        let route = self.route(method, path);
        if route.rejected {
            return Decision::Deny(self.deny_policy(&PolicyError::PathRejected));
        }
        if route.public {
            return Decision::Public;
        }
        let Some(token) = token else {
            return Decision::Deny(self.deny(&RequestError::TokenMissing, None));
        };
        let unverified = match self.peek(token) {
            Ok(u) => u,
            Err(e) => return Decision::Deny(self.deny(&e, None)),
        };
        let (set, generation) = match keys(unverified.issuer_index) {
            Ok(k) => k,
            Err(e) => return Decision::Deny(self.deny(&e, None)),
        };
        let verified = match self.verify(token, &unverified, &set, generation, cache, now) {
            Ok(v) => v,
            Err(e) => return Decision::Deny(self.deny(&e, None)),
        };
        match self.authorize(&route, &verified.principal) {
            Ok(()) => Decision::Allow(Box::new(verified)),
            Err(e) => Decision::Deny(self.deny_policy(&e)),
        }
    }
}

/// Extracts the bearer token from an `Authorization` header value and/or a `Cookie`
/// header value (with the configured cookie name).
///
/// The scheme is case-insensitive. Two different tokens are an error; the same token
/// in both places is accepted. Returns `Ok(None)` when there is no token at all.
pub fn extract_token<'a>(
    authorization: Option<&'a str>,
    cookie_header: Option<&'a str>,
    cookie_name: Option<&str>,
) -> Result<Option<&'a str>, RequestError> {
    let from_header = match authorization {
        None => None,
        Some(v) => {
            let v = v.trim();
            let (scheme, rest) = v.split_once(' ').ok_or_else(|| {
                RequestError::BadAuthorization("expected \"Bearer <token>\"".into())
            })?;
            if !scheme.eq_ignore_ascii_case("bearer") {
                return Err(RequestError::BadAuthorization(
                    "the scheme must be Bearer".into(),
                ));
            }
            let t = rest.trim_start_matches(' ');
            if t.is_empty() || t.contains(char::is_whitespace) {
                return Err(RequestError::BadAuthorization(
                    "expected exactly one token after Bearer".into(),
                ));
            }
            Some(t)
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
        (Some(a), Some(b)) if a != b => Err(RequestError::MultipleTokens),
        (Some(a), _) => Ok(Some(a)),
        (None, b) => Ok(b),
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
