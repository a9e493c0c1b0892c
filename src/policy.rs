//! Per-route policy: which routes are public, which need which kind of principal,
//! scopes, roles, clients or delegation, and the RFC 6750 answer when a token does
//! not qualify.
//!
//! A [`PolicyConfig`] is compiled once into a [`Policy`]. For each request an adapter
//! calls [`Policy::route`] with the method and the path, lets public routes through,
//! verifies and classifies the token otherwise, and calls [`Policy::authorize`]. Its
//! error, a [`PolicyError`], becomes a denial with [`Policy::deny`]: a 403 (by itself,
//! with [`PolicyError::to_deny`] or [`Deny::from_error`] and
//! [`PolicyError::scope_hint`]). A path in non-canonical form ([`RouteMatch::rejected`])
//! is the request's fault, refused before any of this with
//! [`RequestError::PathRejected`](crate::RequestError::PathRejected) (400) by
//! [`Gate::authorize`](crate::Gate::authorize) and the pipeline:
//!
//! ```text
//! WWW-Authenticate: Bearer realm="tokengate", error="insufficient_scope",
//!     error_description="the token lacks a scope this route requires", scope="update:builds"
//! ```
//!
//! # Path patterns
//!
//! A route's `path` is matched against the request path segment by segment, after
//! percent-decoding both, and case-insensitively unless the route sets
//! `case_sensitive` (see [Request paths](#request-paths)):
//!
//! * a literal segment matches itself: `/health` matches `/health` only;
//! * `*` in the middle matches exactly one segment: `/builds/*/logs` matches
//!   `/builds/42/logs` but not `/builds/logs` or `/builds/4/2/logs`;
//! * a trailing `/*` matches everything below the prefix, one or more segments:
//!   `/admin/*` matches `/admin/x`, `/admin/x/y` and `/admin/`, but not `/admin`
//!   (list `/admin` as a route of its own to cover it); `/*` matches every path, `/`
//!   included;
//! * a pattern without a trailing `*` also matches the path with one trailing `/`
//!   (`/health` matches `/health/`); patterns themselves may not end with `/`
//!   (except `/`), contain empty segments, or use `*` inside a segment.
//!
//! Routes are tried in order and the first match wins; no match means the
//! [`DefaultRule`] (by default `deny`). Methods are compared case-insensitively; a
//! route listing `GET` also matches `HEAD`.
//!
//! # Request paths
//!
//! [`Policy::route`] takes the request path as the client sent it; adapters should
//! pass the URL's pathname (a query or fragment, if passed, is ignored). Origin servers
//! read paths in different ways (they decode `%2F` or `%61`, resolve `..`, treat `;`
//! as a path parameter, compare without regard to case), and a path that the gate
//! reads one way and the origin another could reach a protected resource through a
//! more permissive rule. So:
//!
//! * a path that is not in canonical form matches **no** route and is refused with
//!   [`RequestError::PathRejected`](crate::RequestError::PathRejected) (400), whatever the
//!   default rule: one that does not start with `/`, has an empty segment (`//`), a `.`
//!   or `..` segment, a `\`, a `;` or a control character; a percent-encoded `/`, `\`,
//!   `;`, `%` (double encoding), control character, letter, digit or `.` (`%61` for
//!   `a`, `%2E`: clients never need them); a malformed escape; escapes that do not
//!   decode to UTF-8; or a segment that case-folds into one of those (fullwidth `．．`
//!   or `／`, `..` and a space). WHATWG URL parsing (a Worker's
//!   `new URL(request.url).pathname`) already resolves dot segments, so only crafted
//!   requests are affected;
//! * other escapes (`%7E`, `%40`, `%20`, `%C3%A9`) are decoded before matching;
//! * the path is read the widest way (decoded, and case-folded the way the most
//!   lenient origins fold: ASCII case, and Unicode characters that .NET, Java or
//!   JavaScript fold to ASCII: `ı`, `İ`, `ſ`, the Kelvin sign, fullwidth forms; trailing
//!   dots and spaces of a segment, which Windows ignores) and the narrowest way (as
//!   sent). The request must pass the rule of every route an origin could run: those
//!   the wide reading matches, from its first match up to the first route the narrow
//!   reading matches (or the default rule when it matches none). It is public only when
//!   all of them are public. So `/ADMIN/x` or `/adm%C4%B1n/x` gets the rule of
//!   `/admin/*` (and, with `unmatched: deny`, is refused), and a case variant of a
//!   public path is never public.
//!
//! # Scopes
//!
//! Required scopes are compared exactly. With [`PolicyConfig::wildcard_scopes`] a
//! granted scope ending in `:*` (`read:*`) also satisfies any required scope that
//! starts with the part before the `*` and continues (`read:builds`); a `*` anywhere
//! else, or `*` / `:*` alone, grants nothing beyond itself.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::classify::{is_scope_token, Actor, Kind, Principal};
use crate::error::catalogue::CodeInfo;
use crate::percent;
use crate::rules::{check_claim_rules, validate_claim_rules, ClaimRules, RateLimitRule};
use crate::Claims;
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
    /// When true, only sender-constrained tokens (DPoP-bound or certificate-bound,
    /// their binding proven) pass: bearer tokens get `sender_constraint_required`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub sender_constrained: bool,
    /// Rules on the token's claims (a claim name, or a JSON pointer when it starts with
    /// `/`, to its rule: `equals`, `any_of`, `includes`, `present`); all must hold,
    /// else `claim_not_allowed`. See `src/rules.rs`. Machines are held to them too.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub claims: ClaimRules,
    /// The actors allowed to act on this route: the current actor of a delegated token
    /// (its outermost `act`'s `client_id`, else its `sub`, as the token's issuer wrote
    /// it) must be one of these ids, else `actor_not_allowed`. A token without `act`
    /// is refused (`delegation_required`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actors: Option<Vec<String>>,
    /// The most nested `act` objects a token may carry (0 refuses every delegated
    /// token), else `delegation_too_deep`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_delegation_depth: Option<u32>,
}

/// One route rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// The path pattern, e.g. `/health`, `/builds/*/logs`, `/admin/*` (see the
    /// module docs (`src/policy.rs`)).
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
    /// Compare this route's path case-sensitively (default false: case-insensitively,
    /// as case-insensitive origins route). Only for origins that route `/Admin` and
    /// `/admin` to different handlers.
    #[serde(default, skip_serializing_if = "is_false")]
    pub case_sensitive: bool,
    /// A per-client rate limit (a Workers Rate Limiting binding and what it counts
    /// by), applied by the edge authorizer to requests this route allows; see
    /// [`RateLimitRule`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimitRule>,
}

/// What a request that matches no route needs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DefaultRule {
    /// Any valid token.
    AnyValidToken,
    /// Denied, even with a valid token (the default: a path the route table does not
    /// name is refused, so a route forgotten in the table fails closed).
    #[default]
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
    /// What a request matching no route needs (default `deny`).
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

impl PolicyConfig {
    /// A policy with one rule, `requirement`, for every path and method (the other
    /// fields their defaults): how the npm package's `authorize(token, requirement)`
    /// and the decoder page's check compile a requirement.
    pub fn for_requirement(requirement: Requirement) -> PolicyConfig {
        PolicyConfig {
            routes: vec![RouteConfig {
                path: "/*".into(),
                methods: None,
                public: false,
                require: Some(requirement),
                case_sensitive: false,
                rate_limit: None,
            }],
            ..PolicyConfig::default()
        }
    }
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            routes: Vec::new(),
            default: DefaultRule::Deny,
            wildcard_scopes: false,
            realm: default_realm(),
        }
    }
}

/// A literal pattern segment, percent-decoded, and its case-folded form.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Lit {
    /// As written, in [`raw_form`].
    raw: String,
    exact: String,
    folded: String,
}

/// One segment of a compiled path pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Lit(Lit),
    Any,
}

/// A compiled path pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern {
    segs: Vec<Seg>,
    /// Ends with `/*`: one or more further segments.
    prefix: bool,
}

/// How a request path is read when it is compared with the patterns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reading {
    /// As sent (escapes kept, in [`raw_form`]), compared case-sensitively: what an
    /// origin that neither decodes nor folds routes on.
    Raw,
    /// Percent-decoded, compared case-sensitively.
    Exact,
    /// Percent-decoded and case-folded: the widest reading.
    Folded,
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
            let Some(exact) = decode_segment(part) else {
                return Err(format!(
                    "segment {part:?} is not canonical (see the path rules), so it would \
                     never match"
                ));
            };
            let folded = fold(&exact).into_owned();
            if !folded_is_canonical(&folded) {
                return Err(format!(
                    "segment {part:?} reads as a path separator or dot segment once \
                     case-folded, so it would never match"
                ));
            }
            segs.push(Seg::Lit(Lit {
                raw: raw_form(part).into_owned(),
                exact: exact.into_owned(),
                folded,
            }));
        }
        Ok(Pattern { segs, prefix })
    }

    fn matches(&self, path: &RequestPath<'_>, reading: Reading) -> bool {
        let n = self.segs.len();
        let len = path.exact.len();
        let len_ok = if self.prefix {
            len > n || (len == n && path.trailing_slash)
        } else {
            len == n
        };
        len_ok
            && self.segs.iter().enumerate().all(|(i, p)| match p {
                Seg::Any => true,
                Seg::Lit(l) => match reading {
                    Reading::Raw => l.raw == path.raw[i],
                    Reading::Exact => l.exact == path.exact[i],
                    Reading::Folded => l.folded == path.folded[i],
                },
            })
    }
}

/// A canonical request path split into non-empty segments, each percent-decoded
/// (`exact`) and also case-folded (`folded`).
struct RequestPath<'a> {
    raw: Vec<Cow<'a, str>>,
    exact: Vec<Cow<'a, str>>,
    folded: Vec<Cow<'a, str>>,
    trailing_slash: bool,
}

/// Percent-escapes that make a path non-canonical (lowercase hex): `/`, `\`, `;`, `%`
/// and NUL, which origins read as structure or double-decode. Escapes of unreserved
/// characters are refused too (see [`decode_segment`]).
const BAD_ESCAPES: [&[u8; 2]; 5] = [b"2f", b"5c", b"3b", b"25", b"00"];

/// Percent-decodes one path segment, or `None` when the segment is not canonical:
/// empty, `.` or `..`; a `\`, `;`, `/` or control character, raw or escaped; an escape
/// of `%` (double encoding), of a letter, a digit or `.` (`%61` for `a`, `%2E`: RFC 3986
/// §2.3 says producers should not create them, and origins disagree on them); a
/// malformed escape; or bytes that do not decode to UTF-8.
fn decode_segment(seg: &str) -> Option<Cow<'_, str>> {
    if seg.is_empty() || seg == "." || seg == ".." {
        return None;
    }
    if seg
        .chars()
        .any(|c| c == '\\' || c == ';' || c == '/' || c.is_control())
    {
        return None;
    }
    if !seg.contains('%') {
        return Some(Cow::Borrowed(seg));
    }
    let bytes = seg.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let (h, l) = (*bytes.get(i + 1)?, *bytes.get(i + 2)?);
        let pair = [h.to_ascii_lowercase(), l.to_ascii_lowercase()];
        if BAD_ESCAPES.iter().any(|bad| **bad == pair) {
            return None;
        }
        let b = (percent::hex_value(h)? << 4) | percent::hex_value(l)?;
        // `%2D`, `%5F` and `%7E` are decoded: some encoders (Java's URLEncoder, PHP's
        // urlencode) produce `%7E`.
        if b.is_ascii_alphanumeric() || b == b'.' || b.is_ascii_control() {
            return None;
        }
        out.push(b);
        i += 3;
    }
    let text = String::from_utf8(out).ok()?;
    if text.chars().any(char::is_control) {
        return None;
    }
    Some(Cow::Owned(text))
}

/// A segment as sent, in one spelling per byte sequence: escapes with upper-case hex
/// digits, and the bytes WHATWG URL serialisation escapes in a path (non-ASCII,
/// space, `"`, `#`, `<`, `>`, `?`, `` ` ``, `{`, `}`) escaped. Pattern literals and
/// request segments are compared in this form by the raw reading.
fn raw_form(seg: &str) -> Cow<'_, str> {
    let needs = |b: u8| !b.is_ascii() || b" \"#<>?`{}".contains(&b);
    let bytes = seg.as_bytes();
    let lower_hex = bytes
        .windows(3)
        .any(|w| w[0] == b'%' && (w[1].is_ascii_lowercase() || w[2].is_ascii_lowercase()));
    if !lower_hex && !bytes.iter().any(|&b| needs(b)) {
        return Cow::Borrowed(seg);
    }
    let mut out = String::with_capacity(seg.len() + 8);
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' && i + 2 < bytes.len() {
            out.push('%');
            out.push(char::from(bytes[i + 1].to_ascii_uppercase()));
            out.push(char::from(bytes[i + 2].to_ascii_uppercase()));
            i += 3;
        } else if needs(b) {
            out.push_str(&format!("%{b:02X}"));
            i += 1;
        } else {
            out.push(char::from(b));
            i += 1;
        }
    }
    Cow::Owned(out)
}

/// Whether a case-folded segment is still a plain segment: not empty, `.` or `..`,
/// and without `/`, `\`, `;`, `%` or control characters (fullwidth `．．` or `／`,
/// and `..` followed by a space, fold into those).
fn folded_is_canonical(seg: &str) -> bool {
    !(seg.is_empty()
        || seg == "."
        || seg == ".."
        || seg.contains(['/', '\\', ';', '%'])
        || seg.chars().any(char::is_control))
}

/// Case-folds a decoded segment the widest way common origins compare paths without
/// regard to case, so that a protected route is found however the path is spelled:
/// ASCII letters are lowercased; any other character is upper-cased and then
/// lower-cased with Unicode's full mappings (`ı` and `ſ` become `i` and `s`, as under
/// .NET's ordinal-ignore-case and JavaScript's `i` regular expressions; the Kelvin sign
/// `k`), `İ` becomes `i` (Java's `equalsIgnoreCase`), and fullwidth ASCII forms
/// (`ａ`, U+FF41) become ASCII, and `¥`, `₩`, `∕` and `⁄` become `\` or `/`
/// (Windows' best-fit mappings). Trailing dots and spaces are removed from the
/// segment (Windows paths ignore them). The folding is applied until it no longer
/// changes the text, so it is idempotent (`ẞ` folds to `ß` and on to `ss`). Folding
/// more than some origin does only widens the set of rules a request must pass (see
/// [`Policy::route`]).
fn fold(seg: &str) -> Cow<'_, str> {
    let once = fold_once(seg);
    let Cow::Owned(mut cur) = once else {
        return once;
    };
    for _ in 0..3 {
        let next = fold_once(&cur).into_owned();
        if next == cur {
            break;
        }
        cur = next;
    }
    Cow::Owned(cur)
}

fn fold_once(seg: &str) -> Cow<'_, str> {
    let simple = seg
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._~!$&'()*+,=:@".contains(&b));
    if simple && !seg.ends_with(['.', ' ']) {
        return Cow::Borrowed(seg);
    }
    let mut out = String::with_capacity(seg.len());
    for c in seg.chars() {
        match c {
            c if c.is_ascii() => out.push(c.to_ascii_lowercase()),
            '\u{130}' => out.push('i'),
            '\u{a5}' | '\u{20a9}' => out.push('\\'),
            '\u{2215}' | '\u{2044}' => out.push('/'),
            '\u{ff01}'..='\u{ff5e}' => {
                let ascii = char::from_u32(u32::from(c) - 0xfee0).unwrap_or(c);
                out.push(ascii.to_ascii_lowercase());
            }
            c => out.extend(
                c.to_lowercase()
                    .flat_map(char::to_uppercase)
                    .flat_map(char::to_lowercase),
            ),
        }
    }
    let trimmed = out.trim_end_matches(['.', ' ']).len();
    out.truncate(trimmed);
    Cow::Owned(out)
}

/// Splits and decodes a request path, or `None` when it is not canonical.
fn request_path(path: &str) -> Option<RequestPath<'_>> {
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let rest = path.strip_prefix('/')?;
    if rest.is_empty() {
        return Some(RequestPath {
            raw: Vec::new(),
            exact: Vec::new(),
            folded: Vec::new(),
            trailing_slash: true,
        });
    }
    let mut raw: Vec<&str> = rest.split('/').collect();
    let trailing_slash = raw.last() == Some(&"");
    if trailing_slash {
        raw.pop();
    }
    let mut exact = Vec::with_capacity(raw.len());
    for seg in &raw {
        exact.push(decode_segment(seg)?);
    }
    let mut folded = Vec::with_capacity(raw.len());
    for s in &exact {
        let f = match s {
            Cow::Borrowed(b) => fold(b),
            Cow::Owned(o) => Cow::Owned(fold(o).into_owned()),
        };
        if !folded_is_canonical(&f) {
            return None;
        }
        folded.push(f);
    }
    Some(RequestPath {
        raw: raw.into_iter().map(raw_form).collect(),
        exact,
        folded,
        trailing_slash,
    })
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteMatch<'a> {
    /// The index of the matching route in [`PolicyConfig::routes`]; `None` when no
    /// route matched (the [`DefaultRule`] applies) or the path was rejected. This is
    /// the route of the case-folded reading of the path (see [`Policy::route`]).
    pub index: Option<usize>,
    /// Whether the request needs no token: every reading of the path is public.
    pub public: bool,
    /// The matching route's requirement, if it has one.
    pub requirement: Option<&'a Requirement>,
    /// The path is not in canonical form (see the module docs (`src/policy.rs`)): it matched no
    /// route; it is refused with
    /// [`RequestError::PathRejected`](crate::RequestError::PathRejected) (and
    /// [`Policy::authorize`] denies it too).
    pub rejected: bool,
    /// Further rules the request must pass, when origins could route the path to
    /// another rule than [`RouteMatch::index`] (see [`Policy::route`]); empty in the
    /// usual case.
    pub also: Vec<Also>,
}

/// A further rule a request must pass when the readings of its path fall under
/// different rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Also {
    /// The route at this index.
    Route(usize),
    /// No route: the [`DefaultRule`].
    Unmatched,
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
                        if !crate::headers::is_token(m) {
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
    ///
    /// The path is read the widest way (percent-decoded and case-folded; routes with
    /// `case_sensitive` compare it decoded but not folded) and the narrowest way (as
    /// sent). Whatever an origin reads in between routes it to one of the routes the
    /// wide reading matches, from the first of them ([`RouteMatch::index`]) up to the
    /// first route the narrow reading matches (or the default rule when there is
    /// none). The request must pass all of those rules ([`RouteMatch::also`]), and it
    /// is public only when they are all public routes. So a spelling that some origin
    /// routes to a protected handler gets that handler's rule, and case folding or
    /// decoding never makes a path public. For a path spelled the way its route is
    /// written, both readings find the same route and nothing changes.
    pub fn route(&self, method: &str, path: &str) -> RouteMatch<'_> {
        let Some(path) = request_path(path) else {
            return RouteMatch {
                index: None,
                public: false,
                requirement: None,
                rejected: true,
                also: Vec::new(),
            };
        };
        let wide = |r: &CompiledRoute| {
            let reading = if r.config.case_sensitive {
                Reading::Exact
            } else {
                Reading::Folded
            };
            method_matches(r.config.methods.as_deref(), method) && r.pattern.matches(&path, reading)
        };
        let Some(first) = self.routes.iter().position(wide) else {
            // Nothing matches the widest reading, so nothing matches any reading.
            return RouteMatch {
                index: None,
                public: false,
                requirement: None,
                rejected: false,
                also: Vec::new(),
            };
        };
        let narrow = self.routes[first..].iter().position(|r| {
            method_matches(r.config.methods.as_deref(), method)
                && r.pattern.matches(&path, Reading::Raw)
        });
        let mut also = Vec::new();
        let upto = narrow.map_or(self.routes.len(), |j| first + j);
        for (i, r) in self.routes.iter().enumerate().take(upto).skip(first + 1) {
            if wide(r) {
                also.push(Also::Route(i));
            }
        }
        match narrow {
            Some(0) => {}
            Some(j) => also.push(Also::Route(first + j)),
            None => also.push(Also::Unmatched),
        }
        let public = self.routes[first].config.public
            && also
                .iter()
                .all(|a| matches!(a, Also::Route(i) if self.routes[*i].config.public));
        RouteMatch {
            index: Some(first),
            public,
            requirement: self.routes[first].config.require.as_ref(),
            rejected: false,
            also,
        }
    }

    /// Decides whether `principal` may use `route`.
    ///
    /// A rejected path is denied (as a backstop: callers refuse it first with
    /// `path_rejected`); a public route allows;
    /// a requirement is checked in this order: kinds, clients, delegation, then (unless
    /// a machine bypasses them) `scopes_all`, `scopes_any`, `roles_any`. A route without
    /// a requirement allows any principal; no route at all applies the [`DefaultRule`].
    /// When the readings of the path differ ([`RouteMatch::also`]), those rules are
    /// checked as well.
    ///
    /// `claims` are the verified token's claims, which claim rules read (with a token
    /// cache, in the form it keeps: [`Gate::kept_claims`](crate::Gate::kept_claims)
    /// says which); a claim missing from them fails its rule.
    pub fn authorize(
        &self,
        route: &RouteMatch<'_>,
        principal: &Principal,
        claims: &Claims,
    ) -> Result<(), PolicyError> {
        // The caller refuses a rejected path with its own code first
        // ([`Gate::authorize`](crate::Gate::authorize): `path_rejected`); should one get
        // here, it is denied all the same.
        if route.rejected {
            return Err(PolicyError::DeniedByDefault);
        }
        if route.public {
            return Ok(());
        }
        self.rule(route.index, principal, claims)?;
        for also in &route.also {
            match also {
                Also::Route(j) => self.rule(Some(*j), principal, claims)?,
                Also::Unmatched => self.rule(None, principal, claims)?,
            }
        }
        Ok(())
    }

    /// One rule: route `index` (public: allowed; no requirement: any principal), or
    /// the default rule for `None`.
    fn rule(
        &self,
        index: Option<usize>,
        principal: &Principal,
        claims: &Claims,
    ) -> Result<(), PolicyError> {
        match index.and_then(|i| self.routes.get(i)) {
            Some(r) => match &r.config.require {
                Some(req) => self.check(req, principal, claims),
                None => Ok(()),
            },
            None => match self.default {
                DefaultRule::AnyValidToken => Ok(()),
                DefaultRule::Deny => Err(PolicyError::DeniedByDefault),
            },
        }
    }

    /// Turns an [`authorize`](Self::authorize) error into a denial with this policy's
    /// realm (and the `scope="..."` hint for [`PolicyError::InsufficientScope`]).
    pub fn deny(&self, err: &PolicyError) -> Deny {
        err.to_deny(&self.realm)
    }

    fn check(&self, req: &Requirement, p: &Principal, claims: &Claims) -> Result<(), PolicyError> {
        // The binding itself was proven before the policy runs (the pipeline's sender
        // check): a principal with a binding is one whose proof held.
        if req.sender_constrained && p.binding.is_none() {
            return Err(PolicyError::SenderConstraintRequired);
        }
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
        if let Some(max) = req.max_delegation_depth {
            if !delegation_depth_allowed(max, p.actor.as_ref()) {
                return Err(PolicyError::DelegationTooDeep { max });
            }
        }
        if let Some(actors) = &req.actors {
            if p.actor.is_none() {
                return Err(PolicyError::DelegationRequired);
            }
            if !actor_allowed(actors, p.actor.as_ref()) {
                return Err(PolicyError::ActorNotAllowed);
            }
        }
        // Claim rules hold for machines too (an organisation's boundary is not a scope).
        check_claim_rules(&req.claims, claims)
            .map_err(|name| PolicyError::ClaimNotAllowed(name.to_owned()))?;
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

/// The `max_delegation_depth` rule: whether `actor`'s chain (none: depth 0) has at
/// most `max` nested `act` objects.
pub fn delegation_depth_allowed(max: u32, actor: Option<&Actor>) -> bool {
    actor.map_or(0, Actor::depth) <= max as usize
}

/// The `actors` rule: whether the current actor ([`Actor::id`]: its `client_id`, else
/// its `sub`) is one of `actors`; a token without `act` is not.
pub fn actor_allowed(actors: &[String], actor: Option<&Actor>) -> bool {
    actor.is_some_and(|a| actors.iter().any(|id| id == a.id()))
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
    validate_claim_rules(&req.claims, at)?;
    if let Some(actors) = &req.actors {
        if actors.is_empty() {
            return Err(ConfigError::invalid(
                format!("{at}.actors"),
                "must not be empty (omit it to allow every actor)",
            ));
        }
        if let Some(j) = actors.iter().position(String::is_empty) {
            return Err(ConfigError::invalid(
                format!("{at}.actors[{j}]"),
                "must not be empty",
            ));
        }
        if req.delegation == Some(Delegation::Forbidden) || req.max_delegation_depth == Some(0) {
            return Err(ConfigError::invalid(
                format!("{at}.actors"),
                "needs a delegated token, which delegation: forbidden or max_delegation_depth: 0 refuses",
            ));
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
    /// The route requires a sender-constrained token (DPoP-bound or certificate-bound)
    /// and the token is a bearer token.
    SenderConstraintRequired,
    /// A claim rule failed (or a rate-limit key claim is missing): the claim's name as
    /// configured, never its value.
    ClaimNotAllowed(String),
    /// The delegated token's current actor is not one of the route's `actors`.
    ActorNotAllowed,
    /// The token's `act` chain is deeper than the route's `max_delegation_depth`.
    DelegationTooDeep {
        /// The route's maximum depth.
        max: u32,
    },
    /// The client is over its rate limit (429).
    RateLimited {
        /// The binding's period: the `Retry-After` in seconds.
        retry_after: u32,
    },
    /// The rate limiter could not be asked (503): the request is refused, never let
    /// through uncounted.
    RateLimitUnavailable(String),
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
    fn info(&self) -> &'static CodeInfo {
        use crate::error::catalogue as c;
        match self {
            Self::InsufficientScope { .. } => &c::INSUFFICIENT_SCOPE,
            Self::RoleNotAllowed => &c::ROLE_NOT_ALLOWED,
            Self::KindNotAllowed(_) => &c::KIND_NOT_ALLOWED,
            Self::ClientNotAllowed => &c::CLIENT_NOT_ALLOWED,
            Self::DelegationRequired => &c::DELEGATION_REQUIRED,
            Self::DelegationForbidden => &c::DELEGATION_FORBIDDEN,
            Self::DeniedByDefault => &c::DENIED_BY_DEFAULT,
            Self::SenderConstraintRequired => &c::SENDER_CONSTRAINT_REQUIRED,
            Self::ClaimNotAllowed(_) => &c::CLAIM_NOT_ALLOWED,
            Self::ActorNotAllowed => &c::ACTOR_NOT_ALLOWED,
            Self::DelegationTooDeep { .. } => &c::DELEGATION_TOO_DEEP,
            Self::RateLimited { .. } => &c::RATE_LIMITED,
            Self::RateLimitUnavailable(_) => &c::RATE_LIMIT_UNAVAILABLE,
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
            Self::SenderConstraintRequired => f.write_str(
                "this route requires a sender-constrained (dpop or certificate-bound) token",
            ),
            Self::ClaimNotAllowed(name) => write!(
                f,
                "the token's {name} claim does not satisfy this route's rule (missing, mistyped or not allowed)"
            ),
            Self::ActorNotAllowed => {
                f.write_str("the token's current actor (act) is not allowed on this route")
            }
            Self::DelegationTooDeep { max } => write!(
                f,
                "the token's delegation chain (act) is deeper than this route allows ({max})"
            ),
            Self::RateLimited { .. } => f.write_str("too many requests from this client"),
            Self::RateLimitUnavailable(why) => write!(f, "the rate limiter cannot be asked: {why}"),
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
            binding: None,
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
            ("/Health", "/health", false),
            ("/caf%C3%A9", "/caf%c3%a9", true),
            ("/café", "/caf%C3%A9", true),
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
            let got = request_path(path).is_some_and(|rp| p.matches(&rp, Reading::Exact));
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
            "/users/a%40b.com",
            "/caf%C3%A9",
            "/a%3Fb",
            "/a%7e",
            "/a%2D",
            "/a%5F",
        ] {
            assert!(request_path(ok).is_some(), "{ok}");
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
            "/%61dmin",
            "/%41",
            "/a%2e",
            "/a%0a",
            "/a%7F",
            "/a%zz",
            "/a%4",
            "/a%",
            "/a%C4",
            "/a%FF",
            "/a%C0%AF",
        ] {
            assert!(request_path(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn folding() {
        for (seg, want) in [
            ("admin", "admin"),
            ("ADMIN", "admin"),
            ("adm\u{131}n", "admin"),
            ("adm\u{130}n", "admin"),
            ("\u{17f}ecret", "secret"),
            ("\u{212a}eys", "keys"),
            ("\u{ff41}dmin", "admin"),
            ("\u{ff21}DMIN", "admin"),
            ("admin.", "admin"),
            ("admin. .", "admin"),
            ("v1.0", "v1.0"),
            ("stra\u{1e9e}e", "strasse"),
            ("stra\u{df}e", "strasse"),
            ("\u{a5}", "\\"),
            ("a\u{2215}b", "a/b"),
            ("Caf\u{c9}", "caf\u{e9}"),
        ] {
            assert_eq!(fold(seg), want, "{seg:?}");
        }
    }

    #[test]
    fn readings_combine() {
        let p = policy(json!({
            "routes": [
                {"path": "/docs/*", "public": true},
                {"path": "/admin/*", "require": {"kinds": ["machine"]}},
                {"path": "/Legacy", "case_sensitive": true, "public": true},
                {"path": "/*", "require": {"scopes_all": ["read"]}}
            ],
            "default": "any_valid_token"
        }));
        let u = principal(Kind::User, &["read"]);
        let m = principal(Kind::Machine, &[]);
        // Case variants and Unicode folds of /admin get the admin rule.
        for path in [
            "/ADMIN/x",
            "/Admin/x",
            "/adm%C4%B1n/x",
            "/adm%C4%B0n/x",
            "/admin./x",
        ] {
            let r = p.route("GET", path);
            assert_eq!(r.index, Some(1), "{path}");
            assert!(!r.public, "{path}");
            assert_eq!(
                p.authorize(&r, &u, &Claims::new()),
                Err(PolicyError::KindNotAllowed(Kind::User)),
                "{path}"
            );
            // ... and the exact reading's rule (`/*`: scope read) too.
            assert_eq!(r.also, vec![Also::Route(3)], "{path}");
            assert!(p.authorize(&r, &m, &Claims::new()).is_err(), "{path}");
        }
        // A case variant of a public route is not public: the exact reading's rule holds.
        let r = p.route("GET", "/DOCS/x");
        assert_eq!(
            (r.index, r.public, r.also.clone()),
            (Some(0), false, vec![Also::Route(3)])
        );
        assert!(p.authorize(&r, &u, &Claims::new()).is_ok());
        assert_eq!(
            p.authorize(&r, &m, &Claims::new()),
            Err(PolicyError::InsufficientScope {
                required: vec!["read".into()]
            })
        );
        // The exact spelling of a public route stays public; a case-sensitive route
        // matches only its own spelling.
        assert!(p.route("GET", "/docs/x").public);
        assert!(p.route("GET", "/Legacy").public);
        assert_eq!(p.route("GET", "/legacy").index, Some(3));
        // Decoded spellings: an escaped reserved or non-ASCII character matches the
        // decoded literal.
        let q = policy(json!({
            "routes": [{"path": "/caf%C3%A9", "require": {"kinds": ["machine"]}}]
        }));
        assert_eq!(q.route("GET", "/caf%c3%a9").index, Some(0));
        assert_eq!(q.route("GET", "/CAF%C3%89").index, Some(0));
        // With the default rule `deny`, a variant that matches no route exactly is refused.
        let r = q.route("GET", "/CAF%C3%89");
        assert_eq!(r.also, vec![Also::Unmatched]);
        assert_eq!(
            q.authorize(&r, &m, &Claims::new()),
            Err(PolicyError::DeniedByDefault)
        );
        assert!(q
            .authorize(&q.route("GET", "/caf%C3%A9"), &m, &Claims::new())
            .is_ok());
    }

    #[test]
    fn fold_is_idempotent() {
        for c in (0u32..0x3_0000).filter_map(char::from_u32) {
            let s = c.to_string();
            let once = fold(&s).into_owned();
            assert_eq!(fold(&once), once, "U+{:04X}", c as u32);
        }
    }

    #[test]
    fn folding_must_not_reach_an_earlier_weaker_route() {
        // Found in review: the folded reading skips the route the origin runs
        // (`/files/*`) and lands on an earlier public one, while the exact reading
        // falls through to a later public one.
        let p = policy(json!({"routes": [
            {"path": "/files/public/*", "public": true},
            {"path": "/files/*", "require": {"scopes_all": ["files:read"]}},
            {"path": "/*", "public": true}
        ]}));
        let u = principal(Kind::User, &[]);
        for path in [
            "/FILES/public./x",
            "/FILES/publ%C4%B1c/x",
            "/FILES/%EF%BD%90ublic/x",
            "/FILES/public%20/x",
        ] {
            let r = p.route("GET", path);
            assert!(!r.public, "{path}");
            assert!(r.also.contains(&Also::Route(1)), "{path}: {:?}", r.also);
            assert_eq!(
                p.authorize(&r, &u, &Claims::new()),
                Err(PolicyError::InsufficientScope {
                    required: vec!["files:read".into()]
                }),
                "{path}"
            );
        }
        // The spellings as written are unchanged.
        assert!(p.route("GET", "/files/public/x").public);
        assert_eq!(p.route("GET", "/files/x").index, Some(1));
        assert!(p.route("GET", "/files/x").also.is_empty());
    }

    #[test]
    fn folds_into_separators_and_dot_segments_are_refused() {
        let p = policy(json!({"routes": [
            {"path": "/public/*", "public": true},
            {"path": "/admin/*", "require": {"kinds": ["machine"]}}
        ]}));
        for path in [
            "/public/%EF%BC%8E%EF%BC%8E/admin/x",
            "/public/%EF%BC%8E%EF%BC%8E%EF%BC%8Fadmin%EF%BC%8Fx",
            "/public/..%20/admin/x",
            "/public/a%EF%BC%8Fb",
            "/public/%C2%A5admin",
            "/public/a%E2%88%95b",
            "/public/%EF%BC%85",
        ] {
            assert!(p.route("GET", path).rejected, "{path}");
        }
        assert!(Pattern::compile("/a\u{ff0f}b").is_err());
    }

    #[test]
    fn raw_reading_catches_escapes_a_raw_origin_routes_elsewhere() {
        // An origin that does not decode (Express) routes `/api/user%2Dprofile` to its
        // catch-all, not to `/api/user-profile`: both rules apply.
        let p = policy(json!({"routes": [
            {"path": "/api/user-profile", "require": {"kinds": ["user"]}},
            {"path": "/api/*", "require": {"kinds": ["machine"]}}
        ]}));
        let r = p.route("GET", "/api/user%2Dprofile");
        assert_eq!((r.index, r.also.clone()), (Some(0), vec![Also::Route(1)]));
        assert!(p
            .authorize(&r, &principal(Kind::User, &[]), &Claims::new())
            .is_err());
        assert!(p
            .authorize(&r, &principal(Kind::Machine, &[]), &Claims::new())
            .is_err());
        // `%7E` (Java's URLEncoder) is accepted and decoded; a non-ASCII literal matches
        // its WHATWG spelling in every reading.
        let q = policy(json!({"routes": [
            {"path": "/users/~john", "require": {"kinds": ["user"]}},
            {"path": "/caf\u{e9}", "require": {"kinds": ["user"]}}
        ]}));
        assert_eq!(q.route("GET", "/users/%7Ejohn").index, Some(0));
        assert!(q.route("GET", "/users/~john").also.is_empty());
        let r = q.route("GET", "/caf%C3%A9");
        assert_eq!((r.index, r.also.clone()), (Some(1), vec![]));
        let r = q.route("GET", "/caf%c3%a9");
        assert_eq!((r.index, r.also.clone()), (Some(1), vec![]));
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
        assert_eq!(
            p.authorize(&m, &u, &Claims::new()),
            Err(PolicyError::DeniedByDefault)
        );
        let m = p.route("GET", "/health/../builds/1");
        assert!(m.rejected);
        // Never allowed; the gate answers path_rejected before asking the policy.
        assert_eq!(
            p.authorize(&m, &u, &Claims::new()),
            Err(PolicyError::DeniedByDefault)
        );
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
            crate::RequestError::PathRejected.oauth_error(),
            Some("invalid_request")
        );
        assert_eq!(PolicyError::RoleNotAllowed.scope_hint(), None);
    }
}
