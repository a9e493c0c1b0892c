//! Keys made by the npm package's `tokengate keygen` (node:crypto) are keys the Rust
//! side reads: `tests/vectors/cli-keygen/rotated.json` (see its README) through
//! `SigningKey::from_private_jwk`, the parser of the signing keys `cargo run --example
//! keygen` writes, with the public members the CLI wrote matching the ones Rust derives
//! from `d`, the same members as a Rust-made key, and the text serde_json would write.

use serde_json::Value;
use tokengate::{private_jwk_id, Alg, SigningKey};

const FIXTURE: &str = include_str!("vectors/cli-keygen/rotated.json");

#[test]
fn cli_keys_are_read_by_the_rust_parser() {
    let doc: Value = serde_json::from_str(FIXTURE).unwrap();
    let keys = doc["keys"].as_array().expect("a keys array");
    // The rotation: the new (EdDSA) key first, then the old set's current (ES256) key.
    let algs: Vec<Alg> = keys.iter().map(|k| private_jwk_id(k).unwrap().1).collect();
    assert_eq!(algs, [Alg::EdDSA, Alg::ES256]);
    for jwk in keys {
        let key = SigningKey::from_private_jwk(jwk).unwrap_or_else(|e| panic!("{jwk}: {e}"));
        // Rust derives the public key from `d`: it must be the one the CLI wrote.
        assert_eq!(&key.private_jwk(), jwk, "the CLI's key, rewritten by Rust");
        let mut public = jwk.clone();
        public.as_object_mut().unwrap().remove("d");
        assert_eq!(key.public_jwk(), public);
        // The members of a key `cargo run --example keygen` makes.
        let made = SigningKey::generate(key.alg()).unwrap().private_jwk();
        let names = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(names(jwk), names(&made));
        assert_eq!(
            jwk["kid"].as_str().unwrap().len(),
            made["kid"].as_str().unwrap().len()
        );
        // Its public key is one the verifier's key-set parser takes.
        let set = tokengate::public_jwks(std::slice::from_ref(&key));
        let parsed = tokengate::KeySet::from_value(&set).unwrap();
        assert!(parsed.has_kid(jwk["kid"].as_str().unwrap()));
    }
    // The exact text serde_json writes (one line, members sorted), as the example prints.
    assert_eq!(FIXTURE.trim_end(), doc.to_string());
}
