//! Unit tests of the option schema and its translation (run natively:
//! `cargo test -p tokengate-js --lib`).

use super::*;
use serde_json::json;
use std::collections::BTreeSet;

fn opts(v: Value) -> Result<Translated, String> {
    translate(&v).map_err(|e| e.message())
}

fn err(v: Value) -> String {
    match opts(v) {
        Ok(_) => panic!("accepted"),
        Err(e) => e,
    }
}

const BASE: &str = "https://a/";

#[test]
fn single_issuer_maps_onto_the_core_config() {
    let t = opts(json!({
        "issuer": "https://tenant.auth0.com/",
        "audience": "https://api.example.com",
        "algorithms": ["RS256"],
        "clockTolerance": 30.7,
        "requiredTyp": "at+jwt",
        "requiredClaims": ["sub"],
        "maxTokenAge": 600,
        "requireExp": false,
        "classify": { "m2mClaim": "https://x/m2m", "rules": ["m2m_claim", "gty"],
                      "userIdClaim": "uid", "rolesClaim": "roles" },
        "scopeClaims": ["permissions"],
        "maxTokenBytes": 8192,
        "realm": "api",
        "wildcardScopes": true,
        "tokenCacheSize": 10,
        "fetchTimeout": 1500,
        "jwksCache": { "cooldown": 10, "defaultMaxAge": 300, "minMaxAge": 5, "maxMaxAge": 900,
                       "staleWindow": 0, "refreshAhead": 7 }
    }))
    .unwrap();
    assert!(t.single);
    let c = &t.config;
    let i = &c.issuers[0];
    assert_eq!(i.issuer, "https://tenant.auth0.com/");
    assert_eq!(i.audiences, ["https://api.example.com"]);
    assert_eq!(i.algorithms, Some(vec![Alg::RS256]));
    assert_eq!(i.required_typ.as_deref(), Some("at+jwt"));
    assert_eq!(i.required_claims, ["sub"]);
    assert_eq!(i.max_age, Some(600));
    assert!(!i.require_exp);
    assert_eq!(i.jwks_uri, None);
    assert_eq!(c.leeway, 30);
    assert_eq!(c.classify.m2m_claim.as_deref(), Some("https://x/m2m"));
    assert_eq!(
        c.classify.rules,
        [ClassifyRule::M2mClaim, ClassifyRule::Gty]
    );
    assert_eq!(c.classify.user_id_claim.as_deref(), Some("uid"));
    assert_eq!(c.classify.roles_claim.as_deref(), Some("roles"));
    assert_eq!(c.classify.scope_claims, [ScopeSource::Permissions]);
    assert_eq!(c.max_token_bytes, 8192);
    assert_eq!(c.realm, "api");
    assert!(c.wildcard_scopes);
    assert_eq!(c.token_cache_size, 10);
    assert_eq!(c.jwks_cache.fetch_timeout_ms, 1500);
    assert_eq!(c.jwks_cache.cooldown, 10);
    assert_eq!(c.jwks_cache.default_max_age, 300);
    assert_eq!(c.jwks_cache.min_max_age, 5);
    assert_eq!(c.jwks_cache.max_max_age, 900);
    assert_eq!(c.jwks_cache.stale_window, 0);
    assert_eq!(c.jwks_cache.refresh_ahead, 7);
}

#[test]
fn defaults_are_the_cores_and_null_is_absent() {
    let t = opts(json!({"issuer": BASE, "audience": ["x"], "jwksUri": null,
        "clockTolerance": null, "classify": null, "jwksCache": {"cooldown": null}}))
    .unwrap();
    let core =
        Config::from_value(json!({"issuers": [{"issuer": BASE, "audiences": ["x"]}]})).unwrap();
    assert_eq!(t.config, core);
    // Empty lists where the core allows them.
    let t = opts(json!({"issuer": BASE, "audience": "x", "scopeClaims": [],
        "classify": {"rules": []}}))
    .unwrap();
    assert!(t.config.classify.scope_claims.is_empty());
    assert!(t.config.classify.rules.is_empty());
}

#[test]
fn errors_name_the_js_option() {
    let e = err;
    assert!(e(json!({"issuer": BASE})).contains("\"audience\": is required"));
    assert!(e(json!({"audience": "x"})).contains("\"issuer\": is required (or give issuers"));
    assert_eq!(
        e(json!({"issuer": BASE, "audience": 3})),
        "tokengate: invalid option \"audience\": must be a string or an array of strings, got a number"
    );
    assert!(
        e(json!({"issuer": BASE, "audience": "x", "jwksUri": "http://evil/j"}))
            .contains("\"jwksUri\"")
    );
    assert!(
        e(json!({"issuer": BASE, "audience": "x", "audiences": ["x"]}))
            .contains("\"audiences\": is not a known option (did you mean \"audience\"?)")
    );
    assert!(
        e(json!({"issuer": BASE, "audience": "x", "algorithms": ["RS256", "HS999"]}))
            .contains("\"algorithms[1]\": unknown variant `HS999`")
    );
    assert!(
        e(json!({"issuer": BASE, "audience": "x", "clockTolerance": 7200}))
            .contains("\"clockTolerance\": must be at most 3600 seconds")
    );
    assert!(
        e(json!({"issuers": [{"issuer": BASE, "audience": "x", "jwksUri": "ftp://x"}]}))
            .contains("\"issuers[0].jwksUri\"")
    );
    assert!(
        e(json!({"issuers": [{"issuer": BASE}]})).contains("\"issuers[0].audience\": is required")
    );
    assert!(
        e(json!({"issuers": [{"audience": "x"}]})).contains("\"issuers[0].issuer\": is required")
    );
    assert!(e(json!([1])).contains("createVerifier expects an options object, got an array"));
}

#[test]
fn type_errors_name_the_path_inside_lists_and_objects() {
    let cases = [
        (
            json!({"issuers": [{"issuer": BASE, "audience": "x"}, {"issuer": "https://b/", "jwksUri": 5}],
                   "audience": "x"}),
            "\"issuers[1].jwksUri\": must be a string, got a number",
        ),
        (
            json!({"issuer": BASE, "audience": ["x", ""]}),
            "\"audience[1]\": must not be empty",
        ),
        (
            json!({"issuer": BASE, "audience": []}),
            "\"audience\": must not be an empty array",
        ),
        (
            json!({"issuer": BASE, "audience": "x", "algorithms": "RS256"}),
            "\"algorithms\": must be an array of strings, got a string",
        ),
        (
            json!({"issuer": BASE, "audience": "x", "requiredClaims": [1]}),
            "\"requiredClaims[0]\": must be a string, got a number",
        ),
        (
            json!({"issuer": BASE, "audience": "x", "requireExp": "no"}),
            "\"requireExp\": must be a boolean, got a string",
        ),
        (
            json!({"issuer": BASE, "audience": "x", "maxTokenAge": -1}),
            "\"maxTokenAge\": must be a non-negative number",
        ),
        (
            json!({"issuer": BASE, "audience": "x", "tokenCacheSize": 1e300}),
            "\"tokenCacheSize\": is too large",
        ),
        (
            json!({"issuer": BASE, "audience": "x", "jwks": []}),
            "\"jwks\": must be an object, got an array",
        ),
        (
            json!({"issuer": BASE, "audience": "x", "realm": 1}),
            "\"realm\": must be a string, got a number",
        ),
        (
            json!({"issuer": BASE, "audience": "x", "classify": "gty"}),
            "\"classify\": must be an object, got a string",
        ),
        (
            json!({"issuer": BASE, "audience": "x", "classify": {"rules": ["gty", "nope"]}}),
            "\"classify.rules[1]\": unknown variant `nope`",
        ),
        (
            json!({"issuer": BASE, "audience": "x", "classify": {"m2mClaim": ""}}),
            "\"classify.m2mClaim\": must not be empty",
        ),
        (
            json!({"issuer": BASE, "audience": "x", "scopeClaims": ["scope", "roles"]}),
            "\"scopeClaims[1]\": unknown variant `roles`",
        ),
        (
            json!({"issuer": BASE, "audience": "x", "jwksCache": {"cooldown": "1"}}),
            "\"jwksCache.cooldown\": must be a number, got a string",
        ),
        (
            json!({"issuers": 1}),
            "\"issuers\": must be an array, got a number",
        ),
        (json!({"issuers": []}), "\"issuers\": must not be empty"),
        (
            json!({"issuers": ["https://a/"]}),
            "\"issuers[0]\": must be an object, got a string",
        ),
    ];
    for (input, want) in cases {
        let got = err(input.clone());
        assert!(got.contains(want), "{input}: {got}");
    }
}

#[test]
fn unknown_names_are_refused_at_every_level_with_a_hint() {
    let cases = [
        (
            json!({"issuer": BASE, "audience": "x", "Issuers": []}),
            "\"Issuers\": is not a known option (did you mean \"issuers\"?)",
        ),
        (
            json!({"issuer": BASE, "audience": "x", "signaturebackend": "wasm"}),
            "(did you mean \"signatureBackend\"?)",
        ),
        (
            json!({"issuer": BASE, "audience": "x", "leeway": 5}),
            "\"leeway\": is not a known option",
        ),
        (
            json!({"issuers": [{"issuer": BASE, "audience": "x", "jwksuri": "https://a/j"}]}),
            "\"issuers[0].jwksuri\": is not a known option (did you mean \"jwksUri\"?)",
        ),
        (
            json!({"issuers": [{"issuer": BASE, "audience": "x", "fetchTimeout": 5}]}),
            "\"issuers[0].fetchTimeout\": is not a known option",
        ),
        (
            json!({"issuer": BASE, "audience": "x", "classify": {"m2mclaim": "m"}}),
            "\"classify.m2mclaim\": is not a known option (did you mean \"m2mClaim\"?)",
        ),
        (
            json!({"issuer": BASE, "audience": "x", "jwksCache": {"fetchTimeout": 5}}),
            "\"jwksCache.fetchTimeout\": is not a known option",
        ),
    ];
    for (input, want) in cases {
        let got = err(input.clone());
        assert!(got.contains(want), "{input}: {got}");
        assert!(!got.contains("hint"), "{got}");
    }
}

#[test]
fn issuers_inherit_top_level_defaults() {
    let t = opts(json!({
        "issuers": [
            {"issuer": "https://a/", "jwksUri": "https://a/jwks"},
            {"issuer": "https://b/", "audience": ["y", "z"], "algorithms": ["RS256"],
             "requireExp": true}
        ],
        "audience": "x",
        "algorithms": ["ES256"],
        "requiredTyp": "at+jwt",
        "requiredClaims": ["sub"],
        "maxTokenAge": 60,
        "requireExp": false
    }))
    .unwrap();
    assert!(!t.single);
    let i = &t.config.issuers;
    assert_eq!(i[0].audiences, ["x"]);
    assert_eq!(i[0].algorithms, Some(vec![Alg::ES256]));
    assert_eq!(i[0].required_typ.as_deref(), Some("at+jwt"));
    assert_eq!(i[0].required_claims, ["sub"]);
    assert_eq!(i[0].max_age, Some(60));
    assert!(!i[0].require_exp);
    assert_eq!(i[0].jwks_uri.as_deref(), Some("https://a/jwks"));
    assert_eq!(i[1].audiences, ["y", "z"]);
    assert_eq!(i[1].algorithms, Some(vec![Alg::RS256]));
    assert!(i[1].require_exp);
    assert_eq!(i[1].jwks_uri, None);
    let e =
        err(json!({"issuers": [{"issuer": "https://a/", "jwks": {"keys": []}}], "audience": "x"}));
    assert!(e.contains("\"issuers[0].jwks\""), "{e}");
    // A conflict of an inherited default names the entry.
    let e = err(
        json!({"issuers": [{"issuer": "https://a/"}], "audience": "x",
        "algorithms": ["HS256"]}),
    );
    assert!(e.contains("\"issuers[0].algorithms\""), "{e}");
}

#[test]
fn the_two_forms_do_not_mix() {
    let e = err(json!({"issuer": BASE, "issuers": [{"issuer": BASE, "audience": "x"}]}));
    assert!(
        e.contains("\"issuer\": give either issuer or issuers, not both"),
        "{e}"
    );
    for key in ["jwksUri", "jwks", "secret"] {
        let value = match key {
            "jwks" => json!({"keys": []}),
            "secret" => json!("c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"),
            _ => json!("https://a/jwks"),
        };
        let mut o = json!({"issuers": [{"issuer": BASE, "audience": "x"}]});
        o[key] = value;
        let e = err(o);
        assert!(
            e.contains(&format!(
                "\"{key}\": with issuers, give it in each issuers[] entry"
            )),
            "{e}"
        );
    }
    // `issuers: null` is the single form.
    assert!(opts(json!({"issuer": BASE, "audience": "x", "issuers": null})).is_ok());
}

#[test]
fn secrets_are_checked_and_kept_by_name() {
    let secret = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA";
    let t = opts(json!({"issuers": [
        {"issuer": "https://a/", "jwksUri": "https://a/j"},
        {"issuer": "https://b/", "secret": secret}
    ], "audience": "x"}))
    .unwrap();
    assert_eq!(
        t.config.issuers[1].shared_secret.as_deref(),
        Some("issuers[1].secret")
    );
    assert_eq!(t.secrets["issuers[1].secret"], secret);
    assert_eq!(t.secrets.len(), 1);
    let e = err(json!({"issuer": BASE, "audience": "x", "secret": "not base64!"}));
    assert!(
        e.contains("\"secret\": must be base64url without padding"),
        "{e}"
    );
    let e = err(json!({"issuers": [{"issuer": BASE, "audience": "x", "secret": "c2hvcnQ"}]}));
    assert!(
        e.starts_with("tokengate: invalid option \"issuers[0].secret\""),
        "{e}"
    );
}

#[test]
fn core_errors_are_named_by_the_schema() {
    let cases = [
        (
            json!({"fetchTimeout": 0}),
            "\"fetchTimeout\": must be between 1 and 60000",
        ),
        (
            json!({"jwksCache": {"minMaxAge": 0}}),
            "\"jwksCache.minMaxAge\": must be at least 1",
        ),
        (
            json!({"jwksCache": {"cooldown": 0}}),
            "\"jwksCache.cooldown\"",
        ),
        (
            json!({"maxTokenBytes": 10}),
            "\"maxTokenBytes\": must be between 64",
        ),
        (
            json!({"tokenCacheSize": 2_000_000}),
            "\"tokenCacheSize\": must be at most",
        ),
        (json!({"jwksUri": "http://remote/jwks"}), "\"jwksUri\""),
        (json!({"jwks": {"keys": []}}), "\"jwks\""),
        (
            json!({"algorithms": ["HS256"]}),
            "\"algorithms\": HS* algorithms need",
        ),
    ];
    for (extra, want) in cases {
        let mut o = json!({"issuer": BASE, "audience": "x"});
        for (k, v) in extra.as_object().unwrap() {
            o[k] = v.clone();
        }
        let got = err(o.clone());
        assert!(got.contains(want), "{o}: {got}");
    }
    let e = err(
        json!({"issuers": [{"issuer": BASE, "audience": "x"}, {"issuer": BASE, "audience": "y"}]}),
    );
    assert!(e.contains("\"issuers[1].issuer\": is listed twice"), "{e}");
}

#[test]
fn js_paths_come_from_the_schema() {
    let common = CommonOptions::fields();
    let issuer = IssuerOptions::fields();
    assert_eq!(js_path(&issuer, "jwks_uri"), "jwksUri");
    assert_eq!(js_path(&issuer, "audiences"), "audience");
    assert_eq!(js_path(&issuer, "shared_secret"), "secret");
    assert_eq!(js_path(&issuer, "max_age"), "maxTokenAge");
    assert_eq!(
        js_path(&common, "issuers[1].audiences"),
        "issuers[1].audience"
    );
    assert_eq!(js_path(&common, "issuers[12].jwks"), "issuers[12].jwks");
    assert_eq!(js_path(&common, "leeway"), "clockTolerance");
    assert_eq!(js_path(&common, "classify.m2m_claim"), "classify.m2mClaim");
    assert_eq!(js_path(&common, "classify.scope_claims"), "scopeClaims");
    assert_eq!(
        js_path(&common, "jwks_cache.min_max_age"),
        "jwksCache.minMaxAge"
    );
    assert_eq!(
        js_path(&common, "jwks_cache.fetch_timeout_ms"),
        "fetchTimeout"
    );
    assert_eq!(js_path(&common, "jwks_cache"), "jwksCache");
    // No option sets it: the core's name stays.
    assert_eq!(js_path(&common, "origin"), "origin");
    let e = config_error(&ConfigError::invalid("issuers[0].jwks_uri", "bad"), true);
    assert_eq!(e.option, "jwksUri");
    let e = config_error(&ConfigError::invalid("issuers[0].jwks_uri", "bad"), false);
    assert_eq!(e.option, "issuers[0].jwksUri");
    let r = RequirementOptions::fields();
    assert_eq!(js_path(&r, "scopes_all"), "scopesAll");
    assert_eq!(
        js_path(&r, "machines_bypass_scopes"),
        "machinesBypassScopes"
    );
}

#[test]
fn requirements_map_onto_the_core() {
    let r = requirement(&json!({
        "kinds": ["machine"], "scopesAll": "update:builds", "machinesBypassScopes": true,
        "scopesAny": [], "rolesAny": ["admin"], "clients": "c1", "delegation": "forbidden"
    }))
    .unwrap();
    assert!(r.machines_bypass_scopes);
    assert_eq!(r.kinds, Some(vec![Kind::Machine]));
    assert_eq!(r.scopes_all, ["update:builds"]);
    assert!(r.scopes_any.is_empty());
    assert_eq!(r.roles_any, ["admin"]);
    assert_eq!(r.clients, Some(vec!["c1".to_string()]));
    assert_eq!(r.delegation, Some(Delegation::Forbidden));
    assert_eq!(
        requirement(&json!({"kinds": "user"})).unwrap().kinds,
        Some(vec![Kind::User])
    );
    assert_eq!(requirement(&Value::Null).unwrap(), Requirement::default());
    assert_eq!(
        requirement(&json!({"kinds": null})).unwrap(),
        Requirement::default()
    );
    let e = |v: Value| requirement(&v).unwrap_err().message();
    assert!(e(json!({"scopes": ["x"]})).starts_with("tokengate: invalid requirement \"scopes\""));
    assert!(e(json!({"kinds": ["robot"]})).contains("\"kinds[0]\": unknown variant `robot`"));
    assert!(e(json!({"kinds": []})).contains("\"kinds\": must not be an empty array"));
    assert!(e(json!({"clients": []})).contains("\"clients\": must not be an empty array"));
    assert!(e(json!({"delegation": "maybe"}))
        .contains("\"delegation\": must be \"required\" or \"forbidden\""));
    assert!(e(json!({"machinesBypassScopes": 1})).contains("must be a boolean, got a number"));
    assert_eq!(
        e(json!("x")),
        "tokengate: invalid requirements: authorize expects a requirement object, got a string"
    );
}

#[test]
fn gateway_requirements_map_onto_the_core() {
    let r = requirement(&json!({
        "claims": {
            "org_id": {"anyOf": ["org_A", "org_B"]},
            "/org/tier": {"equals": {"n": 1}},
            "roles": {"includes": ["builder"], "present": true},
            "tenant": {"present": false}
        },
        "actors": "gateway",
        "maxDelegationDepth": 2.9
    }))
    .unwrap();
    assert_eq!(
        r.claims["org_id"].any_of,
        Some(vec![json!("org_A"), json!("org_B")])
    );
    assert_eq!(r.claims["/org/tier"].equals, Some(json!({"n": 1})));
    assert_eq!(r.claims["roles"].includes, Some(vec![json!("builder")]));
    assert_eq!(r.claims["roles"].present, Some(true));
    assert_eq!(r.claims["tenant"].present, Some(false));
    assert_eq!(r.actors, Some(vec!["gateway".to_string()]));
    assert_eq!(r.max_delegation_depth, Some(2));
    let e = |v: Value| requirement(&v).unwrap_err().message();
    assert_eq!(
        e(json!({"claims": {"org_id": {"any_of": ["a"]}}})),
        "tokengate: invalid requirement \"claims.org_id.any_of\": is not a known option (did you mean \"anyOf\"?)"
    );
    assert!(e(json!({"claims": {"org_id": {}}}))
        .contains("\"claims.org_id\": needs at least one of equals, anyOf, includes, present"));
    assert!(e(json!({"claims": {"org_id": {"anyOf": []}}}))
        .contains("\"claims.org_id.anyOf\": must not be an empty array"));
    assert!(e(json!({"claims": {"org_id": {"anyOf": "a"}}}))
        .contains("\"claims.org_id.anyOf\": must be an array, got a string"));
    assert!(e(json!({"claims": {"org_id": "a"}})).contains("\"claims.org_id\": must be an object"));
    assert!(e(json!({"claims": ["org_id"]})).contains("\"claims\": must be an object"));
    assert!(e(json!({"claims": {"x": {"present": false, "equals": 1}}}))
        .contains("\"claims.x\": present: false cannot be combined"));
    assert!(e(json!({"claims": {"x": {"present": "yes"}}}))
        .contains("\"claims.x.present\": must be a boolean"));
    assert!(e(json!({"actors": []})).contains("\"actors\": must not be an empty array"));
    assert!(e(json!({"maxDelegationDepth": -1})).contains("\"maxDelegationDepth\""));
    assert!(e(json!({"maxDelegationDepth": 5e9})).contains("\"maxDelegationDepth\": is too large"));
    // The core's own checks, with the JS names.
    let policy_error = |v: Value| -> String {
        let req = requirement(&v).unwrap();
        let cfg = tokengate::PolicyConfig::for_requirement(req);
        requirement_error(&tokengate::Policy::new(&cfg).unwrap_err()).message()
    };
    assert_eq!(
        policy_error(json!({"actors": ["a"], "maxDelegationDepth": 0})),
        "tokengate: invalid requirement \"actors\": needs a delegated token, which delegation: forbidden or maxDelegationDepth: 0 refuses"
    );
    assert!(policy_error(json!({"claims": {"/a~2": {"present": true}}}))
        .starts_with("tokengate: invalid requirement \"claims./a~2\": "));
}

#[test]
fn revocation_maps_onto_the_core_config() {
    let base = json!({"issuer": BASE, "audience": "a"});
    assert_eq!(opts(base.clone()).unwrap().config.revocation, None);
    let mut with = base.clone();
    with["revocation"] = json!({});
    assert_eq!(
        opts(with.clone()).unwrap().config.revocation,
        Some(tokengate::RevocationConfig::default())
    );
    with["revocation"] = json!({"cacheSeconds": 0, "store": {}});
    assert_eq!(
        opts(with.clone())
            .unwrap()
            .config
            .revocation
            .unwrap()
            .cache_seconds,
        0
    );
    with["revocation"] = json!({"cacheSeconds": 301});
    assert!(err(with.clone()).contains("\"revocation.cacheSeconds\": must be at most 300"));
    with["revocation"] = json!({"ttl": 1});
    assert!(err(with.clone()).contains("\"revocation.ttl\": is not a known option"));
    with["revocation"] = json!(true);
    assert!(err(with).contains("\"revocation\": must be an object"));
}

#[test]
fn decode_options_translate() {
    let (c, max) = decode_options(&json!({"classify": {"rolesClaim": "r"},
        "scopeClaims": ["scp"], "maxTokenBytes": 100}))
    .unwrap();
    assert_eq!(c.roles_claim.as_deref(), Some("r"));
    assert_eq!(c.scope_claims, [ScopeSource::Scp]);
    assert_eq!(max, 100);
    let (c, max) = decode_options(&Value::Null).unwrap();
    assert_eq!(c, ClassifyConfig::default());
    assert_eq!(max, DEFAULT_MAX_TOKEN_BYTES);
    let e = |v: Value| decode_options(&v).unwrap_err().message();
    assert!(e(json!({"issuer": "x"})).contains("\"issuer\": is not a known option"));
    assert!(e(json!({"classify": {"userIdClaim": 1}})).contains("\"classify.userIdClaim\""));
    assert!(e(json!({"maxTokenBytes": -1})).contains("\"maxTokenBytes\""));
    assert!(e(json!(3)).contains("decode expects an options object, got a number"));
}

/// Every schema's field table lines up with serde's names (the `schema!` invariant).
#[test]
fn field_tables_line_up_with_serde() {
    let tables: [(&[&str], Vec<Field>); 6] = [
        (field_names::<IssuerOptions>(), IssuerOptions::fields()),
        (field_names::<CommonOptions>(), CommonOptions::fields()),
        (field_names::<ClassifyOptions>(), ClassifyOptions::fields()),
        (
            field_names::<JwksCacheOptions>(),
            JwksCacheOptions::fields(),
        ),
        (
            field_names::<RequirementOptions>(),
            RequirementOptions::fields(),
        ),
        (field_names::<DecodeOptions>(), DecodeOptions::fields()),
    ];
    for (names, fields) in tables {
        assert!(!names.is_empty());
        let js: Vec<&str> = fields.iter().map(|f| f.js).collect();
        assert_eq!(js, names);
    }
    assert_eq!(
        js_only(),
        [
            "currentDate",
            "cache",
            "signatureBackend",
            "dpopNonceSecret",
            "replayStore"
        ]
    );
}

// ---------------------------------------------------------------------------------
// npm/index.d.ts must declare the same option names as the schema.
// ---------------------------------------------------------------------------------

/// The member names of `interface <name>` in TypeScript declarations (members are
/// `name?: type;` lines at the first level of the body; comments are skipped).
fn interface_keys(dts: &str, name: &str) -> BTreeSet<String> {
    let start = dts
        .find(&format!("interface {name} "))
        .unwrap_or_else(|| panic!("no interface {name} in index.d.ts"));
    let body = &dts[start..];
    let open = body.find('{').unwrap();
    let mut depth = 0;
    let mut keys = BTreeSet::new();
    let mut in_comment = false;
    for line in body[open..].lines() {
        let t = line.trim();
        if in_comment {
            in_comment = !t.contains("*/");
            continue;
        }
        if t.starts_with("/*") {
            in_comment = !t.contains("*/");
            continue;
        }
        if depth == 1 {
            let ident: String = t
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let rest = &t[ident.len()..];
            if !ident.is_empty() && (rest.starts_with("?:") || rest.starts_with(':')) {
                keys.insert(ident);
            }
        }
        depth += t.matches('{').count() as i32;
        depth -= t.matches('}').count() as i32;
        if depth <= 0 {
            break;
        }
    }
    keys
}

fn names<T: DeserializeOwned>() -> BTreeSet<String> {
    field_names::<T>().iter().map(|s| s.to_string()).collect()
}

#[test]
fn index_d_ts_declares_the_schema() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../npm/index.d.ts");
    let dts = std::fs::read_to_string(path).unwrap();
    assert_eq!(
        interface_keys(&dts, "IssuerOptions"),
        names::<IssuerOptions>()
    );
    // `issuers` is declared by the two option forms, the rest by CommonOptions.
    let mut common = interface_keys(&dts, "CommonOptions");
    common.insert("issuers".into());
    assert_eq!(common, names::<CommonOptions>());
    assert_eq!(
        interface_keys(&dts, "ClassifyOptions"),
        names::<ClassifyOptions>()
    );
    assert_eq!(
        interface_keys(&dts, "JwksCacheOptions"),
        names::<JwksCacheOptions>()
    );
    assert_eq!(
        interface_keys(&dts, "Requirement"),
        names::<RequirementOptions>()
    );
    assert_eq!(
        interface_keys(&dts, "DecodeOptions"),
        names::<DecodeOptions>()
    );
    assert_eq!(interface_keys(&dts, "DpopOptions"), names::<DpopOptions>());
    assert_eq!(
        interface_keys(&dts, "RevocationOptions"),
        names::<RevocationOptions>()
    );
    assert_eq!(
        interface_keys(&dts, "ClaimRule"),
        names::<ClaimRuleOptions>()
    );
    assert_eq!(
        interface_keys(&dts, "ResourceMetadataOptions"),
        names::<ResourceMetadataOptions>()
    );
    // The multi-issuer form: `issuers`, `issuer?: undefined` and the inherited
    // defaults, each of which the translation inherits.
    let multi = interface_keys(&dts, "MultiIssuerOptions");
    let all: BTreeSet<String> = names::<IssuerOptions>()
        .union(&names::<CommonOptions>())
        .cloned()
        .collect();
    assert!(multi.is_subset(&all), "{multi:?}");
    let issuer_level: Vec<&String> = multi
        .iter()
        .filter(|k| names::<IssuerOptions>().contains(*k) && *k != "issuer")
        .collect();
    assert_eq!(issuer_level.len(), 7, "{issuer_level:?}");
    for key in issuer_level {
        let value = match key.as_str() {
            "audience" => json!("y"),
            "algorithms" => json!(["ES256"]),
            "requiredTyp" => json!("at+jwt"),
            "requiredClaims" => json!(["sub"]),
            "maxTokenAge" => json!(60),
            "requireExp" => json!(false),
            "dpop" => json!("required"),
            other => panic!("{other}: no test value"),
        };
        let without = json!({"issuers": [{"issuer": BASE}], "audience": "x"});
        let mut with = without.clone();
        with[key] = value;
        let a = translate(&without).unwrap().config.issuers;
        let b = translate(&with).unwrap().config.issuers;
        assert_ne!(a, b, "{key} is not inherited by issuers[] entries");
    }
    // The single form's interface adds no names of its own but `issuers`.
    let single = interface_keys(&dts, "SingleIssuerOptions");
    assert!(single.is_subset(&all), "{single:?}");
}

#[test]
fn the_interface_parser_reads_members() {
    let dts = "/** x */\nexport interface A {\n  /** doc: b?: no */\n  b?: string;\n  c: { d: number };\n  /**\n   * e: no\n   */\n  f?: () => Date;\n}\ninterface G { h: 1 }";
    let keys: Vec<String> = interface_keys(dts, "A").into_iter().collect();
    assert_eq!(keys, ["b", "c", "f"]);
}

#[test]
fn dpop_and_resource_metadata_map_onto_the_core_config() {
    let t = opts(json!({
        "issuers": [{"issuer": BASE, "dpop": "required"}, {"issuer": "https://b/"}],
        "audience": "x",
        "dpopProofs": {"proofMaxAge": 120, "nonce": true,
            "publicBaseUrl": "https://api.example.com", "algorithms": ["ES256", "EdDSA"]},
        "resourceMetadata": {"resource": "https://api.example.com/v1",
            "scopesSupported": ["read"], "dpopBoundAccessTokensRequired": true,
            "tlsClientCertificateBoundAccessTokens": false}
    }))
    .unwrap();
    let c = &t.config;
    assert_eq!(c.issuers[0].dpop, DpopMode::Required);
    assert_eq!(c.issuers[1].dpop, DpopMode::Allowed);
    let d = c.dpop.as_ref().unwrap();
    assert_eq!(d.proof_max_age, 120);
    assert!(d.nonce);
    assert_eq!(
        d.public_base_url.as_deref(),
        Some("https://api.example.com")
    );
    assert_eq!(d.algorithms, Some(vec![Alg::ES256, Alg::EdDSA]));
    let m = c.resource_metadata.as_ref().unwrap();
    assert_eq!(m.resource, "https://api.example.com/v1");
    assert_eq!(m.scopes_supported, Some(vec!["read".to_string()]));
    assert_eq!(m.dpop_bound_access_tokens_required, Some(true));
    assert_eq!(m.tls_client_certificate_bound_access_tokens, Some(false));
    // The top-level `dpop` is the issuers' default mode.
    let t =
        opts(json!({"issuers": [{"issuer": BASE}], "audience": "x", "dpop": "required"})).unwrap();
    assert_eq!(t.config.issuers[0].dpop, DpopMode::Required);
    // Errors name the JS option.
    let e = err;
    assert!(
        e(json!({"issuer": BASE, "audience": "x", "dpopProofs": {"proofMaxAge": 0}}))
            .contains("\"dpopProofs.proofMaxAge\": must be between 1 and 3600")
    );
    assert!(e(json!({"issuer": BASE, "audience": "x", "dpop": "sometimes"})).contains("\"dpop\""));
    assert!(e(json!({"issuer": BASE, "audience": "x",
        "dpopProofs": {"publicBaseUrl": "ftp://x"}}))
    .contains("\"dpopProofs.publicBaseUrl\""));
    assert!(
        e(json!({"issuer": BASE, "audience": "x", "resourceMetadata": {}}))
            .contains("\"resourceMetadata.resource\": is required")
    );
    let bad = e(json!({"issuer": BASE, "audience": "x",
        "resourceMetadata": {"resource": "http://evil.example/"}}));
    assert!(bad.contains("\"resourceMetadata.resource\""), "{bad}");
    assert!(e(json!({"issuer": BASE, "audience": "x", "resourceMetadata": {"resource": "https://a/", "scopes_supported": []}}))
        .contains("did you mean \"scopesSupported\""));
    let r = requirement(&json!({"senderConstrained": true})).unwrap();
    assert!(r.sender_constrained);
}
