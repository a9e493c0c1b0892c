//! JSON Web Key Sets: parsing with strict rules, and key selection for a token.
//!
//! Rules applied to a JWKS document:
//! - it must be a JSON object with a `keys` array, without duplicate JSON keys, no
//!   larger than [`MAX_JWKS_BYTES`] and with at most [`MAX_KEYS`] keys;
//! - duplicate `kid`s, or secret (`oct`) keys mixed with public keys, make the whole set
//!   invalid;
//! - keys with `use` other than `sig`, or `key_ops` without `verify`, are ignored;
//! - RSA moduli under 2048 bits (or over 8192) are ignored, as are unknown key types and
//!   curves, keys whose `alg` does not fit their type, and keys whose material does not
//!   decode (off-curve points, wrong lengths);
//! - a set in which no key is usable is an error ([`JwksError::NoUsableKey`]), which the
//!   cache policy counts as a failed fetch.
//!
//! `x5c`, `x5u` and other certificate members are never used.

use serde_json::{Map, Value};

pub use crate::alg::KeyMaterial;
use crate::alg::{key_fits, Alg};
use crate::jws::{b64_decode, parse_json};
use crate::JwksError;

/// The largest JWKS document accepted, in bytes (512 KiB).
pub const MAX_JWKS_BYTES: usize = 512 * 1024;
/// The most keys a JWKS may hold.
pub const MAX_KEYS: usize = 100;
/// The smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;
/// The largest RSA modulus accepted, in bits.
pub const MAX_RSA_BITS: usize = 8192;

/// A usable verification key.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    /// The key id, if the JWK has one.
    pub kid: Option<String>,
    /// The algorithms this key may be used with (from its `alg`, or its type and curve).
    pub algs: Vec<Alg>,
    /// The key material.
    pub material: KeyMaterial,
    /// The public members of the JWK (`kty`, `crv`, `x`, `y`, `n`, `e`), for hosts
    /// that verify through WebCrypto; `None` for shared secrets.
    pub jwk: Option<Value>,
}

/// A key that was present in the JWKS but is not usable, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoredKey {
    /// Its `kid`, if any.
    pub kid: Option<String>,
    /// Why it is ignored (lowercase).
    pub reason: String,
}

/// A parsed key set: the usable keys and the ignored ones.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct KeySet {
    keys: Vec<Key>,
    ignored: Vec<IgnoredKey>,
}

impl KeySet {
    /// Parses a JWKS document (bytes) with the rules in the module docs.
    pub fn from_jwks(json: &[u8]) -> Result<KeySet, JwksError> {
        if json.len() > MAX_JWKS_BYTES {
            return Err(JwksError::Invalid(format!(
                "document is {} bytes, larger than {MAX_JWKS_BYTES}",
                json.len()
            )));
        }
        let doc = parse_json(json).map_err(|why| JwksError::Invalid(format!("document {why}")))?;
        Self::from_value(&doc)
    }

    /// Builds a key set from an already-parsed JWKS JSON value.
    pub fn from_value(doc: &Value) -> Result<KeySet, JwksError> {
        let entries = doc
            .as_object()
            .and_then(|o| o.get("keys"))
            .and_then(Value::as_array)
            .ok_or_else(|| JwksError::Invalid("document has no \"keys\" array".into()))?;
        if entries.len() > MAX_KEYS {
            return Err(JwksError::Invalid(format!(
                "{} keys, more than {MAX_KEYS}",
                entries.len()
            )));
        }
        let mut kids = std::collections::HashSet::new();
        let (mut secret, mut public) = (false, false);
        for e in entries {
            let obj = e
                .as_object()
                .ok_or_else(|| JwksError::Invalid("a key is not a JSON object".into()))?;
            match obj.get("kid") {
                Some(Value::String(kid)) if !kids.insert(kid.as_str()) => {
                    return Err(JwksError::Invalid(format!("duplicate kid {kid:?}")));
                }
                Some(Value::String(_)) => {}
                Some(_) => return Err(JwksError::Invalid("a kid is not a string".into())),
                None => {}
            }
            match obj.get("kty").and_then(Value::as_str) {
                Some("oct") => secret = true,
                Some(_) => public = true,
                None => {}
            }
        }
        if secret && public {
            return Err(JwksError::Invalid(
                "secret (oct) keys are mixed with public keys".into(),
            ));
        }
        let mut set = KeySet::default();
        for e in entries {
            let Some(obj) = e.as_object() else { continue };
            let kid = obj.get("kid").and_then(Value::as_str).map(str::to_owned);
            match parse_key(obj) {
                Ok(key) => {
                    let jwk = match key.1 {
                        KeyMaterial::Hmac(_) => None,
                        _ => {
                            let public: Map<String, Value> = ["kty", "crv", "x", "y", "n", "e"]
                                .iter()
                                .filter_map(|m| obj.get(*m).map(|v| ((*m).to_string(), v.clone())))
                                .collect();
                            Some(Value::Object(public))
                        }
                    };
                    set.keys.push(Key {
                        kid,
                        algs: key.0,
                        material: key.1,
                        jwk,
                    })
                }
                Err(reason) => set.ignored.push(IgnoredKey { kid, reason }),
            }
        }
        if set.keys.is_empty() {
            return Err(JwksError::NoUsableKey);
        }
        Ok(set)
    }

    /// A key set holding one shared secret (for issuers configured with HS* algorithms).
    pub fn from_secret(secret: &[u8]) -> Result<KeySet, JwksError> {
        let material = KeyMaterial::Hmac(secret.to_vec());
        let algs: Vec<Alg> = [Alg::HS256, Alg::HS384, Alg::HS512]
            .into_iter()
            .filter(|a| key_fits(*a, &material))
            .collect();
        if algs.is_empty() {
            return Err(JwksError::Invalid(
                "shared secret is shorter than 32 bytes".into(),
            ));
        }
        Ok(KeySet {
            keys: vec![Key {
                kid: None,
                algs,
                material,
                jwk: None,
            }],
            ignored: Vec::new(),
        })
    }

    /// The usable keys.
    pub fn keys(&self) -> &[Key] {
        &self.keys
    }

    /// The keys present in the document but not usable, with reasons.
    pub fn ignored(&self) -> &[IgnoredKey] {
        &self.ignored
    }

    /// Whether a usable key has this `kid`.
    pub fn has_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid.as_deref() == Some(kid))
    }

    /// Selects the key for a token and the algorithm to verify it with.
    ///
    /// With a `kid`, the key with that id; without, the one usable key that fits (only
    /// when exactly one does). The algorithm is the key's, intersected with `allowed`;
    /// the header's `alg` must name it.
    pub fn select(
        &self,
        kid: Option<&str>,
        header_alg: &str,
        allowed: &[Alg],
    ) -> Result<(&Key, Alg), crate::TokenError> {
        use crate::TokenError as E;
        let alg: Alg = header_alg
            .parse()
            .map_err(|_| E::AlgNotAllowed(format!("{header_alg:?} is not supported")))?;
        if !allowed.contains(&alg) {
            return Err(E::AlgNotAllowed(format!(
                "{alg} is not one of the allowed algorithms"
            )));
        }
        let fits = |k: &Key| k.algs.contains(&alg);
        let key = match kid {
            Some(kid) => {
                let key = self
                    .keys
                    .iter()
                    .find(|k| k.kid.as_deref() == Some(kid))
                    .ok_or_else(|| E::KeyNotFound(format!("no usable key has kid {kid:?}")))?;
                if !fits(key) {
                    return Err(E::AlgNotAllowed(format!(
                        "{alg} does not match key {kid:?} ({})",
                        key.material.describe()
                    )));
                }
                key
            }
            None => {
                let mut candidates = self.keys.iter().filter(|k| fits(k));
                match (candidates.next(), candidates.next()) {
                    (Some(k), None) => k,
                    (None, _) => {
                        return Err(E::KeyNotFound(format!(
                            "token has no kid and no key fits {alg}"
                        )))
                    }
                    (Some(_), Some(_)) => {
                        return Err(E::KeyNotFound(
                            "token has no kid and more than one key fits".into(),
                        ))
                    }
                }
            }
        };
        Ok((key, alg))
    }
}

fn str_field<'a>(obj: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, String> {
    match obj.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("{name} is not a string")),
    }
}

fn bytes_field(obj: &Map<String, Value>, name: &str) -> Result<Vec<u8>, String> {
    let s = str_field(obj, name)?.ok_or_else(|| format!("{name} is missing"))?;
    b64_decode(s).ok_or_else(|| format!("{name} is not strict base64url"))
}

fn parse_key(obj: &Map<String, Value>) -> Result<(Vec<Alg>, KeyMaterial), String> {
    if let Some(u) = str_field(obj, "use")? {
        if u != "sig" {
            return Err(format!("use is {u:?}, not \"sig\""));
        }
    }
    if let Some(ops) = obj.get("key_ops") {
        let ops = ops.as_array().ok_or("key_ops is not an array")?;
        if !ops.iter().any(|o| o.as_str() == Some("verify")) {
            return Err("key_ops does not include \"verify\"".into());
        }
    }
    let kty = str_field(obj, "kty")?.ok_or("kty is missing")?;
    let material = match kty {
        "RSA" => {
            let n = bytes_field(obj, "n")?;
            let e = bytes_field(obj, "e")?;
            if n.first() == Some(&0) || e.first() == Some(&0) {
                return Err("RSA n or e has a leading zero byte".into());
            }
            if roca_fingerprint(&n) {
                return Err("RSA modulus has the ROCA fingerprint (CVE-2017-15361)".into());
            }
            rsa_key(n, e)?
        }
        "EC" => {
            let crv = str_field(obj, "crv")?.ok_or("crv is missing")?;
            let x = bytes_field(obj, "x")?;
            let y = bytes_field(obj, "y")?;
            let len = match crv {
                "P-256" => 32,
                "P-384" => 48,
                other => return Err(format!("curve {other:?} is not supported")),
            };
            if x.len() != len || y.len() != len {
                return Err(format!("{crv} coordinates must be {len} bytes"));
            }
            let mut sec1 = Vec::with_capacity(1 + 2 * len);
            sec1.push(4);
            sec1.extend_from_slice(&x);
            sec1.extend_from_slice(&y);
            ec_key(crv, sec1)?
        }
        "OKP" => {
            let crv = str_field(obj, "crv")?.ok_or("crv is missing")?;
            if crv != "Ed25519" {
                return Err(format!("curve {crv:?} is not supported"));
            }
            let x = bytes_field(obj, "x")?;
            let x: [u8; 32] = x.try_into().map_err(|_| "Ed25519 x must be 32 bytes")?;
            ed25519_key(x)?
        }
        "oct" => {
            let k = bytes_field(obj, "k")?;
            if k.len() < 32 {
                return Err("secret key is shorter than 32 bytes".into());
            }
            KeyMaterial::Hmac(k)
        }
        other => return Err(format!("key type {other:?} is not supported")),
    };
    let algs: Vec<Alg> = match str_field(obj, "alg")? {
        Some(name) => {
            let alg: Alg = name.parse()?;
            if !key_fits(alg, &material) {
                return Err(format!("alg {name} does not fit the key"));
            }
            vec![alg]
        }
        None => Alg::ALL
            .into_iter()
            .filter(|a| key_fits(*a, &material))
            .collect(),
    };
    if algs.is_empty() {
        return Err("no algorithm fits the key".into());
    }
    Ok((algs, material))
}

/// An RSA key from its (leading-zero-free) big-endian members: at least
/// [`MIN_RSA_BITS`] and at most [`MAX_RSA_BITS`], and `e` in 2 ..= 2^33 - 1.
#[cfg(feature = "rust-crypto")]
fn rsa_key(n: Vec<u8>, e: Vec<u8>) -> Result<KeyMaterial, String> {
    let n = rsa::BigUint::from_bytes_be(&n);
    let e = rsa::BigUint::from_bytes_be(&e);
    let bits = n.bits();
    if bits < MIN_RSA_BITS {
        return Err(format!("RSA modulus is {bits} bits, under {MIN_RSA_BITS}"));
    }
    let key = rsa::RsaPublicKey::new_with_max_size(n, e, MAX_RSA_BITS)
        .map_err(|e| format!("RSA key is invalid: {e}"))?;
    Ok(KeyMaterial::Rsa(key))
}

/// As with `rust-crypto`, the same checks and messages as the `rsa` crate's, without it.
#[cfg(not(feature = "rust-crypto"))]
fn rsa_key(n: Vec<u8>, e: Vec<u8>) -> Result<KeyMaterial, String> {
    let key = crate::alg::RsaParts { n, e };
    let bits = key.bits();
    if bits < MIN_RSA_BITS {
        return Err(format!("RSA modulus is {bits} bits, under {MIN_RSA_BITS}"));
    }
    if bits > MAX_RSA_BITS {
        return Err("RSA key is invalid: modulus too large".into());
    }
    let invalid = |m: &str| Err(format!("RSA key is invalid: {m}"));
    if key.e.len() > 8 {
        return invalid("public exponent too large");
    }
    let e = key.e.iter().fold(0u64, |a, b| a << 8 | u64::from(*b));
    // e < n: n has at least 2048 bits, e at most 64 here.
    if key.n.last().is_none_or(|b| b % 2 == 0) {
        return invalid("invalid modulus");
    }
    if e % 2 == 0 {
        return invalid("invalid exponent");
    }
    if e < 2 {
        return invalid("public exponent too small");
    }
    if e > (1 << 33) - 1 {
        return invalid("public exponent too large");
    }
    Ok(KeyMaterial::Rsa(key))
}

/// A P-256 or P-384 public key from its SEC1 uncompressed encoding (`crv` is one of
/// the two).
#[cfg(feature = "rust-crypto")]
fn ec_key(crv: &str, sec1: Vec<u8>) -> Result<KeyMaterial, String> {
    let key = if crv == "P-256" {
        p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1).map(KeyMaterial::P256)
    } else {
        p384::ecdsa::VerifyingKey::from_sec1_bytes(&sec1).map(KeyMaterial::P384)
    };
    key.map_err(|_| format!("{crv} point is not on the curve"))
}

/// Without `rust-crypto` the point is kept as given (the host's import checks it).
#[cfg(not(feature = "rust-crypto"))]
fn ec_key(crv: &str, sec1: Vec<u8>) -> Result<KeyMaterial, String> {
    Ok(if crv == "P-256" {
        KeyMaterial::P256(sec1)
    } else {
        KeyMaterial::P384(sec1)
    })
}

#[cfg(feature = "ed25519")]
fn ed25519_key(x: [u8; 32]) -> Result<KeyMaterial, String> {
    let key = ed25519_dalek::VerifyingKey::from_bytes(&x)
        .map_err(|_| "Ed25519 key is not a valid point")?;
    if key.is_weak() {
        return Err("Ed25519 key has small order".into());
    }
    Ok(KeyMaterial::Ed25519(key))
}

/// Without `ed25519` the key is kept as given (the host's verify decodes the point and
/// fails on one that is not on the curve), except that the encodings of the small-order
/// points are refused here as well: with such a key one signature verifies for every
/// message.
#[cfg(not(feature = "ed25519"))]
fn ed25519_key(x: [u8; 32]) -> Result<KeyMaterial, String> {
    if ed25519_small_order(&x) {
        return Err("Ed25519 key has small order".into());
    }
    Ok(KeyMaterial::Ed25519(x))
}

/// The `y` coordinates (little-endian; bit 255, the sign of `x`, cleared) of the
/// Ed25519 points of order 1, 2, 4 and 8, canonical or not: 0 (order 4), 1 (order 1),
/// the two `y` of the order-8 points, p − 1 (order 2), and p and p + 1 (0 and 1 written
/// unreduced; p = 2^255 − 19). The list libsodium checks public keys against; the tests
/// check it against the eight torsion points of curve25519-dalek.
#[cfg(any(test, not(feature = "ed25519")))]
const ED25519_SMALL_ORDER_Y: [[u8; 32]; 7] = {
    let mut p_minus_1 = [0xff; 32];
    p_minus_1[0] = 0xec;
    p_minus_1[31] = 0x7f;
    let mut p = p_minus_1;
    p[0] = 0xed;
    let mut p_plus_1 = p_minus_1;
    p_plus_1[0] = 0xee;
    let mut one = [0; 32];
    one[0] = 1;
    [
        [0; 32],
        one,
        [
            0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef,
            0x98, 0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88,
            0x6d, 0x53, 0xfc, 0x05,
        ],
        [
            0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10,
            0x67, 0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77,
            0x92, 0xac, 0x03, 0x7a,
        ],
        p_minus_1,
        p,
        p_plus_1,
    ]
};

/// Whether the 32 bytes of an Ed25519 public key encode a point of small order (with
/// either sign bit).
#[cfg(any(test, not(feature = "ed25519")))]
pub(crate) fn ed25519_small_order(x: &[u8; 32]) -> bool {
    let mut y = *x;
    y[31] &= 0x7f;
    ED25519_SMALL_ORDER_Y.contains(&y)
}

/// The small primes of the ROCA test (Nemec et al., CCS 2017): a modulus generated by
/// the vulnerable Infineon library is, modulo each of them, a power of 65537.
const ROCA_PRIMES: [u32; 38] = [
    3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97,
    101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167,
];

/// Whether a big-endian RSA modulus carries the ROCA fingerprint (CVE-2017-15361):
/// for every prime p above, `n mod p` lies in the subgroup generated by 65537. A random
/// modulus passes all 38 checks with negligible probability.
pub fn roca_fingerprint(n_be: &[u8]) -> bool {
    ROCA_PRIMES.iter().all(|&p| {
        let r = n_be
            .iter()
            .fold(0u32, |acc, &b| (acc * 256 + u32::from(b)) % p);
        let g = 65537 % p;
        let mut x = 1u32;
        for _ in 0..p {
            if x == r {
                return true;
            }
            x = x * g % p;
        }
        false
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every encoding of the eight small-order points: their canonical encodings, with
    /// either sign bit, and `y + p` where that still fits in 255 bits.
    fn small_order_encodings() -> Vec<[u8; 32]> {
        let mut out = Vec::new();
        for t in curve25519_dalek::constants::EIGHT_TORSION {
            let enc = t.compress().to_bytes();
            for sign in [0, 0x80] {
                let mut e = enc;
                e[31] = (e[31] & 0x7f) | sign;
                out.push(e);
                // y < 19: y + p = y + 2^255 - 19 is below 2^255 (a non-canonical y).
                if e[1..31].iter().all(|b| *b == 0) && e[31] & 0x7f == 0 && e[0] < 19 {
                    let mut n = [0xff; 32];
                    n[0] = e[0] + 0xed;
                    n[31] = 0x7f | sign;
                    out.push(n);
                }
            }
        }
        out
    }

    #[test]
    fn the_small_order_list_covers_every_encoding_of_the_torsion_points() {
        let all = small_order_encodings();
        // 8 points x 2 signs, plus y + p for y = 0 and y = 1 (2 points of y = 0, 1 of y = 1).
        assert_eq!(all.len(), 16 + 6);
        for e in &all {
            assert!(ed25519_small_order(e), "{e:02x?} is not on the list");
        }
    }

    #[cfg(feature = "ed25519")]
    #[test]
    fn the_small_order_list_names_only_weak_points() {
        // Each listed y with each sign: dalek refuses to decode it or finds it weak.
        for y in ED25519_SMALL_ORDER_Y {
            for sign in [0, 0x80] {
                let mut e = y;
                e[31] |= sign;
                if let Ok(k) = ed25519_dalek::VerifyingKey::from_bytes(&e) {
                    assert!(k.is_weak(), "{e:02x?} decodes to a point of large order");
                }
            }
        }
        // And a real key is not on it.
        let k = ed25519_dalek::SigningKey::from_bytes(&[7; 32]).verifying_key();
        assert!(!ed25519_small_order(k.as_bytes()));
    }
}
