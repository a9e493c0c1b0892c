//! The Worker's own settings: the `edge` section and `origin` of `TOKENGATE_CONFIG`.
//!
//! One schema ([`EdgeSettings`], unknown keys rejected) holds every setting only the
//! edge authorizer reads: where allowed requests go, what is forwarded, logging and
//! `Server-Timing`, and the cookie a token may come in. [`Settings::take`] cuts these
//! sections out of the configuration document and checks them, naming the bad field
//! (`edge.cookie`, `origin`); the core's `Config` then gets the rest.
//!
//! `edge.cookie` is here, not in the core, because the Worker is the one adapter that
//! reads a `Cookie` header: which cookie (if any) carries the token is its setting,
//! handed to the pipeline with the request's credentials
//! ([`TokenCookie`](tokengate::TokenCookie)); how a cookie is read, and that a
//! different token in the `Authorization` header is refused, stays the core's rule
//! ([`extract_token`](tokengate::extract_token)).
//!
//! One fetch timeout: the key and discovery fetch timeout is the core's
//! `jwks_cache.fetch_timeout_ms`, which both adapters use. `edge.fetch_timeout_ms`, the
//! Worker's name for it before, is still read as an alias of that key; giving both is a
//! configuration error, so neither is ever silently ignored.

use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use tokengate::ConfigError;

fn default_true() -> bool {
    true
}

/// The Worker's sections of the configuration document.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Settings {
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
    /// The alias of `jwks_cache.fetch_timeout_ms` (see the [module docs](self)); moved
    /// into the core's section by [`Settings::take`].
    #[serde(default)]
    pub fetch_timeout_ms: Option<u64>,
    /// The `Server-Timing` header on responses (default: none).
    #[serde(default, deserialize_with = "ServerTiming::deserialize_named")]
    pub server_timing: ServerTiming,
    /// Which requests get a log line (default: all).
    #[serde(default, deserialize_with = "LogLevel::deserialize_named")]
    pub log: LogLevel,
}

impl EdgeSettings {
    /// The name of the origin-secret header: the configured one, or
    /// [`DEFAULT_ORIGIN_SECRET_HEADER`](tokengate::headers::DEFAULT_ORIGIN_SECRET_HEADER).
    pub fn origin_secret_header(&self) -> &str {
        self.origin_secret_header
            .as_deref()
            .unwrap_or(tokengate::headers::DEFAULT_ORIGIN_SECRET_HEADER)
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

impl Settings {
    /// Removes `edge` and `origin` from the configuration document and checks them;
    /// `edge.fetch_timeout_ms` becomes the document's `jwks_cache.fetch_timeout_ms`.
    /// Errors name the field (`edge.log`, `origin`).
    pub fn take(config: &mut Value) -> Result<Settings, ConfigError> {
        let Some(doc) = config.as_object_mut() else {
            // Not an object: the core's schema says what is wrong with it.
            return Ok(Settings::default());
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
        Ok(Settings { origin, edge })
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
        Ok(())
    }
}

fn is_http_url(url: &str) -> bool {
    matches!(url.split_once("://"), Some(("http" | "https", rest)) if !rest.is_empty())
}
