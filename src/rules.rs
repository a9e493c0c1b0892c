//! Gateway rules on a verified token's claims: claim rules (a route's `require.claims`),
//! claim headers (`edge.claim_headers`), and per-client rate-limit keys (a route's
//! `rate_limit`).
//!
//! # Naming a claim
//!
//! A claim is named by its top-level name (`org_id`, `https://example.com/tenant`), or
//! by an RFC 6901 JSON pointer when the name starts with `/` (`/org/id` is the `id`
//! member of the `org` object; `/groups/0` the first element of the `groups` array).
//! A name that starts with `/` is always a pointer: a top-level claim whose name starts
//! with `/` is written `/~1name`.
//!
//! # Claim rules
//!
//! ```json
//! "claims": {
//!   "org_id": { "any_of": ["org_A", "org_B"] },
//!   "/https:~1~1example.com~1roles": { "includes": ["builder"] },
//!   "email_verified": { "equals": true },
//!   "tenant": { "present": true }
//! }
//! ```
//!
//! * `equals`: the claim is JSON-equal to the value (`1` and `1.0` are equal numbers;
//!   `"1"` and `1` are not);
//! * `any_of`: the claim equals one of the values, or, for an array claim, one of its
//!   elements does;
//! * `includes`: the claim is an array containing every listed value;
//! * `present`: `true`, the claim is there and not `null`; `false`, it is absent or
//!   `null`.
//!
//! A rule may combine operators (all must hold) and every claim's rule must hold. A
//! missing or mistyped claim fails its rule:
//! [`PolicyError::ClaimNotAllowed`](crate::PolicyError::ClaimNotAllowed) (403
//! `claim_not_allowed`) names the claim as configured, never its value.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Claims, ConfigError, Principal};

/// One claim's rule; see the module docs (`src/rules.rs`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimRule {
    /// The claim equals this JSON value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equals: Option<Value>,
    /// The claim (or one element of an array claim) equals one of these values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub any_of: Option<Vec<Value>>,
    /// The claim is an array that contains every one of these values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub includes: Option<Vec<Value>>,
    /// `true`: the claim is present (and not `null`); `false`: it is absent or `null`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub present: Option<bool>,
}

/// The claim rules of a requirement: claim name (or JSON pointer) to its rule.
pub type ClaimRules = BTreeMap<String, ClaimRule>;

/// The value `name` (a claim name, or a JSON pointer when it starts with `/`) names in
/// `claims`; `None` when absent.
pub fn claim_at<'a>(claims: &'a Claims, name: &str) -> Option<&'a Value> {
    if !name.starts_with('/') {
        return claims.get(name);
    }
    let mut parts = name[1..].split('/');
    let first = unescape(parts.next()?);
    let mut cur = claims.get(first.as_str())?;
    for p in parts {
        let p = unescape(p);
        cur = match cur {
            Value::Object(o) => o.get(p.as_str())?,
            Value::Array(a) => {
                // RFC 6901 §4: an array index is `0` or digits without a leading zero.
                if p.is_empty() || (p.len() > 1 && p.starts_with('0')) {
                    return None;
                }
                a.get(p.parse::<usize>().ok()?)?
            }
            _ => return None,
        };
    }
    Some(cur)
}

/// The top-level claim a name reads (the pointer's first token): what a token cache
/// must keep for the rule to be checked on a hit.
pub fn claim_root(name: &str) -> String {
    match name.strip_prefix('/') {
        Some(rest) => unescape(rest.split('/').next().unwrap_or_default()),
        None => name.to_owned(),
    }
}

fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

/// Checks a claim name or pointer as the configuration writes it (`at` is its field).
pub(crate) fn validate_claim_name(name: &str, at: &str) -> Result<(), ConfigError> {
    if name.is_empty() {
        return Err(ConfigError::invalid(at, "a claim name must not be empty"));
    }
    if let Some(rest) = name.strip_prefix('/') {
        let bad_escape = rest
            .match_indices('~')
            .any(|(i, _)| !matches!(rest.as_bytes().get(i + 1), Some(b'0' | b'1')));
        if rest.is_empty() || bad_escape {
            return Err(ConfigError::invalid(
                at,
                format!("{name:?} is not a valid json pointer (rfc 6901: '~' only as ~0 or ~1)"),
            ));
        }
    }
    Ok(())
}

/// Checks the rules of one requirement (`at` is its field, e.g. `routes[0].require`).
pub(crate) fn validate_claim_rules(rules: &ClaimRules, at: &str) -> Result<(), ConfigError> {
    for (name, rule) in rules {
        let here = format!("{at}.claims.{name}");
        validate_claim_name(name, &here)?;
        if rule.equals.is_none()
            && rule.any_of.is_none()
            && rule.includes.is_none()
            && rule.present.is_none()
        {
            return Err(ConfigError::invalid(
                here,
                "needs at least one of equals, any_of, includes, present",
            ));
        }
        for (op, list) in [("any_of", &rule.any_of), ("includes", &rule.includes)] {
            if list.as_ref().is_some_and(Vec::is_empty) {
                return Err(ConfigError::invalid(
                    format!("{here}.{op}"),
                    "must not be empty (no token could pass it)",
                ));
            }
        }
        if rule.present == Some(false)
            && (rule.equals.is_some() || rule.any_of.is_some() || rule.includes.is_some())
        {
            return Err(ConfigError::invalid(
                here,
                "present: false cannot be combined with a rule on the claim's value",
            ));
        }
    }
    Ok(())
}

/// JSON equality with numbers compared by value (`1` equals `1.0`).
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => x == y,
            _ => x == y,
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// Whether `value` (the claim, `None` when absent) satisfies `rule`.
pub fn claim_rule_holds(rule: &ClaimRule, value: Option<&Value>) -> bool {
    let value = value.filter(|v| !v.is_null());
    if let Some(want) = rule.present {
        if want != value.is_some() {
            return false;
        }
    }
    if let Some(want) = &rule.equals {
        if !value.is_some_and(|v| json_eq(v, want)) {
            return false;
        }
    }
    if let Some(list) = &rule.any_of {
        let one = |v: &Value| list.iter().any(|w| json_eq(v, w));
        let ok = match value {
            Some(v @ Value::Array(items)) => items.iter().any(one) || one(v),
            Some(v) => one(v),
            None => false,
        };
        if !ok {
            return false;
        }
    }
    if let Some(list) = &rule.includes {
        let ok = match value {
            Some(Value::Array(items)) => list.iter().all(|w| items.iter().any(|v| json_eq(v, w))),
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    true
}

/// Checks every rule against `claims`; the error is the first claim (its name as
/// configured) whose rule fails, which the policy reports as
/// [`PolicyError::ClaimNotAllowed`](crate::PolicyError::ClaimNotAllowed).
pub fn check_claim_rules<'r>(rules: &'r ClaimRules, claims: &Claims) -> Result<(), &'r str> {
    for (name, rule) in rules {
        if !claim_rule_holds(rule, claim_at(claims, name)) {
            return Err(name);
        }
    }
    Ok(())
}

/// A claim's value as a forwarded header carries it (`edge.claim_headers`), encoded as
/// the identity headers are ([`encode_value`](crate::headers::encode_value)): a string
/// as it is, a number or boolean as its JSON text, an array's elements (each so, an
/// object or array element as compact JSON) joined with one space as
/// [`encode_list`](crate::headers::encode_list) does, an object as compact JSON.
/// `None` for an absent or `null` claim (no header is sent).
pub fn claim_header_value(value: Option<&Value>) -> Option<String> {
    fn scalar(v: &Value) -> String {
        match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }
    match value? {
        Value::Null => None,
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(scalar).collect();
            Some(crate::headers::encode_list(
                parts.iter().map(String::as_str),
            ))
        }
        v => Some(crate::headers::encode_value(&scalar(v)).into_owned()),
    }
}

/// The most a rate-limit key may hold, in bytes (before the issuer prefix); a longer
/// claim value is refused rather than cut (two values must never share a key).
pub const MAX_RATE_KEY_VALUE_BYTES: usize = 256;

/// A route's `rate_limit`: which Workers Rate Limiting binding counts its requests,
/// and per what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitRule {
    /// The binding's name (a `[[ratelimits]]` `name` in wrangler.toml), declared in the
    /// configuration's `rate_limits` with its period. A client-registry entry's
    /// `rate_limit_binding` replaces it for that client (its tier).
    pub binding: String,
    /// What is counted: `client_id` (the token's client), `sub`, or any claim name or
    /// JSON pointer (`org_id`); the key is always prefixed with the token's issuer.
    pub key: String,
}

/// A declared rate-limit binding (`rate_limits.<NAME>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitBinding {
    /// The binding's period in seconds, as wrangler.toml's `simple.period` says: 10 or
    /// 60. The binding itself only answers "over the limit or not"; this period is the
    /// `Retry-After` of a 429.
    pub period: u32,
}

/// The declared bindings (`rate_limits`): name to its period.
pub type RateLimitBindings = BTreeMap<String, RateLimitBinding>;

/// Whether `name` may be a binding name (a JavaScript identifier in ASCII).
pub(crate) fn is_binding_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

/// Checks the declared bindings of `rate_limits` (names and periods).
pub(crate) fn validate_rate_limit_bindings(
    bindings: &RateLimitBindings,
) -> Result<(), ConfigError> {
    for (name, b) in bindings {
        if !is_binding_name(name) {
            return Err(ConfigError::invalid(
                format!("rate_limits.{name}"),
                "is not a valid binding name",
            ));
        }
        if b.period != 10 && b.period != 60 {
            return Err(ConfigError::invalid(
                format!("rate_limits.{name}.period"),
                "must be 10 or 60 (the periods workers rate limiting supports)",
            ));
        }
    }
    Ok(())
}

/// Checks one route's `rate_limit` (`at` is its field) against the declared bindings.
pub(crate) fn validate_rate_limit_rule(
    rule: &RateLimitRule,
    public: bool,
    bindings: &RateLimitBindings,
    at: &str,
) -> Result<(), ConfigError> {
    if public {
        return Err(ConfigError::invalid(
            at,
            "a public route has no token to count by",
        ));
    }
    if !bindings.contains_key(&rule.binding) {
        return Err(ConfigError::invalid(
            format!("{at}.binding"),
            format!(
                "{:?} is not declared in rate_limits (with its period)",
                rule.binding
            ),
        ));
    }
    validate_claim_name(&rule.key, &format!("{at}.key"))
}

/// The key a rate-limit binding counts a request under:
/// `<issuer>|<key name>|<value>`, where the value is the principal's client id for
/// `client_id`, its subject for `sub`, else the claim's value (a string, or a number's
/// JSON text). A token without it (or with an array, object, or over-long value) is
/// refused: the error is the key's name, which the gate reports as
/// [`PolicyError::ClaimNotAllowed`](crate::PolicyError::ClaimNotAllowed) (counting the
/// token under a shared key would let one client use up another's allowance).
pub fn rate_limit_key<'r>(
    rule: &'r RateLimitRule,
    principal: &Principal,
    claims: &Claims,
) -> Result<String, &'r str> {
    let value: Option<String> = match rule.key.as_str() {
        "client_id" => principal.client_id.clone(),
        "sub" => Some(principal.subject.clone()).filter(|s| !s.is_empty()),
        name => match claim_at(claims, name) {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        },
    };
    match value {
        Some(v) if v.len() <= MAX_RATE_KEY_VALUE_BYTES => {
            Ok(format!("{}|{}|{}", principal.issuer, rule.key, v))
        }
        _ => Err(&rule.key),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Claims {
        v.as_object().cloned().unwrap()
    }

    fn rule(v: Value) -> ClaimRule {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn pointers_read_nested_members_and_elements() {
        let c =
            claims(json!({"org": {"id": "o1", "a/b": 1, "t~": 2}, "g": ["x", "y"], "/lead": 3}));
        assert_eq!(claim_at(&c, "/org/id"), Some(&json!("o1")));
        assert_eq!(claim_at(&c, "/org/a~1b"), Some(&json!(1)));
        assert_eq!(claim_at(&c, "/org/t~0"), Some(&json!(2)));
        assert_eq!(claim_at(&c, "/g/1"), Some(&json!("y")));
        assert_eq!(claim_at(&c, "/g/01"), None);
        assert_eq!(claim_at(&c, "/g/2"), None);
        assert_eq!(claim_at(&c, "/g/-"), None);
        assert_eq!(claim_at(&c, "/org/id/x"), None);
        assert_eq!(claim_at(&c, "/~1lead"), Some(&json!(3)));
        assert_eq!(claim_at(&c, "org"), c.get("org"));
        assert_eq!(claim_root("/org/id"), "org");
        assert_eq!(claim_root("/~1lead/x"), "/lead");
        assert_eq!(claim_root("org_id"), "org_id");
    }

    #[test]
    fn each_operator_allows_and_denies() {
        let c = claims(
            json!({"org_id": "org_A", "n": 1, "roles": ["a", "b"], "nul": null, "o": {"k": [1]}}),
        );
        let ok = |name: &str, r: Value| claim_rule_holds(&rule(r), claim_at(&c, name));
        assert!(ok("org_id", json!({"equals": "org_A"})));
        assert!(!ok("org_id", json!({"equals": "org_a"})));
        assert!(ok("n", json!({"equals": 1.0})));
        assert!(!ok("n", json!({"equals": "1"})));
        assert!(ok("o", json!({"equals": {"k": [1.0]}})));
        assert!(ok("org_id", json!({"any_of": ["org_B", "org_A"]})));
        assert!(!ok("org_id", json!({"any_of": ["org_B"]})));
        assert!(ok("roles", json!({"any_of": ["b", "z"]})));
        assert!(!ok("roles", json!({"any_of": ["z"]})));
        assert!(ok("roles", json!({"any_of": [["a", "b"]]})));
        assert!(ok("roles", json!({"includes": ["b", "a"]})));
        assert!(!ok("roles", json!({"includes": ["a", "z"]})));
        assert!(
            !ok("org_id", json!({"includes": ["org_A"]})),
            "a string is not an array"
        );
        assert!(ok("org_id", json!({"present": true})));
        assert!(!ok("nul", json!({"present": true})));
        assert!(!ok("missing", json!({"present": true})));
        assert!(ok("nul", json!({"present": false})));
        assert!(ok("missing", json!({"present": false})));
        assert!(!ok("org_id", json!({"present": false})));
        // Missing claims fail every value rule.
        for r in [
            json!({"equals": "x"}),
            json!({"any_of": [null]}),
            json!({"includes": [1]}),
        ] {
            assert!(!ok("missing", r.clone()), "{r}");
            assert!(!ok("nul", r.clone()), "{r}");
        }
        // Combined operators must all hold.
        assert!(ok(
            "roles",
            json!({"present": true, "includes": ["a"], "any_of": ["b"]})
        ));
        assert!(!ok(
            "roles",
            json!({"present": true, "includes": ["a"], "any_of": ["z"]})
        ));
    }

    #[test]
    fn the_error_names_the_first_failing_claim_never_its_value() {
        let c = claims(json!({"org_id": "secret-org", "tier": "gold"}));
        let rules: ClaimRules = serde_json::from_value(json!({
            "org_id": {"any_of": ["org_A"]},
            "tier": {"equals": "gold"}
        }))
        .unwrap();
        assert_eq!(check_claim_rules(&rules, &c), Err("org_id"));
    }

    #[test]
    fn configuration_errors_name_the_field() {
        let bad = [
            (json!({"x": {}}), "r.claims.x"),
            // `null` reads as no operator (the claim cannot be compared with null).
            (json!({"x": {"equals": null}}), "r.claims.x"),
            (json!({"x": {"any_of": []}}), "r.claims.x.any_of"),
            (json!({"x": {"includes": []}}), "r.claims.x.includes"),
            (json!({"x": {"present": false, "equals": 1}}), "r.claims.x"),
            (json!({"/a~2": {"present": true}}), "r.claims./a~2"),
            (json!({"/": {"present": true}}), "r.claims./"),
            (json!({"": {"present": true}}), "r.claims."),
        ];
        for (rules, field) in bad {
            let rules: ClaimRules = serde_json::from_value(rules).unwrap();
            let err = validate_claim_rules(&rules, "r").unwrap_err();
            assert_eq!(err.field(), Some(field), "{err}");
        }
        assert!(serde_json::from_value::<ClaimRules>(json!({"x": {"equal": 1}})).is_err());
    }

    #[test]
    fn claim_header_values_are_encoded_like_identity_headers() {
        let v = |x: Value| claim_header_value(Some(&x));
        assert_eq!(v(json!("org_A")), Some("org_A".into()));
        assert_eq!(v(json!("a b\r\nx")), Some("a%20b%0D%0Ax".into()));
        assert_eq!(v(json!(42)), Some("42".into()));
        assert_eq!(v(json!(true)), Some("true".into()));
        assert_eq!(v(json!(["a", "b c", 1])), Some("a b%20c 1".into()));
        assert_eq!(v(json!({"k": "v"})), Some("{\"k\":\"v\"}".into()));
        assert_eq!(v(json!(null)), None);
        assert_eq!(claim_header_value(None), None);
    }

    #[test]
    fn rate_limit_keys_are_per_issuer_and_refuse_what_they_cannot_count() {
        use crate::{DecidedBy, Kind};
        let p = Principal {
            kind: Kind::Machine,
            subject: "svc@clients".into(),
            client_id: Some("svc".into()),
            user_id: None,
            scopes: vec![],
            roles: vec![],
            issuer: "https://tenant/".into(),
            audiences: vec![],
            expires_at: None,
            decided_by: DecidedBy::Gty,
            actor: None,
            binding: None,
        };
        let c = claims(json!({"org_id": "o1", "n": 7, "arr": ["x"], "long": "x".repeat(300)}));
        let key = |k: &str| {
            let rule = RateLimitRule {
                binding: "B".into(),
                key: k.into(),
            };
            rate_limit_key(&rule, &p, &c).map_err(str::to_owned)
        };
        assert_eq!(key("client_id").unwrap(), "https://tenant/|client_id|svc");
        assert_eq!(key("sub").unwrap(), "https://tenant/|sub|svc@clients");
        assert_eq!(key("org_id").unwrap(), "https://tenant/|org_id|o1");
        assert_eq!(key("n").unwrap(), "https://tenant/|n|7");
        for k in ["arr", "missing", "long"] {
            assert_eq!(key(k), Err(k.to_owned()), "{k}");
        }
        let no_client = Principal {
            client_id: None,
            ..p.clone()
        };
        assert!(rate_limit_key(
            &RateLimitRule {
                binding: "B".into(),
                key: "client_id".into()
            },
            &no_client,
            &c
        )
        .is_err());
    }
}
