//! Gateway rules through the one pipeline (`Authenticator::authenticate`): claim rules
//! (`org_id` for users and machines), delegation rules, revocation (by jti, client and
//! subject, on token-cache hits, with its staleness bound), rate-limit keys, and the
//! claims a token cache keeps for them.

mod common;

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use serde_json::{json, Map, Value};
use tokengate::{
    poll_once, public_jwks, revocation_key, revocation_value, Alg, AuthError, Authenticator,
    Config, Credentials, HttpResponse, KeyIo, RevokedBy, RustBackend, SigningKey, WorkerConfig,
};

const ISS: &str = "https://tenant.auth0.com/";
const AUD: &str = "https://api.example.com";
const NOW: u64 = 1_800_000_000;
/// A claim value that `World::user` leaves out of the token.
const ABSENT: &str = "(absent)";

/// Key I/O with an in-memory revocation store that counts its reads.
#[derive(Clone, Default)]
struct TestIo {
    entries: Rc<RefCell<HashMap<String, String>>>,
    reads: Rc<RefCell<usize>>,
    down: Rc<RefCell<bool>>,
}

impl KeyIo for TestIo {
    async fn fetch(&self, url: &str) -> Result<HttpResponse, String> {
        Err(format!("no network ({url})"))
    }
    async fn load(&self, _key: &str) -> Option<String> {
        None
    }
    async fn save(&self, _key: &str, _value: String, _ttl: u64) {}
    fn secret(&self, _name: &str) -> Option<String> {
        None
    }
    async fn sleep(&self, _ms: u64) {}
    fn fetch_timeout_ms(&self) -> u64 {
        1000
    }
    async fn revocation_entries(&self, keys: &[String]) -> Result<Vec<Option<String>>, String> {
        if *self.down.borrow() {
            return Err("kv down".into());
        }
        *self.reads.borrow_mut() += keys.len();
        let e = self.entries.borrow();
        Ok(keys.iter().map(|k| e.get(k).cloned()).collect())
    }
}

struct World {
    key: SigningKey,
    auth: Authenticator,
    io: TestIo,
}

fn jwks() -> Value {
    public_jwks(&[SigningKey::generate(Alg::ES256).unwrap()])
}

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

fn world(extra: Value) -> World {
    let key = SigningKey::generate(Alg::ES256).unwrap().with_kid("k1");
    let mut doc = json!({
        "issuers": [{"issuer": ISS, "audiences": [AUD],
                     "jwks": public_jwks(std::slice::from_ref(&key))}],
        "routes": [
            {"path": "/orgs/*", "require": {"claims": {"org_id": {"any_of": ["org_A", "org_B"]}}}},
            {"path": "/nested/*", "require": {"claims": {"/org/tier": {"equals": "gold"},
                                                           "groups": {"includes": ["eng", "ops"]}}}},
            {"path": "/acting/*", "require": {"actors": ["exchanger"], "max_delegation_depth": 1}},
            {"path": "/direct/*", "require": {"max_delegation_depth": 0}},
            {"path": "/*", "require": {}}
        ]
    });
    for (k, v) in extra.as_object().unwrap() {
        doc[k] = v.clone();
    }
    let auth = Authenticator::new(Config::from_value(doc).unwrap()).unwrap();
    World {
        key,
        auth,
        io: TestIo::default(),
    }
}

impl World {
    fn user(&self, extra: Value) -> String {
        let mut c = json!({"iss": ISS, "aud": AUD, "sub": "auth0|u1", "azp": "spa",
                           "iat": NOW - 10, "exp": NOW + 600, "jti": "t-1"});
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        let mut c = obj(c);
        c.retain(|_, v| v != ABSENT);
        self.key.sign(&c, Some("at+jwt"))
    }

    fn machine(&self, extra: Value) -> String {
        let mut c = json!({"iss": ISS, "aud": AUD, "sub": "svc@clients", "azp": "svc",
                           "gty": "client-credentials", "iat": NOW - 10, "exp": NOW + 600});
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        self.key.sign(&obj(c), Some("at+jwt"))
    }

    fn at(&self, path: &str, token: &str, now: u64) -> Result<tokengate::Verification, AuthError> {
        let authorization = format!("Bearer {token}");
        let route = self.auth.route("GET", path);
        let credentials = Credentials {
            authorization: Some(&authorization),
            ..Credentials::default()
        };
        let fut = self
            .auth
            .authenticate(&self.io, &RustBackend, &route, credentials, now);
        poll_once(Box::pin(fut)).unwrap_or_else(|_| panic!("waited"))
    }

    /// The rate limit an allowed request on `path` counts against.
    fn limit(
        &self,
        path: &str,
        token: &str,
        now: u64,
        tier: Option<&str>,
    ) -> Result<Option<tokengate::RateLimit>, AuthError> {
        let v = self.at(path, token, now)?;
        let route = self.auth.route("GET", path);
        self.auth.gate().rate_limit(&route, v.verified(), tier)
    }

    fn code(&self, path: &str, token: &str, now: u64) -> String {
        match self.at(path, token, now) {
            Ok(_) => "ok".into(),
            Err(e) => e.code().into(),
        }
    }

    fn revoke(&self, by: RevokedBy, id: &str, value: &str) {
        self.io
            .entries
            .borrow_mut()
            .insert(revocation_key(ISS, by, id), value.into());
    }
}

#[test]
fn org_id_rules_hold_for_users_and_machines_and_never_echo_the_value() {
    let w = world(json!({}));
    for token in [
        w.user(json!({"org_id": "org_A"})),
        w.machine(json!({"org_id": "org_B"})),
    ] {
        assert_eq!(w.code("/orgs/1", &token, NOW), "ok");
    }
    for token in [
        w.user(json!({"org_id": "org_C-secret"})),
        w.machine(json!({})),
        w.user(json!({"org_id": ["org_C"]})),
        w.user(json!({"org_id": null})),
        w.machine(json!({"org_id": 7})),
    ] {
        let err = w.at("/orgs/1", &token, NOW).unwrap_err();
        assert_eq!(err.code(), "claim_not_allowed");
        let deny = err.deny(w.auth.gate());
        assert_eq!(deny.status, 403);
        assert!(deny.message.contains("org_id"), "{}", deny.message);
        assert!(!deny.body_json().contains("org_C"), "{}", deny.body_json());
    }
    // An array claim passes any_of when one element is allowed.
    assert_eq!(
        w.code(
            "/orgs/1",
            &w.user(json!({"org_id": ["org_X", "org_A"]})),
            NOW
        ),
        "ok"
    );
    // Other routes are untouched.
    assert_eq!(w.code("/other", &w.user(json!({})), NOW), "ok");
}

#[test]
fn pointers_and_includes_through_the_pipeline_and_its_token_cache() {
    let w = world(json!({}));
    let ok = w.user(json!({"org": {"tier": "gold"}, "groups": ["ops", "eng", "x"]}));
    // Twice: the second is a token-cache hit, which must still have the claims.
    assert_eq!(w.code("/nested/1", &ok, NOW), "ok");
    assert_eq!(w.code("/nested/1", &ok, NOW + 1), "ok");
    let kept = w.at("/nested/1", &ok, NOW + 2).unwrap();
    assert!(kept.verified().token.claims.contains_key("org"));
    assert!(kept.verified().token.claims.contains_key("groups"));
    assert!(w.auth.gate().kept_claims().contains(&"org".to_string()));
    for bad in [
        w.user(json!({"org": {"tier": "silver"}, "groups": ["ops", "eng"]})),
        w.user(json!({"org": {"tier": "gold"}, "groups": ["ops"]})),
        w.user(json!({"org": "gold", "groups": ["ops", "eng"]})),
    ] {
        assert_eq!(w.code("/nested/1", &bad, NOW), "claim_not_allowed");
        // Refused on a cache hit too.
        assert_eq!(w.code("/nested/1", &bad, NOW + 1), "claim_not_allowed");
    }
}

#[test]
fn delegation_rules_check_the_current_actor_and_the_depth() {
    let w = world(json!({}));
    let one = |act: Value| w.user(json!({"act": act}));
    assert_eq!(
        w.code("/acting/1", &one(json!({"sub": "exchanger"})), NOW),
        "ok"
    );
    // client_id names the actor before sub.
    assert_eq!(
        w.code(
            "/acting/1",
            &one(json!({"sub": "x", "client_id": "exchanger"})),
            NOW
        ),
        "ok"
    );
    assert_eq!(
        w.code(
            "/acting/1",
            &one(json!({"sub": "exchanger", "client_id": "other"})),
            NOW
        ),
        "actor_not_allowed"
    );
    assert_eq!(
        w.code("/acting/1", &one(json!({"sub": "intruder"})), NOW),
        "actor_not_allowed"
    );
    // A route with actors needs a delegated token.
    assert_eq!(
        w.code("/acting/1", &w.user(json!({})), NOW),
        "delegation_required"
    );
    // Only the current (outermost) actor counts, and depth 2 > 1.
    let deep = one(json!({"sub": "exchanger", "act": {"sub": "exchanger"}}));
    assert_eq!(w.code("/acting/1", &deep, NOW), "delegation_too_deep");
    let inner = one(json!({"sub": "intruder", "act": {"sub": "exchanger"}}));
    assert_ne!(w.code("/acting/1", &inner, NOW), "ok");
    // max_delegation_depth 0: any act is refused; a direct token passes.
    assert_eq!(
        w.code("/direct/1", &one(json!({"sub": "exchanger"})), NOW),
        "delegation_too_deep"
    );
    assert_eq!(w.code("/direct/1", &w.user(json!({})), NOW), "ok");
}

#[test]
fn a_revocation_entry_by_jti_client_or_subject_refuses_cached_tokens_after_the_bound() {
    for (by, id) in [
        (RevokedBy::Jti, "t-1"),
        (RevokedBy::Client, "spa"),
        (RevokedBy::Subject, "auth0|u1"),
    ] {
        let w = world(json!({"revocation": {"cache_seconds": 10}}));
        let token = w.user(json!({}));
        assert_eq!(w.code("/x", &token, NOW), "ok");
        let reads = *w.io.reads.borrow();
        assert_eq!(reads, 3, "jti, client and subject are read once");
        // A cache hit with the answers cached: no store read.
        assert_eq!(w.code("/x", &token, NOW + 1), "ok");
        assert_eq!(*w.io.reads.borrow(), 3);
        w.revoke(by, id, &revocation_value(NOW));
        // Within the bound the cached absence holds (the documented staleness)...
        assert_eq!(w.code("/x", &token, NOW + 9), "ok", "{by:?}");
        // ...and at the bound the entry is read and the cached token refused.
        assert_eq!(w.code("/x", &token, NOW + 10), "token_revoked", "{by:?}");
        let deny = w
            .at("/x", &token, NOW + 11)
            .unwrap_err()
            .deny(w.auth.gate());
        assert_eq!(deny.status, 401);
        assert!(deny.www_authenticate.unwrap().contains("invalid_token"));
    }
}

#[test]
fn before_spares_tokens_issued_later_and_an_unreadable_entry_fails_closed() {
    let w = world(json!({"revocation": {"cache_seconds": 0}}));
    w.revoke(RevokedBy::Subject, "auth0|u1", &revocation_value(NOW - 100));
    // iat NOW-10 > before: issued after the revocation, allowed.
    assert_eq!(w.code("/x", &w.user(json!({})), NOW), "ok");
    // Issued before it: refused.
    let old = w.user(json!({"iat": NOW - 200, "jti": "t-2"}));
    assert_eq!(w.code("/x", &old, NOW), "token_revoked");
    // No iat: refused (it cannot be shown to be later).
    let no_iat = w.user(json!({"iat": ABSENT, "jti": "t-3"}));
    assert_eq!(w.code("/x", &no_iat, NOW), "token_revoked");
    // A malformed entry revokes every token of its subject.
    w.revoke(RevokedBy::Subject, "auth0|u1", "not json");
    assert_eq!(w.code("/x", &w.user(json!({})), NOW), "token_revoked");
    // Entries are per issuer: another issuer's entry for the same subject is ignored.
    let w = world(json!({"revocation": {}}));
    w.io.entries.borrow_mut().insert(
        revocation_key("https://other/", RevokedBy::Subject, "auth0|u1"),
        revocation_value(NOW + 100),
    );
    assert_eq!(w.code("/x", &w.user(json!({})), NOW), "ok");
    // A client entry revokes that client's tokens, not those of the other clients.
    w.revoke(RevokedBy::Client, "svc", &revocation_value(NOW));
    assert_eq!(w.code("/x", &w.machine(json!({})), NOW), "token_revoked");
    assert_eq!(w.code("/x", &w.user(json!({"jti": "t-9"})), NOW), "ok");
}

#[test]
fn a_store_that_cannot_answer_is_a_503_and_no_section_reads_nothing() {
    let w = world(json!({"revocation": {}}));
    *w.io.down.borrow_mut() = true;
    let err = w.at("/x", &w.user(json!({})), NOW).unwrap_err();
    assert_eq!(err.code(), "revocation_unavailable");
    let deny = err.deny(w.auth.gate());
    assert_eq!(deny.status, 503);
    assert!(
        !deny.body_json().contains("kv down"),
        "{}",
        deny.body_json()
    );
    assert!(
        deny.body_json().contains("revocation store"),
        "{}",
        deny.body_json()
    );
    // Without the section the store is never asked, down or not.
    let w = world(json!({}));
    *w.io.down.borrow_mut() = true;
    assert_eq!(w.code("/x", &w.user(json!({})), NOW), "ok");
    assert_eq!(*w.io.reads.borrow(), 0);
    // The default KeyIo has no store: a revocation section then refuses (fail closed).
    let key = SigningKey::generate(Alg::ES256).unwrap();
    let auth = common::authenticator(json!({
        "issuers": [{"issuer": ISS, "audiences": [AUD], "jwks": public_jwks(std::slice::from_ref(&key))}],
        "routes": [{"path": "/*", "require": {}}],
        "revocation": {}
    }));
    let token = key.sign(
        &obj(json!({"iss": ISS, "aud": AUD, "sub": "u", "exp": NOW + 60})),
        None,
    );
    match common::decide(&auth, "GET", "/x", Some(&token), NOW) {
        tokengate::Decision::Deny(d) => assert_eq!(d.code, "revocation_unavailable"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn rate_limit_keys_come_from_the_route_and_the_client_tier() {
    let w = world(json!({
        "rate_limits": {"API": {"period": 60}, "GOLD": {"period": 10}},
        "routes": [
            {"path": "/orgs/*", "require": {}, "rate_limit": {"binding": "API", "key": "org_id"}},
            {"path": "/*", "require": {}, "rate_limit": {"binding": "API", "key": "client_id"}}
        ]
    }));
    let token = w.machine(json!({"org_id": "org_A"}));
    let rl = w.limit("/x", &token, NOW, None).unwrap().unwrap();
    assert_eq!((rl.binding.as_str(), rl.period), ("API", 60));
    assert_eq!(rl.key, format!("{ISS}|client_id|svc"));
    let denied = tokengate::AuthError::from(rl.exceeded()).deny(w.auth.gate());
    assert_eq!((denied.status, denied.code), (429, "rate_limited"));
    assert!(denied.www_authenticate.is_none());
    let down = tokengate::AuthError::from(rl.unavailable("rl down".into())).deny(w.auth.gate());
    assert_eq!((down.status, down.code), (503, "rate_limit_unavailable"));
    assert!(!down.body_json().contains("rl down"));
    // The client's tier replaces the binding.
    let tier = w.limit("/x", &token, NOW, Some("GOLD")).unwrap().unwrap();
    assert_eq!((tier.binding.as_str(), tier.period), ("GOLD", 10));
    // A tier the configuration does not declare is refused (config_invalid), not skipped.
    let err = w.limit("/x", &token, NOW, Some("NOPE")).unwrap_err();
    assert_eq!(err.code(), "config_invalid");
    // By a claim, read on a token-cache hit too; a token without it is refused.
    let k = w.limit("/orgs/1", &token, NOW + 1, None).unwrap().unwrap();
    assert_eq!(k.key, format!("{ISS}|org_id|org_A"));
    let err = w
        .limit("/orgs/1", &w.machine(json!({})), NOW, None)
        .unwrap_err();
    assert_eq!(err.code(), "claim_not_allowed");
}

#[test]
fn configuration_errors_name_the_field() {
    let bad = [
        (
            json!({"rate_limits": {"API": {"period": 30}}}),
            "rate_limits.API.period",
        ),
        (
            json!({"rate_limits": {"1x": {"period": 60}}}),
            "rate_limits.1x",
        ),
        (
            json!({"routes": [{"path": "/x", "rate_limit": {"binding": "NOPE", "key": "sub"}}]}),
            "routes[0].rate_limit.binding",
        ),
        (
            json!({"rate_limits": {"A": {"period": 10}},
                   "routes": [{"path": "/x", "public": true, "rate_limit": {"binding": "A", "key": "sub"}}]}),
            "routes[0].rate_limit",
        ),
        (
            json!({"routes": [{"path": "/x", "require": {"claims": {"org_id": {}}}}]}),
            "routes[0].require.claims.org_id",
        ),
        (
            json!({"routes": [{"path": "/x", "require": {"actors": []}}]}),
            "routes[0].require.actors",
        ),
        (
            json!({"routes": [{"path": "/x", "require": {"actors": ["a"], "max_delegation_depth": 0}}]}),
            "routes[0].require.actors",
        ),
        (
            json!({"revocation": {"cache_seconds": 1000}}),
            "revocation.cache_seconds",
        ),
    ];
    for (extra, field) in bad {
        let mut doc = json!({"issuers": [{"issuer": ISS, "audiences": [AUD], "jwks": jwks()}]});
        for (k, v) in extra.as_object().unwrap() {
            doc[k] = v.clone();
        }
        let err = Config::from_value(doc).unwrap_err();
        assert_eq!(err.field(), Some(field), "{err}");
    }
}

#[test]
fn claim_headers_are_checked_and_their_claims_kept() {
    let doc = |headers: Value| {
        json!({"issuers": [{"issuer": ISS, "audiences": [AUD], "jwks": jwks()}],
               "edge": {"claim_headers": headers}})
    };
    let ok = WorkerConfig::from_value(doc(
        json!({"org_id": "x-tokengate-org-id", "/org/tier": "X-Org-Tier"}),
    ))
    .unwrap();
    assert_eq!(ok.config.keep_claims, ["/org/tier", "org_id"]);
    let gate = tokengate::Gate::new(ok.config).unwrap();
    assert!(gate.kept_claims().contains(&"org".to_string()));
    assert!(gate.kept_claims().contains(&"org_id".to_string()));
    for (claim, header) in [
        ("a", "x-tokengate-subject"),
        ("a", "X_Tokengate_Kind"),
        ("a", "authorization"),
        ("a", "Connection"),
        ("a", "transfer_encoding"),
        ("a", "x-tokengate-secret"),
        ("a", "x-http-method-override"),
        ("a", "bad header"),
        ("a", ""),
    ] {
        let err = WorkerConfig::from_value(doc(json!({claim: header}))).unwrap_err();
        assert_eq!(err.field(), Some("edge.claim_headers.a"), "{header}: {err}");
    }
    let twice = WorkerConfig::from_value(doc(json!({"a": "x-org", "b": "X_ORG"}))).unwrap_err();
    assert_eq!(twice.field(), Some("edge.claim_headers.b"));
}

/// The README's example for third-party clients and organisations: a valid Worker
/// document, whose rules decide as the README says.
#[test]
fn the_readme_example_is_a_valid_document_that_decides_as_described() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = &readme[readme
        .find("**Example: third-party clients and organisations**")
        .expect("the README has the example")..];
    let start = section.find("```json\n").unwrap() + 8;
    let end = start + section[start..].find("```").unwrap();
    let mut doc: Value = serde_json::from_str(&section[start..end]).unwrap();
    let key = SigningKey::generate(Alg::ES256).unwrap().with_kid("k1");
    doc["issuers"][0]["jwks"] = public_jwks(std::slice::from_ref(&key));
    let wc = WorkerConfig::from_value(doc).unwrap();
    assert_eq!(wc.settings.edge.claim_headers.len(), 2);
    assert_eq!(wc.config.issuers[0].issuer, ISS);
    let auth = Authenticator::new(wc.config).unwrap();
    let w = World {
        key,
        auth,
        io: TestIo::default(),
    };
    let token = |mut c: Value| {
        c["scope"] = json!("read:builds");
        w.user(c)
    };
    assert_eq!(
        w.code("/orgs/1", &token(json!({"org_id": "org_A1b2"})), NOW),
        "ok"
    );
    assert_eq!(
        w.code("/orgs/1", &token(json!({"org_id": "org_Zz"})), NOW),
        "claim_not_allowed"
    );
    assert_eq!(
        w.code(
            "/on-behalf/1",
            &token(json!({"act": {"sub": "build-service"}})),
            NOW
        ),
        "ok"
    );
    assert_eq!(
        w.code("/on-behalf/1", &token(json!({})), NOW),
        "delegation_required"
    );
    let rl = w
        .limit("/orgs/1", &token(json!({"org_id": "org_A1b2"})), NOW, None)
        .unwrap()
        .unwrap();
    assert_eq!((rl.binding.as_str(), rl.period), ("API_LIMIT", 60));
}
