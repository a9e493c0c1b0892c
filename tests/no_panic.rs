//! Property tests: no input makes tokengate panic, and every failure is a clean error
//! (a snake_case code, an HTTP status from the documented set, a non-empty message
//! that does not start with a capital letter).
//!
//! Each property runs 256 cases by default; set `PROPTEST_CASES` to run more.

use std::sync::OnceLock;

mod common;

use proptest::prelude::*;
use serde_json::{json, Map, Value};
use tokengate::b64_encode;
use tokengate::Alg;
use tokengate::IssuerRules;
use tokengate::KeySet;
use tokengate::{classify, ClassifyConfig};
use tokengate::{
    extract_token, Authenticator, Claims, Config, Decision, ErrorCode, Gate, Verified,
};
use tokengate::{id_token_signals, id_token_warning, jwe_header, token_form, TokenForm};
use tokengate::{parse_cache_control_max_age, JwksCacheState};
use tokengate::{plan, ExchangeRequest};
use tokengate::{public_jwks, SigningKey};

const ISS: &str = "https://idp.example.com/";
const EDGE: &str = "https://edge.example.com/";
const AUD: &str = "https://api.example.com";
const NOW: u64 = 1_700_000_000;

// ---------------------------------------------------------------------------------
// fixtures

fn es_key() -> &'static SigningKey {
    static K: OnceLock<SigningKey> = OnceLock::new();
    K.get_or_init(|| SigningKey::generate(Alg::ES256).unwrap().with_kid("es"))
}

fn rsa_key() -> &'static SigningKey {
    static K: OnceLock<SigningKey> = OnceLock::new();
    K.get_or_init(|| SigningKey::generate(Alg::RS256).unwrap().with_kid("rsa"))
}

fn ed_key() -> &'static SigningKey {
    static K: OnceLock<SigningKey> = OnceLock::new();
    K.get_or_init(|| SigningKey::generate(Alg::EdDSA).unwrap().with_kid("ed"))
}

fn jwks() -> Value {
    public_jwks(&[es_key().clone(), rsa_key().clone(), ed_key().clone()])
}

fn keyset() -> &'static KeySet {
    static K: OnceLock<KeySet> = OnceLock::new();
    K.get_or_init(|| KeySet::from_value(&jwks()).unwrap())
}

fn config_json() -> Value {
    json!({
        "issuers": [
            {"issuer": ISS, "audiences": [AUD], "jwks": jwks()},
            {"issuer": EDGE, "audiences": [AUD],
             "jwks": public_jwks(std::slice::from_ref(ed_key()))}
        ],
        "routes": [
            {"path": "/health", "public": true},
            {"path": "/admin/*", "methods": ["POST", "DELETE"], "require": {"kinds": ["machine"]}},
            {"path": "/builds/*", "methods": ["PUT"], "require": {"scopes_any": ["update:builds"]}},
            {"path": "/builds", "require": {"scopes_all": ["read:builds"], "roles_any": ["dev"]}},
            {"path": "/delegated/*", "require": {"delegation": "required", "clients": ["svc"]}}
        ],
        "classify": {"m2m_claim": "https://example.com/m2m", "roles_claim": "roles",
                     "user_id_claim": "uid"},
        "exchange": {
            "issuer": EDGE,
            "actors": [{"client_id": "svc", "audiences": [AUD]}],
            "audiences": [{"audience": AUD, "scopes": ["read:builds", "update:builds"],
                           "max_lifetime": 3600}]
        }
    })
}

fn gate() -> &'static Gate {
    static G: OnceLock<Gate> = OnceLock::new();
    G.get_or_init(|| Gate::new(Config::from_value(config_json()).unwrap()).unwrap())
}

/// The pipeline over [`gate`]'s configuration, with a token cache (8 entries).
fn authenticator() -> &'static Authenticator {
    thread_local! {
        static A: &'static Authenticator = Box::leak(Box::new(
            Authenticator::with_cache(gate().config().clone(), 8).unwrap(),
        ));
    }
    A.with(|a| *a)
}

/// The same with every issuer's keys behind a `jwks_uri` that cannot be reached.
fn unreachable_keys() -> &'static Authenticator {
    thread_local! {
        static A: &'static Authenticator = Box::leak(Box::new({
            let mut cfg = gate().config().clone();
            for i in &mut cfg.issuers {
                i.jwks = None;
                i.shared_secret = None;
                i.jwks_uri = Some("https://idp.invalid/jwks".into());
            }
            Authenticator::with_cache(cfg, 8).unwrap()
        }));
    }
    A.with(|a| *a)
}

fn base_claims() -> Claims {
    json!({
        "iss": ISS, "sub": "auth0|u1", "aud": AUD, "azp": "spa",
        "scope": "read:builds update:builds", "roles": ["dev"],
        "iat": NOW - 10, "exp": NOW + 600
    })
    .as_object()
    .cloned()
    .unwrap_or_default()
}

fn valid_token() -> &'static str {
    static T: OnceLock<String> = OnceLock::new();
    T.get_or_init(|| es_key().sign(&base_claims(), Some("at+jwt")))
}

/// Asserts that an error is clean.
fn clean(e: &dyn ErrorCode) {
    let code = e.code();
    assert!(
        !code.is_empty() && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
        "bad code {code:?}"
    );
    assert!(
        [400, 401, 403, 500, 503].contains(&e.status()),
        "bad status {} for {code}",
        e.status()
    );
    let msg = e.to_string();
    assert!(!msg.is_empty(), "empty message for {code}");
    assert!(
        !msg.starts_with(|c: char| c.is_uppercase()),
        "message starts with a capital: {msg:?}"
    );
}

fn check_decision(d: &Decision) {
    match d {
        Decision::Public => {}
        Decision::Allow(v) => {
            assert!(!v.principal.subject.is_empty());
            assert!(v.principal.issuer == ISS || v.principal.issuer == EDGE);
        }
        Decision::Deny(deny) => {
            assert!([400, 401, 403, 500, 503].contains(&deny.status));
            assert!(!deny.message.is_empty());
            assert!(!deny.message.starts_with(|c: char| c.is_uppercase()));
            let body: Value = serde_json::from_str(&deny.body_json()).unwrap();
            assert!(body["error"].is_string());
            if let Some(h) = &deny.www_authenticate {
                assert!(h.starts_with("Bearer"));
                assert!(h.bytes().all(|b| (b' '..=b'~').contains(&b)));
            }
        }
    }
}

// ---------------------------------------------------------------------------------
// strategies

fn key_name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "iss", "sub", "aud", "exp", "nbf", "iat", "jti", "alg", "kid", "typ", "crit",
            "b64", "jku", "x5u", "scope", "scp", "permissions", "azp", "client_id", "gty",
            "act", "roles", "uid", "https://example.com/m2m", "keys", "kty", "crv", "x",
            "y", "n", "e", "d", "k", "use", "key_ops",
        ])
        .prop_map(str::to_owned),
        1 => "[a-z_]{1,8}",
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        (NOW - 1000..NOW + 1000).prop_map(Value::from),
        prop::sample::select(vec![
            ISS,
            EDGE,
            AUD,
            "ES256",
            "RS256",
            "EdDSA",
            "HS256",
            "none",
            "at+jwt",
            "es",
            "rsa",
            "client-credentials",
            "read:builds update:builds",
            "svc",
            "abc@clients",
            "",
            "EC",
            "RSA",
            "OKP",
            "oct",
            "P-256",
            "Ed25519",
            "sig",
        ])
        .prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(5, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key_name(), inner), 0..8)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn json_object() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::vec((key_name(), json_value()), 0..10).prop_map(|kv| kv.into_iter().collect())
}

/// JSON text, including what a `Value` cannot express: duplicate keys, numbers out of
/// every range, deep nesting, invalid JSON.
fn json_text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => json_value().prop_map(|v| v.to_string()),
        4 => json_object().prop_map(|m| Value::Object(m).to_string()),
        1 => (key_name(), leaf(), leaf())
            .prop_map(|(k, a, b)| format!("{{\"alg\":\"ES256\",\"{k}\":{a},\"{k}\":{b}}}")),
        1 => prop::sample::select(vec![
            r#"{"alg":"ES256","alg":"none"}"#,
            r#"{"iss":"https://idp.example.com/","exp":1e400}"#,
            r#"{"iss":"https://idp.example.com/","exp":123456789012345678901234567890}"#,
            r#"{"iss":"https://idp.example.com/","exp":-1e308,"sub":"x","aud":"https://api.example.com"}"#,
            r#"{"a":{"b":1,"b":2}}"#,
            r#"[1,2,3]"#,
            r#""string""#,
            "null",
            "",
            "{",
            "{}",
            "{} {}",
            "\u{feff}{}",
        ])
        .prop_map(str::to_owned),
        1 => (1usize..400).prop_map(|d| format!("{}{}", "[".repeat(d), "]".repeat(d))),
        1 => (1usize..400).prop_map(|d| format!("{}1{}", "{\"a\":".repeat(d), "}".repeat(d))),
    ]
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Truncate(usize),
    Insert(usize, char),
    Remove(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(i, m)| Mutation::Flip(i, m)),
        any::<usize>().prop_map(Mutation::Truncate),
        (
            any::<usize>(),
            prop_oneof![Just('.'), Just('='), Just(' '), Just('+'), any::<char>()]
        )
            .prop_map(|(i, c)| Mutation::Insert(i, c)),
        any::<usize>().prop_map(Mutation::Remove),
    ]
}

fn mutate(s: &str, muts: &[Mutation]) -> String {
    let mut bytes = s.as_bytes().to_vec();
    for m in muts {
        let n = bytes.len();
        match *m {
            Mutation::Flip(i, mask) if n > 0 => bytes[i % n] ^= mask,
            Mutation::Truncate(i) => bytes.truncate(i % (n + 1)),
            Mutation::Insert(i, c) => {
                let mut buf = [0u8; 4];
                let at = i % (n + 1);
                bytes.splice(at..at, c.encode_utf8(&mut buf).bytes());
            }
            Mutation::Remove(i) if n > 0 => {
                bytes.remove(i % n);
            }
            _ => {}
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn signer() -> impl Strategy<Value = &'static SigningKey> {
    prop_oneof![Just(es_key()), Just(rsa_key()), Just(ed_key())]
}

/// Tokens: arbitrary strings, mutations of a valid token, and tokens with random
/// header and payload JSON (validly signed or not).
fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => ".{0,64}",
        2 => "[A-Za-z0-9_.=-]{0,300}",
        4 => prop::collection::vec(mutation(), 1..4)
            .prop_map(|muts| mutate(valid_token(), &muts)),
        4 => (json_text(), json_text(), signer(), any::<bool>()).prop_map(|(h, p, key, sign)| {
            let input = format!("{}.{}", b64_encode(h.as_bytes()), b64_encode(p.as_bytes()));
            if sign {
                key.sign_raw(&input)
            } else {
                format!("{input}.{}", b64_encode(b"not a signature"))
            }
        }),
        4 => (json_object(), json_object(), signer()).prop_map(|(h, c, key)| {
            // A sensible header and claims with random parts merged in.
            let mut header = Map::new();
            header.insert("alg".into(), key.alg().as_str().into());
            header.insert("kid".into(), key.kid.clone().into());
            header.extend(h.into_iter().filter(|(k, _)| k != "alg" || k.len() % 2 == 0));
            let mut claims = base_claims();
            claims.extend(c);
            key.sign_with_header(&header, &claims)
        }),
        4 => (
            prop::sample::select(vec!["read:builds", "update:builds", "read:builds update:builds", ""]),
            prop::sample::select(vec!["auth0|u1", "svc@clients", "svc", "x"]),
            prop::option::of(Just(json!("client-credentials"))),
            prop::option::of(Just(json!({"sub": "svc", "act": {"sub": "cli"}}))),
            prop::sample::select(vec![ISS, EDGE]),
            signer(),
        )
            .prop_map(|(scope, sub, gty, act, iss, key)| {
                // Well-formed tokens that mostly verify, so that policy is reached.
                let mut claims = base_claims();
                claims.insert("scope".into(), scope.into());
                claims.insert("sub".into(), sub.into());
                claims.insert("azp".into(), "svc".into());
                claims.insert("iss".into(), iss.into());
                if let Some(g) = gty {
                    claims.insert("gty".into(), g);
                }
                if let Some(a) = act {
                    claims.insert("act".into(), a);
                }
                key.sign(&claims, Some("at+jwt"))
            }),
        1 => (json_object(), prop::collection::vec(mutation(), 0..3)).prop_map(|(c, muts)| {
            let mut claims = base_claims();
            claims.extend(c);
            mutate(&es_key().sign(&claims, None), &muts)
        }),
    ]
}

/// Tokens in the shapes that are not a compact JWS: JWE-like five parts, opaque
/// strings, a pasted `Bearer`, whitespace, parts added or dropped.
fn shaped_token() -> BoxedStrategy<String> {
    // Boxed: these unions nested inline overflow a test thread's stack in debug builds.
    let tok = || token().boxed();
    let jwe_header = prop_oneof![
        json_object().prop_map(|mut h| {
            h.insert("enc".into(), "A256GCM".into());
            Value::Object(h).to_string()
        }),
        json_text(),
    ]
    .boxed();
    let jwe = (
        jwe_header,
        prop::collection::vec("[A-Za-z0-9_-]{0,24}", 4..5),
    )
        .prop_map(|(h, rest)| format!("{}.{}", b64_encode(h.as_bytes()), rest.join(".")));
    let schemes = vec!["Bearer ", "bearer\t", "Authorization: Bearer ", "BEARER  "];
    let scheme = (prop::sample::select(schemes), tok()).prop_map(|(p, t)| format!("{p}{t}"));
    let spaces = vec![" ", "\n", "\r\n", "\t", "\u{a0}"];
    let spaced = (tok(), any::<usize>(), prop::sample::select(spaces)).prop_map(|(t, i, ws)| {
        let mut at = i % (t.len() + 1);
        while !t.is_char_boundary(at) {
            at -= 1;
        }
        format!("{}{ws}{}", &t[..at], &t[at..])
    });
    let parts = (tok(), 0usize..4, any::<bool>()).prop_map(|(t, n, add)| {
        if add {
            format!("{t}{}", ".c2ln".repeat(n))
        } else {
            t.splitn(n + 1, '.')
                .take(n.max(1))
                .collect::<Vec<_>>()
                .join(".")
        }
    });
    prop_oneof![
        3 => tok(),
        2 => jwe.boxed(),
        2 => "[A-Za-z0-9_~+/.-]{1,64}={0,2}".boxed(),
        1 => scheme.boxed(),
        1 => spaced.boxed(),
        1 => parts.boxed(),
    ]
    .boxed()
}

fn now() -> impl Strategy<Value = u64> {
    prop_oneof![
        4 => NOW - 50..NOW + 500,
        1 => NOW - 1000..NOW + 2000,
        1 => any::<u64>(),
        1 => prop::sample::select(vec![0, 1, i64::MAX as u64, u64::MAX]),
    ]
}

fn header_text() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,40}",
        "(Bearer|bearer|BEARER|Basic)? {0,3}[A-Za-z0-9._ -]{0,40}",
        Just(format!("Bearer {}", "x".repeat(100))),
    ]
}

fn path() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "/health", "/builds", "/builds/1", "/admin/x", "/delegated/a", "/other", "/",
        ])
        .prop_map(str::to_owned),
        1 => ".{0,40}",
        1 => "(/(builds|admin|health|delegated|\\.|\\.\\.|%2[eEfF]|%25|%00|;x|\\*|[a-z0-9]{1,4}|)){0,6}/?(\\?.{0,5})?",
    ]
}

fn method() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS", "get"
        ])
        .prop_map(str::to_owned),
        ".{0,10}",
    ]
}

// ---------------------------------------------------------------------------------
// properties

proptest! {
    #![proptest_config(ProptestConfig::default())]

    #[test]
    fn jws_parse_and_peek_never_panic(t in token(), max in prop_oneof![Just(16 * 1024usize), 0usize..400]) {
        if let Err(e) = tokengate::parse_jws(&t, max) {
            clean(&e);
        }
        let rules = [IssuerRules::new(ISS, vec![AUD.into()])];
        match tokengate::peek(&t, &rules, max) {
            Ok(u) => {
                let _ = u.kid();
                match tokengate::verify(&u, keyset(), &rules[0], 60, NOW) {
                    Ok(v) => prop_assert_eq!(v.claims.get("iss"), Some(&json!(ISS))),
                    Err(e) => clean(&e),
                }
            }
            Err(e) => clean(&e),
        }
    }

    #[test]
    fn token_forms_never_panic(t in shaped_token(), max in prop_oneof![Just(16 * 1024usize), 0usize..400]) {
        let form = token_form(&t, max);
        if t.len() > max {
            prop_assert_eq!(form, TokenForm::TooLarge);
        }
        prop_assert_eq!(jwe_header(&t, max).is_some(), form == TokenForm::Jwe);
        match tokengate::parse_jws(&t, max) {
            Ok(jws) => {
                prop_assert_eq!(form, TokenForm::Jws);
                if let Ok(claims) = jws.claims() {
                    let signals = id_token_signals(&jws.header, &claims);
                    prop_assert_eq!(id_token_warning(&signals).is_some(), !signals.is_empty());
                }
            }
            Err(e) => {
                clean(&e);
                // The message says what the token is, never what it holds.
                if t.len() >= 16 {
                    prop_assert!(!e.to_string().contains(t.as_str()), "{} echoes the token", e);
                }
            }
        }
    }

    #[test]
    fn id_token_signals_never_panic(h in json_object(), c in json_object()) {
        let signals = id_token_signals(&h, &c);
        if let Some(w) = id_token_warning(&signals) {
            prop_assert!(w.is_ascii() && !w.starts_with(|c: char| c.is_uppercase()));
        }
    }

    #[test]
    fn gate_decide_never_panics(
        t in token(),
        m in method(),
        p in path(),
        now in now(),
        keys_fail in prop::bool::weighted(0.1),
    ) {
        let auth = if keys_fail { unreachable_keys() } else { authenticator() };
        let d = common::decide(auth, &m, &p, Some(&t), now);
        check_decision(&d);
        // Twice, through the cache.
        let d2 = common::decide(auth, &m, &p, Some(&t), now);
        check_decision(&d2);
        check_decision(&common::decide(auth, &m, &p, None, now));
    }

    #[test]
    fn keyset_from_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        if let Err(e) = KeySet::from_jwks(&bytes) {
            clean(&e);
        }
    }

    #[test]
    fn keyset_from_mutated_jwks(
        text in json_text(),
        edits in prop::collection::vec((0usize..3, key_name(), json_value()), 0..4),
        muts in prop::collection::vec(mutation(), 0..3),
    ) {
        let _ = KeySet::from_jwks(text.as_bytes()).map_err(|e| clean(&e));
        let mut doc = jwks();
        for (i, k, v) in edits {
            if let Some(key) = doc["keys"].get_mut(i).and_then(Value::as_object_mut) {
                if v.is_null() { key.remove(&k); } else { key.insert(k, v); }
            }
        }
        let s = mutate(&doc.to_string(), &muts);
        match KeySet::from_jwks(s.as_bytes()) {
            Ok(set) => {
                // Whatever survived must not panic on use either.
                let t = valid_token();
                if let Ok(u) = tokengate::peek(t, &[IssuerRules::new(ISS, vec![AUD.into()])], 16 * 1024) {
                    let _ = tokengate::verify(&u, &set, &IssuerRules::new(ISS, vec![AUD.into()]), 60, NOW)
                        .map_err(|e| clean(&e));
                }
            }
            Err(e) => clean(&e),
        }
    }

    #[test]
    fn config_from_jsonish(
        text in json_text(),
        top in prop::collection::vec((prop::sample::select(vec![
            "issuers", "origin", "routes", "unmatched", "wildcard_scopes", "realm", "leeway",
            "max_token_bytes", "classify", "jwks_cache", "token_cache_size", "edge", "exchange",
        ]), json_value()), 0..4),
        muts in prop::collection::vec(mutation(), 0..3),
    ) {
        if let Err(e) = Config::from_json(&text) {
            clean(&e);
        }
        let mut cfg = config_json();
        for (k, v) in top {
            cfg[k] = v;
        }
        let s = mutate(&cfg.to_string(), &muts);
        match Config::from_json(&s) {
            Ok(c) => {
                // A valid configuration builds a gate.
                prop_assert!(Gate::new(c).is_ok());
            }
            Err(e) => clean(&e),
        }
    }

    #[test]
    fn classify_never_panics(claims in json_object(), base in any::<bool>(), deep in 0usize..80) {
        let mut c = if base { base_claims() } else { Map::new() };
        c.extend(claims);
        if deep > 0 {
            let mut act = json!({"sub": "a"});
            for i in 0..deep {
                act = json!({"sub": format!("a{i}"), "act": act});
            }
            c.insert("act".into(), act);
        }
        for cfg in [ClassifyConfig::default(), gate().config().classify.clone()] {
            match classify(&c, &cfg) {
                Ok(p) => {
                    prop_assert!(!p.subject.is_empty());
                    let route = gate().route("PUT", "/builds/1");
                    if let Err(e) = gate().policy().authorize(&route, &p, &c) {
                        clean(&e);
                    }
                }
                Err(e) => clean(&e),
            }
        }
    }

    #[test]
    fn policy_route_never_panics(m in method(), p in path(), claims in json_object()) {
        let policy = gate().policy();
        let route = policy.route(&m, &p);
        let mut c = base_claims();
        c.extend(claims);
        if let Ok(principal) = classify(&c, &ClassifyConfig::default()) {
            if let Err(e) = policy.authorize(&route, &principal, &c) {
                clean(&e);
                let d = policy.deny(&e);
                prop_assert!(d.status == 400 || d.status == 403);
            }
        }
    }

    #[test]
    fn extract_token_never_panics(
        auth in prop::option::of(header_text()),
        cookie in prop::option::of(".{0,60}|(at=[a-z.]{0,8}; ?){0,3}"),
        name in prop::option::of(prop_oneof![Just("at".to_string()), ".{0,5}"]),
    ) {
        match extract_token(auth.as_deref(), cookie.as_deref(), name.as_deref()) {
            Ok(Some(t)) => prop_assert!(!t.is_empty()),
            Ok(None) => {}
            Err(e) => clean(&e),
        }
    }

    #[test]
    fn jwks_cache_state_from_json(text in json_text(), s in ".{0,80}", muts in prop::collection::vec(mutation(), 0..3)) {
        for t in [&text, &s] {
            if let Err(e) = JwksCacheState::from_json(t) {
                clean(&e);
            }
        }
        let mut state = JwksCacheState::new();
        state.record_success(&Default::default(), 1000, jwks().to_string(), Some("max-age=60"), None);
        let mutated = mutate(&state.to_json(), &muts);
        match JwksCacheState::from_json(&mutated) {
            Ok(st) => { let _ = st.decide(&Default::default(), 1030); }
            Err(e) => clean(&e),
        }
    }

    #[test]
    fn cache_control_never_panics(
        s in ".{0,60}",
        structured in "((max-age|s-maxage|MAX-AGE|no-cache|no-store|private)(=(\"?[0-9]{0,25}\"?|[a-z,]{0,4}))?, ?){0,4}",
    ) {
        let _ = parse_cache_control_max_age(&s);
        let _ = parse_cache_control_max_age(&structured);
    }

    #[test]
    fn exchange_form_never_panics(
        bytes in prop::collection::vec(any::<u8>(), 0..300),
        pairs in prop::collection::vec((prop::sample::select(vec![
            "grant_type", "subject_token", "subject_token_type", "actor_token",
            "actor_token_type", "scope", "audience", "resource", "requested_lifetime",
            "requested_token_type", "x",
        ]), "[a-z:%+0-9A-F. ]{0,20}"), 0..10),
    ) {
        if let Err(e) = ExchangeRequest::parse_form(&bytes, 256) {
            clean(&e);
        }
        let body: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
        if let Err(e) = ExchangeRequest::parse_form(body.join("&").as_bytes(), 4096) {
            clean(&e);
        }
    }

    #[test]
    fn exchange_plan_never_panics(
        scope in prop::option::of(prop::collection::vec("[a-z:]{1,14}|read:builds|update:builds", 0..4)),
        audiences in prop::collection::vec(prop_oneof![Just(AUD.to_string()), ".{0,10}"], 0..3),
        resources in prop::collection::vec(prop_oneof![Just(AUD.to_string()), ".{0,10}"], 0..2),
        lifetime in prop::option::of(prop_oneof![any::<u64>(), 0u64..5000]),
        subject_claims in json_object(),
        with_actor in any::<bool>(),
        now in now(),
    ) {
        let g = gate();
        let mut c = base_claims();
        c.extend(subject_claims.into_iter().filter(|(k, _)| k != "iss" && k != "aud"));
        let Ok(principal) = classify(&c, &g.config().classify) else { return Ok(()) };
        let subject = Verified {
            token: tokengate::VerifiedToken {
                header: Map::new(), claims: c, alg: Alg::ES256, kid: None, issuer_index: 0,
            },
            principal,
        };
        let actor_token = es_key().sign(&json!({
            "iss": ISS, "sub": "svc@clients", "azp": "svc", "aud": AUD,
            "gty": "client-credentials", "exp": NOW + 600
        }).as_object().cloned().unwrap_or_default(), None);
        let actor = verify(g, &actor_token);
        let req = ExchangeRequest {
            grant_type: tokengate::GRANT_TYPE.into(),
            subject_token: "s".into(),
            subject_token_type: tokengate::TOKEN_TYPE_ACCESS_TOKEN.into(),
            actor_token: with_actor.then(|| "a".into()),
            actor_token_type: with_actor.then(|| tokengate::TOKEN_TYPE_ACCESS_TOKEN.into()),
            scope,
            audiences,
            resources,
            requested_lifetime: lifetime,
            requested_token_type: None,
        };
        let cfg = g.config().exchange.as_ref().unwrap();
        match plan(&req, &subject, with_actor.then_some(&actor), cfg, now) {
            Ok(claims) => {
                // Whatever is planned classifies as a delegated user token.
                let p = classify(&claims, &g.config().classify).unwrap();
                prop_assert_eq!(p.kind, tokengate::Kind::User);
                prop_assert!(p.actor.is_some());
                let exp = claims["exp"].as_u64().unwrap();
                prop_assert!(exp > now || now == u64::MAX);
                prop_assert!(exp.saturating_sub(now) <= 3600);
                let _ = tokengate::response_json("t", &claims);
            }
            Err(e) => {
                clean(&e);
                let body: Value = serde_json::from_str(&e.body_json()).unwrap();
                prop_assert!(body["error"].is_string());
            }
        }
    }
}

fn verify(g: &Gate, token: &str) -> Verified {
    let u = g.peek(token).unwrap();
    let keys =
        KeySet::from_value(g.config().issuers[u.issuer_index].jwks.as_ref().unwrap()).unwrap();
    g.verify_with(&u, &keys, NOW).unwrap()
}
