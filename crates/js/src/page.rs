//! The core's rules that a token inspector shows (the decoder page in `www/` is one),
//! exported so that it asks them instead of keeping JS copies:
//!
//! * [`check_fetch_url_js`] (`checkFetchUrl`): the URL rule for `jwksUri` and
//!   discovery ([`check_fetch_url`]: https, or http on a loopback host);
//! * [`discovery_url_js`] (`discoveryUrl`): an issuer's OIDC discovery URL
//!   ([`discovery_url`]), checked by the same rule;
//! * [`jwks_uri_from_discovery_js`] (`jwksUriFromDiscovery`): a discovery document's
//!   `jwks_uri`, read the way the key provider reads it ([`jwks_uri_from_discovery`]:
//!   the document's `issuer` must be exactly the issuer);
//! * [`time_state_js`] (`timeState`): what claim validation says of a token's times
//!   ([`time_state`]), with the `clockTolerance` semantics of the verifier;
//! * [`check_typ_js`] (`checkTyp`): the `requiredTyp` rule ([`check_typ`]);
//! * [`algorithms_js`] (`algorithms`): the algorithms tokengate verifies ([`Alg::ALL`]),
//!   which are symmetric, and which form the default allowlist ([`Alg::ASYMMETRIC`]).
//!
//! * [`policy_check_js`] (`policyCheck`): a requirement's claim rules and delegation
//!   rules against a decoded token's claims, rule by rule ([`claim_rule_holds`], the
//!   `act` chain as [`parse_act`] reads it), for the page's and `tokengate decode`'s
//!   policy check.
//!
//! The wasm-bindgen functions only convert arguments; the answers are built by plain
//! functions over JSON values, tested natively below.

use serde_json::{json, Value};
use wasm_bindgen::prelude::*;

use tokengate::jwks_uri_from_discovery;
use tokengate::Alg;
use tokengate::UnixSeconds;
use tokengate::{actor_allowed, delegation_depth_allowed, parse_act};
use tokengate::{check_fetch_url, discovery_url, DEFAULT_LEEWAY, MAX_LEEWAY};
use tokengate::{check_typ, time_state, TimeState};
use tokengate::{claim_at, claim_rule_holds, ClaimRule, Requirement};
use tokengate::{Claims, ErrorCode, TokenError};

// ---------------------------------------------------------------------------------
// The answers, as JSON.
// ---------------------------------------------------------------------------------

/// `{ ok: true }` or `{ ok: false, message }`.
fn url_rule(url: &str) -> Value {
    match check_fetch_url(url) {
        Ok(()) => json!({ "ok": true }),
        Err(why) => json!({ "ok": false, "message": why }),
    }
}

/// `{ ok: true, url }` or `{ ok: false, message }` (the configuration's wording).
fn discovery_url_rule(issuer: &str) -> Value {
    let url = discovery_url(issuer);
    match check_fetch_url(&url) {
        Ok(()) => json!({ "ok": true, "url": url }),
        Err(why) => json!({
            "ok": false,
            "message": format!("discovery from this issuer is not possible: {why}"),
        }),
    }
}

/// `{ ok: true, jwksUri }` or `{ ok: false, message }`.
fn discovery_rule(document: &str, issuer: &str) -> Value {
    match jwks_uri_from_discovery(document.as_bytes(), issuer) {
        Ok(uri) => json!({ "ok": true, "jwksUri": uri }),
        Err(why) => json!({ "ok": false, "message": why }),
    }
}

/// `{ code, message }` of a token error.
fn error_value(e: &TokenError) -> Value {
    json!({ "code": e.code(), "message": e.to_string() })
}

/// `{ state, error }`: `valid`, `grace` or `no-exp` with `error: null`, else the state
/// named after the error a verifier answers, with that error.
fn time_state_value(claims: &Claims, leeway: u64, now: UnixSeconds) -> Value {
    match time_state(claims, leeway, now) {
        Ok(st) => {
            let state = match st {
                TimeState::Valid => "valid",
                TimeState::Grace => "grace",
                TimeState::NoExp => "no-exp",
            };
            json!({ "state": state, "error": null })
        }
        Err(e) => {
            let state = match e {
                TokenError::Expired => "expired",
                TokenError::NotYetValid => "not-yet-valid",
                TokenError::IssuedInFuture => "issued-in-future",
                _ => "invalid",
            };
            json!({ "state": state, "error": error_value(&e) })
        }
    }
}

/// `{ ok: true }` or `{ ok: false, error }` (`typ_mismatch`).
fn typ_rule(typ: Option<&Value>, required: &str) -> Value {
    match check_typ(typ, required) {
        Ok(()) => json!({ "ok": true }),
        Err(e) => json!({ "ok": false, "error": error_value(&e) }),
    }
}

/// `[{ name, symmetric, allowedByDefault }]` in [`Alg::ALL`] order.
fn algorithms_value() -> Value {
    Value::Array(
        Alg::ALL
            .iter()
            .map(|a| {
                json!({
                    "name": a.as_str(),
                    "symmetric": a.is_hmac(),
                    "allowedByDefault": Alg::ASYMMETRIC.contains(a),
                })
            })
            .collect(),
    )
}

/// A claim rule with the JS names of its operators (`anyOf`).
fn rule_value(rule: &ClaimRule) -> Value {
    let mut out = serde_json::Map::new();
    if let Some(v) = &rule.equals {
        out.insert("equals".into(), v.clone());
    }
    if let Some(v) = &rule.any_of {
        out.insert("anyOf".into(), Value::Array(v.clone()));
    }
    if let Some(v) = &rule.includes {
        out.insert("includes".into(), Value::Array(v.clone()));
    }
    if let Some(v) = rule.present {
        out.insert("present".into(), Value::Bool(v));
    }
    Value::Object(out)
}

/// The policy check of a decoded token: `{ pass, claims: [{ name, rule, pass, present,
/// value }], delegation: { depth, chain, actor, maxDepth, depthPass, actors, actorPass,
/// error } }`. Each configured claim rule with whether the token's claim (named by
/// name or JSON pointer; `value` is the token's own, `null` when absent) satisfies it;
/// the token's delegation depth (nested `act` objects, as classification reads them:
/// `error` when the `act` claim is invalid, which a verifier refuses) against
/// `max_delegation_depth`, and its current actor (the outermost `act`'s `client_id`,
/// else `sub`) against `actors`; `depthPass` / `actorPass` are `null` when the
/// requirement has no such rule. `pass`: every configured rule holds.
pub fn policy_check(req: &Requirement, claims: &Claims) -> Value {
    let mut pass = true;
    let rules: Vec<Value> = req
        .claims
        .iter()
        .map(|(name, rule)| {
            let value = claim_at(claims, name).filter(|v| !v.is_null());
            let ok = claim_rule_holds(rule, value);
            pass &= ok;
            json!({
                "name": name,
                "rule": rule_value(rule),
                "pass": ok,
                "present": value.is_some(),
                "value": value.cloned(),
            })
        })
        .collect();
    // The `act` chain as classification reads it, and the policy's own delegation
    // rules on it.
    let (actor, error) = match parse_act(claims.get("act")) {
        Ok(actor) => (actor, None),
        Err(e) => (None, Some(e.to_string())),
    };
    let depth = error
        .is_none()
        .then(|| actor.as_ref().map_or(0, |a| a.depth()));
    let chain: Vec<&str> = actor.as_ref().map(|a| a.chain()).unwrap_or_default();
    let depth_pass = req
        .max_delegation_depth
        .map(|max| error.is_none() && delegation_depth_allowed(max, actor.as_ref()));
    let actor_id = actor.as_ref().map(|a| a.id().to_string());
    let actor_pass = req
        .actors
        .as_ref()
        .map(|list| actor_allowed(list, actor.as_ref()));
    pass &= depth_pass != Some(false) && actor_pass != Some(false);
    json!({
        "pass": pass,
        "claims": rules,
        "delegation": {
            "depth": depth,
            "chain": chain,
            "actor": actor_id,
            "maxDepth": req.max_delegation_depth,
            "depthPass": depth_pass,
            "actors": req.actors,
            "actorPass": actor_pass,
            "error": error,
        },
    })
}

// ---------------------------------------------------------------------------------
// Arguments.
// ---------------------------------------------------------------------------------

/// The clock tolerance in whole seconds, as the `clockTolerance` option reads it
/// (a non-negative number, rounded down, at most [`MAX_LEEWAY`]); absent: the default.
fn leeway_arg(v: Option<f64>) -> Result<u64, String> {
    let Some(f) = v else {
        return Ok(DEFAULT_LEEWAY);
    };
    if !f.is_finite() || f < 0.0 || f.floor() > MAX_LEEWAY as f64 {
        return Err(format!(
            "timeState: clockTolerance must be a number of seconds from 0 to {MAX_LEEWAY}"
        ));
    }
    Ok(f.floor() as u64)
}

/// The current time in whole unix seconds, rounded down as the verifier's clock is
/// (the core's time type: before 1970 is not a time it takes).
fn now_arg(v: Option<f64>) -> Result<UnixSeconds, String> {
    match v {
        Some(f) if f.is_finite() && (0.0..9_007_199_254_740_992.0).contains(&f) => {
            Ok(f.floor() as UnixSeconds)
        }
        _ => {
            Err("timeState: nowSeconds must be a finite, non-negative number (unix seconds)".into())
        }
    }
}

/// A JS `TypeError` with `message`: what every binding throws for a bad argument.
pub(crate) fn type_error(message: &str) -> JsValue {
    js_sys::TypeError::new(message).into()
}

fn string_arg(v: &JsValue, what: &str) -> Result<String, JsValue> {
    v.as_string()
        .ok_or_else(|| type_error(&format!("{what} must be a string")))
}

/// A JS value as JSON, through `JSON.stringify` (`None` when it has no JSON form, such
/// as `undefined`).
fn json_arg(v: &JsValue, what: &str) -> Result<Option<Value>, JsValue> {
    let text = js_sys::JSON::stringify(v)
        .map_err(|_| type_error(&format!("{what} cannot be serialised as JSON")))?;
    match text.as_string() {
        None => Ok(None),
        Some(t) => serde_json::from_str(&t)
            .map(Some)
            .map_err(|e| type_error(&format!("{what} is not plain data: {e}"))),
    }
}

fn to_js(v: &Value) -> JsValue {
    // The text is JSON by construction, which JSON.parse accepts.
    js_sys::JSON::parse(&v.to_string()).unwrap_or(JsValue::NULL)
}

// ---------------------------------------------------------------------------------
// The exports.
// ---------------------------------------------------------------------------------

/// `checkFetchUrl(url)`: whether tokengate would fetch keys from `url` (a `jwksUri`, a
/// discovered `jwks_uri`): https, or http on a loopback host (`localhost`,
/// `*.localhost`, `127.0.0.0/8`, `[::1]`), no credentials. `{ ok: true }` or
/// `{ ok: false, message }`. Throws a `TypeError` when `url` is not a string.
#[wasm_bindgen(js_name = checkFetchUrl)]
pub fn check_fetch_url_js(url: JsValue) -> Result<JsValue, JsValue> {
    let url = string_arg(&url, "checkFetchUrl: the url")?;
    Ok(to_js(&url_rule(&url)))
}

/// `discoveryUrl(issuer)`: the OIDC discovery URL tokengate reads for `issuer`
/// (`{issuer}/.well-known/openid-configuration`, without doubling a trailing slash),
/// when the URL rule allows it: `{ ok: true, url }` or `{ ok: false, message }`. Throws a
/// `TypeError` when `issuer` is not a string.
#[wasm_bindgen(js_name = discoveryUrl)]
pub fn discovery_url_js(issuer: JsValue) -> Result<JsValue, JsValue> {
    let issuer = string_arg(&issuer, "discoveryUrl: the issuer")?;
    Ok(to_js(&discovery_url_rule(&issuer)))
}

/// `jwksUriFromDiscovery(document, issuer)`: the `jwks_uri` of an OIDC discovery
/// document (its JSON text), read as the key provider reads it: the document's `issuer`
/// must be exactly `issuer`, and the `jwks_uri` must pass the URL rule.
/// `{ ok: true, jwksUri }` or `{ ok: false, message }`. Throws a `TypeError` when an
/// argument is not a string.
#[wasm_bindgen(js_name = jwksUriFromDiscovery)]
pub fn jwks_uri_from_discovery_js(document: JsValue, issuer: JsValue) -> Result<JsValue, JsValue> {
    let document = string_arg(&document, "jwksUriFromDiscovery: the document")?;
    let issuer = string_arg(&issuer, "jwksUriFromDiscovery: the issuer")?;
    Ok(to_js(&discovery_rule(&document, &issuer)))
}

/// `timeState(claims, nowSeconds, clockTolerance?)`: what a verifier's claim
/// validation says of the token's `exp`, `nbf` and `iat` at `nowSeconds` (rounded down),
/// with `clockTolerance` seconds of tolerance (default 60, at most 3600, rounded down,
/// like the option): `{ state, error }`, `state` one of `valid`, `grace` (past `exp`,
/// inside the tolerance), `no-exp` (no `exp`: refused unless `requireExp` is false),
/// with `error` null, or `expired`, `not-yet-valid`, `issued-in-future`, `invalid` (a
/// time claim that is not a finite number), with the `{ code, message }` a verifier
/// answers. Throws a `TypeError` for claims that are not an object or an invalid time or
/// tolerance.
#[wasm_bindgen(js_name = timeState)]
pub fn time_state_js(
    claims: JsValue,
    now_seconds: JsValue,
    clock_tolerance: JsValue,
) -> Result<JsValue, JsValue> {
    let claims = match json_arg(&claims, "timeState: the claims")? {
        Some(Value::Object(m)) => m,
        _ => return Err(type_error("timeState: the claims must be an object")),
    };
    let now = now_arg(now_seconds.as_f64()).map_err(|m| type_error(&m))?;
    let tolerance = if clock_tolerance.is_undefined() || clock_tolerance.is_null() {
        None
    } else {
        Some(clock_tolerance.as_f64().unwrap_or(f64::NAN))
    };
    let leeway = leeway_arg(tolerance).map_err(|m| type_error(&m))?;
    Ok(to_js(&time_state_value(&claims, leeway, now)))
}

/// `checkTyp(typ, requiredTyp)`: the `requiredTyp` rule for a header's `typ` value
/// (`undefined` when the header has none): a string equal to `requiredTyp` ignoring
/// case and an `application/` prefix. `{ ok: true }` or `{ ok: false, error }`
/// (`typ_mismatch`). Throws a `TypeError` when `requiredTyp` is not a string.
#[wasm_bindgen(js_name = checkTyp)]
pub fn check_typ_js(typ: JsValue, required_typ: JsValue) -> Result<JsValue, JsValue> {
    let required = string_arg(&required_typ, "checkTyp: requiredTyp")?;
    let typ = if typ.is_undefined() {
        None
    } else {
        // A value without a JSON form (a function) is still not a string.
        Some(json_arg(&typ, "checkTyp: typ")?.unwrap_or(Value::Null))
    };
    Ok(to_js(&typ_rule(typ.as_ref(), &required)))
}

/// `policyCheck(requirement, claims)`: the claim rules and delegation rules of a
/// requirement (as `authorize` takes it: `claims`, `actors`, `maxDelegationDepth`; its
/// other members are checked but not reported) against a decoded token's claims, rule
/// by rule (see [`policy_check`]). Throws the `TypeError` `authorize` rejects with for
/// an invalid requirement, and one when `claims` is not an object.
#[wasm_bindgen(js_name = policyCheck)]
pub fn policy_check_js(requirement: JsValue, claims: JsValue) -> Result<JsValue, JsValue> {
    let req = crate::options::from_js(&requirement, "requirement")
        .and_then(|v| crate::options::requirement(&v))
        .map_err(|mut e| {
            e.what = "requirement";
            e.to_js()
        })?;
    // The checks `authorize` makes of a requirement: the option schema's, then the
    // core's policy compiler's (e.g. `actors` with `maxDelegationDepth: 0`).
    let compiled = tokengate::PolicyConfig {
        realm: crate::DEFAULT_REALM.into(),
        ..tokengate::PolicyConfig::for_requirement(req.clone())
    };
    tokengate::Policy::new(&compiled).map_err(|e| crate::options::requirement_error(&e).to_js())?;
    let claims = match json_arg(&claims, "policyCheck: the claims")? {
        Some(Value::Object(m)) => m,
        _ => return Err(type_error("policyCheck: the claims must be an object")),
    };
    Ok(to_js(&policy_check(&req, &claims)))
}

/// `idTokenHint(header, claims)`: whether a decoded token looks like an OpenID Connect
/// ID token rather than an access token (`{ signals, message }`, as `decode()`'s
/// `idToken`), or `null`; the lint of the page and `tokengate decode`. Throws a
/// `TypeError` when either is not an object.
#[wasm_bindgen(js_name = idTokenHint)]
pub fn id_token_hint_js(header: JsValue, claims: JsValue) -> Result<JsValue, JsValue> {
    let object = |v: &JsValue, what: &str| match json_arg(v, what)? {
        Some(Value::Object(m)) => Ok(m),
        _ => Err(type_error(&format!("{what} must be an object"))),
    };
    let header = object(&header, "idTokenHint: the header")?;
    let claims = object(&claims, "idTokenHint: the claims")?;
    Ok(crate::results::to_js(&crate::decode::id_token_hint(
        &header, &claims,
    )))
}

/// `algorithms()`: the JWS algorithms tokengate verifies, in a stable order, each
/// `{ name, symmetric, allowedByDefault }` (HMAC algorithms are symmetric and only for
/// issuers configured with a secret; the asymmetric ones are the default allowlist).
#[wasm_bindgen(js_name = algorithms)]
pub fn algorithms_js() -> JsValue {
    to_js(&algorithms_value())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(v: Value) -> Claims {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn url_rule_is_the_cores() {
        for ok in [
            "https://keys.example.com/jwks",
            "http://127.0.0.1:8080/jwks",
            "http://127.0.0.2/jwks",
            "http://[::1]:8080/jwks",
            "http://keys.localhost/jwks",
            "http://localhost/jwks",
        ] {
            assert_eq!(url_rule(ok), json!({ "ok": true }), "{ok}");
        }
        let msg = |u: &str| url_rule(u)["message"].as_str().unwrap().to_string();
        assert!(msg("http://keys.example.com/j").starts_with("must be https"));
        assert!(msg("https://user@keys.example.com/j").contains("credentials"));
        assert!(msg("ftp://keys.example.com/j").contains("scheme \"ftp\""));
        assert!(msg("keys.example.com/j").contains("not an absolute url"));
        assert_eq!(url_rule("http://x.example.com/")["ok"], false);
    }

    #[test]
    fn discovery_url_and_document() {
        assert_eq!(
            discovery_url_rule("https://t.example.com/"),
            json!({ "ok": true, "url": "https://t.example.com/.well-known/openid-configuration" })
        );
        let bad = discovery_url_rule("http://t.example.com");
        assert_eq!(bad["ok"], false);
        assert!(bad["message"]
            .as_str()
            .unwrap()
            .starts_with("discovery from this issuer is not possible: must be https"));
        let iss = "https://t.example.com/";
        assert_eq!(
            discovery_rule(
                r#"{"issuer":"https://t.example.com/","jwks_uri":"https://t.example.com/jwks"}"#,
                iss
            ),
            json!({ "ok": true, "jwksUri": "https://t.example.com/jwks" })
        );
        assert_eq!(
            discovery_rule(
                r#"{"issuer":"https://evil.example.com/","jwks_uri":"https://evil.example.com/j"}"#,
                iss
            ),
            json!({ "ok": false, "message": "discovery document names another issuer" })
        );
    }

    #[test]
    fn time_states_carry_the_verifiers_error() {
        let c = claims(json!({ "iat": 900, "nbf": 900, "exp": 1000 }));
        assert_eq!(
            time_state_value(&c, 60, 950),
            json!({ "state": "valid", "error": null })
        );
        assert_eq!(time_state_value(&c, 60, 1030)["state"], "grace");
        let e = time_state_value(&c, 60, 1060);
        assert_eq!(e["state"], "expired");
        assert_eq!(e["error"]["code"], "token_expired");
        let e = time_state_value(&c, 60, 800);
        assert_eq!(e["state"], "not-yet-valid");
        assert_eq!(e["error"]["code"], "token_not_yet_valid");
        let c = claims(json!({ "iat": 2000 }));
        assert_eq!(time_state_value(&c, 60, 1000)["state"], "issued-in-future");
        assert_eq!(time_state_value(&c, 60, 1940)["state"], "no-exp");
        let c = claims(json!({ "exp": "soon" }));
        let e = time_state_value(&c, 60, 1000);
        assert_eq!(e["state"], "invalid");
        assert_eq!(e["error"]["code"], "claim_invalid");
        assert_eq!(e["error"]["message"], "invalid claim: exp must be a number");
    }

    #[test]
    fn time_arguments() {
        assert_eq!(leeway_arg(None), Ok(60));
        assert_eq!(leeway_arg(Some(30.7)), Ok(30));
        assert_eq!(leeway_arg(Some(0.0)), Ok(0));
        assert_eq!(leeway_arg(Some(3600.9)), Ok(3600));
        for bad in [-1.0, 3601.0, f64::NAN, f64::INFINITY] {
            assert!(leeway_arg(Some(bad)).is_err(), "{bad}");
        }
        assert_eq!(now_arg(Some(1000.9)), Ok(1000));
        assert!(now_arg(Some(-0.5)).is_err());
        assert!(now_arg(None).is_err());
        assert!(now_arg(Some(f64::NAN)).is_err());
        assert!(now_arg(Some(1e300)).is_err());
    }

    #[test]
    fn policy_check_reports_each_rule_and_the_delegation_depth() {
        let req = crate::options::requirement(&json!({
            "claims": {"org_id": {"anyOf": ["org_A"]}, "/org/tier": {"equals": 2}, "gone": {"present": false}},
            "actors": ["gw"],
            "maxDelegationDepth": 1
        }))
        .unwrap();
        let c = claims(json!({"org_id": "org_B", "org": {"tier": 2.0},
            "act": {"sub": "gw-svc", "client_id": "gw", "act": {"sub": "front"}}}));
        let r = policy_check(&req, &c);
        assert_eq!(r["pass"], false);
        assert_eq!(
            r["claims"],
            json!([
                {"name": "/org/tier", "rule": {"equals": 2}, "pass": true, "present": true, "value": 2.0},
                {"name": "gone", "rule": {"present": false}, "pass": true, "present": false, "value": null},
                {"name": "org_id", "rule": {"anyOf": ["org_A"]}, "pass": false, "present": true, "value": "org_B"},
            ])
        );
        assert_eq!(
            r["delegation"],
            json!({"depth": 2, "chain": ["gw-svc", "front"], "actor": "gw", "maxDepth": 1,
                "depthPass": false, "actors": ["gw"], "actorPass": true, "error": null})
        );
        let none = policy_check(&Requirement::default(), &claims(json!({})));
        assert_eq!(none["pass"], true);
        assert_eq!(none["delegation"]["depth"], 0);
        assert_eq!(none["delegation"]["depthPass"], Value::Null);
        let bad = policy_check(
            &req,
            &claims(json!({"org_id": "org_A", "org": {"tier": 2}, "act": "x"})),
        );
        assert_eq!(bad["pass"], false);
        assert_eq!(bad["delegation"]["depth"], Value::Null);
        assert_eq!(bad["delegation"]["actorPass"], false);
        assert!(bad["delegation"]["error"].as_str().unwrap().contains("act"));
    }

    #[test]
    fn typ_and_algorithms() {
        let s = |t: &str| Value::String(t.into());
        assert_eq!(
            typ_rule(Some(&s("application/at+JWT")), "at+jwt"),
            json!({ "ok": true })
        );
        let e = typ_rule(Some(&s("JWT")), "at+jwt");
        assert_eq!(e["error"]["code"], "typ_mismatch");
        assert_eq!(typ_rule(None, "at+jwt")["ok"], false);
        assert_eq!(typ_rule(Some(&Value::Null), "at+jwt")["ok"], false);
        let algs = algorithms_value();
        let algs = algs.as_array().unwrap();
        assert_eq!(algs.len(), Alg::ALL.len());
        assert_eq!(
            algs[0],
            json!({ "name": "RS256", "symmetric": false, "allowedByDefault": true })
        );
        let hs = algs.iter().find(|a| a["name"] == "HS256").unwrap();
        assert_eq!(hs["symmetric"], true);
        assert_eq!(hs["allowedByDefault"], false);
        assert!(algs.iter().all(|a| a["symmetric"] != a["allowedByDefault"]));
    }
}
