//! Per-route policy: which routes are public, which need which kind of principal,
//! scopes, roles, clients or delegation, and the RFC 6750 answer when a token does
//! not qualify.
//!
//! A [`PolicyConfig`] is compiled once into a [`Policy`]. For each request an adapter
//! calls [`Policy::route`] with the method and the path, lets public routes through,
//! verifies and classifies the token otherwise, and calls [`Policy::authorize`]. A
//! [`PolicyError`] becomes a 403 with [`Policy::deny`] (or [`Deny::from_error`] with
//! [`PolicyError::scope_hint`]):
//!
//! ```text
//! WWW-Authenticate: Bearer realm="tokengate", error="insufficient_scope",
//!     error_description="the token lacks a scope this route requires", scope="update:builds"
//! ```
//!
//! # Path patterns
//!
//! A route's `path` is matched against the request path segment by segment,
//! case-sensitively and without percent-decoding:
//!
//! * a literal segment matches itself: `/health` matches `/health` only;
//! * `*` in the middle matches exactly one segment: `/builds/*/logs` matches
//!   `/builds/42/logs` but not `/builds/logs` or `/builds/4/2/logs`;
//! * a trailing `/*` matches everything below the prefix, one or more segments:
//!   `/admin/*` matches `/admin/x`, `/admin/x/y` and `/admin/`, but not `/admin`;
//!   `/*` matches every path, `/` included;
//! * a pattern without a trailing `*` also matches the path with one trailing `/`
//!   (`/health` matches `/health/`); patterns themselves may not end with `/`
//!   (except `/`), contain empty segments, or use `*` inside a segment.
//!
//! Routes are tried in order and the first match wins; no match means the
//! [`DefaultRule`]. Methods are compared case-insensitively; a route listing `GET` also
//! matches `HEAD`.
//!
//! # Request paths
//!
//! [`Policy::route`] takes the request path as the client sent it; adapters should
//! pass the URL's pathname (a query or fragment, if passed, is ignored). Origin servers
//! often normalise paths further (decode `%2F`, resolve `..`, treat `;` as a path
//! parameter) and a path that the gate reads one way and the origin another could
//! reach a protected resource through a more permissive rule. So, like Spring
//! Security's strict firewall, a path that is not in canonical form matches **no**
//! route and is denied by [`Policy::authorize`] with [`PolicyError::PathRejected`]
//! (400), whatever the default rule. A path is not canonical when it does not start
//! with `/`, has an empty segment (`//`), a `.` or `..` segment, a `\`, a `;`, a control
//! character, or a percent-encoded `/`, `\`, `.`, `;`, `%` or NUL (`%2F`, `%5C`, `%2E`,
//! `%3B`, `%25`, `%00`, either case). WHATWG URL parsing (a Worker's
//! `new URL(request.url).pathname`) already resolves dot segments, so only crafted
//! requests are affected.
//!
//! # Scopes
//!
//! Required scopes are compared exactly. With [`PolicyConfig::wildcard_scopes`] a
//! granted scope ending in `:*` (`read:*`) also satisfies any required scope that
//! starts with the part before the `*` and continues (`read:builds`); a `*` anywhere
//! else, or `*` / `:*` alone, grants nothing beyond itself.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::classify::{Kind, Principal};
use crate::{ConfigError, Deny, ErrorCode};

/// Whether a route requires, or forbids, a delegated token (an RFC 8693 `act` claim).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Delegation {
    /// The token must carry an `act` claim.
    Required,
    /// The token must not carry an `act` claim.
    Forbidden,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// What a token must satisfy on a route. Every present constraint must hold; an empty
/// requirement (`{}`) accepts any valid token.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requirement {
    /// The allowed kinds (`"machine"`, `"user"`); `None` allows both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kinds: Option<Vec<Kind>>,
    /// Scopes that must all be granted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes_all: Vec<String>,
    /// Scopes of which at least one must be granted (empty: no constraint).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes_any: Vec<String>,
    /// Roles of which at least one must be granted (empty: no constraint).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles_any: Vec<String>,
    /// The allowed client ids (`azp` / `client_id`); `None` allows every client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clients: Option<Vec<String>>,
    /// When true, a machine principal skips the scope and role checks ("machines may
    /// do everything, users need `update:builds`"); `kinds`, `clients` and
    /// `delegation` still apply.
    #[serde(default, skip_serializing_if = "is_false")]
    pub machines_bypass_scopes: bool,
    /// Whether a delegated token (with `act`) is required or forbidden; `None`: either.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegation: Option<Delegation>,
}

/// One route rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// The path pattern, e.g. `/health`, `/builds/*/logs`, `/admin/*` (see the
    /// [module docs](self)).
    pub path: String,
    /// The methods this rule applies to (case-insensitive; `GET` includes `HEAD`);
    /// `None` means every method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub methods: Option<Vec<String>>,
    /// A public route needs no token; it must not have `require`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub public: bool,
    /// What the token must satisfy. A route that is neither public nor has a
    /// requirement accepts any valid token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require: Option<Requirement>,
}

/// What a request that matches no route needs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DefaultRule {
    /// Any valid token (the default).
    #[default]
    AnyValidToken,
    /// Denied, even with a valid token.
    Deny,
}

fn default_realm() -> String {
    "tokengate".into()
}

/// The policy part of the configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// Route rules, first match wins.
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
    /// What a request matching no route needs (default `any_valid_token`).
    #[serde(default)]
    pub default: DefaultRule,
    /// Whether a granted scope `read:*` satisfies a required `read:builds` (default
    /// false).
    #[serde(default)]
    pub wildcard_scopes: bool,
    /// The `realm` of `WWW-Authenticate` challenges (default `tokengate`).
    #[serde(default = "default_realm")]
    pub realm: String,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            routes: Vec::new(),
            default: DefaultRule::AnyValidToken,
            wildcard_scopes: false,
            realm: default_realm(),
        }
    }
}

/// One segment of a compiled path pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Lit(String),
    Any,
}

/// A compiled path pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern {
    segs: Vec<Seg>,
    /// Ends with `/*`: one or more further segments.
    prefix: bool,
}

impl Pattern {
    fn compile(path: &str) -> Result<Pattern, String> {
        let Some(rest) = path.strip_prefix('/') else {
            return Err("must start with '/'".into());
        };
        if path.contains(['?', '#']) {
            return Err("must not contain a query or fragment".into());
        }
        let mut segs = Vec::new();
        let mut prefix = false;
        if rest.is_empty() {
            return Ok(Pattern { segs, prefix });
        }
        let parts: Vec<&str> = rest.split('/').collect();
        let last = parts.len().saturating_sub(1);
        for (i, part) in parts.into_iter().enumerate() {
            if part.is_empty() {
                return Err("must not contain empty segments ('//') or end with '/'".into());
            }
            if part == "*" {
                if i == last {
                    prefix = true;
                } else {
                    segs.push(Seg::Any);
                }
                continue;
            }
            if part.contains('*') {
                return Err(format!(
                    "'*' must be a whole segment (in {part:?}); a trailing '/*' matches \
                     everything below"
                ));
            }
            if !segment_is_canonical(part) {
                return Err(format!(
                    "segment {part:?} is not canonical (see the path rules), so it would \
                     never match"
                ));
            }
            segs.push(Seg::Lit(part.to_owned()));
        }
        Ok(Pattern { segs, prefix })
    }

    fn matches(&self, path: &CanonicalPath<'_>) -> bool {
        let n = self.segs.len();
        let len_ok = if self.prefix {
            path.segs.len() > n || (path.segs.len() == n && path.trailing_slash)
        } else {
            path.segs.len() == n
        };
        len_ok
            && self.segs.iter().zip(&path.segs).all(|(p, s)| match p {
                Seg::Any => true,
                Seg::Lit(l) => l == s,
            })
    }
}

/// A request path split into non-empty segments.
struct CanonicalPath<'a> {
    segs: Vec<&'a str>,
    trailing_slash: bool,
}

/// Percent-escapes that make a path non-canonical (lowercase hex).
const BAD_ESCAPES: [&[u8; 2]; 6] = [b"2f", b"5c", b"2e", b"3b", b"25", b"00"];

fn segment_is_canonical(seg: &str) -> bool {
    if seg.is_empty() || seg == "." || seg == ".." {
        return false;
    }
    if seg
        .chars()
        .any(|c| c == '\\' || c == ';' || c == '/' || c.is_ascii_control())
    {
        return false;
    }
    !seg.as_bytes().windows(3).any(|w| match w {
        [b'%', h, l] => {
            let pair = [h.to_ascii_lowercase(), l.to_ascii_lowercase()];
            BAD_ESCAPES.iter().any(|bad| **bad == pair)
        }
        _ => false,
    })
}

/// Splits a request path, or `None` when it is not canonical.
fn canonical_path(path: &str) -> Option<CanonicalPath<'_>> {
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let rest = path.strip_prefix('/')?;
    if rest.is_empty() {
        return Some(CanonicalPath {
            segs: Vec::new(),
            trailing_slash: true,
        });
    }
    let mut segs: Vec<&str> = rest.split('/').collect();
    let trailing_slash = segs.last() == Some(&"");
    if trailing_slash {
        segs.pop();
    }
    segs.iter()
        .all(|s| segment_is_canonical(s))
        .then_some(CanonicalPath {
            segs,
            trailing_slash,
        })
}

/// Whether `m` is an RFC 9110 method token.
fn is_token(m: &str) -> bool {
    !m.is_empty()
        && m.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Whether `s` is an RFC 6749 §3.3 scope token.
pub(crate) fn is_scope_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct CompiledRoute {
    config: RouteConfig,
    pattern: Pattern,
}

/// A compiled, validated route policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    routes: Vec<CompiledRoute>,
    default: DefaultRule,
    wildcard_scopes: bool,
    realm: String,
}

/// The route rule a request falls under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteMatch<'a> {
    /// The index of the matching route in [`PolicyConfig::routes`]; `None` when no
    /// route matched (the [`DefaultRule`] applies) or the path was rejected.
    pub index: Option<usize>,
    /// Whether the route is public (no token needed).
    pub public: bool,
    /// The matching route's requirement, if it has one.
    pub requirement: Option<&'a Requirement>,
    /// The path is not in canonical form (see the [module docs](self)): it matched no
    /// route and [`Policy::authorize`] denies it with [`PolicyError::PathRejected`].
    pub rejected: bool,
}

impl Policy {
    /// Validates and compiles a policy. Errors name the field, e.g. `routes[2].path`.
    pub fn new(cfg: &PolicyConfig) -> Result<Policy, ConfigError> {
        if !cfg.realm.chars().all(|c| matches!(c, ' '..='~')) {
            return Err(ConfigError::invalid(
                "realm",
                "must be printable ascii (it goes into WWW-Authenticate)",
            ));
        }
        let mut routes = Vec::with_capacity(cfg.routes.len());
        for (i, route) in cfg.routes.iter().enumerate() {
            let at = |f: &str| format!("routes[{i}].{f}");
            let pattern = Pattern::compile(&route.path)
                .map_err(|why| ConfigError::invalid(at("path"), why))?;
            let methods = match &route.methods {
                None => None,
                Some(list) if list.is_empty() => {
                    return Err(ConfigError::invalid(
                        at("methods"),
                        "must not be empty (omit it to match every method)",
                    ))
                }
                Some(list) => {
                    let mut out: Vec<String> = Vec::with_capacity(list.len());
                    for (j, m) in list.iter().enumerate() {
                        if !is_token(m) {
                            return Err(ConfigError::invalid(
                                at(&format!("methods[{j}]")),
                                format!("{m:?} is not a valid http method"),
                            ));
                        }
                        let m = m.to_ascii_uppercase();
                        if !out.contains(&m) {
                            out.push(m);
                        }
                    }
                    Some(out)
                }
            };
            if let Some(req) = &route.require {
                if route.public {
                    return Err(ConfigError::invalid(
                        at("require"),
                        "a public route must not have a requirement",
                    ));
                }
                validate_requirement(req, &at("require"))?;
            }
            routes.push(CompiledRoute {
                config: RouteConfig {
                    methods,
                    ..route.clone()
                },
                pattern,
            });
        }
        Ok(Policy {
            routes,
            default: cfg.default.clone(),
            wildcard_scopes: cfg.wildcard_scopes,
            realm: cfg.realm.clone(),
        })
    }

    /// The realm of `WWW-Authenticate` challenges.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// The rule for requests that match no route.
    pub fn default_rule(&self) -> &DefaultRule {
        &self.default
    }

    /// Whether `read:*`-style wildcard scopes are honoured.
    pub fn wildcard_scopes(&self) -> bool {
        self.wildcard_scopes
    }

    /// The number of routes.
    pub fn len(&self) -> usize {
        self.routes.len()
    }

    /// Whether there are no routes (every request falls under the default rule).
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// The route at `index` as configured (methods upper-cased and deduplicated).
    pub fn route_config(&self, index: usize) -> Option<&RouteConfig> {
        self.routes.get(index).map(|r| &r.config)
    }

    /// Finds the rule for a request: the first route whose methods and path match.
    ///
    /// `path` is the request's pathname (a `?query` or `#fragment` is ignored). A path
    /// that is not canonical matches no route and comes back `rejected`.
    pub fn route(&self, method: &str, path: &str) -> RouteMatch<'_> {
        let Some(path) = canonical_path(path) else {
            return RouteMatch {
                index: None,
                public: false,
                requirement: None,
                rejected: true,
            };
        };
        let found = self.routes.iter().enumerate().find(|(_, r)| {
            method_matches(r.config.methods.as_deref(), method) && r.pattern.matches(&path)
        });
        match found {
            Some((i, r)) => RouteMatch {
                index: Some(i),
                public: r.config.public,
                requirement: r.config.require.as_ref(),
                rejected: false,
            },
            None => RouteMatch {
                index: None,
                public: false,
                requirement: None,
                rejected: false,
            },
        }
    }

    /// Decides whether `principal` may use `route`.
    ///
    /// A rejected path is denied; a public route allows; a requirement is checked in
    /// this order: kinds, clients, delegation, then (unless a machine bypasses them)
    /// `scopes_all`, `scopes_any`, `roles_any`. A route without a requirement allows
    /// any principal; no route at all applies the [`DefaultRule`].
    pub fn authorize(
        &self,
        route: &RouteMatch<'_>,
        principal: &Principal,
    ) -> Result<(), PolicyError> {
        if route.rejected {
            return Err(PolicyError::PathRejected);
        }
        if route.public {
            return Ok(());
        }
        match (route.requirement, route.index) {
            (Some(req), _) => self.check(req, principal),
            (None, Some(_)) => Ok(()),
            (None, None) => match self.default {
                DefaultRule::AnyValidToken => Ok(()),
                DefaultRule::Deny => Err(PolicyError::DeniedByDefault),
            },
        }
    }

    /// Turns a policy error into a denial with this policy's realm (and the
    /// `scope="..."` hint for [`PolicyError::InsufficientScope`]).
    pub fn deny(&self, err: &PolicyError) -> Deny {
        err.to_deny(&self.realm)
    }

    fn check(&self, req: &Requirement, p: &Principal) -> Result<(), PolicyError> {
        if let Some(kinds) = &req.kinds {
            if !kinds.contains(&p.kind) {
                return Err(PolicyError::KindNotAllowed(p.kind));
            }
        }
        if let Some(clients) = &req.clients {
            let ok = p
                .client_id
                .as_ref()
                .is_some_and(|id| clients.iter().any(|c| c == id));
            if !ok {
                return Err(PolicyError::ClientNotAllowed);
            }
        }
        match (req.delegation, &p.actor) {
            (Some(Delegation::Required), None) => return Err(PolicyError::DelegationRequired),
            (Some(Delegation::Forbidden), Some(_)) => return Err(PolicyError::DelegationForbidden),
            _ => {}
        }
        if req.machines_bypass_scopes && p.kind == Kind::Machine {
            return Ok(());
        }
        if !req.scopes_all.iter().all(|s| self.granted(p, s)) {
            return Err(PolicyError::InsufficientScope {
                required: req.scopes_all.clone(),
            });
        }
        if !req.scopes_any.is_empty() && !req.scopes_any.iter().any(|s| self.granted(p, s)) {
            return Err(PolicyError::InsufficientScope {
                required: req.scopes_any.clone(),
            });
        }
        if !req.roles_any.is_empty() && !req.roles_any.iter().any(|r| p.has_role(r)) {
            return Err(PolicyError::RoleNotAllowed);
        }
        Ok(())
    }

    fn granted(&self, p: &Principal, required: &str) -> bool {
        p.scopes
            .iter()
            .any(|g| g == required || (self.wildcard_scopes && wildcard_grants(g, required)))
    }
}

fn method_matches(methods: Option<&[String]>, method: &str) -> bool {
    match methods {
        None => true,
        Some(list) => list.iter().any(|m| {
            m.eq_ignore_ascii_case(method) || (m == "GET" && method.eq_ignore_ascii_case("HEAD"))
        }),
    }
}

/// Whether the granted scope `granted` (e.g. `read:*`) covers `required` under the
/// wildcard rule.
fn wildcard_grants(granted: &str, required: &str) -> bool {
    let Some(prefix) = granted.strip_suffix('*') else {
        return false;
    };
    let head_ok = prefix
        .strip_suffix(':')
        .is_some_and(|head| !head.is_empty());
    head_ok
        && required
            .strip_prefix(prefix)
            .is_some_and(|rest| !rest.is_empty())
}

fn validate_requirement(req: &Requirement, at: &str) -> Result<(), ConfigError> {
    if req.kinds.as_ref().is_some_and(Vec::is_empty) {
        return Err(ConfigError::invalid(
            format!("{at}.kinds"),
            "must not be empty (omit it to allow machines and users)",
        ));
    }
    for (field, list) in [
        ("scopes_all", &req.scopes_all),
        ("scopes_any", &req.scopes_any),
    ] {
        for (j, s) in list.iter().enumerate() {
            if !is_scope_token(s) {
                return Err(ConfigError::invalid(
                    format!("{at}.{field}[{j}]"),
                    format!("{s:?} is not a valid scope (non-empty, no spaces or quotes)"),
                ));
            }
        }
    }
    for (j, r) in req.roles_any.iter().enumerate() {
        if r.is_empty() {
            return Err(ConfigError::invalid(
                format!("{at}.roles_any[{j}]"),
                "must not be empty",
            ));
        }
    }
    if let Some(clients) = &req.clients {
        if clients.is_empty() {
            return Err(ConfigError::invalid(
                format!("{at}.clients"),
                "must not be empty (omit it to allow every client)",
            ));
        }
        for (j, c) in clients.iter().enumerate() {
            if c.is_empty() {
                return Err(ConfigError::invalid(
                    format!("{at}.clients[{j}]"),
                    "must not be empty",
                ));
            }
        }
    }
    Ok(())
}

/// Why a valid token may not use a route.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PolicyError {
    /// A required scope is missing.
    InsufficientScope {
        /// The scopes the route asks for (`scopes_all`, or the `scopes_any` choices).
        required: Vec<String>,
    },
    /// None of the allowed roles was granted.
    RoleNotAllowed,
    /// The principal's kind is not allowed.
    KindNotAllowed(Kind),
    /// The token's client is not in the allowed list.
    ClientNotAllowed,
    /// The route needs a delegated token (with `act`).
    DelegationRequired,
    /// The route does not accept delegated tokens.
    DelegationForbidden,
    /// No route matched and the default rule is `deny`.
    DeniedByDefault,
    /// The request path is not in canonical form (400).
    PathRejected,
}

impl PolicyError {
    /// The space-separated scopes for the `WWW-Authenticate` `scope="..."` attribute:
    /// `Some` for a non-empty [`PolicyError::InsufficientScope`], else `None`.
    pub fn scope_hint(&self) -> Option<String> {
        match self {
            Self::InsufficientScope { required } if !required.is_empty() => {
                Some(required.join(" "))
            }
            _ => None,
        }
    }

    /// The denial for this error with `realm`, including the scope hint.
    pub fn to_deny(&self, realm: &str) -> Deny {
        let hint = self.scope_hint();
        Deny::from_error(self, realm, hint.as_deref())
    }
}

impl ErrorCode for PolicyError {
    fn code(&self) -> &'static str {
        match self {
            Self::InsufficientScope { .. } => "insufficient_scope",
            Self::RoleNotAllowed => "role_not_allowed",
            Self::KindNotAllowed(_) => "kind_not_allowed",
            Self::ClientNotAllowed => "client_not_allowed",
            Self::DelegationRequired => "delegation_required",
            Self::DelegationForbidden => "delegation_forbidden",
            Self::DeniedByDefault => "denied_by_default",
            Self::PathRejected => "path_rejected",
        }
    }

    fn status(&self) -> u16 {
        match self {
            Self::PathRejected => 400,
            _ => 403,
        }
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InsufficientScope { .. } => {
                f.write_str("the token lacks a scope this route requires")
            }
            Self::RoleNotAllowed => f.write_str("the token has no role this route allows"),
            Self::KindNotAllowed(kind) => write!(f, "{kind} tokens are not allowed on this route"),
            Self::ClientNotAllowed => {
                f.write_str("the token's client is not allowed on this route")
            }
            Self::DelegationRequired => {
                f.write_str("this route requires a delegated token (act claim)")
            }
            Self::DelegationForbidden => {
                f.write_str("delegated tokens (act claim) are not allowed on this route")
            }
            Self::DeniedByDefault => f.write_str("no route rule allows this request"),
            Self::PathRejected => f.write_str("the request path is not in canonical form"),
        }
    }
}

impl std::error::Error for PolicyError {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::DecidedBy;
    use serde_json::json;

    fn policy(v: serde_json::Value) -> Policy {
        let cfg: PolicyConfig = serde_json::from_value(v).unwrap();
        Policy::new(&cfg).unwrap()
    }

    fn principal(kind: Kind, scopes: &[&str]) -> Principal {
        Principal {
            kind,
            subject: "s".into(),
            client_id: Some("c".into()),
            user_id: None,
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            roles: Vec::new(),
            issuer: "i".into(),
            audiences: Vec::new(),
            expires_at: None,
            decided_by: DecidedBy::Default,
            actor: None,
        }
    }

    #[test]
    fn pattern_table() {
        let cases: &[(&str, &str, bool)] = &[
            ("/", "/", true),
            ("/", "/x", false),
            ("/*", "/", true),
            ("/*", "/x/y", true),
            ("/health", "/health", true),
            ("/health", "/health/", true),
            ("/health", "/healthz", false),
            ("/health", "/Health", false),
            ("/health", "/health/x", false),
            ("/builds/*/logs", "/builds/42/logs", true),
            ("/builds/*/logs", "/builds/42/logs/", true),
            ("/builds/*/logs", "/builds/logs", false),
            ("/builds/*/logs", "/builds/4/2/logs", false),
            ("/admin/*", "/admin", false),
            ("/admin/*", "/admin/", true),
            ("/admin/*", "/admin/x", true),
            ("/admin/*", "/admin/x/y", true),
            ("/admin/*", "/adminx/y", false),
            ("/a/*/b/*", "/a/1/b/2/3", true),
            ("/a/*/b/*", "/a/1/b", false),
        ];
        for (pat, path, want) in cases {
            let p = Pattern::compile(pat).unwrap();
            let got = canonical_path(path).is_some_and(|cp| p.matches(&cp));
            assert_eq!(got, *want, "{pat} vs {path}");
        }
    }

    #[test]
    fn canonical_paths() {
        for ok in [
            "/",
            "/a",
            "/a/",
            "/a%20b",
            "/a.b/..c/c..",
            "/x?y=/../z",
            "/a#../b",
        ] {
            assert!(canonical_path(ok).is_some(), "{ok}");
        }
        for bad in [
            "",
            "a",
            "*",
            "//",
            "/a//b",
            "/.",
            "/..",
            "/a/./b",
            "/a/../b",
            "/a/..",
            "/a/../",
            "/a%2fb",
            "/a%2Fb",
            "/%2e%2e/x",
            "/%2E",
            "/a%5cb",
            "/a\\b",
            "/a;b",
            "/a%3Bb",
            "/a%252fb",
            "/a%00",
            "/a\tb",
            "/a\u{7f}",
        ] {
            assert!(canonical_path(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn wildcard_rule() {
        assert!(wildcard_grants("read:*", "read:builds"));
        assert!(wildcard_grants("repo:read:*", "repo:read:x"));
        assert!(!wildcard_grants("read:*", "read:"));
        assert!(!wildcard_grants("read:*", "write:builds"));
        assert!(!wildcard_grants("read*", "read:builds"));
        assert!(!wildcard_grants("*", "read:builds"));
        assert!(!wildcard_grants(":*", ":x"));
        assert!(!wildcard_grants("read:builds", "read:builds"));
    }

    #[test]
    fn first_match_and_default() {
        let p = policy(json!({
            "routes": [
                {"path": "/health", "public": true},
                {"path": "/builds/*", "methods": ["get"], "require": {"scopes_any": ["read:builds"]}},
                {"path": "/builds/*", "require": {"scopes_all": ["update:builds"]}}
            ],
            "default": "deny"
        }));
        assert_eq!(p.route("GET", "/builds/1").index, Some(1));
        assert_eq!(p.route("HEAD", "/builds/1").index, Some(1));
        assert_eq!(p.route("post", "/builds/1").index, Some(2));
        let m = p.route("GET", "/other");
        assert_eq!(m.index, None);
        assert!(!m.rejected);
        let u = principal(Kind::User, &[]);
        assert_eq!(p.authorize(&m, &u), Err(PolicyError::DeniedByDefault));
        let m = p.route("GET", "/health/../builds/1");
        assert!(m.rejected);
        assert_eq!(p.authorize(&m, &u), Err(PolicyError::PathRejected));
    }

    #[test]
    fn error_codes() {
        let e = PolicyError::InsufficientScope {
            required: vec!["a".into(), "b".into()],
        };
        assert_eq!(e.scope_hint().as_deref(), Some("a b"));
        assert_eq!((e.code(), e.status()), ("insufficient_scope", 403));
        assert_eq!(
            PolicyError::RoleNotAllowed.oauth_error(),
            Some("insufficient_scope")
        );
        assert_eq!(
            PolicyError::PathRejected.oauth_error(),
            Some("invalid_request")
        );
        assert_eq!(PolicyError::RoleNotAllowed.scope_hint(), None);
    }
}
