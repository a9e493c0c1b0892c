//! The edge authorizer's configuration document, read without I/O: the Worker's own
//! sections (`edge` and `origin`) and, through [`Config`], everything else.
//!
//! One schema ([`EdgeSettings`], unknown keys rejected) holds every setting only the
//! edge authorizer reads: where allowed requests go, what is forwarded, logging and
//! `Server-Timing`, and the cookie a token may come in. [`WorkerSettings::take`] cuts
//! these sections out of the configuration document and checks them, naming the bad
//! field (`edge.cookie`, `origin`); the core's [`Config`] then gets the rest
//! ([`WorkerConfig::from_value`] does both, in that order).
//!
//! `edge.cookie` is an edge setting, not a [`Config`] field, because the Worker is the
//! one adapter that reads a `Cookie` header: which cookie (if any) carries the token is
//! its setting, handed to the pipeline with the request's credentials
//! ([`TokenCookie`](crate::TokenCookie)); how a cookie is read, and that a different
//! token in the `Authorization` header is refused, stays the core's rule
//! ([`extract_token`](crate::extract_token)).
//!
//! One fetch timeout: the key and discovery fetch timeout is the core's
//! `jwks_cache.fetch_timeout_ms`, which both adapters use. `edge.fetch_timeout_ms`, the
//! Worker's name for it before, is still read as an alias of that key; giving both is a
//! configuration error, so neither is ever silently ignored.
//!
//! The Worker reads its document in three steps: the JSON text
//! ([`parse_worker_document`]), the edge's own signing keys put inline into the
//! issuer the token exchange names ([`exchange_issuer`], [`inline_issuer_jwks`]; the
//! keys come from a secret, so this step is the Worker's I/O), then
//! [`WorkerConfig::from_value`]. [`check_worker_config`] is the same without secrets,
//! for tools (`tokengate check`): it puts a placeholder public key where the signing
//! keys would go, so an `exchange` section is checked as if the keys were present.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};
use serde_json::{json, Map, Value};

use crate::{Config, ConfigError};

fn default_true() -> bool {
    true
}

/// The Worker's sections of the configuration document.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WorkerSettings {
    /// Where allowed requests are forwarded (`origin`), unless a service named
    /// `ORIGIN` is bound; http(s).
    pub origin: Option<String>,
    /// The `edge` section.
    pub edge: EdgeSettings,
}

/// The `edge` section: settings used only by the edge authorizer.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeSettings {
    /// A cookie that may carry the token besides `Authorization: Bearer`.
    #[serde(default)]
    pub cookie: Option<String>,
    /// Whether the `Authorization` header is forwarded to the origin (default true).
    #[serde(default = "default_true")]
    pub forward_authorization: bool,
    /// The header carrying the origin shared secret (value from the Worker secret
    /// `TOKENGATE_ORIGIN_SECRET`), so the origin can refuse traffic that bypassed the
    /// Worker. Default `x-tokengate-secret` when the secret is set.
    #[serde(default)]
    pub origin_secret_header: Option<String>,
    /// Let CORS preflights (`OPTIONS` with `Access-Control-Request-Method`) through
    /// without a token (default false).
    #[serde(default)]
    pub cors_preflight_passthrough: bool,
    /// The Worker's older name of `jwks_cache.fetch_timeout_ms`, still read as an alias
    /// of it (giving both is an error); moved into the core's section by
    /// [`WorkerSettings::take`].
    #[serde(default)]
    pub fetch_timeout_ms: Option<u64>,
    /// The `Server-Timing` header on responses (default: none).
    #[serde(default, deserialize_with = "ServerTiming::deserialize_named")]
    pub server_timing: ServerTiming,
    /// Which requests get a log line (default: all).
    #[serde(default, deserialize_with = "LogLevel::deserialize_named")]
    pub log: LogLevel,
    /// Claims forwarded to the origin as headers: claim name (or JSON pointer) to
    /// header name, e.g. `{"org_id": "x-tokengate-org-id"}`. Values are encoded as the
    /// identity headers are ([`claim_header_value`](crate::claim_header_value)); an
    /// absent claim sends no header. Inbound headers an origin would read as one of
    /// these names are dropped, in every spelling.
    #[serde(default)]
    pub claim_headers: BTreeMap<String, String>,
}

impl EdgeSettings {
    /// The header names of `claim_headers`, lowercase (how the Worker sets them and
    /// reserves them inbound).
    pub fn claim_header_names(&self) -> Vec<String> {
        self.claim_headers
            .values()
            .map(|h| h.to_ascii_lowercase())
            .collect()
    }

    /// The name of the origin-secret header: the configured one, or
    /// [`DEFAULT_ORIGIN_SECRET_HEADER`](crate::headers::DEFAULT_ORIGIN_SECRET_HEADER).
    pub fn origin_secret_header(&self) -> &str {
        self.origin_secret_header
            .as_deref()
            .unwrap_or(crate::headers::DEFAULT_ORIGIN_SECRET_HEADER)
    }
}

impl Default for EdgeSettings {
    fn default() -> Self {
        EdgeSettings {
            cookie: None,
            forward_authorization: true,
            origin_secret_header: None,
            cors_preflight_passthrough: false,
            fetch_timeout_ms: None,
            server_timing: ServerTiming::Off,
            log: LogLevel::All,
            claim_headers: BTreeMap::new(),
        }
    }
}

/// What the edge tells clients in a `Server-Timing` header: `edge.server_timing`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerTiming {
    /// No header (the default): clients learn the decision, not the timings.
    #[default]
    Off,
    /// `tokengate;dur=<total ms>;desc="<decision>"`.
    Basic,
    /// Basic, plus the JWKS cache outcome (`jwks;desc="fetched"`) and the verify time
    /// (`verify;dur=`).
    Detail,
}

impl ServerTiming {
    fn deserialize_named<'de, D: Deserializer<'de>>(d: D) -> Result<ServerTiming, D::Error> {
        let v = Value::deserialize(d)?;
        ServerTiming::deserialize(&v)
            .map_err(|_| serde::de::Error::custom("must be \"off\", \"basic\" or \"detail\""))
    }
}

/// Which requests get a log line: `edge.log`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogLevel {
    /// Every request (the default).
    #[default]
    All,
    /// Requests tokengate refused or failed to serve: denials (including refused
    /// token exchanges), configuration and internal errors; and requests served with
    /// a stale key set.
    Denials,
    /// None.
    Off,
}

impl LogLevel {
    fn deserialize_named<'de, D: Deserializer<'de>>(d: D) -> Result<LogLevel, D::Error> {
        let v = Value::deserialize(d)?;
        LogLevel::deserialize(&v)
            .map_err(|_| serde::de::Error::custom("must be \"all\", \"denials\" or \"off\""))
    }
}

impl WorkerSettings {
    /// Removes `edge` and `origin` from the configuration document and checks them;
    /// `edge.fetch_timeout_ms` becomes the document's `jwks_cache.fetch_timeout_ms`.
    /// Errors name the field (`edge.log`, `origin`).
    pub fn take(config: &mut Value) -> Result<WorkerSettings, ConfigError> {
        let Some(doc) = config.as_object_mut() else {
            // Not an object: the core's schema says what is wrong with it.
            return Ok(WorkerSettings::default());
        };
        let edge = match doc.remove("edge") {
            None => EdgeSettings::default(),
            Some(Value::Object(section)) => EdgeSettings::parse(section)?,
            Some(_) => return Err(ConfigError::invalid("edge", "must be an object")),
        };
        let origin = match doc.remove("origin") {
            None | Some(Value::Null) => None,
            Some(Value::String(o)) if is_http_url(&o) => Some(o),
            Some(_) => {
                return Err(ConfigError::invalid(
                    "origin",
                    "must be an http:// or https:// url",
                ))
            }
        };
        if let Some(ms) = edge.fetch_timeout_ms {
            let jwks_cache = doc
                .entry("jwks_cache")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Some(section) = jwks_cache.as_object_mut() {
                if section.contains_key("fetch_timeout_ms") {
                    return Err(ConfigError::invalid(
                        "edge.fetch_timeout_ms",
                        "is an alias of jwks_cache.fetch_timeout_ms: give only jwks_cache.fetch_timeout_ms",
                    ));
                }
                section.insert("fetch_timeout_ms".into(), ms.into());
            }
        }
        Ok(WorkerSettings { origin, edge })
    }
}

impl EdgeSettings {
    /// Parses and checks the `edge` section.
    fn parse(section: Map<String, Value>) -> Result<EdgeSettings, ConfigError> {
        // Each key alone against the schema (every field has a default), so that an
        // error names the key it is about.
        for (key, value) in &section {
            let one = Value::Object(Map::from_iter([(key.clone(), value.clone())]));
            EdgeSettings::deserialize(one)
                .map_err(|e| ConfigError::invalid(format!("edge.{key}"), e.to_string()))?;
        }
        let edge = EdgeSettings::deserialize(Value::Object(section))
            .map_err(|e| ConfigError::invalid("edge", e.to_string()))?;
        edge.validate()?;
        Ok(edge)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if let Some(ms) = self.fetch_timeout_ms {
            if ms == 0 || ms > 60_000 {
                return Err(ConfigError::invalid(
                    "edge.fetch_timeout_ms",
                    "must be between 1 and 60000",
                ));
            }
        }
        if let Some(c) = &self.cookie {
            if c.is_empty()
                || !c
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && !b"=;,\"".contains(&b))
            {
                return Err(ConfigError::invalid(
                    "edge.cookie",
                    "is not a valid cookie name",
                ));
            }
        }
        if let Some(h) = &self.origin_secret_header {
            if h.is_empty() || !h.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                return Err(ConfigError::invalid(
                    "edge.origin_secret_header",
                    "is not a valid header name",
                ));
            }
        }
        self.validate_claim_headers()
    }

    fn validate_claim_headers(&self) -> Result<(), ConfigError> {
        use crate::headers::{
            normalize_name, CLAIM_HEADER_FORBIDDEN, IDENTITY_HEADERS, METHOD_OVERRIDE_HEADERS,
        };
        let mut seen: Vec<String> = Vec::new();
        for (claim, header) in &self.claim_headers {
            let at = format!("edge.claim_headers.{claim}");
            crate::rules::validate_claim_name(claim, &at)?;
            if !crate::headers::is_token(header) {
                return Err(ConfigError::invalid(
                    at,
                    format!("{header:?} is not a valid header name"),
                ));
            }
            let n = normalize_name(header);
            let collides = IDENTITY_HEADERS.contains(&n.as_str())
                || CLAIM_HEADER_FORBIDDEN.contains(&n.as_str())
                || METHOD_OVERRIDE_HEADERS.contains(&n.as_str())
                || n == normalize_name(self.origin_secret_header());
            if collides {
                return Err(ConfigError::invalid(
                    at,
                    format!(
                        "{header:?} is an identity header, the origin-secret header, a method override, \
                         authorization or a hop-by-hop header: choose another name"
                    ),
                ));
            }
            if seen.contains(&n) {
                return Err(ConfigError::invalid(
                    at,
                    format!("{header:?} is already the header of another claim"),
                ));
            }
            seen.push(n);
        }
        Ok(())
    }
}

fn is_http_url(url: &str) -> bool {
    matches!(url.split_once("://"), Some(("http" | "https", rest)) if !rest.is_empty())
}

/// The Worker's configuration document, read: its own settings and the core's
/// [`Config`] of the rest.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerConfig {
    /// The `edge` and `origin` sections.
    pub settings: WorkerSettings,
    /// Everything else, validated.
    pub config: Config,
}

impl WorkerConfig {
    /// Reads a configuration document (after any keys were put inline with
    /// [`inline_issuer_jwks`]): the Worker's sections out first, checked against their
    /// schema ([`WorkerSettings::take`]), then the rest through [`Config::from_value`].
    /// The error names the first bad field.
    pub fn from_value(mut document: Value) -> Result<WorkerConfig, ConfigError> {
        let settings = WorkerSettings::take(&mut document)?;
        let mut config = Config::from_value(document)?;
        // The claim headers are read from every verified token, cache hits included:
        // the token cache keeps their claims.
        config.keep_claims = settings.edge.claim_headers.keys().cloned().collect();
        Ok(WorkerConfig { settings, config })
    }
}

/// The JSON text of a configuration document (`TOKENGATE_CONFIG`) as a value; the
/// error is the JSON parser's, lowercased ([`ConfigError::from_json_error`]).
pub fn parse_worker_document(text: &str) -> Result<Value, ConfigError> {
    serde_json::from_str(text).map_err(|e| ConfigError::from_json_error(&e))
}

/// The edge's own issuer, `exchange.issuer`, when the document has a token exchange
/// whose issuer is a string: the issuer whose keys are the edge's signing keys.
pub fn exchange_issuer(document: &Value) -> Option<&str> {
    document
        .get("exchange")
        .and_then(|e| e.get("issuer"))
        .and_then(Value::as_str)
}

/// Points every entry of `issuers` whose `issuer` is `issuer` at the key set `jwks`
/// (inline, so nothing is fetched): its `jwks_uri` is removed and `jwks` set. Entries
/// that are not objects, and documents without an `issuers` array, are left as they
/// are (the schema check reports them).
pub fn inline_issuer_jwks(document: &mut Value, issuer: &str, jwks: &Value) {
    if let Some(issuers) = document.get_mut("issuers").and_then(Value::as_array_mut) {
        for iss in issuers {
            if iss.get("issuer").and_then(Value::as_str) == Some(issuer) {
                if let Some(o) = iss.as_object_mut() {
                    o.remove("jwks_uri");
                    o.insert("jwks".into(), jwks.clone());
                }
            }
        }
    }
}

/// A public P-256 key (RFC 7515, appendix A.3) that [`check_worker_config`] puts where
/// the edge's signing keys go: any valid key serves, since a check has no secrets.
fn placeholder_signing_jwks() -> Value {
    json!({"keys": [{
        "kty": "EC", "crv": "P-256", "kid": "tokengate-check-placeholder",
        "alg": "ES256", "use": "sig",
        "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
        "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
    }]})
}

/// What [`check_worker_config`] found in a valid configuration document.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerConfigSummary {
    /// The trusted issuers (`iss` values), in order.
    pub issuers: Vec<String>,
    /// The number of routes.
    pub routes: usize,
    /// The `origin`, when set.
    pub origin: Option<String>,
    /// The token exchange's own issuer, when the document has an `exchange` section:
    /// its signing keys (the `TOKENGATE_SIGNING_KEYS` secret) were assumed present.
    pub exchange_issuer: Option<String>,
    /// The names of the secrets the document refers to (`issuers[].shared_secret`),
    /// which a check cannot see.
    pub secrets: Vec<String>,
}

/// Checks a whole Worker configuration document (the `TOKENGATE_CONFIG` JSON text) the
/// way the Worker reads it, without I/O and without secrets: the JSON, the edge's
/// sections and the core's schema and rules ([`WorkerConfig::from_value`]). Where the
/// Worker puts its signing keys into the exchange's own issuer
/// ([`inline_issuer_jwks`]), this puts a placeholder public key, so an `exchange`
/// section is checked as if the `TOKENGATE_SIGNING_KEYS` secret were set (whether
/// that secret holds valid keys is not checked). Shared secrets
/// (`issuers[].shared_secret`) are named, not read. The demo issuer of the demo
/// environment needs nothing injected (discovery from it passes the URL rule). The
/// error names the first bad field.
pub fn check_worker_config(json: &str) -> Result<WorkerConfigSummary, ConfigError> {
    let mut document = parse_worker_document(json)?;
    let own = exchange_issuer(&document).map(str::to_owned);
    if let Some(iss) = &own {
        inline_issuer_jwks(&mut document, iss, &placeholder_signing_jwks());
    }
    let WorkerConfig { settings, config } = WorkerConfig::from_value(document)?;
    Ok(WorkerConfigSummary {
        issuers: config.issuers.iter().map(|i| i.issuer.clone()).collect(),
        routes: config.routes.len(),
        origin: settings.origin,
        exchange_issuer: own.filter(|_| config.exchange.is_some()),
        secrets: config
            .issuers
            .iter()
            .filter_map(|i| i.shared_secret.clone())
            .collect(),
    })
}
