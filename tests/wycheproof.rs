//! Project Wycheproof vectors (tests/vectors/wycheproof) at the signature layer and
//! at the JWS/JWKS layer. Every file prints its counts.
//!
//! Choices (documented in the README):
//! - "acceptable" RSA PKCS#1 v1.5 cases (a DigestInfo without the NULL parameter) are
//!   rejected: only the canonical encoding verifies.
//! - JWS cases that Wycheproof marks valid but that tokengate rejects by design are
//!   listed in `REJECTED_BY_DESIGN` with the reason; every other case must match.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;
use tokengate::verify_jws;
use tokengate::{verify_signature, Alg};
use tokengate::{KeyMaterial, KeySet};

fn vectors_dir() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("tests/vectors/wycheproof");
    assert!(
        dir.is_dir(),
        "Wycheproof vectors not found at {} (tests/vectors/wycheproof is part of the repository)",
        dir.display()
    );
    dir
}

fn load(name: &str) -> Value {
    let path = vectors_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
    serde_json::from_str(&text).unwrap()
}

/// Guards against a truncated or empty vector file: the cases a test ran must be all of
/// the file's `numberOfTests`, and at least `min_valid` / `min_invalid` of each kind
/// (the counts of the files as vendored), so that a test cannot pass on fewer cases.
fn assert_case_counts(
    file: &str,
    doc: &Value,
    ran: usize,
    valid: usize,
    invalid: usize,
    min: (usize, usize),
) {
    let declared = doc["numberOfTests"]
        .as_u64()
        .unwrap_or_else(|| panic!("{file}: no numberOfTests"));
    assert_eq!(
        ran as u64, declared,
        "{file}: ran {ran} cases, the file declares {declared}"
    );
    assert!(
        valid >= min.0 && invalid >= min.1,
        "{file}: {valid} valid and {invalid} invalid cases, expected at least {} and {}",
        min.0,
        min.1
    );
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[derive(Default, Debug)]
struct Counts {
    valid: usize,
    invalid: usize,
    acceptable: usize,
    rejected_by_design: usize,
}

fn key_from_jwk(jwk: &Value) -> KeyMaterial {
    // Wycheproof JWKs may carry private parts and no `use`; take the public members.
    let mut public = serde_json::Map::new();
    for m in ["kty", "crv", "x", "y", "n", "e", "k"] {
        if let Some(v) = jwk.get(m) {
            public.insert(m.into(), v.clone());
        }
    }
    let set = KeySet::from_value(&serde_json::json!({ "keys": [public] }))
        .unwrap_or_else(|e| panic!("key did not load: {e}"));
    set.keys()[0].material.clone()
}

fn ec_key_from_uncompressed(group: &Value, p384: bool) -> Option<KeyMaterial> {
    let point = hex(group["publicKey"]["uncompressed"].as_str()?);
    Some(if p384 {
        KeyMaterial::P384(p384::ecdsa::VerifyingKey::from_sec1_bytes(&point).ok()?)
    } else {
        KeyMaterial::P256(p256::ecdsa::VerifyingKey::from_sec1_bytes(&point).ok()?)
    })
}

/// Runs a primitive file: every `valid` case must verify, every `invalid` one must not,
/// and `acceptable` ones are rejected (our documented choice). `min` is the least number
/// of (valid, invalid) cases the file must hold.
fn primitive(file: &str, alg: Alg, min: (usize, usize)) -> Counts {
    let doc = load(file);
    let mut counts = Counts::default();
    let mut failures = Vec::new();
    for group in doc["testGroups"].as_array().unwrap() {
        let jwk = group.get("publicKeyJwk").or_else(|| group.get("keyJwk"));
        let key = match jwk {
            Some(jwk) => Some(key_from_jwk(jwk)),
            None => ec_key_from_uncompressed(group, alg == Alg::ES384),
        };
        for t in group["tests"].as_array().unwrap() {
            let id = t["tcId"].as_u64().unwrap();
            let msg = hex(t["msg"].as_str().unwrap());
            let sig = hex(t["sig"].as_str().unwrap());
            let ok = key
                .as_ref()
                .is_some_and(|k| verify_signature(alg, k, &msg, &sig));
            let result = t["result"].as_str().unwrap();
            let expected = match result {
                "valid" => {
                    counts.valid += 1;
                    true
                }
                "invalid" => {
                    counts.invalid += 1;
                    false
                }
                "acceptable" => {
                    counts.acceptable += 1;
                    false
                }
                other => panic!("unknown result {other}"),
            };
            if ok != expected {
                failures.push(format!("{file} tcId {id} ({result}): {}", t["comment"]));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_case_counts(
        file,
        &doc,
        counts.valid + counts.invalid + counts.acceptable,
        counts.valid,
        counts.invalid,
        min,
    );
    println!(
        "wycheproof {file}: {} valid verified, {} invalid rejected, {} acceptable rejected",
        counts.valid, counts.invalid, counts.acceptable
    );
    counts
}

#[test]
fn rsa_pkcs1_sha256_2048() {
    let c = primitive("rsa_signature_2048_sha256_test.json", Alg::RS256, (9, 249));
    assert!(c.valid > 0 && c.invalid > 200);
}

#[test]
fn rsa_pkcs1_sha384_2048() {
    primitive("rsa_signature_2048_sha384_test.json", Alg::RS384, (7, 250));
}

#[test]
fn rsa_pkcs1_sha512_2048() {
    primitive("rsa_signature_2048_sha512_test.json", Alg::RS512, (8, 250));
}

#[test]
fn rsa_pkcs1_sha256_3072() {
    primitive("rsa_signature_3072_sha256_test.json", Alg::RS256, (8, 250));
}

#[test]
fn rsa_pkcs1_sha256_4096() {
    primitive("rsa_signature_4096_sha256_test.json", Alg::RS256, (7, 250));
}

#[test]
fn rsa_pss_sha256() {
    primitive(
        "rsa_pss_2048_sha256_mgf1_32_test.json",
        Alg::PS256,
        (63, 45),
    );
}

#[test]
fn rsa_pss_sha384() {
    primitive(
        "rsa_pss_2048_sha384_mgf1_48_test.json",
        Alg::PS384,
        (95, 46),
    );
}

#[test]
fn rsa_pss_sha512() {
    primitive(
        "rsa_pss_4096_sha512_mgf1_64_test.json",
        Alg::PS512,
        (132, 47),
    );
}

#[test]
fn ecdsa_p256() {
    let c = primitive(
        "ecdsa_secp256r1_sha256_p1363_test.json",
        Alg::ES256,
        (173, 89),
    );
    assert!(c.valid > 100);
}

#[test]
fn ecdsa_p384() {
    let c = primitive(
        "ecdsa_secp384r1_sha384_p1363_test.json",
        Alg::ES384,
        (193, 87),
    );
    assert!(c.valid > 100);
}

#[test]
fn ed25519() {
    primitive("ed25519_test.json", Alg::EdDSA, (88, 63));
}

#[test]
fn hmac_sha256() {
    // JWS HS256 uses the full 256-bit tag and keys of at least 256 bits: groups with a
    // truncated tag or a shorter key must be rejected whatever Wycheproof's result.
    let doc = load("hmac_sha256_test.json");
    let mut counts = Counts::default();
    let mut failures = Vec::new();
    for group in doc["testGroups"].as_array().unwrap() {
        let tag_size = group["tagSize"].as_u64().unwrap();
        let key_size = group["keySize"].as_u64().unwrap();
        for t in group["tests"].as_array().unwrap() {
            let key = hex(t["key"].as_str().unwrap());
            let msg = hex(t["msg"].as_str().unwrap());
            let tag = hex(t["tag"].as_str().unwrap());
            let ok = verify_signature(Alg::HS256, &KeyMaterial::Hmac(key), &msg, &tag);
            let usable = tag_size == 256 && key_size >= 256;
            let expected = match t["result"].as_str().unwrap() {
                "valid" if usable => {
                    counts.valid += 1;
                    true
                }
                "valid" => {
                    counts.rejected_by_design += 1;
                    false
                }
                _ => {
                    counts.invalid += 1;
                    false
                }
            };
            if ok != expected {
                failures.push(format!("tcId {} {}", t["tcId"], t["comment"]));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:?}");
    assert!(counts.valid > 0);
    assert_case_counts(
        "hmac_sha256_test.json",
        &doc,
        counts.valid + counts.rejected_by_design + counts.invalid,
        counts.valid + counts.rejected_by_design,
        counts.invalid,
        (66, 108),
    );
    println!(
        "wycheproof hmac_sha256_test.json: {} valid verified, {} invalid rejected, {} valid-but-truncated-tag-or-short-key rejected by design",
        counts.valid, counts.invalid, counts.rejected_by_design
    );
}

/// JWS cases whose token is byte-identical to a valid case (tcId 357): the padding
/// their comment describes is not in the vector, so they verify. The test checks the
/// identity rather than trusting this note.
const IDENTICAL_TO_VALID: &[(u64, u64)] = &[(367, 357), (370, 357)];

/// JWS cases Wycheproof marks valid that tokengate rejects on purpose.
const REJECTED_BY_DESIGN: &[(u64, &str)] = &[
    (347, "ES512 (P-521) is not supported"),
    (351, "ES512 (P-521) is not supported"),
    (
        346,
        "the key's alg is PS256 and the header says PS384: the key's alg decides",
    ),
    (
        350,
        "the key's alg is PS256 and the header says PS384: the key's alg decides",
    ),
    (
        372,
        "a non-base64url character in the header: tokengate accepts strict base64url only",
    ),
    (
        373,
        "a non-base64url character in the payload: tokengate accepts strict base64url only",
    ),
];

fn jws_keyset(group: &Value) -> KeySet {
    let jwk = group.get("public").unwrap_or(&group["private"]);
    let mut jwk = jwk.clone();
    if let Some(o) = jwk.as_object_mut() {
        o.remove("d");
    }
    let doc = if jwk.get("keys").is_some() {
        jwk
    } else {
        serde_json::json!({ "keys": [jwk] })
    };
    KeySet::from_value(&doc).unwrap_or_default()
}

/// Runs a JWS/JWK file; `min` is the least number of (valid, invalid) cases it must hold.
fn run_jws_file(file: &str, min: (usize, usize)) -> BTreeMap<&'static str, usize> {
    let doc = load(file);
    let mut counts = BTreeMap::new();
    let mut failures = Vec::new();
    let by_id: BTreeMap<u64, &str> = doc["testGroups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["tests"].as_array().unwrap())
        .filter_map(|t| Some((t["tcId"].as_u64()?, t["jws"].as_str()?)))
        .collect();
    for group in doc["testGroups"].as_array().unwrap() {
        let keys = jws_keyset(group);
        let hmac = keys
            .keys()
            .iter()
            .any(|k| matches!(k.material, KeyMaterial::Hmac(_)));
        let allowed: Vec<Alg> = if hmac {
            vec![Alg::HS256, Alg::HS384, Alg::HS512]
        } else {
            Alg::ASYMMETRIC.to_vec()
        };
        for t in group["tests"].as_array().unwrap() {
            let id = t["tcId"].as_u64().unwrap();
            let outcome = match t["jws"].as_str() {
                Some(token) => verify_jws(token, &keys, &allowed, 16 * 1024),
                // The JSON serialisation is never accepted.
                None => Err(tokengate::TokenError::Malformed(
                    "json serialisation".into(),
                )),
            };
            let by_design = REJECTED_BY_DESIGN.iter().find(|(i, _)| *i == id);
            let result = t["result"].as_str().unwrap();
            let twin = IDENTICAL_TO_VALID
                .iter()
                .find(|(i, _)| *i == id)
                .filter(|(_, valid)| by_id.get(valid) == by_id.get(&id));
            let expected = (result == "valid" && by_design.is_none()) || twin.is_some();
            let key = match (result, by_design) {
                _ if twin.is_some() => "invalid identical to a valid case, verified",
                ("valid", None) => "valid verified",
                ("valid", Some(_)) => "valid rejected by design",
                _ => "invalid rejected",
            };
            *counts.entry(key).or_insert(0) += 1;
            if outcome.is_ok() != expected {
                failures.push(format!(
                    "{file} tcId {id} {} expected {result}, got {outcome:?}",
                    t["comment"]
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
    let valid = counts.get("valid verified").copied().unwrap_or(0)
        + counts.get("valid rejected by design").copied().unwrap_or(0);
    assert_case_counts(
        file,
        &doc,
        counts.values().sum(),
        valid,
        counts.values().sum::<usize>() - valid,
        min,
    );
    println!("wycheproof {file}: {counts:?}");
    counts
}

#[test]
fn json_web_signature() {
    let c = run_jws_file("json_web_signature_test.json", (46, 355));
    assert!(c["valid verified"] >= 40);
    assert_eq!(c["valid rejected by design"], 6);
    assert_eq!(c["invalid identical to a valid case, verified"], 2);
}

#[test]
fn json_web_key() {
    let c = run_jws_file("json_web_key_test.json", (5, 21));
    assert!(c["valid verified"] >= 4);
}
