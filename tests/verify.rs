//! Verification end to end on tokens signed in the tests, one negative case per rule,
//! and the real Auth0 client-credentials token from tests/vectors/real-world.

use std::sync::OnceLock;

use serde_json::{json, Value};
use tokengate::b64_encode;
use tokengate::Alg;
use tokengate::KeySet;
use tokengate::{peek, verify, IssuerRules, VerifiedToken};
use tokengate::{public_jwks, SigningKey};
use tokengate::{Claims, ErrorCode, JwksError, TokenError};

const ISS: &str = "https://tenant.example.com/";
const AUD: &str = "https://api.example.com";
const NOW: u64 = 1_700_000_000;

fn rsa_key() -> &'static SigningKey {
    static K: OnceLock<SigningKey> = OnceLock::new();
    K.get_or_init(|| SigningKey::generate(Alg::RS256).unwrap().with_kid("rsa"))
}

fn claims(extra: Value) -> Claims {
    let mut c =
        json!({"iss": ISS, "aud": AUD, "sub": "auth0|u1", "iat": NOW - 10, "exp": NOW + 600})
            .as_object()
            .cloned()
            .unwrap();
    if let Value::Object(o) = extra {
        for (k, v) in o {
            if v.is_null() {
                c.remove(&k);
            } else {
                c.insert(k, v);
            }
        }
    }
    c
}

fn rules() -> Vec<IssuerRules> {
    vec![IssuerRules::new(ISS, vec![AUD.into()])]
}

fn check(token: &str, keys: &KeySet) -> Result<VerifiedToken, TokenError> {
    check_with(token, keys, &rules()[0])
}

fn check_with(token: &str, keys: &KeySet, r: &IssuerRules) -> Result<VerifiedToken, TokenError> {
    let u = peek(token, std::slice::from_ref(r), 16 * 1024)?;
    verify(&u, keys, r, 60, NOW)
}

fn code(r: Result<VerifiedToken, TokenError>) -> &'static str {
    match r {
        Ok(_) => "ok",
        Err(e) => e.code(),
    }
}

fn keyset(keys: &[&SigningKey]) -> KeySet {
    let owned: Vec<SigningKey> = keys.iter().map(|k| (*k).clone()).collect();
    KeySet::from_value(&public_jwks(&owned)).unwrap()
}

fn header(v: Value) -> Claims {
    v.as_object().cloned().unwrap()
}

#[test]
fn every_algorithm_verifies() {
    let algs = [
        Alg::RS256,
        Alg::RS384,
        Alg::RS512,
        Alg::PS256,
        Alg::PS384,
        Alg::PS512,
        Alg::ES256,
        Alg::ES384,
        Alg::EdDSA,
    ];
    let rsa = rsa_key();
    for alg in algs {
        let key = if alg.as_str().starts_with('R') || alg.as_str().starts_with('P') {
            // One RSA key serves all six RSA algorithms when its JWK has no alg.
            rsa.clone()
        } else {
            SigningKey::generate(alg).unwrap()
        };
        let mut jwk = key.public_jwk();
        jwk.as_object_mut().unwrap().remove("alg");
        let keys = KeySet::from_value(&json!({"keys": [jwk]})).unwrap();
        let h = header(json!({"alg": alg.as_str(), "kid": key.kid, "typ": "at+jwt"}));
        let token = key_for(alg, &key).sign_with_header(&h, &claims(json!({})));
        let v = check(&token, &keys).unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(v.alg, alg);
    }
}

/// The RSA key re-labelled for another RSA algorithm (same key material).
fn key_for(alg: Alg, key: &SigningKey) -> SigningKey {
    let mut jwk = key.private_jwk();
    jwk["alg"] = alg.as_str().into();
    SigningKey::from_private_jwk(&jwk).unwrap()
}

#[test]
fn hmac_issuer_verifies_only_with_hs_allowlist() {
    let key = SigningKey::generate(Alg::HS256).unwrap();
    let secret = tokengate::b64_decode(key.private_jwk()["k"].as_str().unwrap()).unwrap();
    let keys = KeySet::from_secret(&secret).unwrap();
    // The shared-secret key set has one key and no kid: tokens carry none either.
    let token = key.sign_with_header(&header(json!({"alg": "HS256"})), &claims(json!({})));
    // Default allowlist is asymmetric only.
    assert_eq!(code(check(&token, &keys)), "alg_not_allowed");
    let mut r = rules().remove(0);
    r.algorithms = vec![Alg::HS256];
    assert_eq!(code(check_with(&token, &keys, &r)), "ok");
    // A short HS256 tag never panics.
    let short = format!(
        "{}.{}",
        token.rsplit_once('.').unwrap().0,
        b64_encode(b"short")
    );
    assert_eq!(code(check_with(&short, &keys, &r)), "signature_invalid");
    assert_eq!(
        KeySet::from_secret(b"too short").unwrap_err().code(),
        "jwks_invalid"
    );
}

#[test]
fn negative_cases_have_stable_codes() {
    let rsa = rsa_key();
    let es = SigningKey::generate(Alg::ES256).unwrap().with_kid("ec");
    let keys = keyset(&[rsa, &es]);
    let good = rsa.sign(&claims(json!({})), None);
    assert_eq!(code(check(&good, &keys)), "ok");

    // alg none, with and without a signature.
    let (hp, _) = good.rsplit_once('.').unwrap();
    let none_h = b64_encode(br#"{"alg":"none","kid":"rsa"}"#);
    let payload = hp.split_once('.').unwrap().1;
    assert_eq!(
        code(check(&format!("{none_h}.{payload}."), &keys)),
        "token_malformed"
    );
    assert_eq!(
        code(check(&format!("{none_h}.{payload}.c2ln"), &keys)),
        "alg_not_allowed"
    );

    // HS256 signed with the RSA public key's bytes (key confusion).
    let n = rsa.public_jwk()["n"].as_str().unwrap().to_string();
    let mut confused = SigningKey::from_private_jwk(
        &json!({"kty":"oct","alg":"HS512","kid":"rsa","k": b64_encode(n.as_bytes())}),
    )
    .unwrap();
    confused = key_for(Alg::HS256, &confused);
    let t = confused.sign(&claims(json!({})), None);
    assert_eq!(code(check(&t, &keys)), "alg_not_allowed");

    // alg/key mismatch: ES256 header on the RSA key's kid.
    let t = es.sign_with_header(
        &header(json!({"alg":"ES256","kid":"rsa"})),
        &claims(json!({})),
    );
    assert_eq!(code(check(&t, &keys)), "alg_not_allowed");
    // RS384 on a key whose JWK says RS256.
    let t = key_for(Alg::RS384, rsa).sign(&claims(json!({})), None);
    assert_eq!(code(check(&t, &keys)), "alg_not_allowed");

    // ECDSA r = s = 0.
    let t = es.sign(&claims(json!({})), None);
    let zero = format!(
        "{}.{}",
        t.rsplit_once('.').unwrap().0,
        b64_encode(&[0u8; 64])
    );
    assert_eq!(code(check(&zero, &keys)), "signature_invalid");

    // Unknown kid.
    let t = SigningKey::generate(Alg::ES256)
        .unwrap()
        .with_kid("other")
        .sign(&claims(json!({})), None);
    assert_eq!(code(check(&t, &keys)), "key_not_found");

    // crit and b64.
    let c = json!({});
    let t = rsa.sign_with_header(
        &header(json!({"alg":"RS256","kid":"rsa","crit":["exp"],"exp":1})),
        &claims(c.clone()),
    );
    assert_eq!(code(check(&t, &keys)), "crit_unsupported");
    let t = rsa.sign_with_header(
        &header(json!({"alg":"RS256","kid":"rsa","b64":false,"crit":["b64"]})),
        &claims(c.clone()),
    );
    assert_eq!(code(check(&t, &keys)), "crit_unsupported");

    // Embedded jwk / jku: never used; the attacker's own signature does not verify.
    let attacker = SigningKey::generate(Alg::ES256).unwrap().with_kid("ec");
    let t = attacker.sign_with_header(
        &header(json!({"alg":"ES256","kid":"ec","jwk": attacker.public_jwk(), "jku": "https://evil.example/jwks"})),
        &claims(c.clone()),
    );
    assert_eq!(code(check(&t, &keys)), "signature_invalid");

    // Time, issuer and audience claims.
    let signed = |extra: Value| rsa.sign(&claims(extra), None);
    assert_eq!(
        code(check(&signed(json!({"exp": NOW - 61})), &keys)),
        "token_expired"
    );
    assert_eq!(code(check(&signed(json!({"exp": NOW - 59})), &keys)), "ok");
    assert_eq!(
        code(check(&signed(json!({"nbf": NOW + 61})), &keys)),
        "token_not_yet_valid"
    );
    assert_eq!(
        code(check(&signed(json!({"iat": NOW + 61})), &keys)),
        "issued_in_future"
    );
    assert_eq!(
        code(check(
            &signed(json!({"iss": "https://evil.example/"})),
            &keys
        )),
        "issuer_mismatch"
    );
    assert_eq!(
        code(check(&signed(json!({"aud": "https://other"})), &keys)),
        "audience_mismatch"
    );
    assert_eq!(
        code(check(&signed(json!({"aud": ["a", AUD]})), &keys)),
        "ok"
    );
    assert_eq!(
        code(check(&signed(json!({"exp": "1700000600"})), &keys)),
        "claim_invalid"
    );
    assert_eq!(
        code(check(&signed(json!({"exp": null})), &keys)),
        "claim_missing"
    );

    // Duplicate sub in the payload.
    let h = b64_encode(br#"{"alg":"RS256","kid":"rsa"}"#);
    let p = b64_encode(
        format!(
            r#"{{"iss":"{ISS}","aud":"{AUD}","exp":{},"sub":"a","sub":"b"}}"#,
            NOW + 60
        )
        .as_bytes(),
    );
    let t = rsa.sign_raw(&format!("{h}.{p}"));
    assert_eq!(code(check(&t, &keys)), "token_malformed");

    // Padded base64.
    let (hp, s) = good.rsplit_once('.').unwrap();
    assert_eq!(code(check(&format!("{hp}.{s}="), &keys)), "token_malformed");
    assert_eq!(
        code(check(&format!("{hp}.{s}=="), &keys)),
        "token_malformed"
    );

    // Size caps come first: a 1 MiB token and 100k dots.
    let big = format!("{good}{}", "A".repeat(1024 * 1024));
    assert_eq!(code(check(&big, &keys)), "token_too_large");
    assert_eq!(code(check(&".".repeat(100_000), &keys)), "token_too_large");
    assert_eq!(
        peek(&".".repeat(100_000), &rules(), 200_000)
            .unwrap_err()
            .code(),
        "token_malformed"
    );
}

#[test]
fn jwks_rules() {
    let rsa = rsa_key();
    // use: enc and key_ops without verify are ignored.
    let mut enc = rsa.public_jwk();
    enc["use"] = "enc".into();
    assert_eq!(
        KeySet::from_value(&json!({"keys": [enc]})).unwrap_err(),
        JwksError::NoUsableKey
    );
    let mut ops = rsa.public_jwk();
    ops.as_object_mut().unwrap().remove("use");
    ops["key_ops"] = json!(["encrypt"]);
    assert_eq!(
        KeySet::from_value(&json!({"keys": [ops.clone()]})).unwrap_err(),
        JwksError::NoUsableKey
    );
    ops["key_ops"] = json!(["verify"]);
    assert!(KeySet::from_value(&json!({"keys": [ops]})).is_ok());

    // A 1024-bit RSA key is ignored; tokens signed with it find no key.
    let small = SigningKey::generate_rsa(Alg::RS256, 1024)
        .unwrap()
        .with_kid("small");
    let es = SigningKey::generate(Alg::ES256).unwrap().with_kid("ec");
    let keys = KeySet::from_value(&public_jwks(&[small.clone(), es.clone()])).unwrap();
    assert_eq!(keys.ignored().len(), 1);
    assert!(keys.ignored()[0].reason.contains("1024"));
    let t = small.sign(&claims(json!({})), None);
    assert_eq!(code(check(&t, &keys)), "key_not_found");

    // Duplicate kids make the whole set invalid, as do mixed secret and public keys.
    let dup = json!({"keys": [es.public_jwk(), es.public_jwk()]});
    assert_eq!(KeySet::from_value(&dup).unwrap_err().code(), "jwks_invalid");
    let hs = SigningKey::generate(Alg::HS256).unwrap();
    let mixed = json!({"keys": [es.public_jwk(), hs.private_jwk()]});
    assert_eq!(
        KeySet::from_value(&mixed).unwrap_err().code(),
        "jwks_invalid"
    );

    // Not JSON, duplicate JSON keys, no keys array.
    assert_eq!(
        KeySet::from_jwks(b"<html>").unwrap_err().code(),
        "jwks_invalid"
    );
    assert_eq!(
        KeySet::from_jwks(br#"{"keys":[],"keys":[]}"#)
            .unwrap_err()
            .code(),
        "jwks_invalid"
    );
    assert_eq!(
        KeySet::from_jwks(br#"{"keys":[]}"#).unwrap_err().code(),
        "jwks_no_usable_key"
    );
}

#[test]
fn kid_less_tokens_need_exactly_one_fitting_key() {
    let a = SigningKey::generate(Alg::ES256).unwrap();
    let b = SigningKey::generate(Alg::ES256).unwrap();
    let ed = SigningKey::generate(Alg::EdDSA).unwrap();
    let t = a.sign_with_header(&header(json!({"alg":"ES256"})), &claims(json!({})));
    let one = KeySet::from_value(&public_jwks(&[a.clone(), ed.clone()])).unwrap();
    assert_eq!(code(check(&t, &one)), "ok");
    let two = KeySet::from_value(&public_jwks(&[a, b])).unwrap();
    assert_eq!(code(check(&t, &two)), "key_not_found");
}

#[test]
fn typ_requirement() {
    let es = SigningKey::generate(Alg::ES256).unwrap();
    let keys = keyset(&[&es]);
    let mut r = rules().remove(0);
    r.required_typ = Some("at+jwt".into());
    for (typ, want) in [
        (Some("at+jwt"), "ok"),
        (Some("application/AT+JWT"), "ok"),
        (Some("JWT"), "typ_mismatch"),
        (None, "typ_mismatch"),
    ] {
        let t = es.sign(&claims(json!({})), typ);
        assert_eq!(code(check_with(&t, &keys, &r)), want, "{typ:?}");
    }
}

#[test]
fn max_age_and_required_claims() {
    let es = SigningKey::generate(Alg::ES256).unwrap();
    let keys = keyset(&[&es]);
    let mut r = rules().remove(0);
    r.max_age = Some(300);
    r.required_claims = vec!["azp".into()];
    let t = es.sign(&claims(json!({"azp": "c"})), None);
    assert_eq!(code(check_with(&t, &keys, &r)), "ok");
    let t = es.sign(&claims(json!({})), None);
    assert_eq!(code(check_with(&t, &keys, &r)), "claim_missing");
    let t = es.sign(&claims(json!({"azp": "c", "iat": NOW - 400})), None);
    assert_eq!(code(check_with(&t, &keys, &r)), "token_too_old");
}

#[test]
fn real_auth0_client_credentials_token() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/real-world/auth0-client-credentials.json"
    );
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let keys = KeySet::from_value(&doc["jwks"]).unwrap();
    let r = IssuerRules::new(
        doc["issuer"].as_str().unwrap(),
        vec![doc["audience"].as_str().unwrap().into()],
    );
    let at = doc["verify_at"].as_u64().unwrap();
    let token = doc["token"].as_str().unwrap();
    let u = peek(token, std::slice::from_ref(&r), 16 * 1024).unwrap();
    let v = verify(&u, &keys, &r, 60, at).unwrap();
    assert_eq!(v.alg, Alg::RS256);
    assert_eq!(v.claims["gty"], "client-credentials");
    // One year later it has expired; a flipped signature bit fails.
    assert_eq!(
        verify(&u, &keys, &r, 60, at + 365 * 86400)
            .unwrap_err()
            .code(),
        "token_expired"
    );
    let mut bad: Vec<char> = token.chars().collect();
    let i = bad.len() - 10;
    bad[i] = if bad[i] == 'A' { 'B' } else { 'A' };
    let bad: String = bad.into_iter().collect();
    let u = peek(&bad, std::slice::from_ref(&r), 16 * 1024).unwrap();
    assert_eq!(
        verify(&u, &keys, &r, 60, at).unwrap_err().code(),
        "signature_invalid"
    );
}
