//! JWS algorithms and signature verification, with jwt-compact underneath.
//!
//! The algorithm used to verify a token is always chosen from the key (its `kty`,
//! `crv` and `alg`) intersected with the configured allowlist; the token header's
//! `alg` must agree with that choice or the token is rejected. jwt-compact has no
//! ES384, so [`Es384`] implements it through jwt-compact's [`Algorithm`] trait.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use jwt_compact::alg::{Ed25519, Es256, Hs256, Hs256Key, Hs384, Hs384Key, Hs512, Hs512Key, Rsa};
use jwt_compact::{Algorithm, AlgorithmSignature};
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
    Rsa(rsa::RsaPublicKey),
    /// A P-256 public key.
    P256(p256::ecdsa::VerifyingKey),
    /// A P-384 public key.
    P384(p384::ecdsa::VerifyingKey),
    /// An Ed25519 public key.
    Ed25519(ed25519_dalek::VerifyingKey),
    /// An HMAC shared secret.
    Hmac(Vec<u8>),
}

impl KeyMaterial {
    /// A short name of the key type, e.g. `RSA-2048`, `P-256`.
    pub fn describe(&self) -> String {
        use rsa::traits::PublicKeyParts;
        match self {
            KeyMaterial::Rsa(k) => format!("RSA-{}", k.n().bits()),
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
        KeyMaterial::Rsa(_) => alg.rsa().is_some(),
        KeyMaterial::P256(_) => alg == Alg::ES256,
        KeyMaterial::P384(_) => alg == Alg::ES384,
        KeyMaterial::Ed25519(_) => alg == Alg::EdDSA,
        KeyMaterial::Hmac(k) => alg.is_hmac() && k.len() >= alg.min_hmac_key_len(),
    }
}

/// Verifies `signature` over `message` with `key` under `alg`.
///
/// Returns `false` for any mismatch, including a key that does not fit the algorithm
/// and a signature of the wrong length; it never panics.
pub fn verify_signature(alg: Alg, key: &KeyMaterial, message: &[u8], signature: &[u8]) -> bool {
    if !key_fits(alg, key) {
        return false;
    }
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

fn verify_hmac(alg: Alg, secret: &[u8], message: &[u8], signature: &[u8]) -> bool {
    // jwt-compact's HMAC signatures panic on a slice of the wrong length: check first.
    macro_rules! check {
        ($alg:expr, $key:ty, $len:expr) => {{
            if signature.len() != $len {
                return false;
            }
            match AlgorithmSignature::try_from_slice(signature) {
                Ok(sig) => $alg.verify_signature(&sig, &<$key>::new(secret), message),
                Err(_) => false,
            }
        }};
    }
    match alg {
        Alg::HS256 => check!(Hs256, Hs256Key, 32),
        Alg::HS384 => check!(Hs384, Hs384Key, 48),
        Alg::HS512 => check!(Hs512, Hs512Key, 64),
        _ => false,
    }
}

/// ECDSA on P-384 with SHA-384 (`ES384`), in the JWS (IEEE P1363, `r || s`) encoding.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Es384;

/// An ES384 signature (`r || s`, 96 bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Es384Signature(pub p384::ecdsa::Signature);

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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ed25519Strict;

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
