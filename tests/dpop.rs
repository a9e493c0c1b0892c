//! Sender-constrained tokens through the one pipeline (`Authenticator::authenticate`):
//! DPoP proofs (RFC 9449 §4.3, each rule with a failing case), replay, nonces, the
//! binding policy, certificate-bound tokens (RFC 8705) and the challenges.

mod common;

use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;

use serde_json::{json, Map, Value};
use tokengate::{
    access_token_hash, jwk_thumbprint, poll_once, public_jwks, Alg, AuthError, Authenticator,
    ClientCertificate, Config, Credentials, DpopRequest, ErrorCode, HttpResponse, KeyIo,
    ProofReplay, RustBackend, SigningKey,
};

const ISS: &str = "https://tenant.auth0.com/";
const AUD: &str = "https://api.example.com";
const URL: &str = "https://api.example.com/builds/7";
const NOW: u64 = 1_800_000_000;
const SECRET: &str = "0123456789abcdef0123456789abcdef-nonce-key";

/// Key I/O with no network, an in-memory replay store (or none) and the nonce secret.
#[derive(Clone, Default)]
struct TestIo {
    seen: Rc<RefCell<HashSet<String>>>,
    claims: Rc<RefCell<Vec<(String, u64)>>>,
    no_store: bool,
    secret: Option<&'static str>,
}

impl KeyIo for TestIo {
    async fn fetch(&self, url: &str) -> Result<HttpResponse, String> {
        Err(format!("no network ({url})"))
    }
    async fn load(&self, _key: &str) -> Option<String> {
        None
    }
    async fn save(&self, _key: &str, _value: String, _ttl: u64) {}
    fn secret(&self, name: &str) -> Option<String> {
        (name == tokengate::NONCE_SECRET)
            .then_some(self.secret)
            .flatten()
            .map(str::to_owned)
    }
    async fn sleep(&self, _ms: u64) {}
    fn fetch_timeout_ms(&self) -> u64 {
        1000
    }
    async fn claim_proof(&self, proof: &ProofReplay, now: u64) -> Result<bool, String> {
        if self.no_store {
            return Err("store down".into());
        }
        self.claims.borrow_mut().push((proof.key(), proof.ttl(now)));
        Ok(self.seen.borrow_mut().insert(proof.key()))
    }
}

struct World {
    issuer: SigningKey,
    client: SigningKey,
    auth: Authenticator,
    io: TestIo,
}

fn config(issuer: &SigningKey, extra: Value) -> Config {
    let mut doc = json!({
        "issuers": [{"issuer": ISS, "audiences": [AUD],
                     "jwks": public_jwks(std::slice::from_ref(issuer))}],
        "routes": [
            {"path": "/builds/*", "require": {}},
            {"path": "/bound/*", "require": {"sender_constrained": true}}
        ]
    });
    if let (Some(d), Some(e)) = (doc.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            d.insert(k.clone(), v.clone());
        }
    }
    Config::from_value(doc).unwrap()
}

fn world(extra: Value) -> World {
    let issuer = SigningKey::generate(Alg::ES256).unwrap().with_kid("iss-1");
    let client = SigningKey::generate(Alg::ES256).unwrap();
    let auth = Authenticator::new(config(&issuer, extra)).unwrap();
    World {
        issuer,
        client,
        auth,
        io: TestIo {
            secret: Some(SECRET),
            ..TestIo::default()
        },
    }
}

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

/// The public JWK members a DPoP client puts in its proof header.
fn proof_jwk(k: &SigningKey) -> Value {
    let mut jwk = obj(k.public_jwk());
    jwk.retain(|m, _| ["kty", "crv", "x", "y", "n", "e"].contains(&m.as_str()));
    Value::Object(jwk)
}

fn jkt(k: &SigningKey) -> String {
    jwk_thumbprint(proof_jwk(k).as_object().unwrap()).unwrap()
}

impl World {
    fn token(&self, cnf: Option<Value>) -> String {
        let mut c = json!({"iss": ISS, "aud": AUD, "sub": "svc@clients", "azp": "svc",
                           "gty": "client-credentials", "iat": NOW - 10, "exp": NOW + 600});
        if let Some(cnf) = cnf {
            c["cnf"] = cnf;
        }
        self.issuer.sign(&obj(c), Some("at+jwt"))
    }

    fn bound_token(&self) -> String {
        self.token(Some(json!({"jkt": jkt(&self.client)})))
    }

    fn claims(&self, token: &str, htm: &str, htu: &str) -> Value {
        json!({"jti": format!("jti-{}", rand_id()), "htm": htm, "htu": htu,
               "iat": NOW, "ath": access_token_hash(token)})
    }

    fn header(&self) -> Value {
        json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": proof_jwk(&self.client)})
    }

    fn proof_with(&self, header: Value, claims: Value) -> String {
        self.client.sign_with_header(&obj(header), &obj(claims))
    }

    fn proof(&self, token: &str) -> String {
        self.proof_with(self.header(), self.claims(token, "GET", URL))
    }

    fn run(
        &self,
        io: &TestIo,
        scheme: &str,
        token: &str,
        proof: Option<&str>,
        path_url: &str,
        cert: Option<&dyn Fn() -> ClientCertificate>,
    ) -> Result<tokengate::Verification, AuthError> {
        let authorization = format!("{scheme} {token}");
        let path = path_url
            .split_once("://")
            .map(|(_, r)| &r[r.find('/').unwrap_or(r.len())..])
            .unwrap_or("/");
        let path = &path[..path.find('?').unwrap_or(path.len())];
        let route = self.auth.route("GET", path);
        let credentials = Credentials {
            authorization: Some(&authorization),
            dpop: Some(DpopRequest {
                method: "GET",
                url: path_url,
                proof,
            }),
            client_cert: cert,
            ..Credentials::default()
        };
        let fut = self
            .auth
            .authenticate(io, &RustBackend, &route, credentials, NOW);
        let out = poll_once(Box::pin(fut)).unwrap_or_else(|_| panic!("waited"));
        out
    }

    fn dpop(&self, token: &str, proof: &str) -> Result<tokengate::Verification, AuthError> {
        self.run(&self.io, "DPoP", token, Some(proof), URL, None)
    }
}

fn rand_id() -> String {
    tokengate::random_id().unwrap()
}

fn code(r: Result<tokengate::Verification, AuthError>) -> &'static str {
    match r {
        Ok(_) => "ok",
        Err(e) => e.code(),
    }
}

#[test]
fn a_valid_proof_passes_once() {
    let w = world(json!({}));
    let token = w.bound_token();
    let proof = w.proof(&token);
    let v = w.dpop(&token, &proof).unwrap();
    assert_eq!(
        v.verified().principal.binding,
        Some(tokengate::BindingKind::Dpop)
    );
    // The replay store got the thumbprint-scoped key, kept for the window.
    let claims = w.io.claims.borrow().clone();
    assert_eq!(claims.len(), 1);
    assert!(claims[0].0.starts_with(&format!("{}.jti-", jkt(&w.client))));
    assert_eq!(
        claims[0].1,
        300 + 60 + 1,
        "proof_max_age + leeway, through its last second"
    );
    // The same proof again: a replay, also once the token is in the token cache.
    assert_eq!(code(w.dpop(&token, &proof)), "dpop_proof_replayed");
    // A new proof for the cached token passes.
    assert_eq!(code(w.dpop(&token, &w.proof(&token))), "ok");
}

#[test]
fn every_proof_rule_has_a_failing_case() {
    let w = world(json!({}));
    let token = w.bound_token();
    let other = SigningKey::generate(Alg::ES256).unwrap();
    let hs = SigningKey::generate(Alg::HS256).unwrap();
    let header = w.header();
    let with = |k: &str, v: Value| {
        let mut h = header.clone();
        h[k] = v;
        h
    };
    let without = |v: &Value, k: &str| {
        let mut o = obj(v.clone());
        o.remove(k);
        Value::Object(o)
    };
    let claims = || w.claims(&token, "GET", URL);
    let claim = |k: &str, v: Value| {
        let mut c = claims();
        c[k] = v;
        c
    };
    let mut private_jwk = proof_jwk(&w.client);
    private_jwk["d"] = w.client.private_jwk()["d"].clone();
    let cases: Vec<(&str, String, &str)> = vec![
        ("typ missing", w.proof_with(without(&header, "typ"), claims()), "invalid_dpop_proof"),
        ("typ jwt", w.proof_with(with("typ", json!("JWT")), claims()), "invalid_dpop_proof"),
        ("alg none", w.proof_with(with("alg", json!("none")), claims()), "invalid_dpop_proof"),
        ("alg ES384", w.proof_with(with("alg", json!("ES384")), claims()), "invalid_dpop_proof"),
        (
            "hmac",
            hs.sign_with_header(
                &obj(json!({"typ": "dpop+jwt", "alg": "HS256", "jwk": {"kty": "oct", "k": "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI"}})),
                &obj(claims()),
            ),
            "invalid_dpop_proof",
        ),
        ("no jwk", w.proof_with(without(&header, "jwk"), claims()), "invalid_dpop_proof"),
        ("private d", w.proof_with(with("jwk", private_jwk), claims()), "invalid_dpop_proof"),
        ("jwk string", w.proof_with(with("jwk", json!("k")), claims()), "invalid_dpop_proof"),
        ("htm", w.proof_with(header.clone(), claim("htm", json!("POST"))), "invalid_dpop_proof"),
        ("htm case", w.proof_with(header.clone(), claim("htm", json!("get"))), "invalid_dpop_proof"),
        ("htm missing", w.proof_with(header.clone(), without(&claims(), "htm")), "invalid_dpop_proof"),
        ("htu path", w.proof_with(header.clone(), claim("htu", json!("https://api.example.com/builds/8"))), "invalid_dpop_proof"),
        ("htu slash", w.proof_with(header.clone(), claim("htu", json!("https://api.example.com/builds/7/"))), "invalid_dpop_proof"),
        ("htu host", w.proof_with(header.clone(), claim("htu", json!("https://evil.example.com/builds/7"))), "invalid_dpop_proof"),
        ("htu scheme", w.proof_with(header.clone(), claim("htu", json!("http://api.example.com/builds/7"))), "invalid_dpop_proof"),
        ("htu missing", w.proof_with(header.clone(), without(&claims(), "htu")), "invalid_dpop_proof"),
        ("iat old", w.proof_with(header.clone(), claim("iat", json!(NOW - 361))), "invalid_dpop_proof"),
        ("iat future", w.proof_with(header.clone(), claim("iat", json!(NOW + 61))), "invalid_dpop_proof"),
        ("iat string", w.proof_with(header.clone(), claim("iat", json!("now"))), "invalid_dpop_proof"),
        ("ath other", w.proof_with(header.clone(), claim("ath", json!(access_token_hash("x")))), "invalid_dpop_proof"),
        ("ath missing", w.proof_with(header.clone(), without(&claims(), "ath")), "invalid_dpop_proof"),
        ("jti missing", w.proof_with(header.clone(), without(&claims(), "jti")), "invalid_dpop_proof"),
        ("jti long", w.proof_with(header.clone(), claim("jti", json!("j".repeat(257)))), "invalid_dpop_proof"),
        ("jti empty", w.proof_with(header.clone(), claim("jti", json!(""))), "invalid_dpop_proof"),
        // Signed by another key, carrying that key: not the token's key.
        (
            "other key",
            other.sign_with_header(
                &obj(json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": proof_jwk(&other)})),
                &obj(claims()),
            ),
            "dpop_binding_mismatch",
        ),
        // Carrying the token's key, signed by another: the signature fails.
        (
            "bad signature",
            other.sign_with_header(&obj(header.clone()), &obj(claims())),
            "invalid_dpop_proof",
        ),
        ("two headers", format!("{}, {}", w.proof(&token), w.proof(&token)), "invalid_dpop_proof"),
        ("too large", format!("{}{}", w.proof(&token), "A".repeat(9000)), "invalid_dpop_proof"),
        ("not a jws", "abc".into(), "invalid_dpop_proof"),
    ];
    for (name, proof, want) in cases {
        assert_eq!(code(w.dpop(&token, &proof)), want, "{name}");
    }
    // No DPoP header at all.
    assert_eq!(
        code(w.run(&w.io, "DPoP", &token, None, URL, None)),
        "invalid_dpop_proof"
    );
    // None of the refused proofs reached the replay store.
    assert!(w.io.claims.borrow().is_empty());
}

#[test]
fn htu_is_compared_after_normalisation_and_without_query() {
    let w = world(json!({}));
    let token = w.bound_token();
    for htu in [
        "HTTPS://API.EXAMPLE.COM/builds/7",
        "https://api.example.com:443/builds/7",
        "https://api.example.com/builds/./7",
        "https://api.example.com/%62uilds/7",
        "https://api.example.com/builds/7?other=1#f",
    ] {
        let p = w.proof_with(w.header(), w.claims(&token, "GET", htu));
        let r = w.run(
            &w.io,
            "DPoP",
            &token,
            Some(&p),
            "https://api.example.com/builds/7?q=1",
            None,
        );
        assert_eq!(code(r), "ok", "{htu}");
    }
}

#[test]
fn the_public_base_url_replaces_what_the_edge_sees() {
    let w = world(json!({"dpop": {"public_base_url": "https://public.example.com/api"}}));
    let token = w.bound_token();
    let good = w.proof_with(
        w.header(),
        w.claims(&token, "GET", "https://public.example.com/api/builds/7"),
    );
    let seen = "http://10.0.0.1:8787/builds/7";
    assert_eq!(
        code(w.run(&w.io, "DPoP", &token, Some(&good), seen, None)),
        "ok"
    );
    let naive = w.proof_with(w.header(), w.claims(&token, "GET", seen));
    assert_eq!(
        code(w.run(&w.io, "DPoP", &token, Some(&naive), seen, None)),
        "invalid_dpop_proof"
    );
}

#[test]
fn the_binding_policy() {
    let w = world(json!({}));
    let bound = w.bound_token();
    let bearer = w.token(None);
    // A DPoP-bound token is never a bearer token, not even once it is cached.
    assert_eq!(code(w.dpop(&bound, &w.proof(&bound))), "ok");
    assert_eq!(
        code(w.run(&w.io, "Bearer", &bound, None, URL, None)),
        "dpop_required"
    );
    // A bearer token under the DPoP scheme is refused.
    assert_eq!(
        code(w.dpop(&bearer, &w.proof(&bearer))),
        "dpop_binding_mismatch"
    );
    // Bearer tokens pass where the issuer allows them (the default)...
    assert_eq!(code(w.run(&w.io, "Bearer", &bearer, None, URL, None)), "ok");
    // ...but not on a route that demands a sender-constrained token.
    let bound_url = "https://api.example.com/bound/1";
    assert_eq!(
        code(w.run(&w.io, "Bearer", &bearer, None, bound_url, None)),
        "sender_constraint_required"
    );
    let p = w.proof_with(w.header(), w.claims(&bound, "GET", bound_url));
    assert_eq!(
        code(w.run(&w.io, "DPoP", &bound, Some(&p), bound_url, None)),
        "ok"
    );
    // A cnf tokengate cannot check is refused, whatever the scheme.
    let jwk_bound = w.token(Some(json!({"jwk": proof_jwk(&w.client)})));
    assert_eq!(
        code(w.run(&w.io, "Bearer", &jwk_bound, None, URL, None)),
        "binding_unsupported"
    );
}

#[test]
fn an_issuer_that_requires_dpop_refuses_bearer_tokens() {
    let issuer = SigningKey::generate(Alg::ES256).unwrap().with_kid("iss-1");
    let mut cfg = config(&issuer, json!({}));
    cfg.issuers[0].dpop = tokengate::DpopMode::Required;
    let w = World {
        auth: Authenticator::new(cfg).unwrap(),
        issuer,
        client: SigningKey::generate(Alg::ES256).unwrap(),
        io: TestIo::default(),
    };
    let bearer = w.token(None);
    let e = w
        .run(&w.io, "Bearer", &bearer, None, URL, None)
        .unwrap_err();
    assert_eq!(e.code(), "dpop_required");
    let deny = e.deny(w.auth.gate());
    let challenge = deny.www_authenticate.unwrap();
    // Bearer tokens are not accepted at all: the only challenge is DPoP's.
    assert!(
        challenge.starts_with("DPoP realm=\"tokengate\", error=\"invalid_token\""),
        "{challenge}"
    );
    assert!(!challenge.contains("Bearer"), "{challenge}");
    assert!(
        challenge.contains("algs=\"RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 EdDSA\""),
        "{challenge}"
    );
    let bound = w.bound_token();
    assert_eq!(code(w.dpop(&bound, &w.proof(&bound))), "ok");
}

#[test]
fn replay_store_failures_close_the_door() {
    let w = world(json!({}));
    let token = w.bound_token();
    let down = TestIo {
        no_store: true,
        ..TestIo::default()
    };
    let e = w
        .run(&down, "DPoP", &token, Some(&w.proof(&token)), URL, None)
        .unwrap_err();
    assert_eq!(e.code(), "dpop_replay_unavailable");
    assert_eq!(e.status(), 503);
}

#[test]
fn without_a_replay_store_proofs_are_refused() {
    // common::NoIo keeps the trait's own claim_proof: no replay store.
    let w = world(json!({}));
    let token = w.bound_token();
    let proof = w.proof(&token);
    let authorization = format!("DPoP {token}");
    let route = w.auth.route("GET", "/builds/7");
    let credentials = Credentials {
        authorization: Some(&authorization),
        dpop: Some(DpopRequest {
            method: "GET",
            url: URL,
            proof: Some(&proof),
        }),
        ..Credentials::default()
    };
    let fut = w
        .auth
        .authenticate(&common::NoIo, &RustBackend, &route, credentials, NOW);
    let r = poll_once(Box::pin(fut)).unwrap_or_else(|_| panic!("waited"));
    assert_eq!(code(r), "dpop_replay_unavailable");
}

#[test]
fn nonces_round_trip() {
    let w = world(json!({"dpop": {"nonce": true}}));
    let token = w.bound_token();
    let e = w.dpop(&token, &w.proof(&token)).unwrap_err();
    assert_eq!(e.code(), "use_dpop_nonce");
    let deny = e.deny(w.auth.gate());
    let nonce = deny.dpop_nonce.clone().expect("a DPoP-Nonce");
    let challenge = deny.www_authenticate.unwrap();
    assert!(
        challenge.contains("DPoP realm=\"tokengate\", error=\"use_dpop_nonce\""),
        "{challenge}"
    );
    assert!(
        challenge.starts_with("Bearer realm=\"tokengate\""),
        "{challenge}"
    );
    let mut c = w.claims(&token, "GET", URL);
    c["nonce"] = json!(nonce);
    assert_eq!(code(w.dpop(&token, &w.proof_with(w.header(), c))), "ok");
    // A forged nonce gets a fresh one.
    let mut c = w.claims(&token, "GET", URL);
    c["nonce"] = json!("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    assert_eq!(
        code(w.dpop(&token, &w.proof_with(w.header(), c))),
        "use_dpop_nonce"
    );
    // Another deployment's nonce (another secret) is refused too.
    let other = tokengate::Nonces::new(b"another secret of thirty-two bytes!!").unwrap();
    let mut c = w.claims(&token, "GET", URL);
    c["nonce"] = json!(other.issue(NOW));
    assert_eq!(
        code(w.dpop(&token, &w.proof_with(w.header(), c))),
        "use_dpop_nonce"
    );
    // Without the secret (read once per process), nonces cannot be checked: a
    // configuration error.
    let w = world(json!({"dpop": {"nonce": true}}));
    let token = w.bound_token();
    let no_secret = TestIo::default();
    let e = w
        .run(
            &no_secret,
            "DPoP",
            &token,
            Some(&w.proof(&token)),
            URL,
            None,
        )
        .unwrap_err();
    assert_eq!((e.code(), e.status()), ("config_invalid", 500));
}

#[test]
fn certificate_bound_tokens() {
    let w = world(json!({}));
    let fp = [0x5au8; 32];
    let x5t = tokengate::b64_encode(&fp);
    let token = w.token(Some(json!({"x5t#S256": x5t})));
    let hex: String = fp.iter().map(|b| format!("{b:02X}")).collect();
    let good = move || ClientCertificate::from_fingerprint(&hex).unwrap();
    let wrong = || ClientCertificate::Verified([0x5b; 32]);
    let unverified = || ClientCertificate::Unverified;
    let bearer = |c: Option<&dyn Fn() -> ClientCertificate>| {
        code(w.run(&w.io, "Bearer", &token, None, URL, c))
    };
    assert_eq!(bearer(Some(&good)), "ok");
    assert_eq!(bearer(Some(&wrong)), "mtls_binding_mismatch");
    assert_eq!(bearer(Some(&unverified)), "mtls_binding_mismatch");
    assert_eq!(bearer(None), "mtls_binding_mismatch");
    // A certificate-bound token passes a route that demands a bound token.
    let r = w.run(
        &w.io,
        "Bearer",
        &token,
        None,
        "https://api.example.com/bound/2",
        Some(&good),
    );
    assert_eq!(code(r), "ok");
    // Only asked for when the token is certificate-bound.
    let called = std::cell::Cell::new(false);
    let spy = || {
        called.set(true);
        ClientCertificate::Absent
    };
    let plain = w.token(None);
    assert_eq!(
        code(w.run(&w.io, "Bearer", &plain, None, URL, Some(&spy))),
        "ok"
    );
    assert!(!called.get());
}

#[test]
fn challenges_advertise_dpop_and_the_metadata() {
    let w = world(json!({
        "dpop": {"algorithms": ["ES256", "EdDSA"]},
        "resource_metadata": {"resource": "https://api.example.com"}
    }));
    let e = w
        .run(&w.io, "Bearer", "not-a-token", None, URL, None)
        .unwrap_err();
    let h = e.deny(w.auth.gate()).www_authenticate.unwrap();
    let rm = "resource_metadata=\"https://api.example.com/.well-known/oauth-protected-resource\"";
    assert!(h.starts_with("Bearer realm=\"tokengate\", error=\"invalid_token\", error_description=\"token is malformed"), "{h}");
    assert!(
        h.ends_with(&format!(
            "\", {rm}, DPoP realm=\"tokengate\", algs=\"ES256 EdDSA\", {rm}"
        )),
        "{h}"
    );
    let doc: Value = serde_json::from_str(
        &w.auth
            .gate()
            .resource_metadata("/.well-known/oauth-protected-resource")
            .unwrap(),
    )
    .unwrap();
    assert_eq!(doc["resource"], "https://api.example.com");
    assert_eq!(doc["authorization_servers"], json!([ISS]));
    assert_eq!(
        doc["dpop_signing_alg_values_supported"],
        json!(["ES256", "EdDSA"])
    );
    assert!(w
        .auth
        .gate()
        .resource_metadata("/.well-known/oauth-protected-resource/")
        .is_none());
    // Without a dpop section, a DPoP-only issuer or a route demanding a bound token,
    // challenges stay Bearer-only (as before DPoP).
    let issuer = SigningKey::generate(Alg::ES256).unwrap();
    let plain = Config::from_value(json!({"issuers": [{"issuer": ISS, "audiences": [AUD],
        "jwks": public_jwks(std::slice::from_ref(&issuer))}]}))
    .unwrap();
    let gate = tokengate::Gate::new(plain).unwrap();
    let d = gate.deny(&tokengate::RequestError::TokenMissing, None);
    assert_eq!(
        d.www_authenticate.as_deref(),
        Some("Bearer realm=\"tokengate\"")
    );
}
