//! The core without the `rust-crypto` feature (the Worker's build): keys still parse
//! and select algorithms, but the Rust backend answers "invalid" for every RSA, ECDSA
//! and Ed25519 signature, even a valid one (fail closed: the host must check them),
//! while HMAC is still checked in Rust.
//!
//! Run with `cargo test -p tokengate --no-default-features` (and with
//! `--features ed25519`); with the default features only the RSA key checks run here,
//! proving that both builds accept and refuse the same RSA keys.

#[cfg(not(feature = "rust-crypto"))]
use std::path::PathBuf;

use serde_json::json;
#[cfg(not(feature = "rust-crypto"))]
use serde_json::Value;
#[cfg(not(feature = "rust-crypto"))]
use tokengate::verify_jws;
#[cfg(not(feature = "rust-crypto"))]
use tokengate::KeyMaterial;
use tokengate::KeySet;
#[cfg(not(feature = "rust-crypto"))]
use tokengate::{verify_signature, Alg};

#[cfg(not(feature = "rust-crypto"))]
fn load(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors/wycheproof")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
    serde_json::from_str(&text).unwrap()
}

#[cfg(not(feature = "rust-crypto"))]
fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[cfg(not(feature = "rust-crypto"))]
fn public_set(jwk: &Value) -> Result<KeySet, tokengate::JwksError> {
    let mut public = serde_json::Map::new();
    for m in ["kty", "crv", "x", "y", "n", "e", "k"] {
        if let Some(v) = jwk.get(m) {
            public.insert(m.into(), v.clone());
        }
    }
    KeySet::from_value(&json!({ "keys": [public] }))
}

#[cfg(not(feature = "rust-crypto"))]
/// Every case Wycheproof marks valid, with a key from its JWK, is refused here; the
/// key itself loads and gets the algorithm it gets with `rust-crypto`.
fn refuses_valid(file: &str, alg: Alg, min_valid: usize) {
    let doc = load(file);
    let mut refused = 0;
    for group in doc["testGroups"].as_array().unwrap() {
        let Some(jwk) = group.get("publicKeyJwk").or_else(|| group.get("keyJwk")) else {
            continue;
        };
        let set = public_set(jwk).unwrap_or_else(|e| panic!("{file}: key did not load: {e}"));
        let key = &set.keys()[0];
        assert!(
            key.algs.contains(&alg),
            "{file}: {:?} lacks {alg}",
            key.algs
        );
        for t in group["tests"].as_array().unwrap() {
            if t["result"] != "valid" {
                continue;
            }
            let (msg, sig) = (
                hex(t["msg"].as_str().unwrap()),
                hex(t["sig"].as_str().unwrap()),
            );
            assert!(
                !verify_signature(alg, &key.material, &msg, &sig),
                "{file}: case {} verified without rust-crypto",
                t["tcId"]
            );
            refused += 1;
        }
    }
    assert!(
        refused >= min_valid,
        "{file}: only {refused} valid cases, expected at least {min_valid}"
    );
}

#[cfg(not(feature = "rust-crypto"))]
#[test]
fn valid_rsa_signatures_are_refused() {
    refuses_valid("rsa_signature_2048_sha256_test.json", Alg::RS256, 9);
    refuses_valid("rsa_signature_4096_sha256_test.json", Alg::RS256, 7);
    refuses_valid("rsa_pss_2048_sha256_mgf1_32_test.json", Alg::PS256, 1);
}

#[cfg(not(feature = "rust-crypto"))]
#[test]
fn valid_ecdsa_and_ed25519_signatures_are_refused() {
    refuses_valid("ecdsa_secp256r1_sha256_p1363_test.json", Alg::ES256, 50);
    refuses_valid("ecdsa_secp384r1_sha384_p1363_test.json", Alg::ES384, 50);
    refuses_valid("ed25519_test.json", Alg::EdDSA, 80);
}

#[cfg(not(feature = "rust-crypto"))]
#[test]
fn hmac_is_still_checked_in_rust() {
    let doc = load("hmac_sha256_test.json");
    let (mut valid, mut invalid) = (0, 0);
    for group in doc["testGroups"].as_array().unwrap() {
        if group["tagSize"] != 256 || group["keySize"].as_u64().unwrap() < 256 {
            continue;
        }
        for t in group["tests"].as_array().unwrap() {
            let key = KeyMaterial::Hmac(hex(t["key"].as_str().unwrap()));
            let (msg, tag) = (
                hex(t["msg"].as_str().unwrap()),
                hex(t["tag"].as_str().unwrap()),
            );
            let ok = verify_signature(Alg::HS256, &key, &msg, &tag);
            match t["result"].as_str().unwrap() {
                "valid" => {
                    assert!(ok, "case {} refused", t["tcId"]);
                    valid += 1;
                }
                _ => {
                    assert!(!ok, "case {} verified", t["tcId"]);
                    invalid += 1;
                }
            }
        }
    }
    assert!(
        valid >= 10 && invalid >= 10,
        "{valid} valid, {invalid} invalid"
    );
}

/// Whole tokens: Wycheproof's valid asymmetric JWS cases never verify here; its valid
/// HMAC ones still do.
#[cfg(not(feature = "rust-crypto"))]
#[test]
fn valid_asymmetric_tokens_are_refused_and_hmac_tokens_verify() {
    let doc = load("json_web_signature_test.json");
    let (mut refused, mut hmac_ok) = (0, 0);
    for group in doc["testGroups"].as_array().unwrap() {
        let mut jwk = group.get("public").unwrap_or(&group["private"]).clone();
        if let Some(o) = jwk.as_object_mut() {
            o.remove("d");
        }
        let doc = if jwk.get("keys").is_some() {
            jwk
        } else {
            json!({ "keys": [jwk] })
        };
        let Ok(keys) = KeySet::from_value(&doc) else {
            continue;
        };
        let hmac = keys
            .keys()
            .iter()
            .any(|k| matches!(k.material, KeyMaterial::Hmac(_)));
        for t in group["tests"].as_array().unwrap() {
            let (Some(token), "valid") = (t["jws"].as_str(), t["result"].as_str().unwrap()) else {
                continue;
            };
            if hmac {
                let allowed = [Alg::HS256, Alg::HS384, Alg::HS512];
                if verify_jws(token, &keys, &allowed, 16 * 1024).is_ok() {
                    hmac_ok += 1;
                }
            } else {
                assert!(
                    verify_jws(token, &keys, &Alg::ASYMMETRIC, 16 * 1024).is_err(),
                    "case {} verified without rust-crypto",
                    t["tcId"]
                );
                refused += 1;
            }
        }
    }
    assert!(refused >= 5, "only {refused} asymmetric valid tokens");
    assert!(hmac_ok >= 1, "no HMAC token verified");
}

/// The RSA checks without the `rsa` crate refuse what it refuses.
#[test]
fn rsa_keys_are_checked_as_with_rust_crypto() {
    let n_2048 = |last: u8| {
        let mut n = vec![0xc5u8; 256];
        n[255] = last;
        tokengate::b64_encode(&n)
    };
    let e = |bytes: &[u8]| tokengate::b64_encode(bytes);
    let cases = [
        (n_2048(0x01), e(&[1, 0, 1]), None),
        (n_2048(0x02), e(&[1, 0, 1]), Some("invalid modulus")),
        (n_2048(0x01), e(&[1, 0, 0]), Some("invalid exponent")),
        (n_2048(0x01), e(&[1]), Some("public exponent too small")),
        (
            n_2048(0x01),
            e(&[3, 0, 0, 0, 1]),
            Some("public exponent too large"),
        ),
        (
            tokengate::b64_encode(&[0xc5; 128]),
            e(&[1, 0, 1]),
            Some("under 2048"),
        ),
        (
            tokengate::b64_encode(&[0xc5; 1025]),
            e(&[1, 0, 1]),
            Some("modulus too large"),
        ),
    ];
    for (n, e, refused) in cases {
        // A good key beside it, so that the set loads and the bad one is listed as
        // ignored with its reason.
        let doc = json!({"keys": [
            {"kty": "RSA", "n": n, "e": e, "kid": "tested"},
            {"kty": "RSA", "n": n_2048(0x01), "e": "AQAB", "kid": "good"}
        ]});
        let set = KeySet::from_value(&doc).unwrap();
        match refused {
            None => {
                assert!(set.ignored().is_empty());
                assert_eq!(set.keys()[0].algs.len(), 6);
                assert_eq!(set.keys()[0].material.describe(), "RSA-2048");
            }
            Some(why) => {
                assert_eq!(set.keys().len(), 1, "{why}");
                let reason = &set.ignored()[0].reason;
                assert!(reason.contains(why), "{why}: {reason}");
            }
        }
    }
}

/// Without `ed25519` the Ed25519 point is not decoded, but the encodings of the
/// small-order points (with which one signature verifies for every message) are
/// refused at parse time as with it; a real key loads.
#[test]
fn small_order_ed25519_keys_are_refused() {
    let okp = |kid: &str, x: &[u8]| json!({"kty": "OKP", "crv": "Ed25519", "kid": kid, "x": tokengate::b64_encode(x)});
    let mut identity = [0u8; 32];
    identity[0] = 1;
    // An order-8 point, with the sign bit set.
    let mut order8 = [
        0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67,
        0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac,
        0x03, 0x7a,
    ];
    order8[31] |= 0x80;
    // RFC 8032's first test key.
    let real = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
    let real: Vec<u8> = (0..64)
        .step_by(2)
        .map(|i| u8::from_str_radix(&real[i..i + 2], 16).unwrap())
        .collect();
    let set = KeySet::from_value(&json!({"keys": [
        okp("identity", &identity), okp("order8", &order8), okp("real", &real)]}))
    .unwrap();
    assert!(set.has_kid("real"));
    assert_eq!(set.keys().len(), 1);
    let ignored = set.ignored();
    assert_eq!(ignored.len(), 2, "{ignored:?}");
    for i in ignored {
        assert!(i.reason.contains("small order"), "{i:?}");
    }
}

/// Without `hmac-sha512` HS384 and HS512 are left to the host (the Worker checks them
/// through WebCrypto): a correct tag is refused here, HS256 still checks, and
/// `rust_backend_checks` says so.
#[cfg(not(feature = "hmac-sha512"))]
#[test]
fn hs384_and_hs512_are_left_to_the_host_without_hmac_sha512() {
    use hmac::digest::KeyInit;
    use hmac::Mac;
    fn tag<M: Mac + KeyInit>(msg: &[u8]) -> Vec<u8> {
        let mut m = <M as Mac>::new_from_slice(&[7; 64]).unwrap();
        m.update(msg);
        m.finalize().into_bytes().to_vec()
    }
    let key = KeyMaterial::Hmac(vec![7; 64]);
    let msg = b"header.payload";
    let check = |alg, tag: Vec<u8>| verify_signature(alg, &key, msg, &tag);
    assert!(check(Alg::HS256, tag::<hmac::Hmac<sha2::Sha256>>(msg)));
    assert!(!check(Alg::HS384, tag::<hmac::Hmac<sha2::Sha384>>(msg)));
    assert!(!check(Alg::HS512, tag::<hmac::Hmac<sha2::Sha512>>(msg)));
    assert!(tokengate::rust_backend_checks(Alg::HS256));
    assert!(!tokengate::rust_backend_checks(Alg::HS384));
    assert!(!tokengate::rust_backend_checks(Alg::HS512));
    assert!(!tokengate::rust_backend_checks(Alg::RS256));
}

/// With the default features Rust checks every algorithm.
#[cfg(all(feature = "rust-crypto", feature = "hmac-sha512"))]
#[test]
fn rust_checks_every_algorithm_with_the_default_features() {
    for alg in tokengate::Alg::ALL {
        assert!(tokengate::rust_backend_checks(alg), "{alg}");
    }
}
