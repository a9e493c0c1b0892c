//! JWS algorithms and signature verification, with jwt-compact underneath.
//!
//! The algorithm used to verify a token is always chosen from the key (its `kty`,
//! `crv` and `alg`) intersected with the configured allowlist; the token header's
//! `alg` must agree with that choice or the token is rejected. jwt-compact has no
//! ES384, so `Es384` implements it through jwt-compact's `Algorithm` trait.
//!
//! Without the `rust-crypto` feature (the Worker's build, where WebCrypto verifies)
//! there is no RSA, ECDSA or Ed25519 arithmetic here: keys are still parsed and
//! matched to algorithms as with it, but [`verify_signature`] answers `false` for every
//! non-HMAC signature, so a signature the host cannot check is invalid (fail closed).
//! HMAC is always checked here.

#[cfg(feature = "rust-crypto")]
use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

#[cfg(feature = "rust-crypto")]
use jwt_compact::alg::{Ed25519, Es256, Rsa};
#[cfg(feature = "rust-crypto")]
use jwt_compact::{Algorithm, AlgorithmSignature};
#[cfg(feature = "rust-crypto")]
use p384::ecdsa::signature::{Signer as _, Verifier as _};
use serde::{Deserialize, Serialize};

/// A JWS algorithm tokengate can verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256 (salt 32).
    PS256,
    /// RSASSA-PSS with SHA-384 (salt 48).
    PS384,
    /// RSASSA-PSS with SHA-512 (salt 64).
    PS512,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// ECDSA on P-384 with SHA-384.
    ES384,
    /// Ed25519.
    EdDSA,
    /// HMAC with SHA-256 (shared-secret issuers only).
    HS256,
    /// HMAC with SHA-384 (shared-secret issuers only).
    HS384,
    /// HMAC with SHA-512 (shared-secret issuers only).
    HS512,
}

impl Alg {
    /// Every algorithm, in a stable order.
    pub const ALL: [Alg; 12] = [
        Alg::RS256,
        Alg::RS384,
        Alg::RS512,
        Alg::PS256,
        Alg::PS384,
        Alg::PS512,
        Alg::ES256,
        Alg::ES384,
        Alg::EdDSA,
        Alg::HS256,
        Alg::HS384,
        Alg::HS512,
    ];

    /// The asymmetric algorithms: the default allowlist.
    pub const ASYMMETRIC: [Alg; 9] = [
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

    /// The JWS name, e.g. `RS256`.
    pub fn as_str(self) -> &'static str {
        match self {
            Alg::RS256 => "RS256",
            Alg::RS384 => "RS384",
            Alg::RS512 => "RS512",
            Alg::PS256 => "PS256",
            Alg::PS384 => "PS384",
            Alg::PS512 => "PS512",
            Alg::ES256 => "ES256",
            Alg::ES384 => "ES384",
            Alg::EdDSA => "EdDSA",
            Alg::HS256 => "HS256",
            Alg::HS384 => "HS384",
            Alg::HS512 => "HS512",
        }
    }

    /// Whether this is an HMAC (shared-secret) algorithm.
    pub fn is_hmac(self) -> bool {
        matches!(self, Alg::HS256 | Alg::HS384 | Alg::HS512)
    }

    /// The minimum HMAC key length in bytes (the hash output size, RFC 7518 §3.2).
    pub fn min_hmac_key_len(self) -> usize {
        match self {
            Alg::HS256 => 32,
            Alg::HS384 => 48,
            Alg::HS512 => 64,
            _ => 0,
        }
    }

    /// Whether this is an RSA algorithm (RS* or PS*).
    pub fn is_rsa(self) -> bool {
        matches!(
            self,
            Alg::RS256 | Alg::RS384 | Alg::RS512 | Alg::PS256 | Alg::PS384 | Alg::PS512
        )
    }

    #[cfg(feature = "rust-crypto")]
    fn rsa(self) -> Option<Rsa> {
        Some(match self {
            Alg::RS256 => Rsa::rs256(),
            Alg::RS384 => Rsa::rs384(),
            Alg::RS512 => Rsa::rs512(),
            Alg::PS256 => Rsa::ps256(),
            Alg::PS384 => Rsa::ps384(),
            Alg::PS512 => Rsa::ps512(),
            _ => return None,
        })
    }
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Alg {
    type Err = String;

    /// Parses a JWS algorithm name; names are case-sensitive, as in RFC 7518.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Alg::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| format!("unsupported algorithm {s:?}"))
    }
}

/// Decoded key material.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum KeyMaterial {
    /// An RSA public key (2048 to 8192 bits).
    #[cfg(feature = "rust-crypto")]
    Rsa(rsa::RsaPublicKey),
    /// An RSA public key (2048 to 8192 bits), as its big-endian members.
    #[cfg(not(feature = "rust-crypto"))]
    Rsa(RsaParts),
    /// A P-256 public key.
    #[cfg(feature = "rust-crypto")]
    P256(p256::ecdsa::VerifyingKey),
    /// A P-256 public key as its SEC1 uncompressed encoding (`04 || x || y`; the point
    /// is not checked to be on the curve without `rust-crypto`: the host's import is).
    #[cfg(not(feature = "rust-crypto"))]
    P256(Vec<u8>),
    /// A P-384 public key.
    #[cfg(feature = "rust-crypto")]
    P384(p384::ecdsa::VerifyingKey),
    /// A P-384 public key as its SEC1 uncompressed encoding (`04 || x || y`; the point
    /// is not checked to be on the curve without `rust-crypto`: the host's import is).
    #[cfg(not(feature = "rust-crypto"))]
    P384(Vec<u8>),
    /// An Ed25519 public key.
    #[cfg(feature = "ed25519")]
    Ed25519(ed25519_dalek::VerifyingKey),
    /// An Ed25519 public key's 32 bytes (not decoded without the `ed25519` feature; the
    /// encodings of the small-order points are refused all the same).
    #[cfg(not(feature = "ed25519"))]
    Ed25519([u8; 32]),
    /// An HMAC shared secret.
    Hmac(Vec<u8>),
}

/// An RSA public key's modulus and exponent (big-endian, no leading zero byte), as
/// kept without the `rust-crypto` feature.
#[cfg(not(feature = "rust-crypto"))]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RsaParts {
    /// The modulus `n`.
    pub n: Vec<u8>,
    /// The public exponent `e`.
    pub e: Vec<u8>,
}

#[cfg(not(feature = "rust-crypto"))]
impl RsaParts {
    /// The size of the modulus in bits.
    pub fn bits(&self) -> usize {
        match self.n.iter().position(|b| *b != 0) {
            Some(i) => (self.n.len() - i) * 8 - self.n[i].leading_zeros() as usize,
            None => 0,
        }
    }
}

impl KeyMaterial {
    /// A short name of the key type, e.g. `RSA-2048`, `P-256`.
    pub fn describe(&self) -> String {
        #[cfg(feature = "rust-crypto")]
        use rsa::traits::PublicKeyParts;
        match self {
            #[cfg(feature = "rust-crypto")]
            KeyMaterial::Rsa(k) => format!("RSA-{}", k.n().bits()),
            #[cfg(not(feature = "rust-crypto"))]
            KeyMaterial::Rsa(k) => format!("RSA-{}", k.bits()),
            KeyMaterial::P256(_) => "P-256".into(),
            KeyMaterial::P384(_) => "P-384".into(),
            KeyMaterial::Ed25519(_) => "Ed25519".into(),
            KeyMaterial::Hmac(k) => format!("oct-{}", k.len() * 8),
        }
    }
}

/// Whether `key` can be used with `alg` at all (key type, curve, and for HMAC the key
/// length), irrespective of configuration.
pub fn key_fits(alg: Alg, key: &KeyMaterial) -> bool {
    match key {
        KeyMaterial::Rsa(_) => alg.is_rsa(),
        KeyMaterial::P256(_) => alg == Alg::ES256,
        KeyMaterial::P384(_) => alg == Alg::ES384,
        KeyMaterial::Ed25519(_) => alg == Alg::EdDSA,
        KeyMaterial::Hmac(k) => alg.is_hmac() && k.len() >= alg.min_hmac_key_len(),
    }
}

/// Verifies `signature` over `message` with `key` under `alg`.
///
/// Returns `false` for any mismatch, including a key that does not fit the algorithm
/// and a signature of the wrong length; it never panics. Without the `rust-crypto`
/// feature only HMAC is checked: every other signature is invalid here.
pub fn verify_signature(alg: Alg, key: &KeyMaterial, message: &[u8], signature: &[u8]) -> bool {
    if !key_fits(alg, key) {
        return false;
    }
    #[cfg(not(feature = "rust-crypto"))]
    return match key {
        KeyMaterial::Hmac(secret) => verify_hmac(alg, secret, message, signature),
        _ => false,
    };
    #[cfg(feature = "rust-crypto")]
    match key {
        KeyMaterial::Rsa(pk) => match (
            alg.rsa(),
            jwt_compact::alg::RsaSignature::try_from_slice(signature),
        ) {
            (Some(rsa), Ok(sig)) => rsa.verify_signature(&sig, pk, message),
            _ => false,
        },
        KeyMaterial::P256(pk) => {
            match <p256::ecdsa::Signature as AlgorithmSignature>::try_from_slice(signature) {
                Ok(sig) => Es256.verify_signature(&sig, pk, message),
                Err(_) => false,
            }
        }
        KeyMaterial::P384(pk) => match Es384Signature::try_from_slice(signature) {
            Ok(sig) => Es384.verify_signature(&sig, pk, message),
            Err(_) => false,
        },
        KeyMaterial::Ed25519(pk) => {
            match <ed25519_dalek::Signature as AlgorithmSignature>::try_from_slice(signature) {
                Ok(sig) => Ed25519Strict.verify_signature(&sig, pk, message),
                Err(_) => false,
            }
        }
        KeyMaterial::Hmac(secret) => verify_hmac(alg, secret, message, signature),
    }
}

/// HMAC verification with the `hmac` crate: the tag must be the full hash length and
/// is compared in constant time.
fn verify_hmac(alg: Alg, secret: &[u8], message: &[u8], signature: &[u8]) -> bool {
    use hmac::Mac;
    macro_rules! check {
        ($hash:ty) => {
            match hmac::Hmac::<$hash>::new_from_slice(secret) {
                Ok(mut mac) => {
                    mac.update(message);
                    mac.verify_slice(signature).is_ok()
                }
                Err(_) => false,
            }
        };
    }
    match alg {
        Alg::HS256 => check!(sha2::Sha256),
        #[cfg(feature = "hmac-sha512")]
        Alg::HS384 => check!(sha2::Sha384),
        #[cfg(feature = "hmac-sha512")]
        Alg::HS512 => check!(sha2::Sha512),
        _ => false,
    }
}

/// Whether [`verify_signature`] checks `alg` in this build (rather than answering
/// "invalid" for every signature, leaving the check to a host backend): every
/// algorithm with `rust-crypto`; without it HS256, and HS384/HS512 with `hmac-sha512`.
pub const fn rust_backend_checks(alg: Alg) -> bool {
    let hmac_sha512 = cfg!(feature = "hmac-sha512");
    let arithmetic = cfg!(feature = "rust-crypto");
    match alg {
        Alg::HS256 => true,
        Alg::HS384 | Alg::HS512 => hmac_sha512,
        _ => arithmetic,
    }
}

/// ECDSA on P-384 with SHA-384 (`ES384`), in the JWS (IEEE P1363, `r || s`) encoding.
#[cfg(feature = "rust-crypto")]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Es384;

/// An ES384 signature (`r || s`, 96 bytes).
#[cfg(feature = "rust-crypto")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Es384Signature(pub p384::ecdsa::Signature);

#[cfg(feature = "rust-crypto")]
impl AlgorithmSignature for Es384Signature {
    const LENGTH: Option<std::num::NonZeroUsize> = std::num::NonZeroUsize::new(96);

    fn try_from_slice(slice: &[u8]) -> anyhow::Result<Self> {
        p384::ecdsa::Signature::try_from(slice)
            .map(Es384Signature)
            .map_err(|e| anyhow::anyhow!(e))
    }

    fn as_bytes(&self) -> Cow<'_, [u8]> {
        Cow::Owned(self.0.to_bytes().to_vec())
    }
}

#[cfg(feature = "rust-crypto")]
impl Algorithm for Es384 {
    type SigningKey = p384::ecdsa::SigningKey;
    type VerifyingKey = p384::ecdsa::VerifyingKey;
    type Signature = Es384Signature;

    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed("ES384")
    }

    fn sign(&self, signing_key: &Self::SigningKey, message: &[u8]) -> Self::Signature {
        Es384Signature(signing_key.sign(message))
    }

    fn verify_signature(
        &self,
        signature: &Self::Signature,
        verifying_key: &Self::VerifyingKey,
        message: &[u8],
    ) -> bool {
        verifying_key.verify(message, &signature.0).is_ok()
    }
}

/// Ed25519 (`EdDSA`) with strict verification (RFC 8032 §5.1.7 checks plus rejection of
/// small-order keys and non-canonical encodings), through jwt-compact's trait.
#[cfg(feature = "rust-crypto")]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ed25519Strict;

#[cfg(feature = "rust-crypto")]
impl Algorithm for Ed25519Strict {
    type SigningKey = ed25519_dalek::SigningKey;
    type VerifyingKey = ed25519_dalek::VerifyingKey;
    type Signature = ed25519_dalek::Signature;

    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed("EdDSA")
    }

    fn sign(&self, signing_key: &Self::SigningKey, message: &[u8]) -> Self::Signature {
        Ed25519.sign(signing_key, message)
    }

    fn verify_signature(
        &self,
        signature: &Self::Signature,
        verifying_key: &Self::VerifyingKey,
        message: &[u8],
    ) -> bool {
        verifying_key.verify_strict(message, signature).is_ok()
    }
}
