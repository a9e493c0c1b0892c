//! RFC 8693 token exchange, end to end through the pure core: tokens signed in the
//! tests, verified by a `Gate` whose configuration lists the edge's own issuer with the
//! public JWKS of its signing key, exchanged with `plan`, signed, and verified again.

mod common;

use std::sync::OnceLock;

use serde_json::{json, Value};
use tokengate::Alg;
use tokengate::{
    plan, response_json, ExchangeConfig, ExchangeError, ExchangeRequest, GRANT_TYPE,
    TOKEN_TYPE_ACCESS_TOKEN, TOKEN_TYPE_JWT,
};
use tokengate::{public_jwks, SigningKey};
use tokengate::{
    Claims, Config, ConfigError, Decision, ErrorCode, Gate, KeySet, Kind, TokenError, Verified,
};

const IDP: &str = "https://idp.example.com/";
const EDGE: &str = "https://edge.example.com/";
const API: &str = "https://api.example.com";
const LOGS: &str = "https://logs.example.com";
const NOW: u64 = 1_700_000_000;
const USER: &str = "auth0|alice";
const RUNNER: &str = "build-runner";
const NOTIFIER: &str = "notifier";

fn idp_key() -> &'static SigningKey {
    static K: OnceLock<SigningKey> = OnceLock::new();
    K.get_or_init(|| SigningKey::generate(Alg::ES256).unwrap().with_kid("idp-1"))
}

fn edge_key() -> &'static SigningKey {
    static K: OnceLock<SigningKey> = OnceLock::new();
    K.get_or_init(|| SigningKey::generate(Alg::EdDSA).unwrap().with_kid("edge-1"))
}

fn exchange_json() -> Value {
    json!({
        "issuer": EDGE,
        "actors": [
            {"client_id": RUNNER, "audiences": [API, LOGS]},
            {"client_id": NOTIFIER, "issuer": IDP, "audiences": [API]},
            {"client_id": "logger", "audiences": [LOGS]}
        ],
        "audiences": [
            {"audience": API, "scopes": ["read:builds", "update:builds"],
             "max_lifetime": 86400, "allow_beyond_subject": true},
            {"audience": LOGS, "scopes": ["read:builds"], "max_lifetime": 600}
        ]
    })
}

fn config_json(exchange: Value) -> Value {
    json!({
        "issuers": [
            {"issuer": IDP, "audiences": [API],
             "jwks": public_jwks(std::slice::from_ref(idp_key()))},
            {"issuer": EDGE, "audiences": [API, LOGS],
             "jwks": public_jwks(std::slice::from_ref(edge_key())), "required_typ": "at+jwt"}
        ],
        "routes": [
            {"path": "/builds/*", "methods": ["PUT"], "require": {"scopes_any": ["update:builds"]}},
            {"path": "/builds", "methods": ["POST"], "require": {"scopes_any": ["create:builds"]}}
        ],
        "exchange": exchange
    })
}

fn gate() -> Gate {
    Gate::new(Config::from_value(config_json(exchange_json())).unwrap()).unwrap()
}

fn xcfg(gate: &Gate) -> &ExchangeConfig {
    gate.config().exchange.as_ref().unwrap()
}

fn keys_of(gate: &Gate, index: usize) -> KeySet {
    KeySet::from_value(gate.config().issuers[index].jwks.as_ref().unwrap()).unwrap()
}

fn verify(gate: &Gate, token: &str, now: u64) -> Result<Verified, TokenError> {
    let u = gate.peek(token)?;
    let keys = keys_of(gate, u.issuer_index);
    gate.verify_with(&u, &keys, now)
}

fn decide(gate: &Gate, method: &str, path: &str, token: &str, now: u64) -> Decision {
    let auth = tokengate::Authenticator::new(gate.config().clone()).unwrap();
    common::decide(&auth, method, path, Some(token), now)
}

fn obj(v: Value) -> Claims {
    v.as_object().cloned().unwrap()
}

fn merge(mut base: Claims, extra: Value) -> Claims {
    if let Value::Object(o) = extra {
        for (k, v) in o {
            if v.is_null() {
                base.remove(&k);
            } else {
                base.insert(k, v);
            }
        }
    }
    base
}

/// A user token from the IdP, valid for 10 minutes from NOW.
fn user_token(extra: Value) -> String {
    let c = obj(json!({
        "iss": IDP, "sub": USER, "aud": API, "azp": "spa",
        "scope": "openid read:builds create:builds update:builds",
        "permissions": ["admin:all"],
        "https://example.com/org": "acme",
        "iat": NOW, "exp": NOW + 600
    }));
    idp_key().sign(&merge(c, extra), Some("at+jwt"))
}

/// A client-credentials token of `client` from the IdP.
fn machine_token(client: &str) -> String {
    let c = obj(json!({
        "iss": IDP, "sub": format!("{client}@clients"), "aud": API, "azp": client,
        "gty": "client-credentials", "scope": "read:builds",
        "iat": NOW, "exp": NOW + 3600
    }));
    idp_key().sign(&c, None)
}

fn request(extra: &[(&str, &str)]) -> ExchangeRequest {
    let mut form = vec![
        ("grant_type", GRANT_TYPE),
        ("subject_token", "s"),
        ("subject_token_type", TOKEN_TYPE_ACCESS_TOKEN),
        ("actor_token", "a"),
        ("actor_token_type", TOKEN_TYPE_ACCESS_TOKEN),
    ];
    for (k, _) in extra {
        form.retain(|(name, _)| name != k);
    }
    form.extend_from_slice(extra);
    let body: Vec<String> = form
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect();
    ExchangeRequest::parse_form(body.join("&").as_bytes(), 4096).unwrap()
}

/// Form-encodes a string (space as '+').
fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

struct Setup {
    gate: Gate,
    subject: Verified,
    actor: Verified,
}

fn setup_with(subject_extra: Value, actor_client: &str) -> Setup {
    let gate = gate();
    let subject = verify(&gate, &user_token(subject_extra), NOW).unwrap();
    let actor = verify(&gate, &machine_token(actor_client), NOW).unwrap();
    Setup {
        gate,
        subject,
        actor,
    }
}

fn setup() -> Setup {
    setup_with(json!({}), RUNNER)
}

fn run(s: &Setup, extra: &[(&str, &str)]) -> Result<Claims, ExchangeError> {
    plan(
        &request(extra),
        &s.subject,
        Some(&s.actor),
        xcfg(&s.gate),
        NOW,
    )
}

fn code(r: Result<Claims, ExchangeError>) -> &'static str {
    match r {
        Ok(_) => "ok",
        Err(e) => e.code(),
    }
}

fn lifetime(c: &Claims) -> i64 {
    c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap()
}

// ---------------------------------------------------------------------------------
// the seed scenario

#[test]
fn build_runner_updates_the_build_after_the_user_token_expired() {
    let s = setup();
    let claims = run(
        &s,
        &[
            ("audience", API),
            ("scope", "update:builds"),
            ("requested_lifetime", "7200"),
        ],
    )
    .unwrap();
    assert_eq!(claims["iss"], EDGE);
    assert_eq!(claims["sub"], USER);
    assert_eq!(claims["aud"], API);
    assert_eq!(claims["client_id"], RUNNER);
    assert_eq!(claims["scope"], "update:builds");
    assert_eq!(claims["iat"], NOW);
    assert_eq!(claims["exp"], NOW + 7200);
    assert_eq!(claims["act"], json!({"sub": RUNNER}));
    assert_eq!(claims["jti"].as_str().unwrap().len(), 22);
    // Nothing else of the subject token is copied.
    let mut names: Vec<&str> = claims.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "act",
            "aud",
            "client_id",
            "exp",
            "iat",
            "iss",
            "jti",
            "scope",
            "sub"
        ]
    );

    let token = edge_key().sign(&claims, Some("at+jwt"));
    let later = NOW + 3600;
    // The user's own token is gone by now ...
    let user = user_token(json!({}));
    assert_eq!(verify(&s.gate, &user, later), Err(TokenError::Expired));
    // ... but the exchanged one verifies, as the user acting through the runner.
    let v = verify(&s.gate, &token, later).unwrap();
    assert_eq!(v.principal.kind, Kind::User);
    assert_eq!(v.principal.subject, USER);
    assert_eq!(v.principal.user_id.as_deref(), Some(USER));
    assert_eq!(v.principal.client_id.as_deref(), Some(RUNNER));
    assert_eq!(v.principal.scopes, ["update:builds"]);
    assert_eq!(v.principal.actor.as_ref().unwrap().chain(), [RUNNER]);
    assert_eq!(v.token.issuer_index, 1);

    match decide(&s.gate, "PUT", "/builds/1", &token, later) {
        Decision::Allow(v) => assert_eq!(v.principal.subject, USER),
        other => panic!("expected allow, got {other:?}"),
    }
    match decide(&s.gate, "POST", "/builds", &token, later) {
        Decision::Deny(d) => {
            assert_eq!(d.status, 403);
            assert_eq!(d.code, "insufficient_scope");
        }
        other => panic!("expected deny, got {other:?}"),
    }
    // The user could create builds with the original token while it lived.
    assert!(matches!(
        decide(&s.gate, "POST", "/builds", &user, NOW),
        Decision::Allow(_)
    ));
    // And the exchanged token dies at its own exp.
    assert_eq!(
        verify(&s.gate, &token, NOW + 7200 + 60),
        Err(TokenError::Expired)
    );

    let body: Value = serde_json::from_str(&response_json(&token, &claims)).unwrap();
    assert_eq!(
        body,
        json!({
            "access_token": token,
            "issued_token_type": TOKEN_TYPE_ACCESS_TOKEN,
            "token_type": "Bearer",
            "expires_in": 7200,
            "scope": "update:builds"
        })
    );
}

#[test]
fn resource_is_the_target_when_there_is_no_audience() {
    let s = setup();
    let c = run(&s, &[("resource", API), ("scope", "update:builds")]).unwrap();
    assert_eq!(c["aud"], API);
    // Both, naming the same target.
    let c = run(&s, &[("resource", API), ("audience", API)]).unwrap();
    assert_eq!(c["aud"], API);
}

#[test]
fn default_scopes_are_the_subjects_within_the_allowlist() {
    let s = setup();
    let c = run(&s, &[("audience", API)]).unwrap();
    // openid, create:builds and the admin:all permission are not in the allowlist.
    assert_eq!(c["scope"], "read:builds update:builds");
    assert!(c.get("permissions").is_none());
    assert!(c.get("https://example.com/org").is_none());
    assert!(c.get("azp").is_none());
}

// ---------------------------------------------------------------------------------
// refusals

#[test]
fn scope_escalation_is_refused() {
    let s = setup();
    // Not granted to the subject.
    let e = run(&s, &[("audience", API), ("scope", "delete:builds")]).unwrap_err();
    assert_eq!(e.code(), "invalid_scope");
    assert!(e.to_string().contains("not granted to the subject"), "{e}");
    // Granted to the subject, but not allowed for the audience.
    let e = run(&s, &[("audience", API), ("scope", "create:builds")]).unwrap_err();
    assert_eq!(e.code(), "invalid_scope");
    assert!(e.to_string().contains("not allowed for audience"), "{e}");
    assert_eq!(
        code(run(&s, &[("audience", API), ("scope", "admin:all")])),
        "invalid_scope"
    );
    // One bad scope spoils the request.
    assert_eq!(
        code(run(
            &s,
            &[("audience", API), ("scope", "update:builds delete:builds")]
        )),
        "invalid_scope"
    );
    // A subject with no allowed scope leaves nothing to issue.
    let s = setup_with(
        json!({"scope": "openid create:builds", "permissions": null}),
        RUNNER,
    );
    let e = run(&s, &[("audience", API)]).unwrap_err();
    assert_eq!(e.code(), "invalid_scope");
    assert_eq!(e.status(), 400);
}

#[test]
fn disallowed_actor_is_unauthorized() {
    let s = setup_with(json!({}), "intruder");
    let e = run(&s, &[("audience", API)]).unwrap_err();
    assert_eq!(e.code(), "unauthorized_client");
    assert_eq!(e.status(), 401);
    let body: Value = serde_json::from_str(&e.body_json()).unwrap();
    assert_eq!(body["error"], "unauthorized_client");
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("'intruder' may not exchange"));
}

#[test]
fn user_token_as_actor_is_unauthorized() {
    let s = setup();
    // The actor token is the user's own token, whose client (spa) is not even needed.
    let user_as_actor = verify(
        &s.gate,
        &user_token(json!({"azp": RUNNER, "sub": "auth0|mallory"})),
        NOW,
    )
    .unwrap();
    assert_eq!(user_as_actor.principal.kind, Kind::User);
    let e = plan(
        &request(&[("audience", API)]),
        &s.subject,
        Some(&user_as_actor),
        xcfg(&s.gate),
        NOW,
    )
    .unwrap_err();
    assert_eq!(e.code(), "unauthorized_client");
}

#[test]
fn missing_actor_token() {
    let s = setup();
    let req = ExchangeRequest::parse_form(
        format!(
            "grant_type={}&subject_token=s&subject_token_type={}&audience={}",
            enc(GRANT_TYPE),
            enc(TOKEN_TYPE_ACCESS_TOKEN),
            enc(API)
        )
        .as_bytes(),
        4096,
    )
    .unwrap();
    let e = plan(&req, &s.subject, None, xcfg(&s.gate), NOW).unwrap_err();
    assert_eq!(e.code(), "invalid_request");
    assert!(e.to_string().contains("actor_token"));
    // An actor token in the request that the adapter did not pass on.
    let e = plan(
        &request(&[("audience", API)]),
        &s.subject,
        None,
        xcfg(&s.gate),
        NOW,
    )
    .unwrap_err();
    assert_eq!(e.code(), "invalid_request");

    // Without the requirement, the subject's own client is the actor.
    let mut ex = exchange_json();
    ex["require_actor_token"] = json!(false);
    ex["actors"] = json!([{"client_id": "spa", "audiences": [API]}]);
    let gate = Gate::new(Config::from_value(config_json(ex)).unwrap()).unwrap();
    let subject = verify(&gate, &user_token(json!({})), NOW).unwrap();
    let c = plan(&req, &subject, None, xcfg(&gate), NOW).unwrap();
    assert_eq!(c["client_id"], "spa");
    assert_eq!(c["act"], json!({"sub": "spa"}));
    // ... and must still be allowed.
    let subject = verify(&gate, &user_token(json!({"azp": "other"})), NOW).unwrap();
    assert_eq!(
        plan(&req, &subject, None, xcfg(&gate), NOW)
            .unwrap_err()
            .code(),
        "unauthorized_client"
    );
}

#[test]
fn audiences_are_checked() {
    let s = setup();
    let e = run(&s, &[("audience", "https://evil.example.com")]).unwrap_err();
    assert_eq!(e.code(), "invalid_target");
    assert_eq!(e.status(), 400);
    // No target at all.
    assert_eq!(code(run(&s, &[])), "invalid_target");
    // Two targets.
    let two = ExchangeRequest {
        audiences: vec![API.into(), LOGS.into()],
        ..request(&[])
    };
    let e = plan(&two, &s.subject, Some(&s.actor), xcfg(&s.gate), NOW).unwrap_err();
    assert_eq!(e.code(), "invalid_target");
    let two = ExchangeRequest {
        resources: vec![API.into(), LOGS.into()],
        ..request(&[])
    };
    assert_eq!(
        plan(&two, &s.subject, Some(&s.actor), xcfg(&s.gate), NOW)
            .unwrap_err()
            .code(),
        "invalid_target"
    );
    // Audience and resource disagreeing.
    assert_eq!(
        code(run(&s, &[("audience", API), ("resource", LOGS)])),
        "invalid_target"
    );
    // A configured audience that this actor may not request.
    let s = setup_with(json!({}), "logger");
    assert_eq!(code(run(&s, &[("audience", LOGS)])), "ok");
    let e = run(&s, &[("audience", API)]).unwrap_err();
    assert_eq!(e.code(), "invalid_target");
    assert!(e.to_string().contains("may not request audience"), "{e}");
}

#[test]
fn machine_subjects_are_refused() {
    let s = setup();
    let machine = verify(&s.gate, &machine_token(NOTIFIER), NOW).unwrap();
    let e = plan(
        &request(&[("audience", API)]),
        &machine,
        Some(&s.actor),
        xcfg(&s.gate),
        NOW,
    )
    .unwrap_err();
    assert_eq!(e.code(), "invalid_grant");
}

#[test]
fn expired_subject_is_refused() {
    let s = setup();
    // The gate accepts it within the leeway, plan does not.
    let e = plan(
        &request(&[("audience", API)]),
        &s.subject,
        Some(&s.actor),
        xcfg(&s.gate),
        NOW + 600,
    )
    .unwrap_err();
    assert_eq!(e.code(), "invalid_grant");
}

#[test]
fn request_parameters_are_checked() {
    let s = setup();
    // `parse_form` already refuses another grant type (see
    // `unsupported_grant_type_comes_before_every_other_parameter`); `plan` checks it
    // again for a request built another way.
    let other = ExchangeRequest {
        grant_type: "client_credentials".into(),
        ..request(&[("audience", API)])
    };
    let e = plan(&other, &s.subject, Some(&s.actor), xcfg(&s.gate), NOW).unwrap_err();
    assert_eq!(e.code(), "unsupported_grant_type");
    assert_eq!(e.status(), 400);
    assert_eq!(
        code(run(
            &s,
            &[
                ("audience", API),
                (
                    "subject_token_type",
                    "urn:ietf:params:oauth:token-type:id_token"
                )
            ]
        )),
        "invalid_request"
    );
    assert_eq!(
        code(run(
            &s,
            &[("audience", API), ("subject_token_type", TOKEN_TYPE_JWT)]
        )),
        "ok"
    );
    assert_eq!(
        code(run(
            &s,
            &[
                ("audience", API),
                (
                    "requested_token_type",
                    "urn:ietf:params:oauth:token-type:refresh_token"
                )
            ]
        )),
        "invalid_request"
    );
    assert_eq!(
        code(run(
            &s,
            &[
                ("audience", API),
                ("requested_token_type", TOKEN_TYPE_ACCESS_TOKEN)
            ]
        )),
        "ok"
    );
    assert_eq!(
        code(run(
            &s,
            &[("audience", API), ("actor_token_type", "urn:x:saml2")]
        )),
        "invalid_request"
    );
}

// ---------------------------------------------------------------------------------
// lifetimes

#[test]
fn lifetime_is_capped_both_ways() {
    let s = setup(); // the user token has 600 s left
    let l = |extra: &[(&str, &str)]| lifetime(&run(&s, extra).unwrap());
    // Default lifetime.
    assert_eq!(l(&[("audience", API)]), 300);
    // API allows outliving the subject, up to its max_lifetime.
    assert_eq!(
        l(&[("audience", API), ("requested_lifetime", "7200")]),
        7200
    );
    assert_eq!(
        l(&[("audience", API), ("requested_lifetime", "1000000")]),
        86400
    );
    assert_eq!(
        l(&[
            ("audience", API),
            ("requested_lifetime", "18446744073709551615")
        ]),
        86400
    );
    // LOGS does not allow outliving the subject (600 s left) and caps at 600 anyway.
    assert_eq!(l(&[("audience", LOGS), ("requested_lifetime", "100")]), 100);
    assert_eq!(
        l(&[("audience", LOGS), ("requested_lifetime", "5000")]),
        600
    );
    let later = plan(
        &request(&[("audience", LOGS), ("requested_lifetime", "5000")]),
        &s.subject,
        Some(&s.actor),
        xcfg(&s.gate),
        NOW + 450,
    )
    .unwrap();
    assert_eq!(lifetime(&later), 150);
    assert_eq!(later["exp"], NOW + 600);
    // Zero is never issued.
    let e = run(&s, &[("audience", API), ("requested_lifetime", "0")]).unwrap_err();
    assert_eq!(e.code(), "invalid_grant");
}

// ---------------------------------------------------------------------------------
// delegation chains

#[test]
fn exchanging_an_exchanged_token_keeps_the_chain() {
    let s = setup();
    let first = run(&s, &[("audience", API), ("requested_lifetime", "3600")]).unwrap();
    let first_token = edge_key().sign(&first, Some("at+jwt"));
    let later = NOW + 1800; // the user token has expired
    let subject = verify(&s.gate, &first_token, later).unwrap();
    let notifier = verify(&s.gate, &machine_token(NOTIFIER), later).unwrap();
    let second = plan(
        &request(&[("audience", API), ("scope", "update:builds")]),
        &subject,
        Some(&notifier),
        xcfg(&s.gate),
        later,
    )
    .unwrap();
    assert_eq!(second["sub"], USER);
    assert_eq!(second["client_id"], NOTIFIER);
    assert_eq!(
        second["act"],
        json!({"sub": NOTIFIER, "act": {"sub": RUNNER}})
    );
    let token = edge_key().sign(&second, Some("at+jwt"));
    let v = verify(&s.gate, &token, later + 60).unwrap();
    assert_eq!(v.principal.kind, Kind::User);
    assert_eq!(
        v.principal.actor.as_ref().unwrap().chain(),
        [NOTIFIER, RUNNER]
    );
    // Re-exchanging never extends the delegation beyond the exchanged token's own
    // life (1800 s left at `later`), even for an audience that may outlive subjects.
    let longer = plan(
        &request(&[("audience", API), ("requested_lifetime", "86400")]),
        &subject,
        Some(&notifier),
        xcfg(&s.gate),
        later,
    )
    .unwrap();
    assert_eq!(longer["exp"], NOW + 3600);
    // A narrower token cannot widen again: the first had read+update, the second only
    // update, so asking for read now is an escalation.
    let again = plan(
        &request(&[("audience", API), ("scope", "read:builds")]),
        &v,
        Some(&notifier),
        xcfg(&s.gate),
        later + 60,
    )
    .unwrap_err();
    assert_eq!(again.code(), "invalid_scope");
}

#[test]
fn an_idp_act_chain_is_kept_as_is() {
    let s = setup_with(
        json!({"act": {"sub": "gateway", "iss": "https://idp.example.com/", "act": {"sub": "cli"}}}),
        RUNNER,
    );
    let c = run(&s, &[("audience", API)]).unwrap();
    assert_eq!(
        c["act"],
        json!({"sub": RUNNER, "act": {"sub": "gateway", "iss": "https://idp.example.com/", "act": {"sub": "cli"}}})
    );
}

#[test]
fn a_chain_at_the_depth_limit_is_refused() {
    let mut act = json!({"sub": "a0"});
    for i in 1..tokengate::MAX_ACTOR_DEPTH {
        act = json!({"sub": format!("a{i}"), "act": act});
    }
    let s = setup_with(json!({ "act": act }), RUNNER);
    assert_eq!(code(run(&s, &[("audience", API)])), "invalid_grant");
}

// ---------------------------------------------------------------------------------
// form parsing

fn parse(body: &str) -> Result<ExchangeRequest, ExchangeError> {
    ExchangeRequest::parse_form(body.as_bytes(), 4096)
}

const BASE: &str = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange\
&subject_token=abc.def.ghi&subject_token_type=urn%3aietf%3aparams%3aoauth%3atoken-type%3aaccess_token";

#[test]
fn form_percent_encoding_and_plus() {
    let r = parse(&format!(
        "{BASE}&scope=update%3Abuilds+read%3Abuilds++update%3Abuilds&audience=https%3A%2F%2Fapi.example.com\
         &requested_lifetime=7200&unknown=%E2%9C%93&audience=https://api.example.com"
    ))
    .unwrap();
    assert_eq!(r.grant_type, GRANT_TYPE);
    assert_eq!(r.subject_token, "abc.def.ghi");
    assert_eq!(r.subject_token_type, TOKEN_TYPE_ACCESS_TOKEN);
    assert_eq!(
        r.scope,
        Some(vec!["update:builds".to_string(), "read:builds".to_string()])
    );
    // The same audience twice counts once.
    assert_eq!(r.audiences, [API]);
    assert_eq!(r.requested_lifetime, Some(7200));
    assert_eq!(r.actor_token, None);
    assert!(!format!("{r:?}").contains("abc.def.ghi"));
    // Repeatable parameters.
    let r = parse(&format!(
        "{BASE}&resource=a&resource=b&audience=x&audience=y"
    ))
    .unwrap();
    assert_eq!(r.resources, ["a", "b"]);
    assert_eq!(r.audiences, ["x", "y"]);
    // An empty value is as if absent, unknown parameters and empty pairs are ignored.
    let r = parse(&format!("{BASE}&scope=&&x&=y&actor_token=")).unwrap();
    assert_eq!(r.scope, None);
    assert_eq!(r.actor_token, None);
    // A literal '+' is %2B.
    let r = parse(&format!("{BASE}&audience=a%2Bb+c")).unwrap();
    assert_eq!(r.audiences, ["a+b c"]);
}

#[test]
fn form_errors() {
    let err = |b: &str| parse(b).unwrap_err();
    // Duplicates of single-valued parameters.
    for p in [
        "grant_type=x",
        "subject_token=x",
        "subject_token_type=x",
        "scope=x",
        "requested_lifetime=1",
        "requested_token_type=x",
    ] {
        let e = err(&format!("{BASE}&{p}&{p}"));
        assert_eq!(e.code(), "invalid_request", "{p}");
        assert!(e.to_string().contains("repeated"), "{e}");
    }
    let e = err(&format!("{BASE}&grant_type=x"));
    assert_eq!(e.code(), "invalid_request");
    // Missing required parameters.
    let e = err("subject_token=a&subject_token_type=b");
    assert_eq!(e.code(), "invalid_request");
    assert!(e.to_string().contains("grant_type is missing"), "{e}");
    assert_eq!(err("").code(), "invalid_request");
    let grant = format!("grant_type={}", enc(GRANT_TYPE));
    let e = err(&format!("{grant}&subject_token_type=b"));
    assert_eq!(e.code(), "invalid_request");
    assert!(e.to_string().contains("subject_token is missing"), "{e}");
    let e = err(&format!("{grant}&subject_token=b"));
    assert_eq!(e.code(), "invalid_request");
    assert!(
        e.to_string().contains("subject_token_type is missing"),
        "{e}"
    );
    // Actor token and type go together.
    assert_eq!(
        err(&format!("{BASE}&actor_token=t")).code(),
        "invalid_request"
    );
    assert_eq!(
        err(&format!("{BASE}&actor_token_type=t")).code(),
        "invalid_request"
    );
    // Bad numbers, encodings and scopes.
    for bad in ["-1", "1.5", "abc", "+1", "99999999999999999999999"] {
        assert_eq!(
            err(&format!("{BASE}&requested_lifetime={bad}")).code(),
            "invalid_request",
            "{bad}"
        );
    }
    assert_eq!(err(&format!("{BASE}&scope=a%")).code(), "invalid_request");
    assert_eq!(err(&format!("{BASE}&scope=a%2")).code(), "invalid_request");
    assert_eq!(err(&format!("{BASE}&scope=%FF")).code(), "invalid_request");
    assert_eq!(
        err(&format!("{BASE}&scope=%22x%22")).code(),
        "invalid_scope"
    );
    assert_eq!(err(&format!("{BASE}&scope=a%09b")).code(), "invalid_scope");
    // Oversize.
    let big = format!("{BASE}&pad={}", "x".repeat(4096));
    let e = err(&big);
    assert_eq!(e.code(), "invalid_request");
    assert!(e.to_string().contains("larger than 4096 bytes"), "{e}");
    assert!(ExchangeRequest::parse_form(BASE.as_bytes(), BASE.len()).is_ok());
    assert!(ExchangeRequest::parse_form(BASE.as_bytes(), BASE.len() - 1).is_err());
}

// ---------------------------------------------------------------------------------
// errors and responses

#[test]
fn error_codes_statuses_and_bodies() {
    let cases = [
        (
            ExchangeError::InvalidRequest("x".into()),
            "invalid_request",
            400,
        ),
        (
            ExchangeError::InvalidGrant("x".into()),
            "invalid_grant",
            400,
        ),
        (
            ExchangeError::InvalidScope("x".into()),
            "invalid_scope",
            400,
        ),
        (
            ExchangeError::InvalidTarget("x".into()),
            "invalid_target",
            400,
        ),
        (
            ExchangeError::UnauthorizedClient("x".into()),
            "unauthorized_client",
            401,
        ),
        (
            ExchangeError::UnsupportedGrantType("x".into()),
            "unsupported_grant_type",
            400,
        ),
        (ExchangeError::ServerError("x".into()), "server_error", 500),
    ];
    for (e, c, status) in cases {
        assert_eq!(e.code(), c);
        assert_eq!(e.status(), status);
        let body: Value = serde_json::from_str(&e.body_json()).unwrap();
        // A server error's detail is for the log line, not the client.
        let description = if status == 500 {
            "the token service could not handle the request; see its logs"
        } else {
            "x"
        };
        assert_eq!(body, json!({"error": c, "error_description": description}));
        let msg = e.to_string();
        assert_eq!(msg, msg.to_lowercase());
    }
}

#[test]
fn error_messages_are_lowercase() {
    let s = setup();
    let errors = [
        &[("audience", "https://Evil.example.com")][..],
        &[("audience", API), ("scope", "DELETE")][..],
        &[][..],
    ]
    .into_iter()
    .map(|extra| run(&s, extra).unwrap_err())
    .chain([parse("grant_type=X").unwrap_err()]);
    for e in errors {
        let described = e
            .to_string()
            .replace("Evil", "evil")
            .replace("DELETE", "delete");
        assert_eq!(described, described.to_lowercase(), "{e}");
    }
}

#[test]
fn response_json_without_scope() {
    let claims = obj(json!({"iat": 10, "exp": 70}));
    let v: Value = serde_json::from_str(&response_json("t", &claims)).unwrap();
    assert_eq!(v["expires_in"], 60);
    assert_eq!(v["token_type"], "Bearer");
    assert!(v.get("scope").is_none());
}

// ---------------------------------------------------------------------------------
// configuration

#[test]
fn exchange_config_validation() {
    let field = |ex: Value| -> String {
        match Config::from_value(config_json(ex)).unwrap_err() {
            ConfigError::Invalid { field, .. } => field,
            other => panic!("not a field error: {other}"),
        }
    };
    let with = |path: &str, v: Value| {
        let mut ex = exchange_json();
        let mut target = &mut ex;
        let parts: Vec<&str> = path.split('.').collect();
        for p in &parts[..parts.len() - 1] {
            target = match p.parse::<usize>() {
                Ok(i) => &mut target[i],
                Err(_) => &mut target[*p],
            };
        }
        let last = parts[parts.len() - 1];
        match last.parse::<usize>() {
            Ok(i) => target[i] = v,
            Err(_) => target[last] = v,
        }
        ex
    };
    let ok = Config::from_value(config_json(exchange_json())).unwrap();
    let ex = ok.exchange.unwrap();
    assert_eq!(ex.path, "/oauth/token");
    assert_eq!(ex.default_lifetime, 300);
    assert_eq!(ex.max_request_bytes, 4096);
    assert!(ex.require_actor_token);
    assert!(!ex.audiences[1].allow_beyond_subject);

    assert_eq!(
        field(with("issuer", json!("https://unlisted.example.com/"))),
        "exchange.issuer"
    );
    assert_eq!(
        field(with("issuer", json!("http://edge.example.com/"))),
        "exchange.issuer"
    );
    assert_eq!(field(with("path", json!("oauth/token"))), "exchange.path");
    assert_eq!(field(with("path", json!("/token?x"))), "exchange.path");
    assert_eq!(
        field(with("default_lifetime", json!(0))),
        "exchange.default_lifetime"
    );
    assert_eq!(
        field(with("max_request_bytes", json!(10))),
        "exchange.max_request_bytes"
    );
    assert_eq!(field(with("actors", json!([]))), "exchange.actors");
    assert_eq!(field(with("audiences", json!([]))), "exchange.audiences");
    assert_eq!(
        field(with("actors.0.audiences.0", json!("https://nowhere"))),
        "exchange.actors[0].audiences[0]"
    );
    assert_eq!(
        field(with(
            "actors.1.issuer",
            json!("https://unlisted.example.com/")
        )),
        "exchange.actors[1].issuer"
    );
    assert_eq!(
        field(with("actors.1.issuer", json!(""))),
        "exchange.actors[1].issuer"
    );
    assert_eq!(
        field(with("actors.1.client_id", json!(RUNNER))),
        "exchange.actors[1].client_id"
    );
    assert_eq!(
        field(with("audiences.0.scopes", json!([]))),
        "exchange.audiences[0].scopes"
    );
    assert_eq!(
        field(with("audiences.0.scopes.0", json!("a b"))),
        "exchange.audiences[0].scopes[0]"
    );
    assert_eq!(
        field(with("audiences.1.max_lifetime", json!(31 * 24 * 3600))),
        "exchange.audiences[1].max_lifetime"
    );
    assert_eq!(
        field(with("audiences.1.audience", json!(API))),
        "exchange.audiences[1].audience"
    );
    // Unknown fields are rejected.
    let e = Config::from_value(config_json(with("bogus", json!(1)))).unwrap_err();
    assert!(e.to_string().contains("bogus"), "{e}");
    // Loopback http is fine for a local issuer.
    let mut cfg = config_json(with("issuer", json!("http://127.0.0.1:8787/")));
    cfg["issuers"][1]["issuer"] = json!("http://127.0.0.1:8787/");
    assert!(Config::from_value(cfg).is_ok());
    // And the section is optional.
    let mut cfg = config_json(Value::Null);
    cfg.as_object_mut().unwrap().remove("exchange");
    assert_eq!(Config::from_value(cfg).unwrap().exchange, None);
}

#[test]
fn classify_section_is_validated() {
    let mut cfg = config_json(exchange_json());
    cfg["classify"] = json!({"roles_claim": ""});
    match Config::from_value(cfg).unwrap_err() {
        ConfigError::Invalid { field, .. } => assert_eq!(field, "classify.roles_claim"),
        other => panic!("not a field error: {other}"),
    }
}

#[test]
fn an_actor_bound_to_an_issuer_must_come_from_it() {
    let s = setup();
    // The notifier is bound to the IdP: a same-named client of the edge's own issuer
    // (here an edge-signed machine token) is not it.
    let forged = obj(json!({
        "iss": EDGE, "sub": format!("{NOTIFIER}@clients"), "azp": NOTIFIER, "aud": API,
        "gty": "client-credentials", "iat": NOW, "exp": NOW + 600
    }));
    let other = verify(&s.gate, &edge_key().sign(&forged, Some("at+jwt")), NOW).unwrap();
    assert_eq!(other.principal.kind, Kind::Machine);
    let e = plan(
        &request(&[("audience", API)]),
        &s.subject,
        Some(&other),
        xcfg(&s.gate),
        NOW,
    )
    .unwrap_err();
    assert_eq!(e.code(), "unauthorized_client");
    // The real one is accepted.
    let real = verify(&s.gate, &machine_token(NOTIFIER), NOW).unwrap();
    assert!(plan(
        &request(&[("audience", API)]),
        &s.subject,
        Some(&real),
        xcfg(&s.gate),
        NOW
    )
    .is_ok());
}

// ---------------------------------------------------------------------------------
// no chaining into a longer life, issuer-bound actors, grant type first

#[test]
fn unsupported_grant_type_comes_before_every_other_parameter() {
    let unsupported = |body: &str| {
        let e = parse(body).unwrap_err();
        assert_eq!(e.code(), "unsupported_grant_type", "{body}: {e}");
        assert_eq!(e.status(), 400);
    };
    // A client-credentials request: no token-exchange parameter at all.
    unsupported("grant_type=client_credentials&client_id=a&client_secret=b");
    unsupported("grant_type=password&username=a&password=b");
    // Whatever else is wrong with the rest of the body.
    unsupported("subject_token=x&subject_token=y&grant_type=authorization_code");
    unsupported("grant_type=refresh_token&requested_lifetime=-1&scope=%22x%22");
    unsupported("scope=a%&grant_type=x&actor_token=t&%FF=1");
    unsupported(&format!(
        "grant_type={}X&subject_token=s&subject_token_type={}",
        enc(GRANT_TYPE),
        enc(TOKEN_TYPE_ACCESS_TOKEN)
    ));
    // A missing, empty or repeated grant_type is a malformed request, still reported
    // before the other parameters.
    for body in [
        "subject_token=x&subject_token=y",
        "grant_type=&scope=%22x%22",
        "grant_type=a&grant_type=b&requested_lifetime=x",
    ] {
        let e = parse(body).unwrap_err();
        assert_eq!(e.code(), "invalid_request", "{body}");
        assert!(e.to_string().contains("grant_type"), "{body}: {e}");
    }
    // Only the size cap comes first.
    let big = format!("grant_type=password&pad={}", "x".repeat(4096));
    let e = parse(&big).unwrap_err();
    assert_eq!(e.code(), "invalid_request");
    // The real grant type goes on to the other checks.
    let e = parse(&format!("grant_type={}", enc(GRANT_TYPE))).unwrap_err();
    assert_eq!(e.code(), "invalid_request");
    assert!(e.to_string().contains("subject_token is missing"), "{e}");
}

#[test]
fn a_subject_that_carries_act_never_buys_a_longer_life() {
    // The IdP's own token (600 s left): a first exchange, so the API audience may
    // outlive it.
    let s = setup();
    let first = run(&s, &[("audience", API), ("requested_lifetime", "7200")]).unwrap();
    assert_eq!(lifetime(&first), 7200);
    // The same user token carrying `act` (delegated already, by the IdP or another
    // token service): capped at its own exp although the audience allows more.
    for act in [
        json!({"sub": "gateway"}),
        json!({"sub": RUNNER}),
        json!({"sub": "gateway", "act": {"sub": "cli"}}),
    ] {
        let s = setup_with(json!({ "act": act }), RUNNER);
        let c = run(&s, &[("audience", API), ("requested_lifetime", "7200")]).unwrap();
        assert_eq!(c["exp"], NOW + 600, "{act}");
        let c = run(&s, &[("audience", API)]).unwrap();
        assert_eq!(lifetime(&c), 300, "the default lifetime is shorter: {act}");
        let later = plan(
            &request(&[("audience", API), ("requested_lifetime", "86400")]),
            &s.subject,
            Some(&s.actor),
            xcfg(&s.gate),
            NOW + 590,
        )
        .unwrap();
        assert_eq!(lifetime(&later), 10, "{act}");
    }
    // `act: null` is no delegation.
    let s = setup_with(json!({"act": null}), RUNNER);
    let c = run(&s, &[("audience", API), ("requested_lifetime", "7200")]).unwrap();
    assert_eq!(lifetime(&c), 7200);
}

#[test]
fn a_chain_through_a_peer_token_service_is_capped() {
    // A second token service (another edge) trusted as an issuer: its exchanged tokens
    // carry `act`. Exchanging them here never extends them, even for an audience that
    // may outlive first-exchange subjects.
    let peer_key = SigningKey::generate(Alg::ES256).unwrap().with_kid("peer-1");
    const PEER: &str = "https://peer-edge.example.com/";
    let mut ex = exchange_json();
    ex["actors"] = json!([
        {"client_id": RUNNER, "issuer": IDP, "audiences": [API]},
        {"client_id": NOTIFIER, "issuer": IDP, "audiences": [API]}
    ]);
    let mut cfg = config_json(ex);
    cfg["issuers"]
        .as_array_mut()
        .unwrap()
        .push(json!({"issuer": PEER, "audiences": [API],
                     "jwks": public_jwks(std::slice::from_ref(&peer_key))}));
    let gate = Gate::new(Config::from_value(cfg).unwrap()).unwrap();
    let peer_token = peer_key.sign(
        &obj(json!({
            "iss": PEER, "sub": USER, "aud": API, "client_id": RUNNER,
            "scope": "update:builds", "act": {"sub": RUNNER},
            "iat": NOW, "exp": NOW + 120
        })),
        Some("at+jwt"),
    );
    let subject = verify(&gate, &peer_token, NOW).unwrap();
    assert_eq!(subject.principal.kind, Kind::User);
    let actor = verify(&gate, &machine_token(NOTIFIER), NOW).unwrap();
    let c = plan(
        &request(&[("audience", API), ("requested_lifetime", "86400")]),
        &subject,
        Some(&actor),
        xcfg(&gate),
        NOW,
    )
    .unwrap();
    assert_eq!(c["exp"], NOW + 120);
    assert_eq!(c["act"], json!({"sub": NOTIFIER, "act": {"sub": RUNNER}}));
}

/// A configuration trusting two identity providers (and the edge's own issuer), with
/// the given actor rules.
fn two_idps(actors: Value) -> Result<Config, ConfigError> {
    let mut ex = exchange_json();
    ex["actors"] = actors;
    let mut cfg = config_json(ex);
    cfg["issuers"]
        .as_array_mut()
        .unwrap()
        .push(json!({"issuer": IDP2, "audiences": [API],
                     "jwks": public_jwks(std::slice::from_ref(idp2_key()))}));
    Config::from_value(cfg)
}

const IDP2: &str = "https://partner-idp.example.com/";

fn idp2_key() -> &'static SigningKey {
    static K: OnceLock<SigningKey> = OnceLock::new();
    K.get_or_init(|| SigningKey::generate(Alg::ES256).unwrap().with_kid("idp2-1"))
}

#[test]
fn with_several_issuers_every_actor_names_its_issuer() {
    let field = |r: Result<Config, ConfigError>| match r.unwrap_err() {
        e @ ConfigError::Invalid { .. } => e,
        other => panic!("not a field error: {other}"),
    };
    let e = field(two_idps(json!([
        {"client_id": RUNNER, "issuer": IDP, "audiences": [API]},
        {"client_id": NOTIFIER, "audiences": [API]}
    ])));
    assert_eq!(e.code(), "config_invalid");
    assert_eq!(
        e.to_string(),
        "invalid configuration: exchange.actors[1].issuer: is required when several issuers are trusted"
    );
    // Naming the issuer is enough; the edge's own issuer does not count as a second
    // one (the exchange_json() rules without issuer are valid with IDP alone).
    let cfg = two_idps(json!([
        {"client_id": RUNNER, "issuer": IDP, "audiences": [API]},
        {"client_id": NOTIFIER, "issuer": IDP2, "audiences": [API]}
    ]))
    .unwrap();
    let gate = Gate::new(cfg).unwrap();
    let subject = verify(&gate, &user_token(json!({})), NOW).unwrap();
    let exchange = |actor: &str| {
        let actor = verify(&gate, actor, NOW).unwrap();
        assert_eq!(actor.principal.kind, Kind::Machine);
        code(plan(
            &request(&[("audience", API)]),
            &subject,
            Some(&actor),
            xcfg(&gate),
            NOW,
        ))
    };
    let partner_machine = |client: &str| {
        idp2_key().sign(
            &obj(json!({
                "iss": IDP2, "sub": format!("{client}@clients"), "aud": API, "azp": client,
                "gty": "client-credentials", "iat": NOW, "exp": NOW + 3600
            })),
            None,
        )
    };
    // A same-named client of the other IdP is not the runner.
    assert_eq!(exchange(&partner_machine(RUNNER)), "unauthorized_client");
    assert_eq!(exchange(&machine_token(RUNNER)), "ok");
    assert_eq!(exchange(&partner_machine(NOTIFIER)), "ok");
    assert_eq!(exchange(&machine_token(NOTIFIER)), "unauthorized_client");
}

#[test]
fn an_actor_rule_without_issuer_never_accepts_the_edges_own_issuer() {
    let s = setup();
    // RUNNER's rule names no issuer: it means the IdP (the one issuer besides the
    // edge's own), not a machine token that claims to come from the edge itself.
    let forged = obj(json!({
        "iss": EDGE, "sub": format!("{RUNNER}@clients"), "azp": RUNNER, "aud": API,
        "gty": "client-credentials", "iat": NOW, "exp": NOW + 600
    }));
    let other = verify(&s.gate, &edge_key().sign(&forged, Some("at+jwt")), NOW).unwrap();
    assert_eq!(other.principal.kind, Kind::Machine);
    assert_eq!(other.principal.issuer, EDGE);
    let e = plan(
        &request(&[("audience", API)]),
        &s.subject,
        Some(&other),
        xcfg(&s.gate),
        NOW,
    )
    .unwrap_err();
    assert_eq!(e.code(), "unauthorized_client");
    assert_eq!(code(run(&s, &[("audience", API)])), "ok");
}
