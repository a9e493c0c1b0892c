//! Classification and route policy, end to end through the public API.

use proptest::prelude::*;
use serde_json::{json, Value};
use tokengate::{
    classify, Actor, ClassifyConfig, ClassifyRule, DecidedBy, Kind, Principal, ScopeSource,
};
use tokengate::{Claims, ConfigError, Deny, ErrorCode, RequestError, TokenError};
use tokengate::{
    DefaultRule, Delegation, Policy, PolicyConfig, PolicyError, Requirement, RouteConfig,
};

// ---------------------------------------------------------------------------------
// helpers

fn obj(v: Value) -> Claims {
    match v {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

fn classify_default(v: Value) -> Result<Principal, TokenError> {
    classify(&obj(v), &ClassifyConfig::default())
}

fn policy(v: Value) -> Policy {
    let cfg: PolicyConfig = serde_json::from_value(v).expect("policy config parses");
    Policy::new(&cfg).expect("policy config is valid")
}

/// A gate with the routes (and `default` rule) of a policy document.
fn gate_of(policy: &Value) -> tokengate::Gate {
    let mut cfg = json!({"issuers": [{"issuer": "https://i.example/", "audiences": ["a"]}]});
    cfg["routes"] = policy["routes"].clone();
    if let Some(d) = policy.get("default") {
        cfg["unmatched"] = d.clone();
    }
    tokengate::Gate::new(tokengate::Config::from_value(cfg).unwrap()).unwrap()
}

fn policy_err(v: Value) -> ConfigError {
    let cfg: PolicyConfig = serde_json::from_value(v).expect("policy config parses");
    Policy::new(&cfg).expect_err("policy config is invalid")
}

fn field_of(e: &ConfigError) -> &str {
    match e {
        ConfigError::Invalid { field, .. } => field,
        other => panic!("not a field error: {other}"),
    }
}

fn user(scopes: &[&str]) -> Principal {
    Principal {
        kind: Kind::User,
        subject: "auth0|123".into(),
        client_id: Some("spa".into()),
        user_id: Some("auth0|123".into()),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        roles: Vec::new(),
        issuer: "https://tenant.auth0.com/".into(),
        audiences: vec!["https://api.example.com".into()],
        expires_at: Some(2_000_000_000),
        decided_by: DecidedBy::Default,
        actor: None,
        binding: None,
    }
}

fn machine(scopes: &[&str]) -> Principal {
    Principal {
        kind: Kind::Machine,
        subject: "ci@clients".into(),
        client_id: Some("ci".into()),
        user_id: None,
        decided_by: DecidedBy::Gty,
        ..user(scopes)
    }
}

fn auth0_m2m() -> Value {
    json!({
        "iss": "https://tenant.auth0.com/",
        "sub": "abc@clients",
        "aud": "https://api.example.com",
        "iat": 1_700_000_000,
        "exp": 1_700_086_400,
        "azp": "abc",
        "gty": "client-credentials",
        "scope": "read:builds update:builds"
    })
}

fn auth0_user() -> Value {
    json!({
        "iss": "https://tenant.auth0.com/",
        "sub": "auth0|123",
        "aud": ["https://api.example.com", "https://tenant.auth0.com/userinfo"],
        "iat": 1_700_000_000,
        "exp": 1_700_086_400,
        "azp": "spa-client",
        "scope": "openid profile read:builds",
        "permissions": ["update:builds"]
    })
}

// ---------------------------------------------------------------------------------
// classify

#[test]
fn auth0_m2m_token_is_machine_by_gty() {
    let p = classify_default(auth0_m2m()).unwrap();
    assert_eq!(p.kind, Kind::Machine);
    assert_eq!(p.decided_by, DecidedBy::Gty);
    assert_eq!(p.subject, "abc@clients");
    assert_eq!(p.client_id.as_deref(), Some("abc"));
    assert_eq!(p.user_id, None);
    assert_eq!(p.scopes, ["read:builds", "update:builds"]);
    assert_eq!(p.issuer, "https://tenant.auth0.com/");
    assert_eq!(p.audiences, ["https://api.example.com"]);
    assert_eq!(p.expires_at, Some(1_700_086_400));
    assert!(p.is_machine());
}

#[test]
fn auth0_m2m_without_gty_is_sub_is_client_id() {
    let mut v = auth0_m2m();
    v.as_object_mut().unwrap().remove("gty");
    v["sub"] = json!("abc");
    let p = classify_default(v).unwrap();
    assert_eq!(
        (p.kind, p.decided_by),
        (Kind::Machine, DecidedBy::SubIsClientId)
    );
}

#[test]
fn sub_at_clients_fires_only_for_the_tokens_own_client() {
    // Without gty, `<azp>@clients` (or `<client_id>@clients`) is a machine.
    let mut v = auth0_m2m();
    v.as_object_mut().unwrap().remove("gty");
    let p = classify_default(v.clone()).unwrap();
    assert_eq!(
        (p.kind, p.decided_by),
        (Kind::Machine, DecidedBy::SubAtClients)
    );
    let p = classify_default(json!({"iss": "https://t/", "sub": "c9@clients", "client_id": "c9"}))
        .unwrap();
    assert_eq!(p.decided_by, DecidedBy::SubAtClients);
    // A user whose identifier merely ends in "@clients" stays a user: no client id,
    // another client's id, or the user's own shaping of it.
    for (sub, azp) in [
        ("x@clients", None),
        ("evil@clients", Some("abc")),
        ("auth0|abc@clients", Some("abc")),
        ("abc@clients", Some("")),
        ("abc@clients@clients", Some("abc")),
        ("ABC@clients", Some("abc")),
    ] {
        let mut c = json!({"iss": "https://t/", "sub": sub, "scope": "read:builds"});
        if let Some(azp) = azp {
            c["azp"] = json!(azp);
        }
        let p = classify_default(c).unwrap();
        assert_eq!(
            (p.kind, p.decided_by),
            (Kind::User, DecidedBy::Default),
            "{sub} / {azp:?}"
        );
        assert_eq!(p.user_id.as_deref(), Some(sub));
    }
}

#[test]
fn gty_accepts_both_spellings_of_client_credentials() {
    for gty in ["client-credentials", "client_credentials"] {
        let p =
            classify_default(json!({"iss": "https://t/", "sub": "auth0|u", "gty": gty})).unwrap();
        assert_eq!(
            (p.kind, p.decided_by),
            (Kind::Machine, DecidedBy::Gty),
            "{gty}"
        );
    }
    for gty in ["password", "Client-Credentials", "client credentials", ""] {
        let p =
            classify_default(json!({"iss": "https://t/", "sub": "auth0|u", "gty": gty})).unwrap();
        assert_eq!(p.kind, Kind::User, "{gty}");
    }
}

#[test]
fn scope_entries_must_be_scope_tokens() {
    // An array entry with a space would read as two scopes at the origin.
    for bad in [
        json!({"permissions": ["read:builds update:builds"]}),
        json!({"permissions": ["read:builds\tupdate:builds"]}),
        json!({"scp": ["a\"b"]}),
        json!({"permissions": ["caf\u{e9}"]}),
        json!({"scope": "read:builds caf\u{e9}"}),
    ] {
        let mut c = bad.clone();
        c["iss"] = json!("https://t/");
        c["sub"] = json!("auth0|u");
        let err = classify_default(c).unwrap_err();
        assert_eq!(err.code(), "claim_invalid", "{bad}");
    }
    let p = classify_default(json!({
        "iss": "https://t/", "sub": "auth0|u", "scope": " a  b\tc ", "permissions": ["d", "a"]
    }))
    .unwrap();
    assert_eq!(p.scopes, ["a", "b", "c", "d"]);
}

#[test]
fn auth0_user_token_is_user_with_merged_scopes() {
    let p = classify_default(auth0_user()).unwrap();
    assert_eq!((p.kind, p.decided_by), (Kind::User, DecidedBy::Default));
    assert_eq!(p.user_id.as_deref(), Some("auth0|123"));
    assert_eq!(p.client_id.as_deref(), Some("spa-client"));
    assert_eq!(
        p.scopes,
        ["openid", "profile", "read:builds", "update:builds"]
    );
    assert_eq!(p.audiences.len(), 2);
}

#[test]
fn rfc9068_client_credentials_token_is_machine() {
    let p = classify_default(json!({
        "iss": "https://as.example.com/",
        "sub": "s6BhdRkqt3",
        "client_id": "s6BhdRkqt3",
        "aud": "https://rs.example.com/",
        "exp": 1_639_528_912,
        "iat": 1_618_354_090,
        "jti": "dbe39bf3a3ba4238a513f51d6e1691c4",
        "scope": "read write"
    }))
    .unwrap();
    assert_eq!(
        (p.kind, p.decided_by),
        (Kind::Machine, DecidedBy::SubIsClientId)
    );
    assert_eq!(p.client_id.as_deref(), Some("s6BhdRkqt3"));
    assert_eq!(p.scopes, ["read", "write"]);
}

#[test]
fn custom_claim_beats_gty_both_ways() {
    let cfg = ClassifyConfig {
        m2m_claim: Some("https://example.com/is_m2m".into()),
        user_id_claim: Some("https://example.com/user_id".into()),
        ..ClassifyConfig::default()
    };
    let mut v = auth0_m2m();
    v["https://example.com/is_m2m"] = json!(false);
    let p = classify(&obj(v.clone()), &cfg).unwrap();
    assert_eq!((p.kind, p.decided_by), (Kind::User, DecidedBy::M2mClaim));
    assert_eq!(p.user_id.as_deref(), Some("abc@clients"));

    let mut u = auth0_user();
    u["https://example.com/is_m2m"] = json!(true);
    u["https://example.com/user_id"] = json!("auth0|777");
    let p = classify(&obj(u), &cfg).unwrap();
    assert_eq!((p.kind, p.decided_by), (Kind::Machine, DecidedBy::M2mClaim));
    assert_eq!(p.user_id.as_deref(), Some("auth0|777"));

    // Absent claim: the rule is skipped and gty decides.
    let p = classify(&obj(auth0_m2m()), &cfg).unwrap();
    assert_eq!(p.decided_by, DecidedBy::Gty);

    // Not a boolean: invalid, naming the claim.
    v["https://example.com/is_m2m"] = json!(1);
    let err = classify(&obj(v), &cfg).unwrap_err();
    assert_eq!(err.code(), "claim_invalid");
    assert!(
        err.to_string().contains("https://example.com/is_m2m"),
        "{err}"
    );
}

#[test]
fn custom_rule_order() {
    // sub == azp and gty present: the first configured rule decides.
    let mut v = auth0_m2m();
    v["sub"] = json!("abc");
    let cfg = ClassifyConfig {
        rules: vec![ClassifyRule::SubIsClientId, ClassifyRule::Gty],
        ..ClassifyConfig::default()
    };
    assert_eq!(
        classify(&obj(v.clone()), &cfg).unwrap().decided_by,
        DecidedBy::SubIsClientId
    );
    // Only the `@clients` rule: gty is ignored and "abc" is a user.
    let cfg = ClassifyConfig {
        rules: vec![ClassifyRule::SubAtClients],
        ..ClassifyConfig::default()
    };
    let p = classify(&obj(v), &cfg).unwrap();
    assert_eq!((p.kind, p.decided_by), (Kind::User, DecidedBy::Default));
    // No rules at all: everything is a user.
    let cfg = ClassifyConfig {
        rules: vec![],
        ..ClassifyConfig::default()
    };
    assert_eq!(classify(&obj(auth0_m2m()), &cfg).unwrap().kind, Kind::User);
}

#[test]
fn scp_array_and_scope_source_order() {
    let v = json!({
        "iss": "i", "sub": "u",
        "scope": "a b",
        "scp": ["c", "a"],
        "permissions": ["d", "c"]
    });
    assert_eq!(
        classify_default(v.clone()).unwrap().scopes,
        ["a", "b", "c", "d"]
    );
    let cfg = ClassifyConfig {
        scope_claims: vec![ScopeSource::Permissions, ScopeSource::Scp],
        ..ClassifyConfig::default()
    };
    assert_eq!(classify(&obj(v), &cfg).unwrap().scopes, ["d", "c", "a"]);
    let p = classify_default(json!({"iss": "i", "sub": "u", "scp": "x  y "})).unwrap();
    assert_eq!(p.scopes, ["x", "y"]);
}

#[test]
fn roles_from_configured_claim() {
    let cfg = ClassifyConfig {
        roles_claim: Some("https://example.com/roles".into()),
        ..ClassifyConfig::default()
    };
    let mut v = auth0_user();
    v["https://example.com/roles"] = json!(["Build Admin", "viewer", "viewer"]);
    assert_eq!(
        classify(&obj(v.clone()), &cfg).unwrap().roles,
        ["Build Admin", "viewer"]
    );
    v["https://example.com/roles"] = json!("admin viewer");
    assert_eq!(
        classify(&obj(v.clone()), &cfg).unwrap().roles,
        ["admin", "viewer"]
    );
    v["https://example.com/roles"] = json!({"admin": true});
    let err = classify(&obj(v.clone()), &cfg).unwrap_err();
    assert!(matches!(&err, TokenError::ClaimInvalid(m) if m.contains("https://example.com/roles")));
    // Without roles_claim, roles are not read.
    assert!(classify_default(v).unwrap().roles.is_empty());
}

#[test]
fn bad_claim_types_are_errors() {
    let base = || obj(auth0_user());
    let cases: Vec<(&str, Value, &str)> = vec![
        ("sub", json!(42), "sub"),
        ("sub", json!(null), "sub"),
        ("iss", json!(["a"]), "iss"),
        ("scope", json!(7), "scope"),
        ("scope", json!(["read"]), "scope"),
        ("scp", json!({"a": 1}), "scp"),
        ("scp", json!(["a", 2]), "scp"),
        ("permissions", json!("update:builds"), "permissions"),
        ("permissions", json!([true]), "permissions"),
        ("aud", json!(5), "aud"),
        ("aud", json!([1]), "aud"),
        ("act", json!("svc"), "act"),
        ("act", json!({"iss": "x"}), "act"),
        ("act", json!({"sub": "a", "act": {"sub": 3}}), "act"),
    ];
    for (claim, value, named) in cases {
        let mut c = base();
        c.insert(claim.into(), value.clone());
        let err = classify(&c, &ClassifyConfig::default()).unwrap_err();
        assert!(
            matches!(
                err,
                TokenError::ClaimInvalid(_) | TokenError::ClaimMissing(_)
            ),
            "{claim}={value}: {err:?}"
        );
        assert!(err.to_string().contains(named), "{claim}={value}: {err}");
        assert_eq!(err.to_string(), err.to_string().to_lowercase());
    }
    let mut c = base();
    c.remove("sub");
    assert_eq!(
        classify(&c, &ClassifyConfig::default()),
        Err(TokenError::ClaimMissing("sub".into()))
    );
    let mut c = base();
    c.remove("iss");
    assert_eq!(
        classify(&c, &ClassifyConfig::default()),
        Err(TokenError::ClaimMissing("iss".into()))
    );
}

#[test]
fn optional_claims_absent_or_null() {
    let p =
        classify_default(json!({"iss": "i", "sub": "u", "aud": null, "scope": null, "act": null}))
            .unwrap();
    assert!(p.audiences.is_empty());
    assert!(p.scopes.is_empty());
    assert_eq!(p.actor, None);
    assert_eq!(p.expires_at, None);
    assert_eq!(p.client_id, None);
}

#[test]
fn act_chain_is_parsed() {
    let mut v = auth0_user();
    v["act"] = json!({"sub": "build-bot", "iss": "https://other/", "act": {"sub": "scheduler"}});
    let p = classify_default(v).unwrap();
    assert_eq!(
        p.actor,
        Some(Actor {
            sub: "build-bot".into(),
            client_id: None,
            act: Some(Box::new(Actor {
                sub: "scheduler".into(),
                client_id: None,
                act: None
            }))
        })
    );
    assert_eq!(
        p.actor.as_ref().unwrap().chain(),
        ["build-bot", "scheduler"]
    );
}

#[test]
fn principal_serializes_for_js() {
    let p = classify_default(auth0_m2m()).unwrap();
    let v = serde_json::to_value(&p).unwrap();
    assert_eq!(v["kind"], "machine");
    assert_eq!(v["decided_by"], "gty");
    assert_eq!(v["client_id"], "abc");
    let back: Principal = serde_json::from_value(v).unwrap();
    assert_eq!(back, p);
}

#[test]
fn classify_config_serde() {
    let cfg: ClassifyConfig = serde_json::from_value(json!({
        "rules": ["gty", "sub_at_clients"],
        "m2m_claim": "https://example.com/is_m2m",
        "scope_claims": ["permissions"]
    }))
    .unwrap();
    assert_eq!(cfg.rules, [ClassifyRule::Gty, ClassifyRule::SubAtClients]);
    assert_eq!(cfg.scope_claims, [ScopeSource::Permissions]);
    assert_eq!(cfg.roles_claim, None);
    let round: ClassifyConfig =
        serde_json::from_value(serde_json::to_value(&cfg).unwrap()).unwrap();
    assert_eq!(round, cfg);
    let d: ClassifyConfig = serde_json::from_str("{}").unwrap();
    assert_eq!(d, ClassifyConfig::default());
    assert_eq!(
        d.rules,
        [
            ClassifyRule::M2mClaim,
            ClassifyRule::Gty,
            ClassifyRule::SubIsClientId,
            ClassifyRule::SubAtClients
        ]
    );
    for bad in [
        json!({"m2m_clam": "x"}),
        json!({"rules": ["client_credentials"]}),
        json!({"scope_claims": ["scopes"]}),
    ] {
        assert!(
            serde_json::from_value::<ClassifyConfig>(bad.clone()).is_err(),
            "{bad}"
        );
    }
}

// ---------------------------------------------------------------------------------
// policy: route matching

#[test]
fn route_matching_table() {
    let p = policy(json!({
        "routes": [
            {"path": "/health", "public": true},
            {"path": "/public/*", "public": true},
            {"path": "/builds/*/logs", "methods": ["GET"]},
            {"path": "/admin/*", "require": {"kinds": ["machine"]}},
            {"path": "/", "public": true}
        ]
    }));
    let cases: &[(&str, &str, Option<usize>)] = &[
        ("GET", "/health", Some(0)),
        ("GET", "/health/", Some(0)),
        ("GET", "/health?verbose=1", Some(0)),
        ("GET", "/healthz", None),
        ("GET", "/health/x", None),
        // A case variant finds the route, but is public only when spelled exactly.
        ("GET", "/HEALTH", Some(0)),
        ("GET", "/public/a", Some(1)),
        ("GET", "/public/a/b/c", Some(1)),
        ("GET", "/public/", Some(1)),
        ("GET", "/public", None),
        ("GET", "/builds/7/logs", Some(2)),
        ("GET", "/builds/7/logs/", Some(2)),
        ("GET", "/builds//logs", None),
        ("GET", "/builds/logs", None),
        ("GET", "/builds/7/8/logs", None),
        ("POST", "/builds/7/logs", None),
        ("GET", "/admin", None),
        ("GET", "/admin/", Some(3)),
        ("DELETE", "/admin/x", Some(3)),
        ("GET", "/admin/x/y", Some(3)),
        ("GET", "/", Some(4)),
        ("GET", "/?x", Some(4)),
    ];
    for (method, path, want) in cases {
        let m = p.route(method, path);
        assert_eq!(m.index, *want, "{method} {path}");
        let public = matches!(want, Some(0 | 1 | 4)) && *path != "/HEALTH";
        assert_eq!(m.public, public, "{method} {path}");
    }
    let m = p.route("GET", "/admin/x");
    assert_eq!(
        m.requirement.and_then(|r| r.kinds.clone()),
        Some(vec![Kind::Machine])
    );
}

#[test]
fn traversal_and_encoded_paths_never_match() {
    let doc = json!({
        "routes": [
            {"path": "/public/*", "public": true},
            {"path": "/admin/*", "require": {"kinds": ["machine"]}}
        ]
    });
    let p = policy(doc.clone());
    let gate = gate_of(&doc);
    let u = user(&[]);
    for path in [
        "/public/../admin/x",
        "/public/./x",
        "/public/x/..",
        "/public/%2e%2e/admin/x",
        "/public/%2E%2E/admin/x",
        "/public/.%2e/admin",
        "/public/x%2F..%2F..%2Fadmin%2Fx",
        "/public/x%2f..%2f..%2fadmin",
        "/public/x%5C..%5Cadmin",
        "/public/x\\..\\admin",
        "/admin;x=1/y",
        "/public//admin",
        "/public/x%252F..",
        "public/x",
        "",
    ] {
        let m = p.route("GET", path);
        assert!(!m.public, "{path:?} must not be public");
        assert_eq!(m.index, None, "{path:?}");
        assert!(m.rejected, "{path:?}");
        // Never allowed by the policy; the gate (and the pipeline) refuse it first as
        // the request's fault: 400 path_rejected.
        assert_eq!(
            p.authorize(&m, &u, &tokengate::Claims::new()),
            Err(PolicyError::DeniedByDefault),
            "{path:?}"
        );
        let g = gate.route("GET", path);
        let verified = tokengate::Verified {
            token: tokengate::VerifiedToken {
                header: tokengate::Claims::new(),
                claims: tokengate::Claims::new(),
                alg: tokengate::Alg::RS256,
                kid: None,
                issuer_index: 0,
            },
            principal: u.clone(),
        };
        let err = gate.authorize(&g, &verified).unwrap_err();
        assert_eq!(err, RequestError::PathRejected.into(), "{path:?}");
        let deny = err.deny(&gate);
        assert_eq!(deny.status, 400);
        assert_eq!(deny.code, "path_rejected");
    }
    // Dots inside a segment and other escapes are fine.
    for path in [
        "/public/v1.2",
        "/public/..hidden",
        "/public/a%20b",
        "/public/x..y",
    ] {
        let m = p.route("GET", path);
        assert!(m.public && !m.rejected, "{path}");
    }
}

#[test]
fn methods_and_head() {
    let p = policy(json!({
        "routes": [
            {"path": "/r", "methods": ["get", "Post", "GET"]},
            {"path": "/h", "methods": ["HEAD"]},
            {"path": "/any"}
        ]
    }));
    assert_eq!(
        p.route_config(0).unwrap().methods.as_deref(),
        Some(&["GET".to_string(), "POST".to_string()][..])
    );
    for (method, path, want) in [
        ("GET", "/r", Some(0)),
        ("get", "/r", Some(0)),
        ("HEAD", "/r", Some(0)),
        ("POST", "/r", Some(0)),
        ("PUT", "/r", None),
        ("OPTIONS", "/r", None),
        ("HEAD", "/h", Some(1)),
        ("GET", "/h", None),
        ("PATCH", "/any", Some(2)),
        ("X-CUSTOM", "/any", Some(2)),
    ] {
        assert_eq!(p.route(method, path).index, want, "{method} {path}");
    }
}

#[test]
fn first_match_wins() {
    let p = policy(json!({
        "routes": [
            {"path": "/builds/*/logs", "public": true},
            {"path": "/builds/*", "methods": ["GET"], "require": {"scopes_all": ["read:builds"]}},
            {"path": "/builds/*", "require": {"scopes_all": ["update:builds"]}},
            {"path": "/builds/special", "public": true}
        ]
    }));
    assert_eq!(p.route("GET", "/builds/1/logs").index, Some(0));
    assert_eq!(p.route("GET", "/builds/1").index, Some(1));
    assert_eq!(p.route("POST", "/builds/1").index, Some(2));
    // Shadowed by the earlier prefix route.
    assert_eq!(p.route("GET", "/builds/special").index, Some(1));
    let reader = user(&["read:builds"]);
    assert!(p
        .authorize(
            &p.route("GET", "/builds/1"),
            &reader,
            &tokengate::Claims::new()
        )
        .is_ok());
    assert_eq!(
        p.authorize(
            &p.route("POST", "/builds/1"),
            &reader,
            &tokengate::Claims::new()
        ),
        Err(PolicyError::InsufficientScope {
            required: vec!["update:builds".into()]
        })
    );
}

#[test]
fn default_rule() {
    // The default is deny; any_valid_token is chosen explicitly.
    let none = policy(json!({"routes": [{"path": "/x", "public": true}]}));
    assert_eq!(none.default_rule(), &DefaultRule::Deny);
    assert_eq!(
        none.authorize(
            &none.route("GET", "/y"),
            &machine(&[]),
            &tokengate::Claims::new()
        ),
        Err(PolicyError::DeniedByDefault)
    );
    let any =
        policy(json!({"routes": [{"path": "/x", "public": true}], "default": "any_valid_token"}));
    assert_eq!(any.default_rule(), &DefaultRule::AnyValidToken);
    let m = any.route("GET", "/y");
    assert_eq!(
        (m.index, m.public, m.requirement, m.rejected),
        (None, false, None, false)
    );
    assert!(any
        .authorize(&m, &user(&[]), &tokengate::Claims::new())
        .is_ok());

    let deny = policy(json!({"routes": [{"path": "/x"}], "default": "deny"}));
    let m = deny.route("GET", "/y");
    assert_eq!(
        deny.authorize(&m, &machine(&[]), &tokengate::Claims::new()),
        Err(PolicyError::DeniedByDefault)
    );
    // A route with neither public nor require: any valid token.
    assert!(deny
        .authorize(
            &deny.route("GET", "/x"),
            &user(&[]),
            &tokengate::Claims::new()
        )
        .is_ok());
    let d = deny.deny(&PolicyError::DeniedByDefault);
    assert_eq!((d.status, d.code), (403, "denied_by_default"));

    // There is no allow-without-token default.
    assert!(serde_json::from_value::<PolicyConfig>(json!({"default": "allow"})).is_err());
    assert!(serde_json::from_value::<PolicyConfig>(json!({"default": "public"})).is_err());
}

#[test]
fn public_route_authorizes_anyone() {
    let p = policy(json!({"routes": [{"path": "/health", "public": true}], "default": "deny"}));
    let m = p.route("GET", "/health");
    assert!(m.public);
    assert!(p
        .authorize(&m, &user(&[]), &tokengate::Claims::new())
        .is_ok());
}

// ---------------------------------------------------------------------------------
// policy: requirements

fn builds_policy(bypass: bool) -> Policy {
    policy(json!({
        "routes": [{
            "path": "/builds/*",
            "methods": ["POST", "PUT"],
            "require": {"scopes_all": ["update:builds"], "machines_bypass_scopes": bypass}
        }]
    }))
}

#[test]
fn machines_bypass_scopes() {
    let p = builds_policy(true);
    let m = p.route("POST", "/builds/1");
    assert!(p
        .authorize(&m, &machine(&[]), &tokengate::Claims::new())
        .is_ok());
    assert!(p
        .authorize(&m, &user(&["update:builds"]), &tokengate::Claims::new())
        .is_ok());
    assert_eq!(
        p.authorize(&m, &user(&["read:builds"]), &tokengate::Claims::new()),
        Err(PolicyError::InsufficientScope {
            required: vec!["update:builds".into()]
        })
    );
    let p = builds_policy(false);
    let m = p.route("POST", "/builds/1");
    assert!(p
        .authorize(&m, &machine(&[]), &tokengate::Claims::new())
        .is_err());
    assert!(p
        .authorize(&m, &machine(&["update:builds"]), &tokengate::Claims::new())
        .is_ok());
}

#[test]
fn bypass_does_not_skip_kinds_clients_or_delegation() {
    let p = policy(json!({"routes": [{"path": "/x", "require": {
        "clients": ["ci"], "delegation": "forbidden",
        "scopes_all": ["s"], "roles_any": ["admin"], "machines_bypass_scopes": true
    }}]}));
    let m = p.route("GET", "/x");
    assert!(p
        .authorize(&m, &machine(&[]), &tokengate::Claims::new())
        .is_ok());
    let other = Principal {
        client_id: Some("other".into()),
        ..machine(&[])
    };
    assert_eq!(
        p.authorize(&m, &other, &tokengate::Claims::new()),
        Err(PolicyError::ClientNotAllowed)
    );
    let delegated = Principal {
        actor: Some(Actor {
            sub: "bot".into(),
            client_id: None,
            act: None,
        }),
        ..machine(&[])
    };
    assert_eq!(
        p.authorize(&m, &delegated, &tokengate::Claims::new()),
        Err(PolicyError::DelegationForbidden)
    );
    // Users still need both the scope and the role.
    let u = Principal {
        client_id: Some("ci".into()),
        ..user(&["s"])
    };
    assert_eq!(
        p.authorize(&m, &u, &tokengate::Claims::new()),
        Err(PolicyError::RoleNotAllowed)
    );
}

#[test]
fn kinds() {
    let p = policy(json!({"routes": [{"path": "/admin/*", "require": {"kinds": ["machine"]}}]}));
    let m = p.route("DELETE", "/admin/x");
    assert!(p
        .authorize(&m, &machine(&[]), &tokengate::Claims::new())
        .is_ok());
    let err = p
        .authorize(&m, &user(&["everything"]), &tokengate::Claims::new())
        .unwrap_err();
    assert_eq!(err, PolicyError::KindNotAllowed(Kind::User));
    assert_eq!(err.to_string(), "user tokens are not allowed on this route");
    assert_eq!((err.code(), err.status()), ("kind_not_allowed", 403));
}

#[test]
fn scopes_all_any_and_roles() {
    let p = policy(json!({"routes": [{"path": "/x", "require": {
        "scopes_all": ["a", "b"], "scopes_any": ["c", "d"], "roles_any": ["r1", "r2"]
    }}]}));
    let m = p.route("GET", "/x");
    let with = |scopes: &[&str], roles: &[&str]| Principal {
        roles: roles.iter().map(|s| s.to_string()).collect(),
        ..user(scopes)
    };
    assert!(p
        .authorize(
            &m,
            &with(&["a", "b", "d"], &["r2"]),
            &tokengate::Claims::new()
        )
        .is_ok());
    assert_eq!(
        p.authorize(&m, &with(&["a", "d"], &["r2"]), &tokengate::Claims::new()),
        Err(PolicyError::InsufficientScope {
            required: vec!["a".into(), "b".into()]
        })
    );
    assert_eq!(
        p.authorize(&m, &with(&["a", "b"], &["r2"]), &tokengate::Claims::new()),
        Err(PolicyError::InsufficientScope {
            required: vec!["c".into(), "d".into()]
        })
    );
    assert_eq!(
        p.authorize(
            &m,
            &with(&["a", "b", "c"], &["r3"]),
            &tokengate::Claims::new()
        ),
        Err(PolicyError::RoleNotAllowed)
    );
    let e = PolicyError::RoleNotAllowed;
    assert_eq!(
        (e.code(), e.status(), e.oauth_error()),
        ("role_not_allowed", 403, Some("insufficient_scope"))
    );
}

#[test]
fn wildcard_scopes_on_and_off() {
    let route = json!([{"path": "/builds/*", "require": {"scopes_all": ["read:builds"]}}]);
    let off = policy(json!({"routes": route}));
    let on = policy(json!({"routes": route, "wildcard_scopes": true}));
    assert!(!off.wildcard_scopes() && on.wildcard_scopes());
    let m_off = off.route("GET", "/builds/1");
    let m_on = on.route("GET", "/builds/1");
    let star = user(&["read:*"]);
    assert!(off
        .authorize(&m_off, &star, &tokengate::Claims::new())
        .is_err());
    assert!(on
        .authorize(&m_on, &star, &tokengate::Claims::new())
        .is_ok());
    for grants_nothing in [
        &["*"][..],
        &["read*"],
        &[":*"],
        &["write:*"],
        &["read:builds:*"],
    ] {
        assert!(
            on.authorize(&m_on, &user(grants_nothing), &tokengate::Claims::new())
                .is_err(),
            "{grants_nothing:?}"
        );
    }
    assert!(on
        .authorize(&m_on, &user(&["read:builds"]), &tokengate::Claims::new())
        .is_ok());
}

#[test]
fn clients() {
    let p = policy(json!({"routes": [{"path": "/x", "require": {"clients": ["ci", "deployer"]}}]}));
    let m = p.route("GET", "/x");
    assert!(p
        .authorize(&m, &machine(&[]), &tokengate::Claims::new())
        .is_ok());
    assert_eq!(
        p.authorize(&m, &user(&[]), &tokengate::Claims::new()),
        Err(PolicyError::ClientNotAllowed)
    );
    let no_client = Principal {
        client_id: None,
        ..machine(&[])
    };
    assert_eq!(
        p.authorize(&m, &no_client, &tokengate::Claims::new()),
        Err(PolicyError::ClientNotAllowed)
    );
}

#[test]
fn delegation() {
    let p = policy(json!({"routes": [
        {"path": "/on-behalf", "require": {"delegation": "required"}},
        {"path": "/direct", "require": {"delegation": "forbidden"}}
    ]}));
    let delegated = Principal {
        actor: Some(Actor {
            sub: "bot".into(),
            client_id: None,
            act: None,
        }),
        ..user(&[])
    };
    let direct = user(&[]);
    let on = p.route("GET", "/on-behalf");
    let off = p.route("GET", "/direct");
    assert!(p
        .authorize(&on, &delegated, &tokengate::Claims::new())
        .is_ok());
    assert_eq!(
        p.authorize(&on, &direct, &tokengate::Claims::new()),
        Err(PolicyError::DelegationRequired)
    );
    assert!(p
        .authorize(&off, &direct, &tokengate::Claims::new())
        .is_ok());
    assert_eq!(
        p.authorize(&off, &delegated, &tokengate::Claims::new()),
        Err(PolicyError::DelegationForbidden)
    );
    assert_eq!(
        PolicyError::DelegationRequired.code(),
        "delegation_required"
    );
    assert_eq!(
        PolicyError::DelegationForbidden.code(),
        "delegation_forbidden"
    );
}

// ---------------------------------------------------------------------------------
// policy: RFC 6750 answers

#[test]
fn insufficient_scope_challenge() {
    let p = builds_policy(true);
    let err = p
        .authorize(
            &p.route("POST", "/builds/1"),
            &user(&["read:builds"]),
            &tokengate::Claims::new(),
        )
        .unwrap_err();
    assert_eq!(err.scope_hint().as_deref(), Some("update:builds"));
    let deny = p.deny(&err);
    assert_eq!(deny.status, 403);
    assert_eq!(deny.code, "insufficient_scope");
    assert_eq!(
        deny.www_authenticate.as_deref(),
        Some(
            "Bearer realm=\"tokengate\", error=\"insufficient_scope\", \
             error_description=\"the token lacks a scope this route requires\", \
             scope=\"update:builds\""
        )
    );
    assert_eq!(
        Deny::from_error(&err, "tokengate", Some("update:builds")),
        deny
    );
    assert!(deny
        .body_json()
        .contains("\"error\":\"insufficient_scope\""));

    let multi = PolicyError::InsufficientScope {
        required: vec!["a".into(), "b".into()],
    };
    assert_eq!(
        multi.to_deny("api").www_authenticate.as_deref(),
        Some(
            "Bearer realm=\"api\", error=\"insufficient_scope\", \
             error_description=\"the token lacks a scope this route requires\", scope=\"a b\""
        )
    );
}

#[test]
fn other_403s_have_no_scope_attribute() {
    let p = policy(json!({"routes": [], "realm": "builds-api"}));
    assert_eq!(p.realm(), "builds-api");
    let all = [
        PolicyError::RoleNotAllowed,
        PolicyError::KindNotAllowed(Kind::Machine),
        PolicyError::ClientNotAllowed,
        PolicyError::DelegationRequired,
        PolicyError::DelegationForbidden,
        PolicyError::DeniedByDefault,
    ];
    for err in all {
        let d = p.deny(&err.clone());
        assert_eq!(d.status, 403, "{err}");
        assert_eq!(err.scope_hint(), None);
        let www = d.www_authenticate.unwrap();
        assert!(
            www.starts_with(
                "Bearer realm=\"builds-api\", error=\"insufficient_scope\", error_description=\""
            ),
            "{www}"
        );
        assert!(!www.contains(", scope="), "{www}");
        let msg = err.to_string();
        assert_eq!(msg, msg.to_lowercase());
        let _: &dyn std::error::Error = &err;
    }
}

// ---------------------------------------------------------------------------------
// policy: configuration

#[test]
fn config_validation_names_fields() {
    let cases: Vec<(Value, &str)> = vec![
        (json!({"routes": [{"path": "health"}]}), "routes[0].path"),
        (
            json!({"routes": [{"path": "/ok"}, {"path": ""}]}),
            "routes[1].path",
        ),
        (
            json!({"routes": [{"path": "/a"}, {"path": "/b"}, {"path": "/c//d"}]}),
            "routes[2].path",
        ),
        (json!({"routes": [{"path": "/c/"}]}), "routes[0].path"),
        (json!({"routes": [{"path": "/c*"}]}), "routes[0].path"),
        (json!({"routes": [{"path": "/**"}]}), "routes[0].path"),
        (json!({"routes": [{"path": "/a/../b"}]}), "routes[0].path"),
        (json!({"routes": [{"path": "/a%2fb"}]}), "routes[0].path"),
        (json!({"routes": [{"path": "/a?x=1"}]}), "routes[0].path"),
        (
            json!({"routes": [{"path": "/a", "methods": []}]}),
            "routes[0].methods",
        ),
        (
            json!({"routes": [{"path": "/a", "methods": ["GET", "BAD METHOD"]}]}),
            "routes[0].methods[1]",
        ),
        (
            json!({"routes": [{"path": "/a", "methods": [""]}]}),
            "routes[0].methods[0]",
        ),
        (
            json!({"routes": [{"path": "/a", "public": true, "require": {}}]}),
            "routes[0].require",
        ),
        (
            json!({"routes": [{"path": "/a", "require": {"kinds": []}}]}),
            "routes[0].require.kinds",
        ),
        (
            json!({"routes": [{"path": "/a", "require": {"clients": []}}]}),
            "routes[0].require.clients",
        ),
        (
            json!({"routes": [{"path": "/a", "require": {"clients": ["x", ""]}}]}),
            "routes[0].require.clients[1]",
        ),
        (
            json!({"routes": [{"path": "/a", "require": {"scopes_all": ["a b"]}}]}),
            "routes[0].require.scopes_all[0]",
        ),
        (
            json!({"routes": [{"path": "/a", "require": {"scopes_any": ["ok", ""]}}]}),
            "routes[0].require.scopes_any[1]",
        ),
        (
            json!({"routes": [{"path": "/a", "require": {"scopes_any": ["say\"hi"]}}]}),
            "routes[0].require.scopes_any[0]",
        ),
        (
            json!({"routes": [{"path": "/a", "require": {"roles_any": [""]}}]}),
            "routes[0].require.roles_any[0]",
        ),
        (json!({"realm": "caf\u{e9}"}), "realm"),
    ];
    for (cfg, field) in cases {
        let err = policy_err(cfg.clone());
        assert_eq!(field_of(&err), field, "{cfg}: {err}");
        assert_eq!(err.code(), "config_invalid");
        let msg = err.to_string();
        assert!(msg.starts_with("invalid configuration: "), "{msg}");
    }
}

#[test]
fn valid_configs() {
    let p = policy(json!({
        "routes": [
            {"path": "/"},
            {"path": "/*", "methods": ["M-SEARCH"]},
            {"path": "/a/*/b/*"},
            {"path": "/v1.0/items", "require": {}},
            {"path": "/a", "require": {"scopes_all": ["api://x/.default"], "kinds": ["user", "machine"]}}
        ]
    }));
    assert_eq!(p.len(), 5);
    assert!(!p.is_empty());
    assert_eq!(p.route_config(3).unwrap().path, "/v1.0/items");
    assert_eq!(p.route_config(9), None);
    let empty = Policy::new(&PolicyConfig::default()).unwrap();
    assert!(empty.is_empty());
    assert_eq!(empty.realm(), "tokengate");
}

#[test]
fn unknown_keys_are_rejected() {
    for bad in [
        json!({"routes": [{"path": "/a", "method": ["GET"]}]}),
        json!({"routes": [{"path": "/a", "requires": {}}]}),
        json!({"routes": [{"path": "/a", "require": {"scope_all": ["x"]}}]}),
        json!({"routes": [{"path": "/a", "require": {"kinds": ["robot"]}}]}),
        json!({"routes": [{"path": "/a", "require": {"delegation": "optional"}}]}),
        json!({"route": []}),
        json!({"wildcard_scope": true}),
    ] {
        let err = serde_json::from_value::<PolicyConfig>(bad.clone());
        assert!(err.is_err(), "{bad}");
    }
    let e =
        serde_json::from_value::<PolicyConfig>(json!({"routes": [{"path": "/a", "publik": true}]}))
            .unwrap_err()
            .to_string();
    assert!(e.contains("publik"), "{e}");
}

#[test]
fn config_serde_round_trip_and_defaults() {
    let cfg: PolicyConfig = serde_json::from_value(json!({})).unwrap();
    assert_eq!(cfg, PolicyConfig::default());
    assert_eq!(cfg.default, DefaultRule::Deny);
    assert!(!cfg.wildcard_scopes);
    assert_eq!(cfg.realm, "tokengate");

    let cfg = PolicyConfig {
        routes: vec![
            RouteConfig {
                path: "/admin/*".into(),
                methods: Some(vec!["POST".into()]),
                public: false,
                require: Some(Requirement {
                    kinds: Some(vec![Kind::Machine]),
                    delegation: Some(Delegation::Forbidden),
                    machines_bypass_scopes: true,
                    ..Requirement::default()
                }),
                case_sensitive: false,
                rate_limit: None,
            },
            RouteConfig {
                path: "/health".into(),
                methods: None,
                public: true,
                require: None,
                case_sensitive: true,
                rate_limit: None,
            },
        ],
        default: DefaultRule::Deny,
        wildcard_scopes: true,
        realm: "r".into(),
    };
    let v = serde_json::to_value(&cfg).unwrap();
    assert_eq!(v["default"], "deny");
    assert_eq!(v["routes"][0]["require"]["kinds"], json!(["machine"]));
    assert_eq!(v["routes"][0]["require"]["delegation"], "forbidden");
    assert_eq!(
        v["routes"][1],
        json!({"path": "/health", "public": true, "case_sensitive": true})
    );
    assert_eq!(v["routes"][0].get("case_sensitive"), None);
    let back: PolicyConfig = serde_json::from_value(v).unwrap();
    assert_eq!(back, cfg);
    Policy::new(&back).unwrap();
}

// ---------------------------------------------------------------------------------
// no panics on any input

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "[a-z@|: ]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("sub".to_string()),
                    Just("act".to_string()),
                    "[a-z]{1,4}".prop_map(String::from)
                ],
                inner,
                0..4
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn arb_claims() -> impl Strategy<Value = Claims> {
    let key = prop_oneof![
        Just("sub"),
        Just("iss"),
        Just("aud"),
        Just("exp"),
        Just("azp"),
        Just("client_id"),
        Just("gty"),
        Just("scope"),
        Just("scp"),
        Just("permissions"),
        Just("act"),
        Just("m2m"),
        Just("roles"),
        Just("uid"),
    ];
    prop::collection::vec((key, arb_json()), 0..12)
        .prop_map(|kv| kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

proptest! {
    #[test]
    fn classify_never_panics(claims in arb_claims()) {
        let cfg = ClassifyConfig {
            m2m_claim: Some("m2m".into()),
            user_id_claim: Some("uid".into()),
            roles_claim: Some("roles".into()),
            ..ClassifyConfig::default()
        };
        if let Ok(p) = classify(&claims, &cfg) {
            prop_assert!(!p.subject.is_empty());
            let mut seen = std::collections::HashSet::new();
            prop_assert!(p.scopes.iter().all(|s| !s.is_empty() && seen.insert(s.clone())));
        }
    }

    #[test]
    fn route_never_panics_and_noncanonical_is_never_public(
        method in "[A-Za-z]{0,8}",
        path in "[/a-z.%25fFeE2c;\\\\?#*]{0,24}",
    ) {
        let p = policy(json!({
            "routes": [
                {"path": "/a/*", "public": true},
                {"path": "/*/b", "methods": ["GET"], "require": {"scopes_all": ["s"]}},
                {"path": "/", "public": true}
            ],
            "default": "deny"
        }));
        let m = p.route(&method, &path);
        let path_only = path.split(['?', '#']).next().unwrap_or_default();
        let lower = path_only.to_ascii_lowercase();
        let must_reject = !path_only.starts_with('/')
            || path_only.contains("/../")
            || path_only.contains("/./")
            || path_only.ends_with("/..")
            || path_only.ends_with("/.")
            || path_only.contains("//")
            || path_only.contains('\\')
            || path_only.contains(';')
            || ["%2f", "%2e", "%5c", "%25"].iter().any(|e| lower.contains(e));
        if must_reject {
            prop_assert!(m.rejected, "{:?} should be rejected", path);
        }
        if m.rejected {
            prop_assert!(!m.public && m.index.is_none() && m.requirement.is_none());
            prop_assert_eq!(p.authorize(&m, &user(&[]), &tokengate::Claims::new()), Err(PolicyError::DeniedByDefault));
        }
        let _ = p.authorize(&m, &machine(&["s"]), &tokengate::Claims::new());
    }
}

/// A reference normaliser, written apart from the policy's code: what origin
/// frameworks that decode percent-escapes and compare paths without regard to case
/// make of a path (ASP.NET's ordinal-ignore-case, Express/JS `i` regular expressions,
/// Java's `equalsIgnoreCase`, Windows' best-fit mapping of fullwidth forms).
fn reference_normalise(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut decoded = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&path[i + 1..i + 3], 16) {
                decoded.push(b);
                i += 3;
                continue;
            }
        }
        decoded.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&decoded)
        .chars()
        .map(|c| match c {
            '\u{131}' | '\u{130}' => 'i',
            '\u{17f}' => 's',
            '\u{212a}' => 'k',
            '\u{ff01}'..='\u{ff5e}' => char::from_u32(c as u32 - 0xfee0).unwrap(),
            c => c,
        })
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// One spelling of a character of a path: as is, in the other case, percent-encoded,
/// or a Unicode look-alike that some origin folds to it.
fn respell(c: char, how: u8) -> String {
    let enc = |s: &str, upper: bool| {
        s.bytes()
            .map(|b| {
                if upper {
                    format!("%{b:02X}")
                } else {
                    format!("%{b:02x}")
                }
            })
            .collect::<String>()
    };
    match (how % 7, c) {
        (1, c) => c.to_ascii_uppercase().to_string(),
        (2, c) => enc(&c.to_string(), true),
        (3, c) => enc(&c.to_string(), false),
        (4, 'i') => enc("\u{131}", true),
        (4, 's') => enc("\u{17f}", false),
        (4, 'k') => enc("\u{212a}", true),
        (5, 'i') => enc("\u{130}", true),
        (5 | 6, c) if c.is_ascii_alphabetic() => {
            let wide = char::from_u32(c.to_ascii_lowercase() as u32 + 0xfee0).unwrap();
            enc(&wide.to_string(), how.is_multiple_of(2))
        }
        _ => c.to_string(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// No spelling of a protected path that a folding, decoding origin reads as that
    /// path gets a weaker decision than the path itself: for every principal the
    /// canonical path denies, the spelling is denied too (or rejected outright), and
    /// it is never public.
    #[test]
    fn path_spellings_never_weaken_the_decision(
        target in prop::sample::select(vec![
            "/admin/users", "/admin/", "/builds/42", "/builds/42/logs", "/secrets/keys",
            "/files/public-ish/x", "/files/x",
        ]),
        catch_all_public in any::<bool>(),
        hows in prop::collection::vec(any::<u8>(), 0..24),
        default in prop::sample::select(vec!["deny", "any_valid_token"]),
        method in prop::sample::select(vec!["GET", "PUT", "DELETE"]),
    ) {
        let p = policy(json!({
            "routes": [
                {"path": "/health", "public": true},
                {"path": "/docs/*", "public": true},
                {"path": "/admin/*", "require": {"kinds": ["machine"]}},
                {"path": "/builds/*", "methods": ["PUT", "DELETE"],
                 "require": {"scopes_all": ["update:builds"], "machines_bypass_scopes": true}},
                {"path": "/builds/*", "require": {"scopes_any": ["read:builds"]}},
                {"path": "/secrets/*", "require": {"roles_any": ["vault"]}},
                {"path": "/files/public/*", "public": true},
                {"path": "/files/*", "require": {"scopes_all": ["files:read"]}},
                if catch_all_public { json!({"path": "/*", "public": true}) }
                else { json!({"path": "/*", "require": {"scopes_all": ["catch:all"]}}) }
            ],
            "default": default
        }));
        let spelled: String = target
            .chars()
            .enumerate()
            .map(|(i, c)| if c == '/' { "/".to_string() } else { respell(c, hows.get(i).copied().unwrap_or(0)) })
            .collect();
        prop_assert_eq!(reference_normalise(&spelled), reference_normalise(target));
        let canonical = p.route(method, target);
        let m = p.route(method, &spelled);
        prop_assert!(!m.public || canonical.public, "{} is public", spelled);
        if !m.rejected {
            for principal in [user(&[]), user(&["read:builds"]), user(&["update:builds", "read:builds"]),
                              user(&["files:read"]), machine(&[]), machine(&["catch:all"])] {
                if p.authorize(&canonical, &principal, &tokengate::Claims::new()).is_err() {
                    prop_assert!(
                        p.authorize(&m, &principal, &tokengate::Claims::new()).is_err(),
                        "{} allows {:?} where {} denies it", spelled, principal.kind, target
                    );
                }
            }
        }
    }
}
