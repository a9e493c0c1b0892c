//! The pipeline (Authenticator) on the configuration from the README: decisions, statuses and
//! RFC 6750 challenges for machine and user tokens, the token cache, and the real Auth0
//! client-credentials token.

mod common;

use serde_json::{json, Value};
use tokengate::Alg;
use tokengate::DecidedBy;
use tokengate::{public_jwks, SigningKey};
use tokengate::{Authenticator, Config, Decision, Kind};

const ISS: &str = "https://tenant.auth0.com/";
const AUD: &str = "https://api.example.com";
const NOW: u64 = 1_700_000_000;

/// The README's configuration; `keys` inline (`None`: the `jwks_uri`, unreachable here).
fn config(keys: Option<&SigningKey>) -> Value {
    let mut issuer = json!({"issuer": ISS, "audiences": [AUD],
                            "jwks_uri": "https://tenant.auth0.com/.well-known/jwks.json"});
    if let Some(k) = keys {
        issuer = json!({"issuer": ISS, "audiences": [AUD],
                        "jwks": public_jwks(std::slice::from_ref(k))});
    }
    json!({
        "issuers": [issuer],
        "origin": "https://api.internal.example.com",
        "routes": [
            {"path": "/admin/*", "methods": ["POST", "DELETE"], "require": {"kinds": ["machine"]}},
            {"path": "/builds/*", "methods": ["PUT", "POST"],
             "require": {"scopes_any": ["update:builds"], "machines_bypass_scopes": true}},
            {"path": "/builds/*", "require": {"scopes_any": ["read:builds"]}},
            {"path": "/health", "public": true}
        ]
    })
}

fn machine(key: &SigningKey, scope: &str) -> String {
    let c = json!({"iss": ISS, "aud": AUD, "sub": "svc123@clients", "azp": "svc123",
                   "gty": "client-credentials", "scope": scope, "iat": NOW - 5, "exp": NOW + 3600});
    key.sign(c.as_object().unwrap(), None)
}

fn user(key: &SigningKey, scope: &str, permissions: &[&str]) -> String {
    let c = json!({"iss": ISS, "aud": [AUD, "https://tenant.auth0.com/userinfo"],
                   "sub": "auth0|42", "azp": "spa", "scope": scope,
                   "permissions": permissions, "iat": NOW - 5, "exp": NOW + 3600});
    key.sign(c.as_object().unwrap(), None)
}

struct Run {
    auth: Authenticator,
}

impl Run {
    fn new(key: &SigningKey) -> Run {
        Run::with_config(config(Some(key)))
    }

    fn with_config(cfg: Value) -> Run {
        Run {
            auth: common::authenticator(cfg),
        }
    }

    fn decide(&mut self, method: &str, path: &str, token: Option<&str>) -> Decision {
        common::decide(&self.auth, method, path, token, NOW)
    }

    fn decide_at(&mut self, method: &str, path: &str, token: Option<&str>, now: u64) -> Decision {
        common::decide(&self.auth, method, path, token, now)
    }
}

fn deny(d: Decision) -> (u16, &'static str, Option<String>) {
    match d {
        Decision::Deny(d) => (d.status, d.code, d.www_authenticate),
        other => panic!("expected a denial, got {other:?}"),
    }
}

fn allow(d: Decision) -> tokengate::Verified {
    match d {
        Decision::Allow(v) => *v,
        other => panic!("expected allow, got {other:?}"),
    }
}

#[test]
fn machines_do_everything_users_need_the_permission() {
    let key = SigningKey::generate(Alg::ES256).unwrap();
    let mut run = Run::new(&key);
    let m = machine(&key, "read:builds");
    let v = allow(run.decide("PUT", "/builds/1", Some(&m)));
    assert_eq!(v.principal.kind, Kind::Machine);
    assert_eq!(v.principal.decided_by, DecidedBy::Gty);
    assert_eq!(v.principal.client_id.as_deref(), Some("svc123"));
    allow(run.decide("DELETE", "/admin/users/9", Some(&m)));

    let u = user(&key, "openid read:builds", &[]);
    let (status, code, www) = deny(run.decide("PUT", "/builds/1", Some(&u)));
    assert_eq!((status, code), (403, "insufficient_scope"));
    let www = www.unwrap();
    assert!(
        www.starts_with("Bearer realm=\"tokengate\", error=\"insufficient_scope\""),
        "{www}"
    );
    assert!(www.ends_with("scope=\"update:builds\""), "{www}");
    let v = allow(run.decide("GET", "/builds/1", Some(&u)));
    assert_eq!(v.principal.kind, Kind::User);
    assert_eq!(v.principal.user_id.as_deref(), Some("auth0|42"));

    // Auth0 RBAC permissions are merged with scope.
    let u2 = user(&key, "openid", &["update:builds"]);
    let v = allow(run.decide("PUT", "/builds/1", Some(&u2)));
    assert_eq!(v.principal.scopes, ["openid", "update:builds"]);
    let (status, code, _) = deny(run.decide("POST", "/admin/x", Some(&u2)));
    assert_eq!((status, code), (403, "kind_not_allowed"));
}

#[test]
fn missing_invalid_and_public() {
    let key = SigningKey::generate(Alg::ES256).unwrap();
    let mut run = Run::new(&key);
    assert!(matches!(
        run.decide("GET", "/health", None),
        Decision::Public
    ));
    let (status, code, www) = deny(run.decide("GET", "/builds/1", None));
    assert_eq!((status, code), (401, "token_missing"));
    assert_eq!(www.as_deref(), Some("Bearer realm=\"tokengate\""));
    let (status, code, www) = deny(run.decide("GET", "/anything", Some("not.a.token")));
    assert_eq!((status, code), (401, "token_malformed"));
    assert!(www.unwrap().contains("error=\"invalid_token\""));
    let other = SigningKey::generate(Alg::ES256)
        .unwrap()
        .with_kid(key.kid.clone());
    let forged = machine(&other, "read:builds");
    let (status, code, _) = deny(run.decide("GET", "/builds/1", Some(&forged)));
    assert_eq!((status, code), (401, "signature_invalid"));
    let (status, code, _) = deny(run.decide("GET", "/public/../admin/x", Some(&forged)));
    assert_eq!((status, code), (400, "path_rejected"));
    // Keys unavailable: 503, no challenge.
    let t = machine(&key, "read:builds");
    let mut down = Run::with_config(config(None));
    let d = down.decide("GET", "/builds/1", Some(&t));
    let (status, code, www) = deny(d);
    assert_eq!((status, code, www), (503, "jwks_unavailable", None));
}

#[test]
fn token_cache_skips_signature_but_not_expiry() {
    let key = SigningKey::generate(Alg::ES256).unwrap();
    let mut run = Run::new(&key);
    let m = machine(&key, "read:builds");
    allow(run.decide("GET", "/builds/1", Some(&m)));
    assert_eq!(run.auth.cached(), 1);
    allow(run.decide("GET", "/builds/2", Some(&m)));
    // Past exp + leeway the cached entry no longer helps.
    let d = run.decide_at("GET", "/builds/1", Some(&m), NOW + 3600 + 61);
    assert_eq!(deny(d).1, "token_expired");
}

#[test]
fn a_disabled_token_cache_is_never_filled_and_revalidate_rechecks_times() {
    let key = SigningKey::generate(Alg::EdDSA).unwrap();
    let cfg = Config::from_value(config(Some(&key))).unwrap();
    let mut run = Run {
        auth: Authenticator::with_cache(cfg, 0).unwrap(),
    };
    let m = machine(&key, "read:builds");
    let v = allow(run.decide("GET", "/builds/1", Some(&m)));
    allow(run.decide("GET", "/builds/1", Some(&m)));
    assert_eq!(run.auth.cached(), 0);
    // What the JS bindings redo for a kept result: the claims at the new time.
    let gate = run.auth.gate();
    assert!(gate.revalidate(0, &v, NOW + 10).is_ok());
    let late = gate.revalidate(0, &v, NOW + 3600 + 61).unwrap_err();
    assert_eq!(tokengate::ErrorCode::code(&late), "token_expired");
    assert!(gate.revalidate(7, &v, NOW).is_err(), "no such issuer");
    // The one reuse rule: the key set of the same generation (inline keys: 1), and the
    // time claims.
    let kept = tokengate::Kept {
        verified: v,
        issuer: 0,
        generation: 1,
    };
    let now = NOW;
    assert_eq!(run.auth.recheck(&kept, now), Ok(true));
    let other = tokengate::Kept {
        generation: 2,
        ..kept.clone()
    };
    assert_eq!(run.auth.recheck(&other, now), Ok(false));
    assert!(run.auth.recheck(&kept, now + 3600 + 61).is_err());
}

#[test]
fn real_auth0_token_classifies_as_machine() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/real-world/auth0-client-credentials.json"
    );
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let cfg = json!({"issuers": [{"issuer": doc["issuer"], "audiences": [doc["audience"]],
                                  "jwks": doc["jwks"]}], "unmatched": "any_valid_token"});
    let auth = common::authenticator(cfg);
    let at = doc["verify_at"].as_u64().unwrap();
    let d = common::decide(&auth, "GET", "/", doc["token"].as_str(), at);
    let v = allow(d);
    let expected = &doc["expected"];
    assert_eq!(v.principal.kind.as_str(), expected["kind"]);
    assert_eq!(
        v.principal.client_id.as_deref(),
        expected["client_id"].as_str()
    );
    assert_eq!(json!(v.principal.scopes), expected["scopes"]);
    assert_eq!(v.principal.decided_by, DecidedBy::Gty);
}

/// A backend that counts the signature checks it is asked for.
#[derive(Default)]
struct Counting(std::cell::Cell<u32>);

impl tokengate::SignatureBackend for Counting {
    async fn verify(&self, c: &tokengate::SignatureCheck<'_>, m: &[u8], s: &[u8]) -> bool {
        self.0.set(self.0.get() + 1);
        tokengate::RustBackend.verify(c, m, s).await
    }
}

#[test]
fn a_kept_verification_is_reused_under_the_one_rule() {
    let key = SigningKey::generate(Alg::ES256).unwrap();
    let auth = common::authenticator(config(Some(&key)));
    let backend = Counting::default();
    let m = machine(&key, "read:builds");
    let now = NOW;
    let first = common::ready(auth.verify(&common::NoIo, &backend, &m, now)).unwrap();
    assert_eq!(backend.0.get(), 1);
    assert_eq!(first.keys, tokengate::KeyOutcome::Static);
    // The same token again: no signature check, the same principal.
    let again = common::ready(auth.verify(&common::NoIo, &backend, &m, now + 5)).unwrap();
    assert_eq!(backend.0.get(), 1, "reused");
    assert_eq!(again.kept, first.kept);
    // Past exp + leeway the cache entry is gone with it, and the token is refused.
    let late = common::ready(auth.verify(&common::NoIo, &backend, &m, now + 3600 + 61));
    assert_eq!(late.unwrap_err().code(), "token_expired");
    let checks = backend.0.get();
    // A token that differs by one character is not the kept one.
    let i = m.len() - 10;
    let c = if &m[i..=i] == "A" { "B" } else { "A" };
    let forged = format!("{}{c}{}", &m[..i], &m[i + 1..]);
    let e = common::ready(auth.verify(&common::NoIo, &backend, &forged, now)).unwrap_err();
    assert_eq!(backend.0.get(), checks + 1, "checked, not reused");
    assert_eq!(e.code(), "signature_invalid");
    // An oversized token is refused before it is hashed or parsed.
    let big = "a".repeat(auth.config().max_token_bytes + 1);
    let e = common::ready(auth.verify(&common::NoIo, &backend, &big, now)).unwrap_err();
    assert_eq!(e.code(), "token_too_large");
}
