//! The JS bindings behind the `tokengate` npm package (feature `js`).
//!
//! A thin translation layer over the sans-IO core:
//!
//! * [`create_verifier`] maps the camelCase options of `createVerifier` onto a core
//!   [`Config`] (built as a JSON value and checked by [`Config::from_value`]); a bad
//!   option throws a `TypeError` naming it, e.g.
//!   `tokengate: invalid option "audience": ...`.
//! * [`Verifier::verify_now`] runs [`Gate::peek`], [`KeyProvider::keys`] (through [`JsIo`]:
//!   the global `fetch`, read at call time, with an `AbortController` timeout, and the
//!   optional user `cache`), then [`Gate::begin`], the signature check through
//!   [`tokengate_webcrypto::check`] (node:crypto's synchronous verify where the Node.js entry
//!   registered it, else WebCrypto, with the Rust backend as the fallback or with
//!   `signatureBackend: "wasm"`) and [`Gate::complete`] (the core's [`TokenCache`] is
//!   disabled here). It polls that once: when nothing had to wait (keys in memory, a
//!   synchronous signature check) it answers with the result itself, sparing the
//!   promise machinery, and keeps the success for [`Verifier::recheck`] and
//!   [`Verifier::authorize_kept`], which let the JS wrapper (`npm/api.js`) reuse the
//!   result of a repeated token after checking the key set and the time claims again;
//!   [`Verifier::authorize`] (the wrapper's path when nothing is kept) verifies and
//!   checks a [`Requirement`] with a compiled [`Policy`].
//! * [`decode`] parses a token without verifying it and classifies its claims as a hint.
//! * [`bearer_token`] reads the token out of an `Authorization` header value.
//! * [`is_reserved_header`] and [`encode_header_value`] expose the edge's forwarding
//!   rules ([`tokengate::headers`]) to JS forwarders such as the Next.js example.
//! * `__verifySignature` ([`verify_signature_internal`]) is an internal hook for the
//!   tests and benchmarks that compare the two signature backends.
//!
//! Results cross to JS as plain objects (built here as JSON and parsed with
//! `JSON.parse`): `{ ok: true, principal, claims, header }` or
//! `{ ok: false, error: { code, message, status, wwwAuthenticate } }`. Bad tokens never
//! throw; only invalid options, an invalid requirement or a misbehaving `currentDate`
//! do. The hand-written wrappers and TypeScript types of the package live in `npm/`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use js_sys::{Array, Function, Object, Promise, Reflect};
use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{future_to_promise, spawn_local, JsFuture};

use tokengate::alg::Alg;
use tokengate::classify::{
    classify, Actor, ClassifyConfig, ClassifyRule, Kind, Principal, ScopeSource,
};
use tokengate::config::{check_fetch_url, Config};
use tokengate::gate::{SignatureCheck, Verified};
use tokengate::jwk::KeySet;
use tokengate::jws::{b64_decode, parse as parse_jws, DEFAULT_MAX_TOKEN_BYTES};
use tokengate::keys::{HttpResponse, KeyIo};
use tokengate::policy::{Delegation, Policy, PolicyConfig, Requirement, RouteConfig};
use tokengate::{poll_once, Authenticator, Kept};
use tokengate::{ConfigError, Deny, ErrorCode, RequestError, TokenError};
use tokengate_webcrypto::Backend;

mod page;

/// The realm used where no verifier configuration is at hand (`decode`, `bearerToken`).
const DEFAULT_REALM: &str = "tokengate";
/// At most this many compiled `authorize` requirements are kept per verifier.
const MAX_POLICIES: usize = 256;

// ---------------------------------------------------------------------------------
// Options: camelCase JS options -> the core's snake_case configuration.
// ---------------------------------------------------------------------------------

/// An invalid option: the option's JS path and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct OptionError {
    what: &'static str,
    option: String,
    why: String,
}

impl OptionError {
    fn new(option: impl Into<String>, why: impl Into<String>) -> Self {
        OptionError {
            what: "option",
            option: option.into(),
            why: why.into(),
        }
    }

    fn message(&self) -> String {
        if self.option.is_empty() {
            format!("tokengate: invalid {}s: {}", self.what, self.why)
        } else {
            format!(
                "tokengate: invalid {} \"{}\": {}",
                self.what, self.option, self.why
            )
        }
    }

    fn to_js(&self) -> JsValue {
        js_sys::TypeError::new(&self.message()).into()
    }
}

type OptResult<T> = Result<T, OptionError>;

/// Options that belong to one issuer (at the top level with `issuer`, or in each
/// `issuers[]` entry); the last three may also be given at the top level as
/// defaults for every entry of `issuers`.
const ISSUER_KEYS: &[&str] = &[
    "issuer",
    "audience",
    "jwksUri",
    "jwks",
    "secret",
    "algorithms",
    "requiredTyp",
    "requiredClaims",
    "maxTokenAge",
    "requireExp",
];
/// Issuer options that are inherited from the top level by `issuers[]` entries.
const INHERITED_KEYS: &[&str] = &[
    "audience",
    "algorithms",
    "requiredTyp",
    "requiredClaims",
    "maxTokenAge",
    "requireExp",
];
/// Options that are not about one issuer.
const GLOBAL_KEYS: &[&str] = &[
    "issuers",
    "clockTolerance",
    "classify",
    "scopeClaims",
    "maxTokenBytes",
    "realm",
    "wildcardScopes",
    "tokenCacheSize",
    "jwksCache",
    "fetchTimeout",
];
/// Options read by the bindings themselves, not translated into the configuration.
const JS_ONLY_KEYS: &[&str] = &["cache", "currentDate", "signatureBackend"];
const CLASSIFY_KEYS: &[(&str, &str)] = &[
    ("rules", "rules"),
    ("m2mClaim", "m2m_claim"),
    ("userIdClaim", "user_id_claim"),
    ("rolesClaim", "roles_claim"),
];
const JWKS_CACHE_KEYS: &[(&str, &str)] = &[
    ("defaultMaxAge", "default_max_age"),
    ("minMaxAge", "min_max_age"),
    ("maxMaxAge", "max_max_age"),
    ("cooldown", "cooldown"),
    ("staleWindow", "stale_window"),
    ("refreshAhead", "refresh_ahead"),
];

/// The core configuration built from JS options, with the values of `secret` options.
#[derive(Debug)]
struct Translated {
    config: Config,
    /// Secret name (as put in `shared_secret`) -> base64url value.
    secrets: HashMap<String, String>,
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn want_string(v: &Value, at: &str) -> OptResult<String> {
    match v {
        Value::String(s) if !s.is_empty() => Ok(s.clone()),
        Value::String(_) => Err(OptionError::new(at, "must not be empty")),
        other => Err(OptionError::new(
            at,
            format!("must be a string, got {}", type_name(other)),
        )),
    }
}

fn want_bool(v: &Value, at: &str) -> OptResult<bool> {
    v.as_bool()
        .ok_or_else(|| OptionError::new(at, format!("must be a boolean, got {}", type_name(v))))
}

/// A non-negative finite number of whole units (fractions are rounded down).
fn want_count(v: &Value, at: &str) -> OptResult<u64> {
    let f = v
        .as_f64()
        .ok_or_else(|| OptionError::new(at, format!("must be a number, got {}", type_name(v))))?;
    if !f.is_finite() || f < 0.0 {
        return Err(OptionError::new(at, "must be a non-negative number"));
    }
    if f > 9_007_199_254_740_991.0 {
        return Err(OptionError::new(at, "is too large"));
    }
    Ok(f.floor() as u64)
}

fn want_strings(v: &Value, at: &str, allow_single: bool) -> OptResult<Vec<String>> {
    match v {
        Value::String(_) if allow_single => Ok(vec![want_string(v, at)?]),
        Value::Array(items) => {
            if items.is_empty() {
                return Err(OptionError::new(at, "must not be an empty array"));
            }
            items
                .iter()
                .enumerate()
                .map(|(i, item)| want_string(item, &format!("{at}[{i}]")))
                .collect()
        }
        other => Err(OptionError::new(
            at,
            format!(
                "must be {}, got {}",
                if allow_single {
                    "a string or an array of strings"
                } else {
                    "an array of strings"
                },
                type_name(other)
            ),
        )),
    }
}

fn want_object<'a>(v: &'a Value, at: &str) -> OptResult<&'a Map<String, Value>> {
    v.as_object()
        .ok_or_else(|| OptionError::new(at, format!("must be an object, got {}", type_name(v))))
}

/// Deserializes an enum list (algorithms, classification rules, scope claims) with the
/// core's own types, so that an unknown name is reported against the option.
fn want_enum_list<T: DeserializeOwned>(v: &Value, at: &str) -> OptResult<Vec<T>> {
    let names = want_strings(v, at, false)?;
    names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            serde_json::from_value::<T>(Value::String(name.clone())).map_err(|e| {
                let why = e.to_string();
                let why = why.split(" at line").next().unwrap_or(&why).to_string();
                OptionError::new(format!("{at}[{i}]"), why)
            })
        })
        .collect()
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

/// Translates one issuer's options (`src`, with `defaults` inherited from the top
/// level) into an `IssuerConfig` JSON object. `prefix` is the JS path of the entry
/// (`""` for the single-issuer form, `issuers[i]` otherwise).
fn issuer_value(
    src: &Map<String, Value>,
    defaults: &Map<String, Value>,
    prefix: &str,
    index: usize,
    secrets: &mut HashMap<String, String>,
) -> OptResult<Value> {
    let get = |key: &str| -> Option<(&Value, String)> {
        match src.get(key) {
            Some(v) if !v.is_null() => Some((v, join(prefix, key))),
            _ => defaults
                .get(key)
                .filter(|v| !v.is_null())
                .map(|v| (v, key.to_string())),
        }
    };
    let mut out = Map::new();
    let (issuer, at) =
        get("issuer").ok_or_else(|| OptionError::new(join(prefix, "issuer"), "is required"))?;
    out.insert("issuer".into(), Value::String(want_string(issuer, &at)?));
    let (aud, at) =
        get("audience").ok_or_else(|| OptionError::new(join(prefix, "audience"), "is required"))?;
    out.insert("audiences".into(), json!(want_strings(aud, &at, true)?));
    if let Some((v, at)) = get("jwksUri") {
        out.insert("jwks_uri".into(), Value::String(want_string(v, &at)?));
    }
    if let Some((v, at)) = get("jwks") {
        want_object(v, &at)?;
        out.insert("jwks".into(), v.clone());
    }
    if let Some((v, at)) = get("secret") {
        let value = want_string(v, &at)?;
        let bytes = b64_decode(value.trim())
            .ok_or_else(|| OptionError::new(&at, "must be base64url without padding"))?;
        KeySet::from_secret(&bytes).map_err(|e| OptionError::new(&at, e.to_string()))?;
        let name = format!("issuers[{index}].secret");
        secrets.insert(name.clone(), value);
        out.insert("shared_secret".into(), Value::String(name));
    }
    if let Some((v, at)) = get("algorithms") {
        let algs: Vec<Alg> = want_enum_list(v, &at)?;
        out.insert("algorithms".into(), json!(algs));
    }
    if let Some((v, at)) = get("requiredTyp") {
        out.insert("required_typ".into(), Value::String(want_string(v, &at)?));
    }
    if let Some((v, at)) = get("requiredClaims") {
        out.insert(
            "required_claims".into(),
            json!(want_strings(v, &at, false)?),
        );
    }
    if let Some((v, at)) = get("maxTokenAge") {
        out.insert("max_age".into(), json!(want_count(v, &at)?));
    }
    if let Some((v, at)) = get("requireExp") {
        out.insert("require_exp".into(), Value::Bool(want_bool(v, &at)?));
    }
    Ok(Value::Object(out))
}

/// The classification part (`classify` and `scopeClaims`) of options, shared by
/// `createVerifier` and `decode`.
fn classify_value(opts: &Map<String, Value>) -> OptResult<Option<Value>> {
    let mut out = Map::new();
    if let Some(v) = opts.get("classify").filter(|v| !v.is_null()) {
        let obj = want_object(v, "classify")?;
        for (key, value) in obj {
            let at = format!("classify.{key}");
            let Some((_, snake)) = CLASSIFY_KEYS.iter().find(|(k, _)| k == key) else {
                return Err(unknown(&at, CLASSIFY_KEYS.iter().map(|(k, _)| *k)));
            };
            if value.is_null() {
                continue;
            }
            let value = if *snake == "rules" {
                let rules: Vec<ClassifyRule> = match value {
                    Value::Array(a) if a.is_empty() => Vec::new(),
                    _ => want_enum_list(value, &at)?,
                };
                json!(rules)
            } else {
                Value::String(want_string(value, &at)?)
            };
            out.insert((*snake).to_string(), value);
        }
    }
    if let Some(v) = opts.get("scopeClaims").filter(|v| !v.is_null()) {
        let sources: Vec<ScopeSource> = match v {
            Value::Array(a) if a.is_empty() => Vec::new(),
            _ => want_enum_list(v, "scopeClaims")?,
        };
        out.insert("scope_claims".into(), json!(sources));
    }
    Ok((!out.is_empty()).then_some(Value::Object(out)))
}

fn unknown<'a>(at: &str, known: impl Iterator<Item = &'a str>) -> OptionError {
    let known: Vec<&str> = known.collect();
    let leaf = at.rsplit('.').next().unwrap_or(at);
    let lower = leaf.to_ascii_lowercase();
    let hint = known
        .iter()
        .find(|k| {
            let k = k.to_ascii_lowercase();
            k == lower || k.trim_end_matches('s') == lower.trim_end_matches('s')
        })
        .map(|k| format!(" (did you mean \"{k}\"?)"))
        .unwrap_or_default();
    OptionError::new(at, format!("is not a known option{hint}"))
}

/// Maps a core configuration field path (`issuers[0].jwks_uri`) back to the JS option
/// that set it (`jwksUri`, or `issuers[0].jwksUri`).
fn option_path(field: &str, single: bool) -> String {
    let special = |s: &str| -> Option<&'static str> {
        Some(match s {
            "audiences" => "audience",
            "shared_secret" => "secret",
            "max_age" => "maxTokenAge",
            "leeway" => "clockTolerance",
            "classify.scope_claims" => "scopeClaims",
            "jwks_cache.fetch_timeout_ms" => "fetchTimeout",
            "jwks_cache" => "jwksCache",
            _ => return None,
        })
    };
    if let Some(s) = special(field) {
        return s.to_string();
    }
    let camel = |seg: &str| -> String {
        if let Some(s) = special(seg) {
            return s.to_string();
        }
        let mut out = String::new();
        let mut upper = false;
        for c in seg.chars() {
            if c == '_' {
                upper = true;
            } else if upper {
                out.extend(c.to_uppercase());
                upper = false;
            } else {
                out.push(c);
            }
        }
        out
    };
    let mapped: Vec<String> = field.split('.').map(camel).collect();
    let mut path = mapped.join(".");
    if single {
        if let Some(rest) = path.strip_prefix("issuers[0].") {
            path = rest.to_string();
        }
    }
    path
}

fn config_error(e: &ConfigError, single: bool) -> OptionError {
    match e {
        ConfigError::Invalid { field, why } => OptionError::new(option_path(field, single), why),
        other => {
            let s = other.to_string();
            let why = s.strip_prefix("invalid configuration: ").unwrap_or(&s);
            OptionError::new("", why)
        }
    }
}

/// Translates `createVerifier` options (without [`JS_ONLY_KEYS`]) into a core
/// configuration.
fn translate(opts: &Value) -> OptResult<Translated> {
    let opts = match opts {
        Value::Object(o) => o,
        other => {
            return Err(OptionError::new(
                "",
                format!(
                    "createVerifier expects an options object, got {}",
                    type_name(other)
                ),
            ))
        }
    };
    for key in opts.keys() {
        if !ISSUER_KEYS.contains(&key.as_str()) && !GLOBAL_KEYS.contains(&key.as_str()) {
            return Err(unknown(
                key,
                ISSUER_KEYS
                    .iter()
                    .chain(GLOBAL_KEYS)
                    .chain(JS_ONLY_KEYS)
                    .copied(),
            ));
        }
    }
    let present = |k: &str| opts.get(k).is_some_and(|v| !v.is_null());
    let mut secrets = HashMap::new();
    let single = !present("issuers");
    let issuers: Vec<Value> = if single {
        if !present("issuer") {
            return Err(OptionError::new(
                "issuer",
                "is required (or give issuers: [...])",
            ));
        }
        vec![issuer_value(opts, &Map::new(), "", 0, &mut secrets)?]
    } else {
        if present("issuer") {
            return Err(OptionError::new(
                "issuer",
                "give either issuer or issuers, not both",
            ));
        }
        for key in ["jwksUri", "jwks", "secret"] {
            if present(key) {
                return Err(OptionError::new(
                    key,
                    "with issuers, give it in each issuers[] entry",
                ));
            }
        }
        let list = match &opts["issuers"] {
            Value::Array(a) if !a.is_empty() => a,
            Value::Array(_) => return Err(OptionError::new("issuers", "must not be empty")),
            other => {
                return Err(OptionError::new(
                    "issuers",
                    format!("must be an array, got {}", type_name(other)),
                ))
            }
        };
        let defaults: Map<String, Value> = opts
            .iter()
            .filter(|(k, _)| INHERITED_KEYS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut out = Vec::with_capacity(list.len());
        for (i, entry) in list.iter().enumerate() {
            let at = format!("issuers[{i}]");
            let entry = want_object(entry, &at)?;
            for key in entry.keys() {
                if !ISSUER_KEYS.contains(&key.as_str()) {
                    return Err(unknown(&format!("{at}.{key}"), ISSUER_KEYS.iter().copied()));
                }
            }
            out.push(issuer_value(entry, &defaults, &at, i, &mut secrets)?);
        }
        out
    };

    let mut cfg = Map::new();
    cfg.insert("issuers".into(), Value::Array(issuers));
    let opt = |k: &str| opts.get(k).filter(|v| !v.is_null());
    if let Some(v) = opt("clockTolerance") {
        cfg.insert("leeway".into(), json!(want_count(v, "clockTolerance")?));
    }
    if let Some(c) = classify_value(opts)? {
        cfg.insert("classify".into(), c);
    }
    if let Some(v) = opt("maxTokenBytes") {
        cfg.insert(
            "max_token_bytes".into(),
            json!(want_count(v, "maxTokenBytes")?),
        );
    }
    if let Some(v) = opt("realm") {
        let realm = match v {
            Value::String(s) => s.clone(),
            other => {
                return Err(OptionError::new(
                    "realm",
                    format!("must be a string, got {}", type_name(other)),
                ))
            }
        };
        cfg.insert("realm".into(), Value::String(realm));
    }
    if let Some(v) = opt("wildcardScopes") {
        cfg.insert(
            "wildcard_scopes".into(),
            Value::Bool(want_bool(v, "wildcardScopes")?),
        );
    }
    if let Some(v) = opt("tokenCacheSize") {
        cfg.insert(
            "token_cache_size".into(),
            json!(want_count(v, "tokenCacheSize")?),
        );
    }
    let mut jwks_cache = Map::new();
    if let Some(v) = opt("jwksCache") {
        for (key, value) in want_object(v, "jwksCache")? {
            let at = format!("jwksCache.{key}");
            let Some((_, snake)) = JWKS_CACHE_KEYS.iter().find(|(k, _)| k == key) else {
                return Err(unknown(&at, JWKS_CACHE_KEYS.iter().map(|(k, _)| *k)));
            };
            if !value.is_null() {
                jwks_cache.insert((*snake).into(), json!(want_count(value, &at)?));
            }
        }
    }
    if let Some(v) = opt("fetchTimeout") {
        jwks_cache.insert(
            "fetch_timeout_ms".into(),
            json!(want_count(v, "fetchTimeout")?),
        );
    }
    if !jwks_cache.is_empty() {
        cfg.insert("jwks_cache".into(), Value::Object(jwks_cache));
    }
    let config = Config::from_value(Value::Object(cfg)).map_err(|e| config_error(&e, single))?;
    Ok(Translated { config, secrets })
}

/// Translates an `authorize` requirement into the core's [`Requirement`] JSON.
fn requirement_value(req: &Value) -> OptResult<Value> {
    const KEYS: &[(&str, &str)] = &[
        ("kinds", "kinds"),
        ("scopesAll", "scopes_all"),
        ("scopesAny", "scopes_any"),
        ("rolesAny", "roles_any"),
        ("clients", "clients"),
        ("machinesBypassScopes", "machines_bypass_scopes"),
        ("delegation", "delegation"),
    ];
    let err = |option: String, why: String| OptionError {
        what: "requirement",
        option,
        why,
    };
    let obj = match req {
        Value::Null => return Ok(json!({})),
        Value::Object(o) => o,
        other => {
            return Err(err(
                String::new(),
                format!(
                    "authorize expects a requirement object, got {}",
                    type_name(other)
                ),
            ))
        }
    };
    let mut out = Map::new();
    for (key, value) in obj {
        let Some((_, snake)) = KEYS.iter().find(|(k, _)| k == key) else {
            let mut e = unknown(key, KEYS.iter().map(|(k, _)| *k));
            e.what = "requirement";
            return Err(e);
        };
        if value.is_null() {
            continue;
        }
        let checked = match *snake {
            "machines_bypass_scopes" => want_bool(value, key).map(Value::Bool),
            "delegation" => want_string(value, key).and_then(|d| {
                serde_json::from_value::<Delegation>(Value::String(d.clone()))
                    .map(|_| Value::String(d))
                    .map_err(|_| OptionError::new(key, "must be \"required\" or \"forbidden\""))
            }),
            "kinds" => {
                let list = match value {
                    Value::String(_) => Value::Array(vec![value.clone()]),
                    other => other.clone(),
                };
                want_enum_list::<Kind>(&list, key).map(|k| json!(k))
            }
            "scopes_all" | "scopes_any" | "roles_any" => match value {
                Value::Array(a) if a.is_empty() => Ok(json!([])),
                _ => want_strings(value, key, true).map(|v| json!(v)),
            },
            _ => want_strings(value, key, true).map(|v| json!(v)),
        };
        let checked = checked.map_err(|mut e| {
            e.what = "requirement";
            e
        })?;
        out.insert((*snake).to_string(), checked);
    }
    Ok(Value::Object(out))
}

// ---------------------------------------------------------------------------------
// Results: core values -> the JSON shapes of the TypeScript types.
// ---------------------------------------------------------------------------------

/// A JSON object whose keys keep the order they were added in (serde_json's map sorts
/// them), so that results read `{ ok, principal, claims, header }` in that order.
#[derive(Default)]
struct Obj(Vec<(&'static str, Field)>);

enum Field {
    Plain(Value),
    Nested(Obj),
}

impl Obj {
    fn with(mut self, key: &'static str, value: impl Into<Value>) -> Self {
        self.0.push((key, Field::Plain(value.into())));
        self
    }

    fn nest(mut self, key: &'static str, value: Obj) -> Self {
        self.0.push((key, Field::Nested(value)));
        self
    }

    fn write(&self, out: &mut Vec<u8>) {
        out.push(b'{');
        for (i, (key, field)) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            // The keys are plain ASCII identifiers: no escaping needed.
            out.push(b'"');
            out.extend_from_slice(key.as_bytes());
            out.extend_from_slice(b"\":");
            match field {
                // Writing a `Value` into a Vec cannot fail.
                Field::Plain(v) => {
                    let _ = serde_json::to_writer(&mut *out, v);
                }
                Field::Nested(o) => o.write(out),
            }
        }
        out.push(b'}');
    }

    fn to_js(&self) -> JsValue {
        let mut text = Vec::with_capacity(1024);
        self.write(&mut text);
        // The text is valid UTF-8 JSON by construction, which JSON.parse accepts.
        let text = String::from_utf8(text).unwrap_or_default();
        js_sys::JSON::parse(&text).unwrap_or(JsValue::NULL)
    }
}

fn deny_obj(d: &Deny) -> Obj {
    Obj::default()
        .with("code", d.code)
        .with("message", d.message.clone())
        .with("status", d.status)
        .with("wwwAuthenticate", d.www_authenticate.clone())
}

fn failure(d: &Deny) -> Obj {
    Obj::default().with("ok", false).nest("error", deny_obj(d))
}

fn actor_obj(a: &Actor) -> Obj {
    let out = Obj::default().with("sub", a.sub.clone());
    match &a.act {
        Some(next) => out.nest("act", actor_obj(next)),
        None => out,
    }
}

fn principal_obj(p: &Principal) -> Obj {
    let mut out = Obj::default()
        .with("kind", p.kind.as_str())
        .with("subject", p.subject.clone())
        .with("clientId", p.client_id.clone());
    if let Some(u) = &p.user_id {
        out = out.with("userId", u.clone());
    }
    out = out
        .with("scopes", p.scopes.clone())
        .with("roles", p.roles.clone())
        .with("issuer", p.issuer.clone())
        .with("audiences", p.audiences.clone())
        .with("expiresAt", p.expires_at)
        .with("decidedBy", p.decided_by.as_str());
    match &p.actor {
        Some(a) => out.nest("actor", actor_obj(a)),
        None => out,
    }
}

fn success(v: &Verified) -> Obj {
    Obj::default()
        .with("ok", true)
        .nest("principal", principal_obj(&v.principal))
        .with("claims", Value::Object(v.token.claims.clone()))
        .with("header", Value::Object(v.token.header.clone()))
}

/// Reads a JS value as JSON (through `JSON.stringify`); `undefined` becomes `null`.
fn from_js(v: &JsValue, what: &str) -> OptResult<Value> {
    if v.is_undefined() || v.is_null() {
        return Ok(Value::Null);
    }
    let text = js_sys::JSON::stringify(v)
        .map_err(|e| {
            let why = Reflect::get(&e, &"message".into())
                .ok()
                .and_then(|m| m.as_string())
                .unwrap_or_else(|| "it cannot be serialised as JSON".into());
            OptionError::new("", format!("{what}: {why}"))
        })?
        .as_string()
        .unwrap_or_default();
    serde_json::from_str(&text)
        .map_err(|e| OptionError::new("", format!("{what} are not plain data: {e}")))
}

// ---------------------------------------------------------------------------------
// I/O: the global fetch and the optional user cache.
// ---------------------------------------------------------------------------------

/// The key provider's I/O in a JS host: the global `fetch` (looked up on every call, so
/// that tests can stub it) with an `AbortController` timeout, the optional user cache
/// (`get(key)` / `set(key, value, ttlSeconds)`, errors ignored) and the `secret`
/// options.
#[derive(Clone)]
pub struct JsIo {
    cache: Option<JsValue>,
    secrets: Rc<HashMap<String, String>>,
    timeout_ms: u64,
}

fn js_message(e: &JsValue) -> String {
    if let Some(s) = e.as_string() {
        return s;
    }
    let name = Reflect::get(e, &"name".into())
        .ok()
        .and_then(|v| v.as_string());
    let message = Reflect::get(e, &"message".into())
        .ok()
        .and_then(|v| v.as_string());
    let cause = Reflect::get(e, &"cause".into())
        .ok()
        .filter(|c| c.is_object())
        .and_then(|c| Reflect::get(&c, &"message".into()).ok())
        .and_then(|v| v.as_string());
    let mut out = match (name, message) {
        (Some(n), Some(m)) => format!("{n}: {m}"),
        (None, Some(m)) => m,
        (Some(n), None) => n,
        (None, None) => "unknown error".into(),
    };
    if let Some(c) = cause {
        out.push_str(&format!(" ({c})"));
    }
    out
}

fn get_fn(target: &JsValue, name: &str) -> Option<Function> {
    Reflect::get(target, &name.into())
        .ok()
        .and_then(|f| f.dyn_into::<Function>().ok())
}

/// Awaits a value that may or may not be a promise.
async fn settle(v: JsValue) -> Result<JsValue, JsValue> {
    JsFuture::from(Promise::resolve(&v)).await
}

impl JsIo {
    async fn fetch_inner(&self, url: &str) -> Result<HttpResponse, String> {
        let global: JsValue = js_sys::global().into();
        let fetch =
            get_fn(&global, "fetch").ok_or("there is no global fetch function in this runtime")?;
        let init = Object::new();
        let headers = Object::new();
        let _ = Reflect::set(&headers, &"accept".into(), &"application/json".into());
        let _ = Reflect::set(&init, &"method".into(), &"GET".into());
        let _ = Reflect::set(&init, &"headers".into(), &headers);
        // A timeout through AbortController where the runtime has one.
        let mut abort: Option<(JsValue, JsValue)> = None;
        if let Some(ctor) = get_fn(&global, "AbortController") {
            if let Ok(ctrl) = Reflect::construct(&ctor, &Array::new()) {
                let signal = Reflect::get(&ctrl, &"signal".into()).unwrap_or(JsValue::UNDEFINED);
                let trigger = get_fn(&ctrl, "abort").map(|f| f.bind0(&ctrl));
                let set_timeout = get_fn(&global, "setTimeout");
                if let (Some(trigger), Some(set_timeout)) = (trigger, set_timeout) {
                    let _ = Reflect::set(&init, &"signal".into(), &signal);
                    if let Ok(timer) =
                        set_timeout.call2(&global, &trigger, &(self.timeout_ms as f64).into())
                    {
                        abort = Some((signal, timer));
                    }
                }
            }
        }
        let result = async {
            let pending = fetch
                .call2(&global, &url.into(), &init)
                .map_err(|e| js_message(&e))?;
            let resp = settle(pending).await.map_err(|e| js_message(&e))?;
            let status = Reflect::get(&resp, &"status".into())
                .ok()
                .and_then(|s| s.as_f64())
                .ok_or("fetch returned something that is not a Response")?;
            // fetch follows redirects: the final URL must pass the same rule as the
            // configured one (https, or http on a loopback host).
            if let Some(final_url) = Reflect::get(&resp, &"url".into())
                .ok()
                .and_then(|u| u.as_string())
                .filter(|u| !u.is_empty())
            {
                check_fetch_url(&final_url)
                    .map_err(|why| format!("redirected to {final_url}: {why}"))?;
            }
            let headers = Reflect::get(&resp, &"headers".into()).unwrap_or(JsValue::UNDEFINED);
            let header = |name: &str| -> Option<String> {
                let get = get_fn(&headers, "get")?;
                get.call1(&headers, &name.into()).ok()?.as_string()
            };
            let cache_control = header("cache-control");
            let age = header("age");
            let text = get_fn(&resp, "text").ok_or("the response has no text()")?;
            let body = text.call0(&resp).map_err(|e| js_message(&e))?;
            let body = settle(body).await.map_err(|e| js_message(&e))?;
            Ok(HttpResponse {
                status: status as u16,
                body: body.as_string().unwrap_or_default(),
                cache_control,
                age,
            })
        }
        .await;
        if let Some((signal, timer)) = abort {
            if let Some(clear) = get_fn(&global, "clearTimeout") {
                let _ = clear.call1(&global, &timer);
            }
            let aborted = Reflect::get(&signal, &"aborted".into())
                .ok()
                .and_then(|a| a.as_bool())
                .unwrap_or(false);
            if aborted && result.is_err() {
                return Err(format!("timed out after {} ms", self.timeout_ms));
            }
        }
        result
    }
}

impl KeyIo for JsIo {
    async fn fetch(&self, url: &str) -> Result<HttpResponse, String> {
        self.fetch_inner(url)
            .await
            .map_err(|e| format!("fetching {url}: {e}"))
    }

    async fn load(&self, key: &str) -> Option<String> {
        let cache = self.cache.as_ref()?;
        let get = get_fn(cache, "get")?;
        let v = get.call1(cache, &key.into()).ok()?;
        settle(v).await.ok()?.as_string()
    }

    async fn save(&self, key: &str, value: String, ttl_secs: u64) {
        let Some(cache) = self.cache.as_ref() else {
            return;
        };
        let Some(set) = get_fn(cache, "set") else {
            return;
        };
        if let Ok(v) = set.call3(cache, &key.into(), &value.into(), &(ttl_secs as f64).into()) {
            let _ = settle(v).await;
        }
    }

    fn secret(&self, name: &str) -> Option<String> {
        self.secrets.get(name).cloned()
    }

    /// A `setTimeout` promise made by the caller (so, in workerd, by its own request).
    async fn sleep(&self, ms: u64) {
        let global: JsValue = js_sys::global().into();
        let promise = match get_fn(&global, "setTimeout") {
            Some(set_timeout) => Promise::new(&mut |resolve, _reject| {
                if set_timeout
                    .call2(&global, &resolve, &(ms as f64).into())
                    .is_err()
                {
                    let _ = resolve.call0(&JsValue::UNDEFINED);
                }
            }),
            // No timers: at least yield to the event loop.
            None => Promise::resolve(&JsValue::UNDEFINED),
        };
        let _ = JsFuture::from(promise).await;
    }

    fn fetch_timeout_ms(&self) -> u64 {
        self.timeout_ms
    }
}

// ---------------------------------------------------------------------------------
// The verifier.
// ---------------------------------------------------------------------------------

struct Inner {
    auth: Authenticator,
    policies: RefCell<HashMap<String, Rc<Policy>>>,
    io: JsIo,
    current_date: Option<Function>,
    backend: Backend,
    memo: RefCell<Memo>,
}

/// The verifications that the package's JS wrapper (`npm/api.js`) keeps by token
/// string, so that a repeated token skips the wasm call with the token, the hashing and
/// the result marshalling: the wrapper holds `token -> (id, frozen result)` and, on a
/// hit, asks [`Verifier::recheck`] whether entry `id` still holds *now*. The entries
/// are the core's [`Kept`] verifications, and the recheck is the core's one reuse rule
/// ([`Authenticator::recheck`]), the rule of the Worker's token cache. Bounded like the
/// token cache.
#[derive(Default)]
struct Memo {
    capacity: usize,
    entries: HashMap<u32, Kept>,
    order: std::collections::VecDeque<u32>,
    next: u32,
    /// The id of the last success kept (0: the last call kept nothing).
    last: u32,
}

impl Memo {
    fn insert(&mut self, success: Kept) -> u32 {
        if self.capacity == 0 {
            return 0;
        }
        while self.entries.len() >= self.capacity {
            match self.order.pop_front() {
                Some(old) => {
                    self.entries.remove(&old);
                }
                None => break,
            }
        }
        // Entries dropped by a failed recheck leave their id in `order`: compact it
        // before it outgrows the entries, so that it stays bounded.
        if self.order.len() >= self.capacity.saturating_mul(2).max(16) {
            let entries = &self.entries;
            self.order.retain(|id| entries.contains_key(id));
        }
        // Ids start at 1 and skip 0 on wrap-around.
        self.next = self.next.checked_add(1).unwrap_or(1);
        let id = self.next;
        self.entries.insert(id, success);
        self.order.push_back(id);
        id
    }
}

/// A token verifier made by `createVerifier(options)`: `verify(token)` and
/// `authorize(token, requirement)` return promises of plain result objects.
#[wasm_bindgen]
pub struct Verifier {
    inner: Rc<Inner>,
}

/// `createVerifier(options)`: validates the options and builds a verifier. Throws a
/// `TypeError` naming the bad option.
#[wasm_bindgen(js_name = createVerifier)]
pub fn create_verifier(options: JsValue) -> Result<Verifier, JsValue> {
    if !options.is_object() || Array::is_array(&options) {
        return Err(OptionError::new("", "createVerifier expects an options object").to_js());
    }
    let cache = Reflect::get(&options, &"cache".into()).unwrap_or(JsValue::UNDEFINED);
    let cache = if cache.is_undefined() || cache.is_null() {
        None
    } else {
        if get_fn(&cache, "get").is_none() || get_fn(&cache, "set").is_none() {
            return Err(OptionError::new(
                "cache",
                "must be an object with get(key) and set(key, value, ttlSeconds) methods",
            )
            .to_js());
        }
        Some(cache)
    };
    let current_date = Reflect::get(&options, &"currentDate".into()).unwrap_or(JsValue::UNDEFINED);
    let current_date = if current_date.is_undefined() || current_date.is_null() {
        None
    } else {
        Some(current_date.dyn_into::<Function>().map_err(|_| {
            OptionError::new("currentDate", "must be a function returning a Date").to_js()
        })?)
    };
    let backend = Reflect::get(&options, &"signatureBackend".into()).unwrap_or(JsValue::UNDEFINED);
    let backend = if backend.is_undefined() || backend.is_null() {
        Backend::default()
    } else {
        backend
            .as_string()
            .as_deref()
            .and_then(Backend::parse)
            .ok_or_else(|| {
                OptionError::new(
                    "signatureBackend",
                    "must be \"auto\", \"node\", \"webcrypto\" or \"wasm\"",
                )
                .to_js()
            })?
    };
    if backend == Backend::Node && !tokengate_webcrypto::has_host_verify() {
        return Err(OptionError::new(
            "signatureBackend",
            "\"node\" needs the package's Node.js entry (node:crypto); this runtime has none",
        )
        .to_js());
    }
    // Everything else is plain data: copy it without the two callbacks and the backend
    // and read it as JSON.
    let data = Object::assign(&Object::new(), &Object::from(options));
    for key in JS_ONLY_KEYS {
        let _ = Reflect::delete_property(&data, &(*key).into());
    }
    let value = from_js(&data, "options").map_err(|e| e.to_js())?;
    let Translated { config, secrets } = translate(&value).map_err(|e| e.to_js())?;
    let io = JsIo {
        cache,
        secrets: Rc::new(secrets),
        timeout_ms: config.jwks_cache.fetch_timeout_ms,
    };
    // Successes are kept in `Memo` (with the JS wrapper's map by token string), not in
    // the pipeline's hashed token cache: one cache, and no token hashing.
    let memo_capacity = config.token_cache_size;
    let auth = Authenticator::with_cache(config, 0)
        .map_err(|e| config_error(&e, value.get("issuers").is_none_or(|v| v.is_null())).to_js())?;
    Ok(Verifier {
        inner: Rc::new(Inner {
            auth,
            policies: RefCell::new(HashMap::new()),
            io,
            current_date,
            backend,
            memo: RefCell::new(Memo {
                capacity: memo_capacity,
                ..Memo::default()
            }),
        }),
    })
}

/// The earliest time `currentDate` may return, in epoch milliseconds (1973-03-03):
/// anything earlier is a number of seconds read as milliseconds.
const MIN_CURRENT_DATE_MS: f64 = 1e11;

impl Inner {
    /// The current time in unix seconds: `currentDate()` or `Date.now()`.
    fn now(&self) -> Result<i64, JsValue> {
        let ms = match &self.current_date {
            None => js_sys::Date::now(),
            Some(f) => {
                let v = f.call0(&JsValue::UNDEFINED)?;
                let ms = if let Some(d) = v.dyn_ref::<js_sys::Date>() {
                    d.get_time()
                } else {
                    v.as_f64().unwrap_or(f64::NAN)
                };
                if !ms.is_finite() {
                    return Err(js_sys::TypeError::new(
                        "tokengate: option \"currentDate\" must return a valid Date (or epoch milliseconds)",
                    )
                    .into());
                }
                // A clock before March 1973 is a number of seconds taken for
                // milliseconds (or a Date made from one): every token would look
                // issued in the future, and the error would be misleading.
                if ms < MIN_CURRENT_DATE_MS {
                    return Err(js_sys::TypeError::new(
                        "tokengate: option \"currentDate\" returned a time before 1973: return a Date or epoch milliseconds, not seconds",
                    )
                    .into());
                }
                ms
            }
        };
        Ok((ms / 1000.0).floor() as i64)
    }

    fn deny(&self, err: &dyn ErrorCode) -> Obj {
        failure(&self.auth.gate().deny(err, None))
    }

    /// The result object of a verification and, with `keep`, the id its success is
    /// kept under (0: a failure, or not kept).
    fn settle(&self, outcome: Result<Kept, Obj>, keep: bool) -> (JsValue, u32) {
        match outcome {
            Ok(s) => {
                let result = success(&s.verified).to_js();
                let id = if keep {
                    self.memo.borrow_mut().insert(s)
                } else {
                    0
                };
                (result, id)
            }
            Err(fail) => (fail.to_js(), 0),
        }
    }

    /// Verifies a token; `Err` carries the failure result (not an exception).
    async fn verify(self: &Rc<Self>, token: &JsValue, now: i64) -> Result<Kept, Obj> {
        let token = match token.as_string() {
            Some(t) if !t.is_empty() => t,
            _ if token.is_undefined() || token.is_null() || token.as_string().is_some() => {
                return Err(self.deny(&RequestError::TokenMissing))
            }
            _ => return Err(self.deny(&TokenError::Malformed("the token must be a string".into()))),
        };
        let now = u64::try_from(now).unwrap_or(0);
        let v = self
            .auth
            .verify(&self.io, &self.backend, &token, now)
            .await
            .map_err(|e| failure(&e.deny(self.auth.gate())))?;
        if v.refresh {
            let me = Rc::clone(self);
            let issuer = v.kept.issuer;
            spawn_local(async move {
                me.auth.refresh(&me.io, issuer, now).await;
            });
        }
        Ok(v.kept)
    }

    /// The compiled policy of a requirement (cached by its JSON text).
    fn policy(&self, requirement: &JsValue) -> Result<Rc<Policy>, OptionError> {
        let value = from_js(requirement, "requirement").map_err(|mut e| {
            e.what = "requirement";
            e
        })?;
        let req_value = requirement_value(&value)?;
        let key = req_value.to_string();
        if let Some(p) = self.policies.borrow().get(&key) {
            return Ok(Rc::clone(p));
        }
        let requirement: Requirement =
            serde_json::from_value(req_value).map_err(|e| OptionError {
                what: "requirement",
                option: String::new(),
                why: e.to_string(),
            })?;
        let policy = self.auth.gate().policy();
        let cfg = PolicyConfig {
            routes: vec![RouteConfig {
                path: "/*".into(),
                methods: None,
                public: false,
                require: Some(requirement),
                case_sensitive: false,
            }],
            default: policy.default_rule().clone(),
            wildcard_scopes: policy.wildcard_scopes(),
            realm: policy.realm().to_string(),
        };
        let compiled = Policy::new(&cfg).map_err(|e| {
            let mut err = config_error(&e, false);
            err.what = "requirement";
            if let Some(rest) = err.option.strip_prefix("routes[0].require.") {
                err.option = rest.to_string();
            }
            err
        })?;
        let compiled = Rc::new(compiled);
        let mut map = self.policies.borrow_mut();
        if map.len() >= MAX_POLICIES {
            map.clear();
        }
        map.insert(key, Rc::clone(&compiled));
        Ok(compiled)
    }
}

#[wasm_bindgen]
impl Verifier {
    /// `verifyNow(token, keep)`: the verification behind the wrapper's `verify(token)`.
    /// Answers with the result object (`{ ok: true, principal, claims, header }` or
    /// `{ ok: false, error }`) itself when the verification completes without waiting
    /// (keys in memory and a synchronous signature check: the usual case in Node.js);
    /// otherwise with a promise of `[result, id]`. Throws when `currentDate` misbehaves. With `keep`, a
    /// success is kept for [`Verifier::recheck`] and [`Verifier::authorize_kept`] under
    /// `id` (in the synchronous case, the id [`Verifier::last_id`] returns next); 0 when
    /// nothing was kept.
    #[wasm_bindgen(js_name = verifyNow)]
    pub fn verify_now(&self, token: JsValue, keep: bool) -> Result<JsValue, JsValue> {
        self.inner.memo.borrow_mut().last = 0;
        let now = self.inner.now()?;
        let inner = Rc::clone(&self.inner);
        let pending = Box::pin(async move { inner.verify(&token, now).await });
        match poll_once(pending) {
            Ok(outcome) => {
                let (result, id) = self.inner.settle(outcome, keep);
                self.inner.memo.borrow_mut().last = id;
                Ok(result)
            }
            // Not done: the executor polls the same future again (with a real waker,
            // which is all a future owes: only the waker of its latest poll is woken).
            Err(pending) => {
                let inner = Rc::clone(&self.inner);
                Ok(future_to_promise(async move {
                    let (result, id) = inner.settle(pending.await, keep);
                    Ok(Array::of2(&result, &id.into()).into())
                })
                .into())
            }
        }
    }

    /// How many successes are kept for [`Verifier::recheck`] (the token cache size).
    #[wasm_bindgen(js_name = memoCapacity)]
    pub fn memo_capacity(&self) -> u32 {
        u32::try_from(self.inner.memo.borrow().capacity).unwrap_or(u32::MAX)
    }

    /// The id under which the last [`Verifier::verify_now`] kept its success, or 0.
    #[wasm_bindgen(js_name = lastId)]
    pub fn last_id(&self) -> u32 {
        self.inner.memo.borrow().last
    }

    /// `authorizeKept(requirement, id)`: compiles (and caches) the requirement, throwing
    /// a `TypeError` when it is invalid; then, for `id` 0, answers `undefined`; for a
    /// kept success, `true` when its principal meets the requirement, else the failure
    /// result (a 403); `null` when `id` is no longer kept.
    #[wasm_bindgen(js_name = authorizeKept)]
    pub fn authorize_kept(&self, requirement: JsValue, id: u32) -> Result<JsValue, JsValue> {
        let policy = self.inner.policy(&requirement).map_err(|e| e.to_js())?;
        if id == 0 {
            return Ok(JsValue::UNDEFINED);
        }
        let memo = self.inner.memo.borrow();
        let Some(kept) = memo.entries.get(&id) else {
            return Ok(JsValue::NULL);
        };
        let route = policy.route("GET", "/");
        Ok(match policy.authorize(&route, &kept.verified.principal) {
            Ok(()) => JsValue::TRUE,
            Err(e) => failure(&policy.deny(&e)).to_js(),
        })
    }

    /// Whether kept success `id` still holds now: the same key-set generation, keys
    /// usable without a fetch or refresh, and the time claims valid at the current time
    /// (as a token cache hit). `false` drops the entry (and whenever `currentDate`
    /// misbehaves, so that the full path reports it).
    pub fn recheck(&self, id: u32) -> bool {
        let Ok(now) = self.inner.now() else {
            return false;
        };
        let mut memo = self.inner.memo.borrow_mut();
        let now = u64::try_from(now).unwrap_or(0);
        let holds = memo
            .entries
            .get(&id)
            .is_some_and(|kept| self.inner.auth.recheck(kept, now) == Ok(true));
        if !holds {
            memo.entries.remove(&id);
        }
        holds
    }

    /// `authorize(token, requirement)`: verifies, then checks the requirement (kinds,
    /// scopes, roles, clients, delegation). Policy denials are 403s (400 never occurs
    /// here). Rejects with a `TypeError` when the requirement is invalid.
    pub fn authorize(&self, token: JsValue, requirement: JsValue) -> Promise {
        let inner = Rc::clone(&self.inner);
        future_to_promise(async move {
            let policy = inner.policy(&requirement).map_err(|e| e.to_js())?;
            let now = inner.now()?;
            let verified = match inner.verify(&token, now).await {
                Ok(v) => v.verified,
                Err(fail) => return Ok(fail.to_js()),
            };
            let route = policy.route("GET", "/");
            let result = match policy.authorize(&route, &verified.principal) {
                Ok(()) => success(&verified),
                Err(e) => failure(&policy.deny(&e)),
            };
            Ok(result.to_js())
        })
    }
}

/// `decode(token, options?)`: the header and claims of a token **without verifying
/// it**, with a classification hint (`kind`, `decidedBy`, scopes merged the core's
/// way) under the optional `classify` / `scopeClaims` / `maxTokenBytes` options.
/// Never throws for a bad token: returns `{ ok: false, verified: false, error }`.
#[wasm_bindgen]
pub fn decode(token: JsValue, options: JsValue) -> Result<JsValue, JsValue> {
    let opts = from_js(&options, "decode options").map_err(|e| e.to_js())?;
    let (classify_cfg, max_bytes) = decode_options(&opts).map_err(|e| e.to_js())?;
    let bad = |err: &dyn ErrorCode| {
        let d = Deny::from_error(err, DEFAULT_REALM, None);
        Obj::default()
            .with("ok", false)
            .with("verified", false)
            .nest("error", deny_obj(&d))
            .to_js()
    };
    let Some(token) = token.as_string() else {
        return Ok(bad(&TokenError::Malformed(
            "the token must be a string".into(),
        )));
    };
    let jws = match parse_jws(&token, max_bytes) {
        Ok(j) => j,
        Err(e) => return Ok(bad(&e)),
    };
    let claims = match jws.claims() {
        Ok(c) => c,
        Err(e) => return Ok(bad(&e)),
    };
    let mut out = Obj::default()
        .with("ok", true)
        .with("verified", false)
        .with("header", Value::Object(jws.header.clone()))
        .with("claims", Value::Object(claims.clone()));
    match classify(&claims, &classify_cfg) {
        Ok(p) => out = out.nest("hint", principal_obj(&p)),
        Err(e) => {
            let d = Deny::from_error(&e, DEFAULT_REALM, None);
            out = out
                .with("hint", Value::Null)
                .nest("hintError", deny_obj(&d));
        }
    }
    Ok(out.to_js())
}

fn decode_options(opts: &Value) -> OptResult<(ClassifyConfig, usize)> {
    let obj = match opts {
        Value::Null => return Ok((ClassifyConfig::default(), DEFAULT_MAX_TOKEN_BYTES)),
        Value::Object(o) => o,
        other => {
            return Err(OptionError::new(
                "",
                format!("decode expects an options object, got {}", type_name(other)),
            ))
        }
    };
    const KEYS: [&str; 3] = ["classify", "scopeClaims", "maxTokenBytes"];
    for key in obj.keys() {
        if !KEYS.contains(&key.as_str()) {
            return Err(unknown(key, KEYS.iter().copied()));
        }
    }
    let classify_cfg = match classify_value(obj)? {
        Some(v) => serde_json::from_value::<ClassifyConfig>(v)
            .map_err(|e| OptionError::new("classify", e.to_string()))?,
        None => ClassifyConfig::default(),
    };
    classify_cfg
        .validate("classify.")
        .map_err(|e| config_error(&e, true))?;
    let max = match obj.get("maxTokenBytes").filter(|v| !v.is_null()) {
        Some(v) => usize::try_from(want_count(v, "maxTokenBytes")?)
            .map_err(|_| OptionError::new("maxTokenBytes", "is too large"))?,
        None => DEFAULT_MAX_TOKEN_BYTES,
    };
    Ok((classify_cfg, max))
}

/// `bearerToken(authorization)`: the token of an `Authorization: Bearer <token>`
/// header value. `{ ok: true, token }` (`token` is `null` when the header is absent)
/// or `{ ok: false, error }` (400 `invalid_request`) for another scheme or a malformed
/// value.
#[wasm_bindgen(js_name = bearerToken)]
pub fn bearer_token(authorization: JsValue) -> JsValue {
    let header = authorization.as_string();
    match tokengate::gate::extract_token(header.as_deref(), None, None) {
        Ok(token) => Obj::default().with("ok", true).with("token", token),
        Err(e) => failure(&Deny::from_error(&e, DEFAULT_REALM, None)),
    }
    .to_js()
}

/// `isReservedHeader(name, originSecretHeader?)`: whether a forwarder must drop an
/// inbound header: an identity header (`x-tokengate-*`), the origin-secret header or a
/// method-override header, in any case and with `_` read as `-`
/// ([`tokengate::headers::is_reserved_inbound`], the rule the edge applies). Throws a
/// `TypeError` when `name` (or a given `originSecretHeader`) is not a string.
#[wasm_bindgen(js_name = isReservedHeader)]
pub fn is_reserved_header(name: JsValue, origin_secret_header: JsValue) -> Result<bool, JsValue> {
    let type_error = |m: &str| -> JsValue { js_sys::TypeError::new(m).into() };
    let name = name
        .as_string()
        .ok_or_else(|| type_error("isReservedHeader: the name must be a string"))?;
    let secret = if origin_secret_header.is_undefined() || origin_secret_header.is_null() {
        tokengate::headers::DEFAULT_ORIGIN_SECRET_HEADER.to_string()
    } else {
        origin_secret_header
            .as_string()
            .ok_or_else(|| type_error("isReservedHeader: originSecretHeader must be a string"))?
    };
    Ok(tokengate::headers::is_reserved_inbound(&name, &secret))
}

/// `encodeHeaderValue(value)`: an identity header value as the edge sends it
/// ([`tokengate::headers::encode_value`]: bytes outside visible ASCII, spaces and `%` as
/// `%XX`); for an array of strings, the encoded elements joined with one space
/// ([`tokengate::headers::encode_list`]). Throws a `TypeError` for anything else.
#[wasm_bindgen(js_name = encodeHeaderValue)]
pub fn encode_header_value(value: JsValue) -> Result<String, JsValue> {
    if let Some(s) = value.as_string() {
        return Ok(tokengate::headers::encode_value(&s).into_owned());
    }
    let bad = || -> JsValue {
        js_sys::TypeError::new("encodeHeaderValue: expected a string or an array of strings").into()
    };
    if !Array::is_array(&value) {
        return Err(bad());
    }
    let items = Array::from(&value)
        .iter()
        .map(|v| v.as_string().ok_or_else(bad))
        .collect::<Result<Vec<String>, JsValue>>()?;
    Ok(tokengate::headers::encode_list(
        items.iter().map(String::as_str),
    ))
}

/// `__setHostVerify(fn)`: **internal, not part of the API**: registers the runtime's
/// synchronous signature check (`npm/node-crypto.js`, by the Node.js entries; see
/// [`webcrypto`]); `null` removes it.
#[wasm_bindgen(js_name = __setHostVerify)]
pub fn set_host_verify(f: JsValue) -> Result<(), JsValue> {
    if f.is_null() || f.is_undefined() {
        tokengate_webcrypto::set_host_verify(None);
        return Ok(());
    }
    let f = f
        .dyn_into::<Function>()
        .map_err(|_| JsValue::from(js_sys::TypeError::new("expected a function")))?;
    tokengate_webcrypto::set_host_verify(Some(f));
    Ok(())
}

/// `__verifySignature(alg, jwk, message, signature, backend)`: **internal, not part of
/// the API** (tests and benchmarks compare the signature backends with it). Checks
/// `signature` over `message` (`Uint8Array`s) with the public members of `jwk` (a JSON
/// string; `kty`, `crv`, `x`, `y`, `n`, `e`, or `k` for HMAC) under `alg`, loaded
/// with the same rules as a JWKS. Resolves to a boolean with `backend` `"wasm"`; with
/// `"node"` (the registered synchronous host function), `"webcrypto"`, or `"auto"`
/// (the first, then the second), to a boolean or `null` when that backend cannot do
/// the check (no Rust fallback here). Throws a `TypeError` for an unknown algorithm or backend, or a key
/// that does not load.
#[wasm_bindgen(js_name = __verifySignature)]
pub fn verify_signature_internal(
    alg: String,
    jwk: String,
    message: Vec<u8>,
    signature: Vec<u8>,
    backend: String,
) -> Result<Promise, JsValue> {
    let type_error = |m: String| -> JsValue { js_sys::TypeError::new(&m).into() };
    let alg: Alg = alg.parse().map_err(type_error)?;
    let backend = Backend::parse(&backend)
        .ok_or_else(|| type_error(format!("unknown backend {backend:?}")))?;
    let jwk: Value = serde_json::from_str(&jwk).map_err(|e| type_error(e.to_string()))?;
    let public: Map<String, Value> = ["kty", "crv", "x", "y", "n", "e", "k"]
        .iter()
        .filter_map(|m| jwk.get(*m).map(|v| ((*m).to_string(), v.clone())))
        .collect();
    let set = KeySet::from_value(&json!({ "keys": [public] }))
        .map_err(|e| type_error(format!("the key does not load: {e}")))?;
    Ok(future_to_promise(async move {
        let Some(key) = set.keys().first() else {
            return Ok(JsValue::NULL);
        };
        let check = SignatureCheck { key, alg };
        let answer = match backend {
            Backend::Wasm => Some(tokengate::alg::verify_signature(
                alg,
                &key.material,
                &message,
                &signature,
            )),
            Backend::Node => tokengate_webcrypto::verify_host(&check, &message, &signature),
            Backend::WebCrypto => tokengate_webcrypto::verify(&check, &message, &signature).await,
            // Both host backends, as a verifier would ask them (no Rust fallback).
            Backend::Auto => match tokengate_webcrypto::verify_host(&check, &message, &signature) {
                Some(ok) => Some(ok),
                None => tokengate_webcrypto::verify(&check, &message, &signature).await,
            },
        };
        Ok(answer.map_or(JsValue::NULL, JsValue::from))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memo_stays_bounded_when_entries_are_dropped_between_inserts() {
        let verified = || {
            let key = tokengate::mint::SigningKey::generate(Alg::EdDSA).unwrap();
            let claims = json!({"iss": "https://i/", "aud": "a", "sub": "u", "exp": 2_000_000_000});
            let token = key.sign(claims.as_object().unwrap(), None);
            let cfg = Config::from_value(json!({"issuers": [{"issuer": "https://i/",
                "audiences": ["a"], "jwks": tokengate::mint::public_jwks(&[key])}]}))
            .unwrap();
            let gate = tokengate::Gate::new(cfg).unwrap();
            let u = gate.peek(&token).unwrap();
            let keys = KeySet::from_value(&gate.config().issuers[0].jwks.clone().unwrap()).unwrap();
            Kept {
                verified: gate.verify_with(&u, &keys, 1_700_000_000).unwrap(),
                issuer: 0,
                generation: 1,
            }
        };
        let v = verified();
        let mut memo = Memo {
            capacity: 4,
            ..Memo::default()
        };
        let mut ids = Vec::new();
        for _ in 0..1000 {
            let id = memo.insert(v.clone());
            // What a failed recheck does.
            memo.entries.remove(&id);
            ids.push(id);
        }
        assert!(memo.order.len() <= 16, "{}", memo.order.len());
        assert!(ids.iter().all(|&id| id != 0));
        for _ in 0..10 {
            let id = memo.insert(v.clone());
            assert_ne!(id, 0);
        }
        assert_eq!(memo.entries.len(), 4);
        let empty = Memo::default().insert(v);
        assert_eq!(empty, 0, "capacity 0 keeps nothing");
    }

    fn opts(v: Value) -> Result<Translated, String> {
        translate(&v).map_err(|e| e.message())
    }

    #[test]
    fn single_issuer_maps_onto_the_core_config() {
        let t = opts(json!({
            "issuer": "https://tenant.auth0.com/",
            "audience": "https://api.example.com",
            "algorithms": ["RS256"],
            "clockTolerance": 30.7,
            "requiredTyp": "at+jwt",
            "classify": { "m2mClaim": "https://x/m2m", "rules": ["m2m_claim", "gty"] },
            "scopeClaims": ["permissions"],
            "fetchTimeout": 1500,
            "jwksCache": { "cooldown": 10 }
        }))
        .unwrap();
        let c = &t.config;
        assert_eq!(c.issuers[0].audiences, ["https://api.example.com"]);
        assert_eq!(c.issuers[0].algorithms, Some(vec![Alg::RS256]));
        assert_eq!(c.issuers[0].required_typ.as_deref(), Some("at+jwt"));
        assert_eq!(c.leeway, 30);
        assert_eq!(c.classify.m2m_claim.as_deref(), Some("https://x/m2m"));
        assert_eq!(c.classify.scope_claims, [ScopeSource::Permissions]);
        assert_eq!(c.jwks_cache.fetch_timeout_ms, 1500);
        assert_eq!(c.jwks_cache.cooldown, 10);
    }

    #[test]
    fn errors_name_the_js_option() {
        let e = |v: Value| opts(v).unwrap_err();
        assert!(e(json!({"issuer": "https://a/"})).contains("\"audience\": is required"));
        assert!(e(json!({"issuer": "https://a/", "audience": 3})).contains("\"audience\""));
        assert!(
            e(json!({"issuer": "https://a/", "audience": "x", "jwksUri": "http://evil/j"}))
                .contains("\"jwksUri\"")
        );
        assert!(
            e(json!({"issuer": "https://a/", "audience": "x", "audiences": ["x"]}))
                .contains("did you mean \"audience\"")
        );
        assert!(
            e(json!({"issuer": "https://a/", "audience": "x", "algorithms": ["HS999"]}))
                .contains("\"algorithms[0]\"")
        );
        assert!(
            e(json!({"issuer": "https://a/", "audience": "x", "clockTolerance": 7200}))
                .contains("\"clockTolerance\"")
        );
        assert!(e(
            json!({"issuers": [{"issuer": "https://a/", "audience": "x", "jwksUri": "ftp://x"}]})
        )
        .contains("\"issuers[0].jwksUri\""));
        assert!(e(json!({"issuers": [{"issuer": "https://a/"}]}))
            .contains("\"issuers[0].audience\": is required"));
    }

    #[test]
    fn issuers_inherit_top_level_defaults() {
        let t = opts(json!({
            "issuers": [
                {"issuer": "https://a/", "jwksUri": "https://a/jwks"},
                {"issuer": "https://b/", "audience": ["y", "z"], "algorithms": ["RS256"]}
            ],
            "audience": "x",
            "algorithms": ["ES256"]
        }))
        .unwrap();
        let i = &t.config.issuers;
        assert_eq!(i[0].audiences, ["x"]);
        assert_eq!(i[0].algorithms, Some(vec![Alg::ES256]));
        assert_eq!(i[1].audiences, ["y", "z"]);
        assert_eq!(i[1].algorithms, Some(vec![Alg::RS256]));
        let e = opts(
            json!({"issuers": [{"issuer": "https://a/", "jwks": {"keys": []}}], "audience": "x"}),
        )
        .unwrap_err();
        assert!(e.contains("\"issuers[0].jwks\""), "{e}");
    }

    #[test]
    fn option_paths() {
        assert_eq!(option_path("issuers[0].jwks_uri", true), "jwksUri");
        assert_eq!(
            option_path("issuers[1].audiences", false),
            "issuers[1].audience"
        );
        assert_eq!(option_path("leeway", true), "clockTolerance");
        assert_eq!(option_path("classify.m2m_claim", true), "classify.m2mClaim");
        assert_eq!(
            option_path("jwks_cache.min_max_age", true),
            "jwksCache.minMaxAge"
        );
        assert_eq!(
            option_path("jwks_cache.fetch_timeout_ms", true),
            "fetchTimeout"
        );
    }

    #[test]
    fn requirements_map_onto_the_core() {
        let v = requirement_value(&json!({
            "kinds": ["machine"], "scopesAll": "update:builds", "machinesBypassScopes": true
        }))
        .unwrap();
        let r: Requirement = serde_json::from_value(v).unwrap();
        assert!(r.machines_bypass_scopes);
        assert_eq!(r.scopes_all, ["update:builds"]);
        let e = requirement_value(&json!({"scopes": ["x"]})).unwrap_err();
        assert!(e
            .message()
            .starts_with("tokengate: invalid requirement \"scopes\""));
    }
}
