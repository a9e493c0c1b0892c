//! Criterion benchmarks of the native Rust core (no I/O, no wasm): token parsing,
//! signature verification per algorithm, claims validation and classification, the
//! verified-token cache, route matching and JWKS parsing.
//!
//! Run with `cargo bench --bench core` (scripts/bench.sh does, and collects the
//! medians into bench/results.json). The benchmark ids (`group/name`) are stable: the
//! collector reads `target/criterion/<group>/<name>/new/estimates.json`.
//!
//! This file lives in `benches/core/` (not `benches/core.rs`) so that cargo does not
//! auto-discover it before Cargo.toml declares it with `harness = false`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, SamplingMode};
use serde_json::{json, Value};
use tokengate::{
    classify, public_jwks, Alg, Authenticator, Config, Credentials, Gate, KeySet, RustBackend,
    SigningKey, TokenCache, Verified,
};

const ISS: &str = "https://tenant.auth0.com/";
const AUD: &str = "https://api.example.com";
const NOW: u64 = 1_700_000_000;
const LEEWAY: u64 = 60;

/// The algorithms benchmarked one by one.
const ALGS: [Alg; 5] = [Alg::RS256, Alg::PS256, Alg::ES256, Alg::ES384, Alg::EdDSA];

/// A gate with one issuer and a realistic route table (20 rules, the matching one
/// near the end for the route-matching benchmark).
fn gate() -> Gate {
    let mut routes = vec![json!({"path": "/health", "public": true})];
    for i in 0..16 {
        routes.push(json!({"path": format!("/svc{i}/*"), "methods": ["GET"],
                           "require": {"scopes_any": [format!("read:svc{i}")]}}));
    }
    routes.push(json!({"path": "/admin/*", "methods": ["POST", "DELETE"],
                       "require": {"kinds": ["machine"]}}));
    routes.push(json!({"path": "/projects/*/builds/*", "methods": ["PUT", "PATCH"],
                       "require": {"scopes_any": ["update:builds"], "machines_bypass_scopes": true}}));
    routes.push(json!({"path": "/projects/*/builds/*",
                       "require": {"scopes_any": ["read:builds"]}}));
    let cfg = json!({
        "issuers": [{"issuer": ISS, "audiences": [AUD],
                     "jwks_uri": "https://tenant.auth0.com/.well-known/jwks.json"}],
        "routes": routes,
    });
    Gate::new(Config::from_value(cfg).expect("config")).expect("gate")
}

/// Auth0-shaped user-token claims with RBAC permissions (the larger of the usual two
/// shapes).
fn user_claims() -> Value {
    json!({
        "iss": ISS,
        "aud": [AUD, "https://tenant.auth0.com/userinfo"],
        "sub": "auth0|5f7c8ec7c33c6c004bbafe82",
        "azp": "spa-client-0123456789",
        "scope": "openid profile email read:builds",
        "permissions": ["read:builds", "update:builds", "read:projects"],
        "iat": NOW - 30,
        "exp": NOW + 3600,
        "jti": "0b8c1d9e-2f3a-4b5c-8d7e-6f5a4b3c2d1e",
    })
}

fn key(alg: Alg) -> SigningKey {
    SigningKey::generate(alg).expect("key generation")
}

fn sign(k: &SigningKey, claims: &Value) -> String {
    k.sign(claims.as_object().expect("object"), Some("at+jwt"))
}

fn bench_parse(c: &mut Criterion) {
    let gate = gate();
    let k = key(Alg::ES256);
    let token = sign(&k, &user_claims());
    let mut g = c.benchmark_group("parse");
    g.bench_function("jws", |b| {
        b.iter(|| {
            tokengate::parse_jws(black_box(&token), tokengate::DEFAULT_MAX_TOKEN_BYTES)
                .expect("parse")
        })
    });
    g.bench_function("peek", |b| {
        b.iter(|| gate.peek(black_box(&token)).expect("peek"))
    });
    g.finish();
}

fn bench_verify(c: &mut Criterion) {
    let gate = gate();
    let rules = &gate.issuer_rules()[0];
    let claims = user_claims();
    let mut g = c.benchmark_group("verify");
    // Each iteration takes tens of microseconds to a millisecond: equal-size samples.
    g.sampling_mode(SamplingMode::Flat);
    for alg in ALGS {
        let k = key(alg);
        // The signing key next to a second key of the same kind, as in a real JWKS.
        let decoy = key(alg);
        let set = KeySet::from_value(&json!({"keys": [decoy.public_jwk(), k.public_jwk()]}))
            .expect("jwks");
        let token = sign(&k, &claims);
        let unverified = gate.peek(&token).expect("peek");
        tokengate::verify(&unverified, &set, rules, LEEWAY, NOW).expect("valid token");
        g.bench_function(alg.as_str(), |b| {
            b.iter(|| {
                tokengate::verify(black_box(&unverified), &set, rules, LEEWAY, NOW).expect("verify")
            })
        });
    }
    g.finish();
}

fn bench_claims(c: &mut Criterion) {
    let gate = gate();
    let rules = &gate.issuer_rules()[0];
    let classify_cfg = &gate.config().classify;
    let user = user_claims();
    let user = user.as_object().expect("object");
    let mut g = c.benchmark_group("claims");
    g.bench_function("validate_classify", |b| {
        b.iter(|| {
            tokengate::validate_claims(black_box(user), rules, LEEWAY, NOW).expect("claims");
            classify(black_box(user), classify_cfg).expect("classify")
        })
    });
    g.finish();
}

// The tests' key I/O with nothing behind it (the benchmarks' keys are inline) and
// their runner for pipeline futures that do not wait.
#[path = "../../tests/common/mod.rs"]
mod common;
use common::{ready, NoIo};

/// The benchmark gate's configuration with `k`'s public key inline.
fn authenticator(k: &SigningKey) -> Authenticator {
    let mut cfg = gate().config().clone();
    cfg.issuers[0].jwks_uri = None;
    cfg.issuers[0].jwks = Some(public_jwks(std::slice::from_ref(k)));
    Authenticator::new(cfg).expect("authenticator")
}

fn bench_token_cache(c: &mut Criterion) {
    let gate = gate();
    let k = key(Alg::ES256);
    let set = KeySet::from_value(&public_jwks(std::slice::from_ref(&k))).expect("jwks");
    let token = sign(&k, &user_claims());
    let auth = authenticator(&k);
    let now = NOW;
    ready(auth.verify(&NoIo, &RustBackend, &token, now)).expect("first verify fills the cache");
    let mut g = c.benchmark_group("token_cache");
    // The pipeline's verify of a token already in the cache: SHA-256 of the token,
    // lookup, the reuse rule (key-set generation, time claims), clone of the kept
    // value; no parse.
    g.bench_function("hit", |b| {
        b.iter(|| ready(auth.verify(&NoIo, &RustBackend, black_box(&token), now)).expect("hit"))
    });
    // The whole per-request decision of the edge on the warm path: route, bearer
    // extraction, cache hit, policy.
    let path = "/projects/p-42/builds/b-7";
    let header = format!("Bearer {token}");
    g.bench_function("decide_hit", |b| {
        b.iter(|| {
            let credentials = Credentials {
                authorization: Some(black_box(&header)),
                ..Credentials::default()
            };
            let d = ready(auth.decide(
                &NoIo,
                &RustBackend,
                "GET",
                black_box(path),
                credentials,
                now,
            ));
            assert!(matches!(d, tokengate::Decision::Allow(_)));
            d
        })
    });
    // A miss that has to insert (and evict, the cache being full): cost of the first
    // sight of a token minus the signature check.
    let mut full: TokenCache<Verified> = TokenCache::new(1024);
    let unverified = gate.peek(&token).expect("peek");
    let verified = gate.verify_with(&unverified, &set, NOW).expect("verify");
    let mut n: u64 = 0;
    g.bench_function("insert_evict", |b| {
        b.iter_batched(
            || {
                n += 1;
                TokenCache::<Verified>::key(&format!("{token}{n}"))
            },
            |key| full.insert(key, verified.clone(), NOW + 3600, 1, NOW),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn bench_policy(c: &mut Criterion) {
    let gate = gate();
    let k = key(Alg::EdDSA);
    let set = KeySet::from_value(&public_jwks(std::slice::from_ref(&k))).expect("jwks");
    let token = sign(&k, &user_claims());
    let unverified = gate.peek(&token).expect("peek");
    let verified = gate.verify_with(&unverified, &set, NOW).expect("verify");
    let path = "/projects/p-42/builds/b-7";
    let mut g = c.benchmark_group("policy");
    g.bench_function("route_match", |b| {
        b.iter(|| {
            let m = gate.route(black_box("GET"), black_box(path));
            assert_eq!(m.index, Some(19));
            m
        })
    });
    g.bench_function("route_and_authorize", |b| {
        b.iter(|| {
            let m = gate.route(black_box("GET"), black_box(path));
            gate.authorize(&m, &verified).expect("allowed")
        })
    });
    g.finish();
}

fn bench_jwks(c: &mut Criterion) {
    // Auth0-like: two RSA-2048 keys (current and next).
    let rsa = serde_json::to_vec(&public_jwks(&[key(Alg::RS256), key(Alg::RS256)])).expect("json");
    // One key of every kind.
    let mixed = serde_json::to_vec(&public_jwks(&[
        key(Alg::RS256),
        key(Alg::PS256),
        key(Alg::ES256),
        key(Alg::ES384),
        key(Alg::EdDSA),
    ]))
    .expect("json");
    let mut g = c.benchmark_group("jwks");
    g.bench_function("parse_2_rsa", |b| {
        b.iter(|| KeySet::from_jwks(black_box(&rsa)).expect("jwks"))
    });
    g.bench_function("parse_5_mixed", |b| {
        b.iter(|| KeySet::from_jwks(black_box(&mixed)).expect("jwks"))
    });
    g.finish();
}

criterion_group!(
    benches,
    bench_parse,
    bench_verify,
    bench_claims,
    bench_token_cache,
    bench_policy,
    bench_jwks
);
criterion_main!(benches);
