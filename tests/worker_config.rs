//! The edge authorizer's configuration document, read as the Worker reads it
//! (`tokengate::WorkerConfig`, `WorkerSettings`) and checked without I/O
//! (`tokengate::check_worker_config`, behind `tokengate check` and `checkWorkerConfig`).

use serde_json::{json, Value};
use tokengate::{
    check_worker_config, exchange_issuer, inline_issuer_jwks, parse_worker_document, ConfigError,
    EdgeSettings, LogLevel, ServerTiming, WorkerConfig, WorkerSettings,
};

const ISS: &str = "https://t.example.com/";

fn doc(extra: Value) -> Value {
    let mut d = json!({"issuers": [{"issuer": ISS, "audiences": ["api"]}]});
    for (k, v) in extra.as_object().unwrap() {
        d[k] = v.clone();
    }
    d
}

fn field_of(e: ConfigError) -> String {
    match e {
        ConfigError::Invalid { field, .. } => field,
        other => panic!("not a field error: {other}"),
    }
}

#[test]
fn defaults_without_edge_or_origin() {
    let w = WorkerConfig::from_value(doc(json!({}))).unwrap();
    assert_eq!(w.settings, WorkerSettings::default());
    assert_eq!(w.settings.edge, EdgeSettings::default());
    assert!(w.settings.edge.forward_authorization);
    assert_eq!(w.settings.edge.log, LogLevel::All);
    assert_eq!(w.settings.edge.server_timing, ServerTiming::Off);
    assert_eq!(
        w.settings.edge.origin_secret_header(),
        tokengate::headers::DEFAULT_ORIGIN_SECRET_HEADER
    );
    // The Worker's sections never reach the core's Config.
    assert_eq!(w.config.edge, None);
    assert_eq!(w.config.origin, None);
}

#[test]
fn edge_settings_are_read() {
    let w = WorkerConfig::from_value(doc(json!({
        "origin": "https://origin.example.com",
        "edge": {"cookie": "at", "forward_authorization": false, "origin_secret_header": "x-secret",
                 "cors_preflight_passthrough": true, "server_timing": "detail", "log": "denials"}
    })))
    .unwrap();
    let e = &w.settings.edge;
    assert_eq!(
        w.settings.origin.as_deref(),
        Some("https://origin.example.com")
    );
    assert_eq!(e.cookie.as_deref(), Some("at"));
    assert!(!e.forward_authorization);
    assert_eq!(e.origin_secret_header(), "x-secret");
    assert!(e.cors_preflight_passthrough);
    assert_eq!(e.server_timing, ServerTiming::Detail);
    assert_eq!(e.log, LogLevel::Denials);
}

#[test]
fn errors_name_the_edge_field() {
    let f = |extra: Value| field_of(WorkerConfig::from_value(doc(extra)).unwrap_err());
    assert_eq!(f(json!({"edge": 1})), "edge");
    assert_eq!(f(json!({"edge": {"bogus": 1}})), "edge.bogus");
    assert_eq!(f(json!({"edge": {"log": "loud"}})), "edge.log");
    assert_eq!(
        f(json!({"edge": {"server_timing": 1}})),
        "edge.server_timing"
    );
    assert_eq!(f(json!({"edge": {"cookie": "a;b"}})), "edge.cookie");
    assert_eq!(
        f(json!({"edge": {"origin_secret_header": "x y"}})),
        "edge.origin_secret_header"
    );
    assert_eq!(
        f(json!({"edge": {"fetch_timeout_ms": 0}})),
        "edge.fetch_timeout_ms"
    );
    assert_eq!(f(json!({"origin": "ftp://o"})), "origin");
    assert_eq!(f(json!({"origin": 7})), "origin");
    let e = WorkerConfig::from_value(doc(json!({"edge": {"log": "loud"}}))).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid configuration: edge.log: must be \"all\", \"denials\" or \"off\""
    );
}

#[test]
fn fetch_timeout_alias() {
    let w = WorkerConfig::from_value(doc(json!({"edge": {"fetch_timeout_ms": 1234}}))).unwrap();
    assert_eq!(w.config.jwks_cache.fetch_timeout_ms, 1234);
    let e = WorkerConfig::from_value(doc(json!({
        "edge": {"fetch_timeout_ms": 1234}, "jwks_cache": {"fetch_timeout_ms": 10}
    })))
    .unwrap_err();
    assert_eq!(field_of(e), "edge.fetch_timeout_ms");
}

#[test]
fn take_leaves_the_core_its_part() {
    let mut d = doc(json!({"edge": {"log": "off"}, "origin": "http://o.example"}));
    let s = WorkerSettings::take(&mut d).unwrap();
    assert_eq!(s.edge.log, LogLevel::Off);
    assert!(d.get("edge").is_none() && d.get("origin").is_none());
    // A document that is not an object is the core schema's to refuse.
    let mut n = json!(7);
    assert_eq!(
        WorkerSettings::take(&mut n).unwrap(),
        WorkerSettings::default()
    );
    assert!(WorkerConfig::from_value(n).is_err());
}

#[test]
fn inline_jwks_replaces_the_issuers_key_source() {
    let mut d = json!({"issuers": [
        {"issuer": ISS, "audiences": ["a"], "jwks_uri": "https://t.example.com/jwks"},
        {"issuer": "https://other.example/", "audiences": ["a"], "jwks_uri": "https://other.example/j"},
        7
    ]});
    let jwks = json!({"keys": []});
    inline_issuer_jwks(&mut d, ISS, &jwks);
    assert_eq!(d["issuers"][0]["jwks"], jwks);
    assert!(d["issuers"][0].get("jwks_uri").is_none());
    assert_eq!(d["issuers"][1]["jwks_uri"], "https://other.example/j");
    assert_eq!(d["issuers"][2], 7);
    assert_eq!(
        exchange_issuer(&json!({"exchange": {"issuer": ISS}})),
        Some(ISS)
    );
    assert_eq!(exchange_issuer(&json!({"exchange": {"issuer": 1}})), None);
    assert_eq!(exchange_issuer(&json!({})), None);
}

#[test]
fn check_summarises_a_valid_document() {
    let s = check_worker_config(
        &doc(
            json!({"origin": "https://o.example", "routes": [{"path": "/health", "public": true}]}),
        )
        .to_string(),
    )
    .unwrap();
    assert_eq!(s.issuers, vec![ISS.to_string()]);
    assert_eq!(s.routes, 1);
    assert_eq!(s.origin.as_deref(), Some("https://o.example"));
    assert_eq!(s.exchange_issuer, None);
    assert!(s.secrets.is_empty());
}

#[test]
fn check_errors_are_the_workers() {
    let e = |d: &str| check_worker_config(d).unwrap_err();
    assert!(matches!(e("{"), ConfigError::Parse(_)));
    assert_eq!(
        e("{").to_string(),
        parse_worker_document("{").unwrap_err().to_string()
    );
    assert!(e("{}").to_string().contains("issuers"));
    assert_eq!(
        field_of(e(&doc(json!({"edge": {"cookie": ""}})).to_string())),
        "edge.cookie"
    );
    let bad_uri =
        json!({"issuers": [{"issuer": ISS, "audiences": ["a"], "jwks_uri": "http://k.example/j"}]});
    assert_eq!(field_of(e(&bad_uri.to_string())), "issuers[0].jwks_uri");
    let bad_route = doc(json!({"routes": [{"path": "/x", "require": {"kinds": ["robot"]}}]}));
    assert!(check_worker_config(&bad_route.to_string()).is_err());
}

/// The exchange of the repo's demo: its own issuer is listed without keys, which the
/// Worker fills in from its signing keys; the check fills in a placeholder.
fn exchange_doc(own: Value) -> Value {
    json!({
        "issuers": [{"issuer": ISS, "audiences": ["api"]}, own],
        "exchange": {
            "issuer": "https://edge.example.com/",
            "actors": [{"client_id": "svc", "audiences": ["api"]}],
            "audiences": [{"audience": "api", "scopes": ["read"], "max_lifetime": 3600}]
        }
    })
}

#[test]
fn check_assumes_the_signing_keys_of_an_exchange() {
    let own = json!({"issuer": "https://edge.example.com/", "audiences": ["api"]});
    let s = check_worker_config(&exchange_doc(own).to_string()).unwrap();
    assert_eq!(
        s.exchange_issuer.as_deref(),
        Some("https://edge.example.com/")
    );
    // A jwks_uri is replaced by the keys, as in the Worker.
    let own = json!({"issuer": "https://edge.example.com/", "audiences": ["api"], "jwks_uri": "http://no.example/"});
    assert!(check_worker_config(&exchange_doc(own).to_string()).is_ok());
    // A shared secret and the signing keys cannot both be the issuer's keys.
    let own =
        json!({"issuer": "https://edge.example.com/", "audiences": ["api"], "shared_secret": "S"});
    let e = check_worker_config(&exchange_doc(own).to_string()).unwrap_err();
    assert_eq!(field_of(e), "issuers[1].jwks_uri");
    // The own issuer must be trusted.
    let mut d = exchange_doc(json!({"issuer": "https://x.example/", "audiences": ["api"]}));
    d["issuers"].as_array_mut().unwrap().truncate(1);
    let e = check_worker_config(&d.to_string()).unwrap_err();
    assert_eq!(field_of(e), "exchange.issuer");
}

#[test]
fn check_names_shared_secrets() {
    let d = json!({"issuers": [{"issuer": ISS, "audiences": ["a"], "shared_secret": "HS_KEY"}]});
    let s = check_worker_config(&d.to_string()).unwrap();
    assert_eq!(s.secrets, vec!["HS_KEY".to_string()]);
}

/// The `[env.demo.vars]` TOKENGATE_CONFIG of the repository's wrangler.toml (a
/// multi-line literal string) checks OK.
#[test]
fn the_repos_demo_config_checks() {
    let toml =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/wrangler.toml")).unwrap();
    let demo = toml
        .split("[env.demo.vars]")
        .nth(1)
        .expect("[env.demo.vars]");
    let json = demo
        .split("'''")
        .nth(1)
        .expect("a ''' TOKENGATE_CONFIG string");
    let s = check_worker_config(json).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.exchange_issuer.as_deref(), Some("http://127.0.0.1:8787/"));
    assert_eq!(s.issuers.len(), 2);
}
