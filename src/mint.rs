//! Signing keys and token minting (jwt-compact underneath), for the demo issuer, the
//! edge token exchange and tests.
//!
//! Keys are generated from the operating system's (or the JS host's) random source
//! through `getrandom`. Private keys serialise to and from JWK (with `d`); the public
//! JWK never contains private members.
//!
//! Without the `rust-crypto` feature only HS* and (with the `ed25519` feature) EdDSA
//! keys exist: the others are [`MintError::Unsupported`].

#[cfg(feature = "rust-crypto")]
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use serde_json::{json, Map, Value};

use crate::alg::Alg;
use crate::jws::{b64_decode, b64_encode};
use crate::Claims;

/// An error creating, reading or using a signing key.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MintError {
    /// The random source failed.
    Random(String),
    /// A private JWK is invalid or of an unsupported type.
    InvalidKey(String),
    /// The algorithm cannot be used for signing here.
    Unsupported(Alg),
}

impl std::fmt::Display for MintError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Random(e) => write!(f, "random source failed: {e}"),
            Self::InvalidKey(e) => write!(f, "invalid signing key: {e}"),
            Self::Unsupported(a) => write!(f, "signing with {a} is not supported"),
        }
    }
}

impl std::error::Error for MintError {}

impl crate::ErrorCode for MintError {
    fn info(&self) -> &'static crate::error::catalogue::CodeInfo {
        match self {
            Self::Random(_) | Self::InvalidKey(_) | Self::Unsupported(_) => {
                &crate::error::catalogue::SIGNING_KEY_INVALID
            }
        }
    }
}

/// Fills `buf` from the system random source.
pub fn random_bytes(buf: &mut [u8]) -> Result<(), MintError> {
    getrandom::getrandom(buf).map_err(|e| MintError::Random(e.to_string()))
}

/// A random identifier: 16 random bytes, base64url (22 characters).
pub fn random_id() -> Result<String, MintError> {
    let mut b = [0u8; 16];
    random_bytes(&mut b)?;
    Ok(b64_encode(&b))
}

#[derive(Clone)]
enum Secret {
    #[cfg(feature = "rust-crypto")]
    Es256(p256::ecdsa::SigningKey),
    #[cfg(feature = "rust-crypto")]
    Es384(p384::ecdsa::SigningKey),
    #[cfg(feature = "ed25519")]
    EdDsa(ed25519_dalek::SigningKey),
    #[cfg(feature = "rust-crypto")]
    Rsa(Alg, Box<rsa::RsaPrivateKey>),
    Hmac(Alg, Vec<u8>),
}

/// A private signing key with its key id.
#[derive(Clone)]
pub struct SigningKey {
    /// The key id published in the JWKS and put in token headers.
    pub kid: String,
    secret: Secret,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg())
            .finish_non_exhaustive()
    }
}

/// The `kid` (non-empty) and `alg` of a private JWK as [`SigningKey::private_jwk`]
/// writes it; the error says which is missing or bad. Every reader of the edge's
/// signing keys (the Rust [`SigningKey`] and the Worker's WebCrypto keys) starts here.
pub fn private_jwk_id(jwk: &Value) -> Result<(String, Alg), String> {
    let kid = jwk
        .get("kid")
        .and_then(Value::as_str)
        .filter(|k| !k.is_empty())
        .ok_or("kid is missing")?
        .to_string();
    let alg: Alg = jwk
        .get("alg")
        .and_then(Value::as_str)
        .ok_or("alg is missing")?
        .parse()?;
    Ok((kid, alg))
}

impl SigningKey {
    /// Generates a new key for `alg` (ES256, ES384, EdDSA; RS*/PS* with 2048 bits; HS*
    /// with a key the size of the hash) with a random `kid`.
    pub fn generate(alg: Alg) -> Result<SigningKey, MintError> {
        let secret = match alg {
            #[cfg(feature = "rust-crypto")]
            Alg::ES256 => Secret::Es256(loop {
                let mut b = [0u8; 32];
                random_bytes(&mut b)?;
                if let Ok(k) = p256::ecdsa::SigningKey::from_slice(&b) {
                    break k;
                }
            }),
            #[cfg(feature = "rust-crypto")]
            Alg::ES384 => Secret::Es384(loop {
                let mut b = [0u8; 48];
                random_bytes(&mut b)?;
                if let Ok(k) = p384::ecdsa::SigningKey::from_slice(&b) {
                    break k;
                }
            }),
            #[cfg(feature = "ed25519")]
            Alg::EdDSA => {
                let mut b = [0u8; 32];
                random_bytes(&mut b)?;
                Secret::EdDsa(ed25519_dalek::SigningKey::from_bytes(&b))
            }
            #[cfg(feature = "rust-crypto")]
            Alg::RS256 | Alg::RS384 | Alg::RS512 | Alg::PS256 | Alg::PS384 | Alg::PS512 => {
                let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048)
                    .map_err(|e| MintError::Random(e.to_string()))?;
                Secret::Rsa(alg, Box::new(key))
            }
            // HS384 and HS512 need `hmac-sha512`.
            Alg::HS256 | Alg::HS384 | Alg::HS512 if crate::alg::rust_backend_checks(alg) => {
                let mut b = vec![0u8; alg.min_hmac_key_len()];
                random_bytes(&mut b)?;
                Secret::Hmac(alg, b)
            }
            _ => return Err(MintError::Unsupported(alg)),
        };
        Ok(SigningKey {
            kid: random_id()?,
            secret,
        })
    }

    /// An RSA key of a chosen size (for tests of the size rules).
    #[cfg(feature = "rust-crypto")]
    pub fn generate_rsa(alg: Alg, bits: usize) -> Result<SigningKey, MintError> {
        if !matches!(
            alg,
            Alg::RS256 | Alg::RS384 | Alg::RS512 | Alg::PS256 | Alg::PS384 | Alg::PS512
        ) {
            return Err(MintError::Unsupported(alg));
        }
        let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, bits)
            .map_err(|e| MintError::Random(e.to_string()))?;
        Ok(SigningKey {
            kid: random_id()?,
            secret: Secret::Rsa(alg, Box::new(key)),
        })
    }

    /// Replaces the key id.
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = kid.into();
        self
    }

    /// The algorithm this key signs with.
    pub fn alg(&self) -> Alg {
        match &self.secret {
            #[cfg(feature = "rust-crypto")]
            Secret::Es256(_) => Alg::ES256,
            #[cfg(feature = "rust-crypto")]
            Secret::Es384(_) => Alg::ES384,
            #[cfg(feature = "ed25519")]
            Secret::EdDsa(_) => Alg::EdDSA,
            #[cfg(feature = "rust-crypto")]
            Secret::Rsa(a, _) => *a,
            Secret::Hmac(a, _) => *a,
        }
    }

    /// The public JWK (`kid`, `alg`, `use: sig` and public members only). For an HMAC
    /// key this is the secret itself: never publish it.
    pub fn public_jwk(&self) -> Value {
        let mut jwk = match &self.secret {
            #[cfg(feature = "rust-crypto")]
            Secret::Es256(k) => {
                let p = k.verifying_key().to_encoded_point(false);
                json!({"kty":"EC","crv":"P-256",
                       "x": b64_encode(p.x().map(|x| &x[..]).unwrap_or_default()),
                       "y": b64_encode(p.y().map(|y| &y[..]).unwrap_or_default())})
            }
            #[cfg(feature = "rust-crypto")]
            Secret::Es384(k) => {
                let p = k.verifying_key().to_encoded_point(false);
                json!({"kty":"EC","crv":"P-384",
                       "x": b64_encode(p.x().map(|x| &x[..]).unwrap_or_default()),
                       "y": b64_encode(p.y().map(|y| &y[..]).unwrap_or_default())})
            }
            #[cfg(feature = "ed25519")]
            Secret::EdDsa(k) => {
                json!({"kty":"OKP","crv":"Ed25519","x": b64_encode(k.verifying_key().as_bytes())})
            }
            #[cfg(feature = "rust-crypto")]
            Secret::Rsa(_, k) => json!({"kty":"RSA",
                "n": b64_encode(&k.n().to_bytes_be()), "e": b64_encode(&k.e().to_bytes_be())}),
            Secret::Hmac(_, k) => json!({"kty":"oct","k": b64_encode(k)}),
        };
        if let Some(o) = jwk.as_object_mut() {
            o.insert("kid".into(), self.kid.clone().into());
            o.insert("alg".into(), self.alg().as_str().into());
            o.insert("use".into(), "sig".into());
        }
        jwk
    }

    /// The private JWK (public members plus `d`, or `k` for HMAC). RSA keys also carry
    /// `p` and `q`.
    pub fn private_jwk(&self) -> Value {
        let mut jwk = self.public_jwk();
        // Without `rust-crypto` and `ed25519` only HMAC keys exist (no `d`).
        #[cfg_attr(
            not(any(feature = "rust-crypto", feature = "ed25519")),
            allow(unused_variables)
        )]
        if let Some(o) = jwk.as_object_mut() {
            match &self.secret {
                #[cfg(feature = "rust-crypto")]
                Secret::Es256(k) => {
                    o.insert("d".into(), b64_encode(&k.to_bytes()).into());
                }
                #[cfg(feature = "rust-crypto")]
                Secret::Es384(k) => {
                    o.insert("d".into(), b64_encode(&k.to_bytes()).into());
                }
                #[cfg(feature = "ed25519")]
                Secret::EdDsa(k) => {
                    o.insert("d".into(), b64_encode(k.as_bytes()).into());
                }
                #[cfg(feature = "rust-crypto")]
                Secret::Rsa(_, k) => {
                    o.insert("d".into(), b64_encode(&k.d().to_bytes_be()).into());
                    if let [p, q, ..] = k.primes() {
                        o.insert("p".into(), b64_encode(&p.to_bytes_be()).into());
                        o.insert("q".into(), b64_encode(&q.to_bytes_be()).into());
                    }
                }
                Secret::Hmac(..) => {}
            }
        }
        jwk
    }

    /// Reads a private JWK (as written by [`SigningKey::private_jwk`]); `kid` and `alg`
    /// are required.
    pub fn from_private_jwk(jwk: &Value) -> Result<SigningKey, MintError> {
        let bad = |m: &str| MintError::InvalidKey(m.to_string());
        let field = |name: &str| -> Result<Vec<u8>, MintError> {
            jwk.get(name)
                .and_then(Value::as_str)
                .and_then(b64_decode)
                .ok_or_else(|| MintError::InvalidKey(format!("{name} is missing or not base64url")))
        };
        let (kid, alg) = private_jwk_id(jwk).map_err(MintError::InvalidKey)?;
        let secret = match alg {
            #[cfg(feature = "rust-crypto")]
            Alg::ES256 => Secret::Es256(
                p256::ecdsa::SigningKey::from_slice(&field("d")?)
                    .map_err(|_| bad("bad P-256 d"))?,
            ),
            #[cfg(feature = "rust-crypto")]
            Alg::ES384 => Secret::Es384(
                p384::ecdsa::SigningKey::from_slice(&field("d")?)
                    .map_err(|_| bad("bad P-384 d"))?,
            ),
            #[cfg(feature = "ed25519")]
            Alg::EdDSA => {
                let d: [u8; 32] = field("d")?
                    .try_into()
                    .map_err(|_| bad("Ed25519 d must be 32 bytes"))?;
                Secret::EdDsa(ed25519_dalek::SigningKey::from_bytes(&d))
            }
            // HS384 and HS512 need `hmac-sha512`.
            Alg::HS256 | Alg::HS384 | Alg::HS512 if crate::alg::rust_backend_checks(alg) => {
                let k = field("k")?;
                if k.len() < alg.min_hmac_key_len() {
                    return Err(bad("hmac key is too short"));
                }
                Secret::Hmac(alg, k)
            }
            #[cfg(feature = "rust-crypto")]
            Alg::RS256 | Alg::RS384 | Alg::RS512 | Alg::PS256 | Alg::PS384 | Alg::PS512 => {
                let n = rsa::BigUint::from_bytes_be(&field("n")?);
                let e = rsa::BigUint::from_bytes_be(&field("e")?);
                let d = rsa::BigUint::from_bytes_be(&field("d")?);
                let primes = vec![
                    rsa::BigUint::from_bytes_be(&field("p")?),
                    rsa::BigUint::from_bytes_be(&field("q")?),
                ];
                let key = rsa::RsaPrivateKey::from_components(n, e, d, primes)
                    .map_err(|e| MintError::InvalidKey(e.to_string()))?;
                Secret::Rsa(alg, Box::new(key))
            }
            _ => return Err(MintError::Unsupported(alg)),
        };
        Ok(SigningKey { kid, secret })
    }

    /// Signs `claims` into a compact JWS with header `{alg, kid, typ}` (`typ` omitted
    /// when `None`).
    pub fn sign(&self, claims: &Claims, typ: Option<&str>) -> String {
        let mut header = Map::new();
        header.insert("alg".into(), self.alg().as_str().into());
        header.insert("kid".into(), self.kid.clone().into());
        if let Some(t) = typ {
            header.insert("typ".into(), t.into());
        }
        self.sign_with_header(&header, claims)
    }

    /// Signs `claims` under an arbitrary `header` (tests use it to forge headers; the
    /// header is used as given).
    pub fn sign_with_header(&self, header: &Claims, claims: &Claims) -> String {
        let h = b64_encode(Value::Object(header.clone()).to_string().as_bytes());
        let p = b64_encode(Value::Object(claims.clone()).to_string().as_bytes());
        self.sign_raw(&format!("{h}.{p}"))
    }

    /// Signs an arbitrary signing input (`header.payload`, already encoded) and returns
    /// the whole compact token.
    pub fn sign_raw(&self, signing_input: &str) -> String {
        let msg = signing_input.as_bytes();
        let sig: Vec<u8> = match &self.secret {
            // RFC 6979 deterministic ECDSA and RFC 8032 Ed25519, as jwt-compact signs.
            #[cfg(feature = "rust-crypto")]
            Secret::Es256(k) => {
                use p256::ecdsa::signature::Signer;
                let s: p256::ecdsa::Signature = k.sign(msg);
                s.to_bytes().to_vec()
            }
            #[cfg(feature = "rust-crypto")]
            Secret::Es384(k) => {
                use jwt_compact::Algorithm;
                crate::alg::Es384.sign(k, msg).0.to_bytes().to_vec()
            }
            #[cfg(feature = "ed25519")]
            Secret::EdDsa(k) => {
                use ed25519_dalek::Signer;
                k.sign(msg).to_bytes().to_vec()
            }
            #[cfg(feature = "rust-crypto")]
            Secret::Rsa(alg, k) => {
                use jwt_compact::{Algorithm, AlgorithmSignature};
                let rsa = jwt_compact::alg::Rsa::with_name(alg.as_str());
                rsa.sign(k, msg).as_bytes().to_vec()
            }
            Secret::Hmac(alg, k) => {
                use hmac::Mac;
                match alg {
                    #[cfg(feature = "hmac-sha512")]
                    Alg::HS384 => {
                        let mut m = hmac::Hmac::<sha2::Sha384>::new_from_slice(k)
                            .expect("hmac accepts any key length");
                        m.update(msg);
                        m.finalize().into_bytes().to_vec()
                    }
                    #[cfg(feature = "hmac-sha512")]
                    Alg::HS512 => {
                        let mut m = hmac::Hmac::<sha2::Sha512>::new_from_slice(k)
                            .expect("hmac accepts any key length");
                        m.update(msg);
                        m.finalize().into_bytes().to_vec()
                    }
                    _ => {
                        let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(k)
                            .expect("hmac accepts any key length");
                        m.update(msg);
                        m.finalize().into_bytes().to_vec()
                    }
                }
            }
        };
        format!("{signing_input}.{}", b64_encode(&sig))
    }
}

/// A JWKS document with the public JWKs of `keys`.
pub fn public_jwks(keys: &[SigningKey]) -> Value {
    json!({ "keys": keys.iter().map(SigningKey::public_jwk).collect::<Vec<_>>() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwk::KeySet;

    #[test]
    fn round_trips_and_publishes_no_private_parts() {
        let mut algs = vec![Alg::HS256];
        if cfg!(feature = "rust-crypto") {
            algs.extend([Alg::ES256, Alg::ES384]);
        }
        if cfg!(feature = "ed25519") {
            algs.push(Alg::EdDSA);
        }
        for alg in algs {
            let k = SigningKey::generate(alg).unwrap();
            let back = SigningKey::from_private_jwk(&k.private_jwk()).unwrap();
            assert_eq!(back.public_jwk(), k.public_jwk());
            if alg != Alg::HS256 {
                assert!(k.public_jwk().get("d").is_none());
                let set = KeySet::from_value(&public_jwks(std::slice::from_ref(&k))).unwrap();
                assert!(set.has_kid(&k.kid));
            }
        }
    }

    /// Without `rust-crypto` the keys whose arithmetic is gone are refused, never
    /// half made.
    #[cfg(not(feature = "rust-crypto"))]
    #[test]
    fn without_rust_crypto_rsa_and_ecdsa_keys_are_unsupported() {
        let mut algs = vec![Alg::RS256, Alg::PS512, Alg::ES256, Alg::ES384];
        if !cfg!(feature = "hmac-sha512") {
            algs.extend([Alg::HS384, Alg::HS512]);
        }
        for alg in algs {
            assert_eq!(
                SigningKey::generate(alg).unwrap_err(),
                MintError::Unsupported(alg)
            );
            let jwk = json!({"kid": "k", "alg": alg.as_str(), "d": "AAAA", "n": "AQAB",
                             "e": "AQAB", "p": "AQAB", "q": "AQAB"});
            assert_eq!(
                SigningKey::from_private_jwk(&jwk).unwrap_err(),
                MintError::Unsupported(alg)
            );
        }
    }
}
