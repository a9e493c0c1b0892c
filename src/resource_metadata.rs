//! OAuth 2.0 Protected Resource Metadata (RFC 9728): the JSON document a protected
//! resource publishes under `/.well-known/oauth-protected-resource`, and the
//! `resource_metadata` attribute of its `WWW-Authenticate` challenge that points
//! clients to it.
//!
//! Sans-IO like the rest of the core: [`ResourceMetadataConfig`] is the configured
//! section (validated up front, unknown keys rejected), and it answers which request
//! path serves the document ([`serves`](ResourceMetadataConfig::serves)), the
//! document itself ([`document_json`](ResourceMetadataConfig::document_json), sent as
//! `application/json`) and the URL a challenge names
//! ([`metadata_url`](ResourceMetadataConfig::metadata_url), quoted by
//! [`challenge_attribute`]). What the configuration leaves out is filled from
//! [`MetadataDefaults`], which the caller derives from the rest of its configuration
//! (the configured issuers, the DPoP algorithms it verifies).
//!
//! ```
//! # use tokengate::{challenge_attribute, MetadataDefaults, ResourceMetadataConfig};
//! let cfg: ResourceMetadataConfig =
//!     serde_json::from_str(r#"{"resource": "https://api.example.com/v1"}"#).unwrap();
//! cfg.validate("resource_metadata").unwrap();
//! assert_eq!(cfg.well_known_path(), "/.well-known/oauth-protected-resource/v1");
//! assert!(cfg.serves("/.well-known/oauth-protected-resource/v1"));
//! assert_eq!(
//!     challenge_attribute(&cfg.metadata_url()),
//!     r#"resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/v1""#
//! );
//! let defaults = MetadataDefaults {
//!     authorization_servers: vec!["https://tenant.auth0.com/".into()],
//!     ..MetadataDefaults::default()
//! };
//! assert_eq!(
//!     cfg.document_json(&defaults),
//!     r#"{"resource":"https://api.example.com/v1","authorization_servers":["https://tenant.auth0.com/"],"bearer_methods_supported":["header"]}"#
//! );
//! ```

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::alg::Alg;
pub use crate::error::challenge_attribute;
use crate::fetch_url::check_fetch_url;
use crate::ConfigError;

/// The well-known path of protected resource metadata (RFC 9728 §3): served as it is
/// for a resource without a path, with the resource's path appended otherwise.
pub const WELL_KNOWN_PATH: &str = "/.well-known/oauth-protected-resource";

/// The `bearer_methods_supported` values RFC 9728 §2 defines (RFC 6750 §2.1 to §2.3).
const BEARER_METHODS: [&str; 3] = ["header", "body", "query"];

/// The `resource_metadata` section of a configuration: the members of the RFC 9728 §2
/// metadata document, under the same snake_case names.
///
/// Unknown keys are rejected (a misspelt member fails instead of being left out of the
/// document), so members this type does not know cannot be published either. Members
/// left out are filled from [`MetadataDefaults`] where the caller has one, and are
/// otherwise absent from the document. Call [`validate`](Self::validate) before using
/// it: the other methods assume a valid `resource`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceMetadataConfig {
    /// The resource identifier: an absolute `https` URL (`http` only on a loopback
    /// host) without query or fragment (RFC 9728 §1.2), in the form a URL parser
    /// writes it (lowercase host, no default port, no dot segments), because clients
    /// compare the document's `resource` with the URL they requested (RFC 9728 §3.3).
    pub resource: String,
    /// Issuer identifiers of the authorization servers whose tokens the resource
    /// accepts; default: [`MetadataDefaults::authorization_servers`] (the configured
    /// issuers). Given, it must not be empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_servers: Option<Vec<String>>,
    /// Scope values used in authorization requests for this resource (RFC 6749 §3.3
    /// scope tokens); absent by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes_supported: Option<Vec<String>>,
    /// How a bearer token may be presented: `"header"`, `"body"` or `"query"`
    /// (RFC 6750 §2); default: [`MetadataDefaults::bearer_methods_supported`]. An empty
    /// list says that no bearer method is supported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_methods_supported: Option<Vec<String>>,
    /// A human-readable name of the resource; absent by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_name: Option<String>,
    /// An absolute `http(s)` URL of the resource's developer documentation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_documentation: Option<String>,
    /// An absolute `http(s)` URL of the resource's policy on the use of its data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_policy_uri: Option<String>,
    /// An absolute `http(s)` URL of the resource's terms of service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_tos_uri: Option<String>,
    /// Whether the resource supports mutual-TLS certificate-bound access tokens
    /// (RFC 8705); absent by default (which means `false`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_certificate_bound_access_tokens: Option<bool>,
    /// The JWS algorithms accepted for DPoP proofs (RFC 9449): asymmetric algorithms
    /// tokengate knows (`RS256` ... `EdDSA`, no `HS*`); default:
    /// [`MetadataDefaults::dpop_signing_alg_values_supported`]. Given, it must not be
    /// empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_signing_alg_values_supported: Option<Vec<String>>,
    /// Whether the resource always requires DPoP-bound access tokens (RFC 9449);
    /// default: [`MetadataDefaults::dpop_bound_access_tokens_required`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_bound_access_tokens_required: Option<bool>,
}

/// The values a caller derives from the rest of its configuration, for the members a
/// [`ResourceMetadataConfig`] leaves out.
///
/// A default that is empty (or `false`) leaves its member out of the document, which
/// RFC 9728 reads the same way; a member the configuration gives is always published
/// as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataDefaults {
    /// The issuer identifiers of the configured issuers.
    pub authorization_servers: Vec<String>,
    /// The DPoP proof algorithms the resource verifies (empty without DPoP support).
    pub dpop_signing_alg_values_supported: Vec<String>,
    /// Whether the resource requires DPoP-bound tokens.
    pub dpop_bound_access_tokens_required: bool,
    /// How the resource reads bearer tokens.
    pub bearer_methods_supported: Vec<String>,
}

impl Default for MetadataDefaults {
    /// No authorization servers, no DPoP, and `bearer_methods_supported: ["header"]`
    /// (the `Authorization` header, RFC 6750 §2.1).
    fn default() -> Self {
        MetadataDefaults {
            authorization_servers: Vec::new(),
            dpop_signing_alg_values_supported: Vec::new(),
            dpop_bound_access_tokens_required: false,
            bearer_methods_supported: vec!["header".into()],
        }
    }
}

impl ResourceMetadataConfig {
    /// A configuration with only the `resource` identifier; every other member comes
    /// from the [`MetadataDefaults`] or is absent.
    pub fn new(resource: impl Into<String>) -> Self {
        ResourceMetadataConfig {
            resource: resource.into(),
            authorization_servers: None,
            scopes_supported: None,
            bearer_methods_supported: None,
            resource_name: None,
            resource_documentation: None,
            resource_policy_uri: None,
            resource_tos_uri: None,
            tls_client_certificate_bound_access_tokens: None,
            dpop_signing_alg_values_supported: None,
            dpop_bound_access_tokens_required: None,
        }
    }

    /// Checks every member; the error names the first bad field under `prefix` (the
    /// section's own path, e.g. `resource_metadata` gives
    /// `resource_metadata.resource`; an empty prefix gives `resource`).
    pub fn validate(&self, prefix: &str) -> Result<(), ConfigError> {
        let at = |f: &str| {
            if prefix.is_empty() {
                f.to_string()
            } else {
                format!("{prefix}.{f}")
            }
        };
        check_resource(&self.resource).map_err(|why| ConfigError::invalid(at("resource"), why))?;
        if let Some(servers) = &self.authorization_servers {
            check_list(servers, &at("authorization_servers"), false, check_issuer)?;
        }
        if let Some(scopes) = &self.scopes_supported {
            check_list(scopes, &at("scopes_supported"), true, check_scope)?;
        }
        if let Some(methods) = &self.bearer_methods_supported {
            check_list(methods, &at("bearer_methods_supported"), true, |m| {
                if m == "header" {
                    Ok(())
                } else if BEARER_METHODS.contains(&m) {
                    // Publishing a method the edge does not read would send clients
                    // into refusals: tokengate reads the Authorization header only.
                    Err(format!(
                        "{m:?} is a bearer method tokengate does not accept (only \"header\")"
                    ))
                } else {
                    Err(format!(
                        "{m:?} is not a bearer method (use \"header\", \"body\" or \"query\")"
                    ))
                }
            })?;
        }
        if let Some(name) = &self.resource_name {
            if name.trim().is_empty() || name.chars().any(char::is_control) {
                return Err(ConfigError::invalid(
                    at("resource_name"),
                    "must be a non-empty name without control characters",
                ));
            }
        }
        for (field, url) in [
            ("resource_documentation", &self.resource_documentation),
            ("resource_policy_uri", &self.resource_policy_uri),
            ("resource_tos_uri", &self.resource_tos_uri),
        ] {
            if let Some(url) = url {
                check_web_url(url).map_err(|why| ConfigError::invalid(at(field), why))?;
            }
        }
        if let Some(algs) = &self.dpop_signing_alg_values_supported {
            check_list(
                algs,
                &at("dpop_signing_alg_values_supported"),
                false,
                |a| match a.parse::<Alg>() {
                    Ok(alg) if !alg.is_hmac() => Ok(()),
                    Ok(_) => Err(format!(
                        "{a:?} is a symmetric algorithm, which DPoP proofs must not use"
                    )),
                    Err(why) => Err(why),
                },
            )?;
        }
        Ok(())
    }

    /// The request path the document is served at (RFC 9728 §3.1): [`WELL_KNOWN_PATH`]
    /// inserted between the host and the path of the resource identifier, the path
    /// kept as given (a trailing slash too). A resource without a path, or with the
    /// bare `/`, gives [`WELL_KNOWN_PATH`] itself.
    ///
    /// `https://api.example.com` and `https://api.example.com/` give
    /// `/.well-known/oauth-protected-resource`; `https://api.example.com:8443/v1/`
    /// gives `/.well-known/oauth-protected-resource/v1/`.
    pub fn well_known_path(&self) -> String {
        let (_, path) = split_resource(&self.resource);
        if path.is_empty() || path == "/" {
            WELL_KNOWN_PATH.to_string()
        } else {
            format!("{WELL_KNOWN_PATH}{path}")
        }
    }

    /// The absolute URL of the document: the resource's scheme and authority (port
    /// included) followed by [`well_known_path`](Self::well_known_path). It is the
    /// value of the challenge's `resource_metadata` attribute ([`challenge_attribute`]).
    pub fn metadata_url(&self) -> String {
        let (origin, _) = split_resource(&self.resource);
        format!("{origin}{}", self.well_known_path())
    }

    /// Whether a request path (without its query string) is the one the document is
    /// served at.
    ///
    /// The comparison is exact, byte for byte, with
    /// [`well_known_path`](Self::well_known_path): another spelling of it (a trailing
    /// slash added or removed, a percent-encoded character, a different case of a
    /// percent-escape's hex digits, dot segments) is not served, so that exactly one
    /// path answers and it is the one the challenge names. A resource with a path is
    /// served only at the suffixed path (clients build that one, RFC 9728 §3.1), never
    /// at the bare [`WELL_KNOWN_PATH`].
    pub fn serves(&self, path: &str) -> bool {
        path == self.well_known_path()
    }

    /// The metadata document as a JSON object: `resource`, then the members given by
    /// the configuration or, where it leaves them out, by `defaults` (an empty or
    /// `false` default is left out), in the order of RFC 9728 §2.
    ///
    /// A [`Value`] object keeps no order (its keys come out sorted); use
    /// [`document_json`](Self::document_json) for the body, which keeps `resource`
    /// first.
    pub fn document(&self, defaults: &MetadataDefaults) -> Value {
        Value::Object(
            self.members(defaults)
                .into_iter()
                .map(|(name, value)| (name.to_string(), value))
                .collect::<Map<_, _>>(),
        )
    }

    /// The metadata document as compact JSON text, members in the order of RFC 9728
    /// §2 with `resource` first: the body of the `application/json` answer at
    /// [`well_known_path`](Self::well_known_path).
    pub fn document_json(&self, defaults: &MetadataDefaults) -> String {
        let mut out = String::from("{");
        for (i, (name, value)) in self.members(defaults).into_iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&Value::from(name).to_string());
            out.push(':');
            out.push_str(&value.to_string());
        }
        out.push('}');
        out
    }

    /// The members of the document, in RFC 9728 §2 order.
    fn members(&self, defaults: &MetadataDefaults) -> Vec<(&'static str, Value)> {
        fn list(given: &Option<Vec<String>>, default: &[String]) -> Option<Value> {
            match given {
                Some(v) => Some(Value::from(v.clone())),
                None if default.is_empty() => None,
                None => Some(Value::from(default.to_vec())),
            }
        }
        let text = |v: &Option<String>| v.as_ref().map(|s| Value::from(s.as_str()));
        let dpop_required = match self.dpop_bound_access_tokens_required {
            Some(b) => Some(Value::Bool(b)),
            None => defaults
                .dpop_bound_access_tokens_required
                .then_some(Value::Bool(true)),
        };
        let members = [
            ("resource", Some(Value::from(self.resource.as_str()))),
            (
                "authorization_servers",
                list(&self.authorization_servers, &defaults.authorization_servers),
            ),
            ("scopes_supported", list(&self.scopes_supported, &[])),
            (
                "bearer_methods_supported",
                list(
                    &self.bearer_methods_supported,
                    &defaults.bearer_methods_supported,
                ),
            ),
            ("resource_name", text(&self.resource_name)),
            ("resource_documentation", text(&self.resource_documentation)),
            ("resource_policy_uri", text(&self.resource_policy_uri)),
            ("resource_tos_uri", text(&self.resource_tos_uri)),
            (
                "tls_client_certificate_bound_access_tokens",
                self.tls_client_certificate_bound_access_tokens
                    .map(Value::Bool),
            ),
            (
                "dpop_signing_alg_values_supported",
                list(
                    &self.dpop_signing_alg_values_supported,
                    &defaults.dpop_signing_alg_values_supported,
                ),
            ),
            ("dpop_bound_access_tokens_required", dpop_required),
        ];
        members
            .into_iter()
            .filter_map(|(name, value)| value.map(|v| (name, v)))
            .collect()
    }
}

/// Splits a resource identifier into its `scheme://authority` and its path (empty
/// when it has none); a query or fragment, which a valid resource has not, is cut off.
fn split_resource(resource: &str) -> (&str, &str) {
    let start = resource.find("://").map_or(0, |i| i + 3);
    let end = resource[start..]
        .find(['/', '?', '#'])
        .map_or(resource.len(), |i| start + i);
    let path_end = resource[end..]
        .find(['?', '#'])
        .map_or(resource.len(), |i| end + i);
    (&resource[..end], &resource[end..path_end])
}

/// The resource identifier rules (RFC 9728 §1.2), plus the canonical spelling clients
/// compare against (RFC 9728 §3.3).
fn check_resource(url: &str) -> Result<(), String> {
    check_fetch_url(url)?;
    if url.contains('#') {
        return Err("must not have a fragment (RFC 9728 §1.2)".into());
    }
    if url.contains('?') {
        return Err("must not have a query (RFC 9728 §1.2)".into());
    }
    let (origin, path) = split_resource(url);
    let (scheme, authority) = origin.split_once("://").unwrap_or(("", origin));
    if authority.chars().any(|c| c.is_ascii_uppercase()) {
        return Err("write the host in lowercase, as clients' URL parsers do".into());
    }
    // The port, after an IPv6 literal's `]` or after the host's only `:`.
    let port = match authority.rsplit_once(']') {
        Some((_, after)) => after.strip_prefix(':'),
        None => authority.split_once(':').map(|(_, p)| p),
    };
    if let Some(port) = port {
        let default = if scheme == "https" { "443" } else { "80" };
        match port.parse::<u16>() {
            Ok(p) if p.to_string() == port && port != default => {}
            Ok(_) if port == default => {
                return Err(format!(
                    "leave out the default port :{default} (clients' URL parsers drop it)"
                ))
            }
            _ => return Err(format!("has an invalid port {port:?}")),
        }
    }
    check_resource_path(path)
}

/// A path clients keep as it is: RFC 3986 `pchar`s and `/`, well-formed
/// percent-escapes, no `.` or `..` segment (URL parsers resolve those away).
fn check_resource_path(path: &str) -> Result<(), String> {
    if path.split('/').any(|s| s == "." || s == "..") {
        return Err("the path must not have '.' or '..' segments".into());
    }
    let bytes = path.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        let ok = match b {
            b'%' => bytes
                .get(i + 1..i + 3)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)),
            b'/' | b':' | b'@' | b'-' | b'.' | b'_' | b'~' => true,
            b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'=' => true,
            _ => b.is_ascii_alphanumeric(),
        };
        if !ok {
            return Err(format!(
                "the path {path:?} has a character URL parsers rewrite (percent-encode it as %XX)"
            ));
        }
    }
    Ok(())
}

/// An authorization server's issuer identifier (RFC 8414 §2): https (http on a
/// loopback host), no query or fragment.
fn check_issuer(url: &str) -> Result<(), String> {
    check_fetch_url(url)?;
    if url.contains(['?', '#']) {
        return Err(format!(
            "{url:?} is not an issuer identifier (it has a query or fragment)"
        ));
    }
    Ok(())
}

/// An RFC 6749 §3.3 scope token: one or more of `%x21 / %x23-5B / %x5D-7E`.
fn check_scope(scope: &str) -> Result<(), String> {
    if scope.is_empty()
        || !scope
            .bytes()
            .all(|b| matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E))
    {
        return Err(format!(
            "{scope:?} is not a scope token (printable ASCII without space, '\"' or '\\')"
        ));
    }
    Ok(())
}

/// A URL for people to open: absolute http(s) with a host, no credentials, nothing a
/// URL parser would strip or rewrite (whitespace, control characters, backslash).
fn check_web_url(url: &str) -> Result<(), String> {
    if url.contains('\\') || url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(format!(
            "{url:?} contains whitespace, control characters or a backslash"
        ));
    }
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("{url:?} is not an absolute url"))?;
    if scheme != "https" && scheme != "http" {
        return Err(format!("scheme {scheme:?} is not allowed (use https)"));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return Err("must not contain credentials".into());
    }
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.split(':').next().unwrap_or(""),
    };
    if host.is_empty() {
        return Err(format!("{url:?} has no host"));
    }
    Ok(())
}

/// Checks each entry of a list with `check`, and that no entry is listed twice; an
/// empty list is refused unless `empty_ok`.
fn check_list(
    list: &[String],
    field: &str,
    empty_ok: bool,
    check: impl Fn(&str) -> Result<(), String>,
) -> Result<(), ConfigError> {
    if list.is_empty() && !empty_ok {
        return Err(ConfigError::invalid(
            field,
            "must not be empty (leave it out for the default)",
        ));
    }
    for (i, item) in list.iter().enumerate() {
        check(item).map_err(|why| ConfigError::invalid(format!("{field}[{i}]"), why))?;
        if list[..i].contains(item) {
            return Err(ConfigError::invalid(
                format!("{field}[{i}]"),
                format!("{item:?} is listed twice"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cfg(resource: &str) -> ResourceMetadataConfig {
        ResourceMetadataConfig::new(resource)
    }

    fn field_of(e: ConfigError) -> String {
        match e {
            ConfigError::Invalid { field, .. } => field,
            other => panic!("expected an invalid field, got {other:?}"),
        }
    }

    fn bad(c: &ResourceMetadataConfig) -> (String, String) {
        match c.validate("resource_metadata") {
            Err(ConfigError::Invalid { field, why }) => (field, why),
            other => panic!("{c:?} must be refused, got {other:?}"),
        }
    }

    #[test]
    fn the_path_is_inserted_after_the_host() {
        for (resource, path, url) in [
            (
                "https://api.example.com",
                "/.well-known/oauth-protected-resource",
                "https://api.example.com/.well-known/oauth-protected-resource",
            ),
            (
                "https://api.example.com/",
                "/.well-known/oauth-protected-resource",
                "https://api.example.com/.well-known/oauth-protected-resource",
            ),
            (
                "https://api.example.com/v1",
                "/.well-known/oauth-protected-resource/v1",
                "https://api.example.com/.well-known/oauth-protected-resource/v1",
            ),
            (
                "https://api.example.com/v1/",
                "/.well-known/oauth-protected-resource/v1/",
                "https://api.example.com/.well-known/oauth-protected-resource/v1/",
            ),
            (
                "https://api.example.com:8443/a/b%2Fc",
                "/.well-known/oauth-protected-resource/a/b%2Fc",
                "https://api.example.com:8443/.well-known/oauth-protected-resource/a/b%2Fc",
            ),
            (
                "http://localhost:8787",
                "/.well-known/oauth-protected-resource",
                "http://localhost:8787/.well-known/oauth-protected-resource",
            ),
            (
                "http://[::1]:9000/api",
                "/.well-known/oauth-protected-resource/api",
                "http://[::1]:9000/.well-known/oauth-protected-resource/api",
            ),
        ] {
            let c = cfg(resource);
            assert_eq!(c.validate("resource_metadata"), Ok(()), "{resource}");
            assert_eq!(c.well_known_path(), path, "{resource}");
            assert_eq!(c.metadata_url(), url, "{resource}");
            assert!(c.serves(path), "{resource}");
        }
    }

    #[test]
    fn only_the_exact_path_is_served() {
        let root = cfg("https://api.example.com");
        assert!(root.serves("/.well-known/oauth-protected-resource"));
        assert!(!root.serves("/.well-known/oauth-protected-resource/"));
        assert!(!root.serves("/.well-known/oauth-protected-resource%2F"));
        assert!(!root.serves("/.well-known/OAUTH-protected-resource"));
        assert!(!root.serves("/.well-known/oauth-authorization-server"));

        let v1 = cfg("https://api.example.com/v1");
        assert!(v1.serves("/.well-known/oauth-protected-resource/v1"));
        // Not the bare path, nor another spelling of the suffixed one.
        assert!(!v1.serves("/.well-known/oauth-protected-resource"));
        assert!(!v1.serves("/.well-known/oauth-protected-resource/v1/"));
        assert!(!v1.serves("/.well-known/oauth-protected-resource/%76%31"));
        assert!(!v1.serves("/.well-known/oauth-protected-resource/x/../v1"));
        assert!(!v1.serves("/v1/.well-known/oauth-protected-resource"));

        let slash = cfg("https://api.example.com/v1/");
        assert!(slash.serves("/.well-known/oauth-protected-resource/v1/"));
        assert!(!slash.serves("/.well-known/oauth-protected-resource/v1"));

        let escaped = cfg("https://api.example.com/a%2fb");
        assert!(escaped.serves("/.well-known/oauth-protected-resource/a%2fb"));
        assert!(!escaped.serves("/.well-known/oauth-protected-resource/a%2Fb"));
    }

    #[test]
    fn resource_must_be_an_https_url_without_query_or_fragment() {
        for (resource, why) in [
            ("http://api.example.com/", "https"),
            ("http://10.0.0.1/", "https"),
            ("https://api.example.com/?tenant=a", "query"),
            ("https://api.example.com?", "query"),
            ("https://api.example.com/#top", "fragment"),
            ("https://api.example.com#", "fragment"),
            ("/v1", "absolute"),
            ("api.example.com/v1", "absolute"),
            ("", "absolute"),
            ("https://", "no host"),
            ("ftp://api.example.com/", "scheme"),
            ("https://user@api.example.com/", "credentials"),
            ("https://API.example.com/", "lowercase"),
            ("https://api.example.com:443/", "default port"),
            ("http://localhost:80/", "default port"),
            ("https://api.example.com:/", "port"),
            ("https://api.example.com:08443/", "port"),
            ("https://api.example.com:70000/", "port"),
            ("https://api.example.com/a/../b", "segments"),
            ("https://api.example.com/./b", "segments"),
            ("https://api.example.com/a b", "whitespace"),
            ("https://api.example.com/caf\u{e9}", "rewrite"),
            ("https://api.example.com/a%2", "rewrite"),
            ("https://api.example.com/a\"b", "rewrite"),
            ("https://api.example.com\\v1", "backslash"),
        ] {
            let (field, message) = bad(&cfg(resource));
            assert_eq!(field, "resource_metadata.resource", "{resource}");
            assert!(message.contains(why), "{resource}: {message}");
        }
        for ok in [
            "https://api.example.com",
            "https://api.example.com:8443/v1/",
            "http://127.0.0.1:8787/",
            "http://localhost/",
            "http://[::1]/",
            "https://api.example.com/a;b=c/@x:y/~z",
        ] {
            assert_eq!(cfg(ok).validate("resource_metadata"), Ok(()), "{ok}");
        }
    }

    #[test]
    fn errors_name_the_field_under_the_prefix() {
        let c = cfg("http://api.example.com/");
        assert_eq!(field_of(c.validate("").unwrap_err()), "resource");
        assert_eq!(
            field_of(c.validate("edge.resource_metadata").unwrap_err()),
            "edge.resource_metadata.resource"
        );
        let e = c.validate("resource_metadata").unwrap_err().to_string();
        assert!(
            e.starts_with("invalid configuration: resource_metadata.resource: "),
            "{e}"
        );
    }

    #[test]
    fn members_are_checked() {
        let base = || cfg("https://api.example.com");
        let cases: Vec<(ResourceMetadataConfig, &str, &str)> = vec![
            (
                ResourceMetadataConfig {
                    authorization_servers: Some(vec![]),
                    ..base()
                },
                "resource_metadata.authorization_servers",
                "must not be empty",
            ),
            (
                ResourceMetadataConfig {
                    authorization_servers: Some(vec!["http://idp.example.com/".into()]),
                    ..base()
                },
                "resource_metadata.authorization_servers[0]",
                "https",
            ),
            (
                ResourceMetadataConfig {
                    authorization_servers: Some(vec![
                        "https://idp.example.com/".into(),
                        "https://idp.example.com/?x=1".into(),
                    ]),
                    ..base()
                },
                "resource_metadata.authorization_servers[1]",
                "query",
            ),
            (
                ResourceMetadataConfig {
                    authorization_servers: Some(vec![
                        "https://idp.example.com/".into(),
                        "https://idp.example.com/".into(),
                    ]),
                    ..base()
                },
                "resource_metadata.authorization_servers[1]",
                "listed twice",
            ),
            (
                ResourceMetadataConfig {
                    bearer_methods_supported: Some(vec!["header".into(), "cookie".into()]),
                    ..base()
                },
                "resource_metadata.bearer_methods_supported[1]",
                "not a bearer method",
            ),
            (
                ResourceMetadataConfig {
                    bearer_methods_supported: Some(vec!["Header".into()]),
                    ..base()
                },
                "resource_metadata.bearer_methods_supported[0]",
                "not a bearer method",
            ),
            (
                ResourceMetadataConfig {
                    bearer_methods_supported: Some(vec!["header".into(), "header".into()]),
                    ..base()
                },
                "resource_metadata.bearer_methods_supported[1]",
                "listed twice",
            ),
            (
                ResourceMetadataConfig {
                    scopes_supported: Some(vec!["read write".into()]),
                    ..base()
                },
                "resource_metadata.scopes_supported[0]",
                "scope token",
            ),
            (
                ResourceMetadataConfig {
                    scopes_supported: Some(vec!["".into()]),
                    ..base()
                },
                "resource_metadata.scopes_supported[0]",
                "scope token",
            ),
            (
                ResourceMetadataConfig {
                    dpop_signing_alg_values_supported: Some(vec![]),
                    ..base()
                },
                "resource_metadata.dpop_signing_alg_values_supported",
                "must not be empty",
            ),
            (
                ResourceMetadataConfig {
                    dpop_signing_alg_values_supported: Some(vec!["ES256".into(), "HS256".into()]),
                    ..base()
                },
                "resource_metadata.dpop_signing_alg_values_supported[1]",
                "symmetric",
            ),
            (
                ResourceMetadataConfig {
                    dpop_signing_alg_values_supported: Some(vec!["none".into()]),
                    ..base()
                },
                "resource_metadata.dpop_signing_alg_values_supported[0]",
                "unsupported",
            ),
            (
                ResourceMetadataConfig {
                    resource_name: Some(" ".into()),
                    ..base()
                },
                "resource_metadata.resource_name",
                "non-empty",
            ),
            (
                ResourceMetadataConfig {
                    resource_documentation: Some("docs.example.com".into()),
                    ..base()
                },
                "resource_metadata.resource_documentation",
                "absolute",
            ),
            (
                ResourceMetadataConfig {
                    resource_policy_uri: Some("javascript://alert(1)".into()),
                    ..base()
                },
                "resource_metadata.resource_policy_uri",
                "scheme",
            ),
            (
                ResourceMetadataConfig {
                    resource_tos_uri: Some("https:///tos".into()),
                    ..base()
                },
                "resource_metadata.resource_tos_uri",
                "no host",
            ),
        ];
        for (c, field, why) in cases {
            let (f, message) = bad(&c);
            assert_eq!(f, field, "{c:?}");
            assert!(message.contains(why), "{field}: {message}");
        }
        let full = ResourceMetadataConfig {
            authorization_servers: Some(vec![
                "https://idp.example.com/".into(),
                "http://localhost:9000".into(),
            ]),
            scopes_supported: Some(vec![]),
            bearer_methods_supported: Some(vec![]),
            resource_name: Some("Example API".into()),
            resource_documentation: Some("http://docs.example.com/api".into()),
            resource_policy_uri: Some("https://example.com/policy".into()),
            resource_tos_uri: Some("https://example.com/tos".into()),
            tls_client_certificate_bound_access_tokens: Some(false),
            dpop_signing_alg_values_supported: Some(vec!["ES256".into(), "EdDSA".into()]),
            dpop_bound_access_tokens_required: Some(true),
            ..base()
        };
        assert_eq!(full.validate("resource_metadata"), Ok(()));
    }

    #[test]
    fn defaults_fill_what_the_configuration_leaves_out() {
        let defaults = MetadataDefaults {
            authorization_servers: vec![
                "https://tenant.auth0.com/".into(),
                "https://login.example.com".into(),
            ],
            dpop_signing_alg_values_supported: vec!["ES256".into()],
            dpop_bound_access_tokens_required: true,
            bearer_methods_supported: vec!["header".into()],
        };
        let c = cfg("https://api.example.com/v1");
        assert_eq!(
            c.document(&defaults),
            json!({
                "resource": "https://api.example.com/v1",
                "authorization_servers": ["https://tenant.auth0.com/", "https://login.example.com"],
                "bearer_methods_supported": ["header"],
                "dpop_signing_alg_values_supported": ["ES256"],
                "dpop_bound_access_tokens_required": true,
            })
        );

        // Given members win; given empty lists and `false` are published as given.
        let given = ResourceMetadataConfig {
            authorization_servers: Some(vec!["https://other.example.com/".into()]),
            bearer_methods_supported: Some(vec![]),
            dpop_signing_alg_values_supported: Some(vec!["EdDSA".into()]),
            dpop_bound_access_tokens_required: Some(false),
            scopes_supported: Some(vec!["read:builds".into()]),
            tls_client_certificate_bound_access_tokens: Some(false),
            resource_name: Some("Builds".into()),
            ..c.clone()
        };
        assert_eq!(
            given.document(&defaults),
            json!({
                "resource": "https://api.example.com/v1",
                "authorization_servers": ["https://other.example.com/"],
                "scopes_supported": ["read:builds"],
                "bearer_methods_supported": [],
                "resource_name": "Builds",
                "tls_client_certificate_bound_access_tokens": false,
                "dpop_signing_alg_values_supported": ["EdDSA"],
                "dpop_bound_access_tokens_required": false,
            })
        );

        // Empty and `false` defaults leave their members out.
        let none = MetadataDefaults {
            authorization_servers: vec![],
            dpop_signing_alg_values_supported: vec![],
            dpop_bound_access_tokens_required: false,
            bearer_methods_supported: vec![],
        };
        assert_eq!(
            c.document(&none),
            json!({"resource": "https://api.example.com/v1"})
        );
        assert_eq!(
            c.document(&MetadataDefaults::default()),
            json!({"resource": "https://api.example.com/v1", "bearer_methods_supported": ["header"]})
        );
    }

    #[test]
    fn the_json_body_keeps_resource_first_and_the_rfc_order() {
        let c = ResourceMetadataConfig {
            resource_tos_uri: Some("https://example.com/tos".into()),
            scopes_supported: Some(vec!["a".into()]),
            dpop_bound_access_tokens_required: Some(true),
            ..cfg("https://api.example.com")
        };
        let defaults = MetadataDefaults {
            authorization_servers: vec!["https://idp.example.com/".into()],
            ..MetadataDefaults::default()
        };
        let body = c.document_json(&defaults);
        assert_eq!(
            body,
            r#"{"resource":"https://api.example.com","authorization_servers":["https://idp.example.com/"],"scopes_supported":["a"],"bearer_methods_supported":["header"],"resource_tos_uri":"https://example.com/tos","dpop_bound_access_tokens_required":true}"#
        );
        let parsed: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(parsed, c.document(&defaults));
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let e = serde_json::from_value::<ResourceMetadataConfig>(json!({
            "resource": "https://api.example.com",
            "scope_supported": ["a"],
        }))
        .unwrap_err();
        assert!(
            e.to_string().contains("unknown field `scope_supported`"),
            "{e}"
        );
        assert!(serde_json::from_value::<ResourceMetadataConfig>(json!({
            "resource": "https://api.example.com",
            "jwks_uri": "https://api.example.com/jwks",
        }))
        .is_err());
        assert!(serde_json::from_value::<ResourceMetadataConfig>(json!({})).is_err());
        let c: ResourceMetadataConfig =
            serde_json::from_value(json!({"resource": "https://api.example.com"})).unwrap();
        assert_eq!(c, cfg("https://api.example.com"));
        // Serializing leaves out what is not set, and reads back the same.
        let full = ResourceMetadataConfig {
            scopes_supported: Some(vec!["a".into()]),
            ..c.clone()
        };
        let v = serde_json::to_value(&full).unwrap();
        assert_eq!(
            v,
            json!({"resource": "https://api.example.com", "scopes_supported": ["a"]})
        );
        assert_eq!(
            serde_json::from_value::<ResourceMetadataConfig>(v).unwrap(),
            full
        );
    }

    #[test]
    fn the_challenge_attribute_is_quoted_like_www_authenticate() {
        let c = cfg("https://api.example.com:8443/v1");
        assert_eq!(
            challenge_attribute(&c.metadata_url()),
            "resource_metadata=\"https://api.example.com:8443/.well-known/oauth-protected-resource/v1\""
        );
        assert_eq!(
            challenge_attribute("https://x/a\"b\\c\u{7f}\u{e9}\n"),
            "resource_metadata=\"https://x/a\\\"b\\\\c\""
        );
        // The same quoting as the challenge's other attributes.
        let realm = "https://x/a\"b\\c\u{7f}\u{e9}";
        let www = crate::error::www_authenticate(realm, None, None, None);
        assert_eq!(
            www.strip_prefix("Bearer realm="),
            challenge_attribute(realm).strip_prefix("resource_metadata=")
        );
    }
}
