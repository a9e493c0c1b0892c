//! The one configuration struct, as JSON with snake_case keys (unknown keys rejected),
//! validated up front with messages that name the bad field.
//!
//! It is the schema the Worker reads from its `TOKENGATE_CONFIG` var:
//!
//! ```
//! let cfg = tokengate::Config::from_json(r#"{
//!   "issuers": [{"issuer": "https://tenant.auth0.com/",
//!                "audiences": ["https://api.example.com"],
//!                "jwks_uri": "https://tenant.auth0.com/.well-known/jwks.json"}],
//!   "origin": "https://api.internal.example.com",
//!   "routes": [
//!     {"path": "/admin/*", "methods": ["POST", "DELETE"], "require": {"kinds": ["machine"]}},
//!     {"path": "/builds/*", "require": {"scopes_any": ["read:builds"]}},
//!     {"path": "/health", "public": true}
//!   ]
//! }"#).unwrap();
//! assert_eq!(cfg.leeway, 60);
//! ```

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::alg::Alg;
use crate::classify::ClassifyConfig;
use crate::dpop::{DpopConfig, DpopMode};
use crate::exchange::ExchangeConfig;
pub use crate::fetch_url::check_fetch_url;
use crate::jwk::KeySet;
use crate::jwks_cache::JwksCacheConfig;
use crate::jws::DEFAULT_MAX_TOKEN_BYTES;
use crate::policy::{DefaultRule, PolicyConfig, RouteConfig};
use crate::resource_metadata::ResourceMetadataConfig;
use crate::revocation::RevocationConfig;
use crate::rules::RateLimitBindings;
use crate::verify::IssuerRules;
use crate::ConfigError;
use std::collections::BTreeMap;

fn default_true() -> bool {
    true
}
/// The default clock-skew leeway in seconds ([`Config::leeway`]).
pub const DEFAULT_LEEWAY: u64 = 60;
/// The largest clock-skew leeway a configuration may set, in seconds.
pub const MAX_LEEWAY: u64 = 3600;

fn default_leeway() -> u64 {
    DEFAULT_LEEWAY
}
fn default_max_token_bytes() -> usize {
    DEFAULT_MAX_TOKEN_BYTES
}
fn default_token_cache_size() -> usize {
    4096
}
fn default_realm() -> String {
    "tokengate".into()
}

/// One trusted token issuer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerConfig {
    /// The exact `iss` value, e.g. `https://tenant.auth0.com/`.
    pub issuer: String,
    /// Accepted audiences (at least one).
    pub audiences: Vec<String>,
    /// Where the JWKS is; when absent (and no `jwks` or shared secret is given), OIDC
    /// discovery from `{issuer}/.well-known/openid-configuration`. Must be https except
    /// for loopback hosts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// An inline JWKS (no fetching).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<Value>,
    /// The name of the secret (a Worker secret, or an option in JS) holding the shared
    /// HMAC key, base64url-encoded, for an issuer that signs with HS256/384/512. Such an
    /// issuer has no public keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_secret: Option<String>,
    /// Allowed algorithms; default: all asymmetric ones (HS* only with `shared_secret`,
    /// where the default is HS256/384/512).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithms: Option<Vec<Alg>>,
    /// Required `typ` header (e.g. `at+jwt`), compared case-insensitively.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_typ: Option<String>,
    /// Whether `exp` is required (default true).
    #[serde(default = "default_true")]
    pub require_exp: bool,
    /// Maximum token age in seconds from `iat`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<u64>,
    /// Claims that must be present.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_claims: Vec<String>,
    /// Whether this issuer's tokens may (`allowed`, the default) or must (`required`)
    /// be DPoP-bound (RFC 9449). A DPoP-bound token is never accepted as a bearer
    /// token, whatever this says.
    #[serde(default, skip_serializing_if = "is_default")]
    pub dpop: DpopMode,
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

impl IssuerConfig {
    /// The verification rules of this issuer.
    pub fn rules(&self) -> IssuerRules {
        let default_algs = if self.shared_secret.is_some() {
            vec![Alg::HS256, Alg::HS384, Alg::HS512]
        } else {
            Alg::ASYMMETRIC.to_vec()
        };
        IssuerRules {
            issuer: self.issuer.clone(),
            audiences: self.audiences.clone(),
            algorithms: self.algorithms.clone().unwrap_or(default_algs),
            required_typ: self.required_typ.clone(),
            require_exp: self.require_exp,
            max_age: self.max_age,
            required_claims: self.required_claims.clone(),
        }
    }

    /// Where to get keys from: inline, a JWKS URL, discovery, or a shared secret.
    pub fn key_source(&self) -> KeySource {
        if let Some(name) = &self.shared_secret {
            KeySource::SharedSecret(name.clone())
        } else if let Some(jwks) = &self.jwks {
            KeySource::Inline(jwks.clone())
        } else if let Some(uri) = &self.jwks_uri {
            KeySource::JwksUri(uri.clone())
        } else {
            KeySource::Discovery(discovery_url(&self.issuer))
        }
    }
}

/// Where an issuer's keys come from.
#[derive(Debug, Clone, PartialEq)]
pub enum KeySource {
    /// An inline JWKS from the configuration.
    Inline(Value),
    /// A JWKS URL to fetch.
    JwksUri(String),
    /// The OIDC discovery document URL, whose `jwks_uri` is then fetched.
    Discovery(String),
    /// The name of a secret holding a base64url HMAC key.
    SharedSecret(String),
}

/// The OIDC discovery URL of an issuer (`{issuer}/.well-known/openid-configuration`).
pub fn discovery_url(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    )
}

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Trusted issuers (at least one).
    pub issuers: Vec<IssuerConfig>,
    /// The edge authorizer's `origin` (where allowed requests go), kept as written and
    /// never read here: see [`edge`](Config::edge).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Value>,
    /// Route rules, first match wins.
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
    /// What a request matching no route requires: `deny` (default) or `any_valid_token`.
    #[serde(default)]
    pub unmatched: DefaultRule,
    /// Whether a granted scope `read:*` satisfies a required `read:builds`.
    #[serde(default)]
    pub wildcard_scopes: bool,
    /// The `realm` in `WWW-Authenticate` challenges.
    #[serde(default = "default_realm")]
    pub realm: String,
    /// Clock-skew leeway in seconds for `exp`, `nbf` and `iat` (default 60).
    #[serde(default = "default_leeway")]
    pub leeway: u64,
    /// Size cap for a token, in bytes, checked before parsing (default 16384).
    #[serde(default = "default_max_token_bytes")]
    pub max_token_bytes: usize,
    /// Classification rules.
    #[serde(default)]
    pub classify: ClassifyConfig,
    /// JWKS cache policy.
    #[serde(default)]
    pub jwks_cache: JwksCacheConfig,
    /// Entries in the verified-token cache (0 disables it; default 4096).
    #[serde(default = "default_token_cache_size")]
    pub token_cache_size: usize,
    /// The edge authorizer's own settings (`edge.cookie`, `edge.log`, ...), kept as
    /// written and never read here. One `TOKENGATE_CONFIG` document serves every adapter,
    /// so the core accepts the Worker's sections (`edge`, `origin`); the Worker takes them
    /// out of the document and checks them against their own schema
    /// ([`WorkerSettings`](crate::WorkerSettings)) before the core sees the rest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edge: Option<Value>,
    /// RFC 8693 token exchange at the edge; disabled when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange: Option<ExchangeConfig>,
    /// How DPoP proofs are checked (RFC 9449): proof age, nonces, the public base URL.
    /// DPoP-bound tokens are accepted with their proofs without it (with the defaults);
    /// with it, 401 challenges advertise DPoP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop: Option<DpopConfig>,
    /// RFC 9728 protected-resource metadata, served at its well-known path and named in
    /// 401 challenges (`resource_metadata="..."`); not served when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_metadata: Option<ResourceMetadataConfig>,
    /// The Workers Rate Limiting bindings routes may count against (`rate_limit`), by
    /// binding name, with their periods (10 or 60 s, as in wrangler.toml).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rate_limits: RateLimitBindings,
    /// Checking every token against the revocation store (the Worker's `REVOKED` KV
    /// namespace, the npm package's `revocation` option); off when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation: Option<RevocationConfig>,
    /// Claims (names or JSON pointers) an adapter reads from every verified token
    /// besides those the rules read, which a token cache must therefore keep: the
    /// Worker puts its `edge.claim_headers` here. Not part of the document.
    #[serde(skip)]
    pub keep_claims: Vec<String>,
}

impl Config {
    /// Parses and validates a JSON configuration.
    pub fn from_json(json: &str) -> Result<Config, ConfigError> {
        let cfg: Config =
            serde_json::from_str(json).map_err(|e| ConfigError::from_json_error(&e))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Parses and validates a configuration given as a JSON value.
    pub fn from_value(value: Value) -> Result<Config, ConfigError> {
        let cfg: Config =
            serde_json::from_value(value).map_err(|e| ConfigError::from_json_error(&e))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// The policy part of the configuration.
    pub fn policy_config(&self) -> PolicyConfig {
        PolicyConfig {
            routes: self.routes.clone(),
            default: self.unmatched.clone(),
            wildcard_scopes: self.wildcard_scopes,
            realm: self.realm.clone(),
        }
    }

    /// Checks every field; the error names the first bad one.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.issuers.is_empty() {
            return Err(ConfigError::invalid(
                "issuers",
                "at least one issuer is required",
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for (i, iss) in self.issuers.iter().enumerate() {
            let at = |f: &str| format!("issuers[{i}].{f}");
            if iss.issuer.is_empty() {
                return Err(ConfigError::invalid(at("issuer"), "must not be empty"));
            }
            if !seen.insert(iss.issuer.as_str()) {
                return Err(ConfigError::invalid(at("issuer"), "is listed twice"));
            }
            if iss.audiences.is_empty() || iss.audiences.iter().any(String::is_empty) {
                return Err(ConfigError::invalid(
                    at("audiences"),
                    "at least one non-empty audience is required",
                ));
            }
            let sources = [
                iss.jwks_uri.is_some(),
                iss.jwks.is_some(),
                iss.shared_secret.is_some(),
            ];
            if sources.iter().filter(|s| **s).count() > 1 {
                return Err(ConfigError::invalid(
                    at("jwks_uri"),
                    "give only one of jwks_uri, jwks and shared_secret",
                ));
            }
            if let Some(uri) = &iss.jwks_uri {
                check_fetch_url(uri).map_err(|why| ConfigError::invalid(at("jwks_uri"), why))?;
            }
            if iss.jwks_uri.is_none() && iss.jwks.is_none() && iss.shared_secret.is_none() {
                check_fetch_url(&discovery_url(&iss.issuer)).map_err(|why| {
                    ConfigError::invalid(
                        at("issuer"),
                        format!("discovery from this issuer is not possible: {why}"),
                    )
                })?;
            }
            if let Some(jwks) = &iss.jwks {
                KeySet::from_value(jwks)
                    .map_err(|e| ConfigError::invalid(at("jwks"), e.to_string()))?;
            }
            let rules = iss.rules();
            if rules.algorithms.is_empty() {
                return Err(ConfigError::invalid(at("algorithms"), "must not be empty"));
            }
            let hmac = rules.algorithms.iter().any(|a| a.is_hmac());
            if iss.shared_secret.is_some() && rules.algorithms.iter().any(|a| !a.is_hmac()) {
                return Err(ConfigError::invalid(
                    at("algorithms"),
                    "an issuer with a shared secret may only use HS256, HS384 or HS512",
                ));
            }
            if iss.shared_secret.is_none() && hmac {
                return Err(ConfigError::invalid(
                    at("algorithms"),
                    "HS* algorithms need a shared_secret and are never mixed with public keys",
                ));
            }
            if let Some(name) = &iss.shared_secret {
                if name.is_empty() {
                    return Err(ConfigError::invalid(
                        at("shared_secret"),
                        "must name a secret",
                    ));
                }
            }
        }
        if self.max_token_bytes < 64 || self.max_token_bytes > 1024 * 1024 {
            return Err(ConfigError::invalid(
                "max_token_bytes",
                "must be between 64 and 1048576",
            ));
        }
        if self.leeway > MAX_LEEWAY {
            return Err(ConfigError::invalid(
                "leeway",
                "must be at most 3600 seconds",
            ));
        }
        if self.token_cache_size > 1_000_000 {
            return Err(ConfigError::invalid(
                "token_cache_size",
                "must be at most 1000000",
            ));
        }
        self.jwks_cache.validate()?;
        if let Some(d) = &self.dpop {
            d.validate("dpop.")?;
        }
        crate::rules::validate_rate_limit_bindings(&self.rate_limits)?;
        for (i, r) in self.routes.iter().enumerate() {
            if let Some(rule) = &r.rate_limit {
                crate::rules::validate_rate_limit_rule(
                    rule,
                    r.public,
                    &self.rate_limits,
                    &format!("routes[{i}].rate_limit"),
                )?;
            }
        }
        if let Some(r) = &self.revocation {
            r.validate()?;
        }
        if let Some(m) = &self.resource_metadata {
            m.validate("resource_metadata")?;
        }
        self.classify.validate("classify.")?;
        if let Some(ex) = &self.exchange {
            ex.validate("exchange.")?;
            let issuers: Vec<&str> = self.issuers.iter().map(|i| i.issuer.as_str()).collect();
            ex.validate_issuers("exchange.", &issuers)?;
        }
        crate::policy::Policy::new(&self.policy_config())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: &str = r#"{"issuers":[{"issuer":"https://t.auth0.com/","audiences":["api"]}]}"#;

    #[test]
    fn minimal_config_has_defaults() {
        let c = Config::from_json(MIN).unwrap();
        assert_eq!(c.max_token_bytes, 16384);
        assert_eq!(c.leeway, 60);
        assert_eq!(
            c.issuers[0].key_source(),
            KeySource::Discovery("https://t.auth0.com/.well-known/openid-configuration".into())
        );
    }

    #[test]
    fn errors_name_the_field() {
        let e = |j: &str| Config::from_json(j).unwrap_err().to_string();
        assert!(e(r#"{"issuers":[]}"#).contains("issuers"));
        assert!(
            e(r#"{"issuers":[{"issuer":"https://a/","audiences":["x"]}],"bogus":1}"#)
                .contains("bogus")
        );
        assert!(e(r#"{"issuers":[{"issuer":"https://a/","audiences":["x"],"jwks_uri":"http://evil.example/jwks"}]}"#)
            .contains("issuers[0].jwks_uri"));
        assert!(e(
            r#"{"issuers":[{"issuer":"https://a/","audiences":["x"],"algorithms":["HS256"]}]}"#
        )
        .contains("issuers[0].algorithms"));
        assert!(e(r#"{"issuers":[{"issuer":"https://a/","audiences":[]}]}"#)
            .contains("issuers[0].audiences"));
    }

    #[test]
    fn the_workers_sections_are_accepted_and_not_read() {
        // Whatever the Worker's `edge` and `origin` hold, valid for it or not, the core
        // neither checks nor interprets it (the Worker does, with its own schema).
        for (edge, origin) in [
            (
                r#"{"cookie":"at","log":"denials","server_timing":"detail"}"#,
                r#""https://o/""#,
            ),
            (r#"{"bogus":1,"fetch_timeout_ms":0}"#, r#""ftp://x""#),
            ("null", "7"),
        ] {
            let json = format!(
                r#"{{"issuers":[{{"issuer":"https://t.auth0.com/","audiences":["api"]}}],"edge":{edge},"origin":{origin}}}"#
            );
            let c = Config::from_json(&json).unwrap_or_else(|e| panic!("{json}: {e}"));
            let want = |s: &str| {
                let v: Value = serde_json::from_str(s).unwrap();
                (!v.is_null()).then_some(v)
            };
            assert_eq!(c.edge, want(edge));
            assert_eq!(c.origin, want(origin));
            let mut without = c.clone();
            without.edge = None;
            without.origin = None;
            assert_eq!(without, Config::from_json(MIN).unwrap());
        }
    }
}
