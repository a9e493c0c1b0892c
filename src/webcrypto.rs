//! Signature checks through the host's WebCrypto (`globalThis.crypto.subtle`), for the
//! Worker and the JS bindings (features `worker` and `js`).
//!
//! RSA and elliptic-curve arithmetic compiled to WebAssembly is several times slower
//! than the host's native code behind WebCrypto. [`check`] therefore asks WebCrypto
//! first and falls back to the portable Rust backend ([`verify_signature`], the
//! reference) when WebCrypto cannot do the check: HMAC keys (they have no public JWK),
//! a host without `crypto.subtle`, or a key the host will not import for that
//! algorithm (for example Ed25519 on a runtime without it).
//!
//! | JWS | `importKey` | `verify` |
//! |---|---|---|
//! | RS256/384/512 | `RSASSA-PKCS1-v1_5`, SHA-256/384/512 | `RSASSA-PKCS1-v1_5` |
//! | PS256/384/512 | `RSA-PSS`, SHA-256/384/512 | `RSA-PSS`, saltLength 32/48/64 |
//! | ES256, ES384 | `ECDSA`, P-256/P-384 | `ECDSA`, SHA-256/384 (raw `r‖s`, as in JWS) |
//! | EdDSA | `Ed25519` | `Ed25519` |
//!
//! Imported `CryptoKey`s are kept per isolate (thread) in a small map keyed by the
//! algorithm and the key's public JWK, so each key is imported once; an import that
//! failed is remembered too (that key then always goes to Rust). The map holds at most
//! [`MAX_KEYS`] entries and is emptied when full. Keying by the JWK itself (not by a
//! key-set generation or `kid`) keeps verifiers and issuers from ever sharing a wrong
//! key.
//!
//! Once a key is imported, a `verify` that throws or rejects (a malformed signature)
//! counts as an invalid signature. Signatures of the wrong length for ECDSA and
//! Ed25519 are rejected before WebCrypto is asked. Nothing here panics.

use std::cell::RefCell;
use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use serde_json::Value;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::alg::{key_fits, verify_signature, Alg};
use crate::gate::SignatureCheck;

/// The most imported keys kept per isolate.
pub const MAX_KEYS: usize = 128;

/// Which backend checks signatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    /// WebCrypto where the host can do the check, the Rust backend otherwise.
    #[default]
    WebCrypto,
    /// The Rust backend only (portable; the reference).
    Wasm,
}

impl Backend {
    /// Parses `"webcrypto"` or `"wasm"`.
    pub fn parse(name: &str) -> Option<Backend> {
        match name {
            "webcrypto" => Some(Backend::WebCrypto),
            "wasm" => Some(Backend::Wasm),
            _ => None,
        }
    }
}

/// An imported key and its `verify` parameters; `None` when the import failed.
type Entry = Option<(JsValue, JsValue)>;

/// A cached import: the algorithm and public JWK it was made for, and its outcome.
struct Cached {
    alg: Alg,
    jwk: Value,
    entry: Entry,
}

thread_local! {
    /// Imports by a hash of (algorithm, JWK); the stored pair is compared on lookup,
    /// so a hash collision is only a miss.
    static KEYS: RefCell<HashMap<u64, Cached>> = RefCell::new(HashMap::new());
}

/// Checks `signature` over `message` as `check` asks, with `backend` (WebCrypto falls
/// back to Rust when it cannot do the check).
pub async fn check(
    check: &SignatureCheck<'_>,
    message: &[u8],
    signature: &[u8],
    backend: Backend,
) -> bool {
    if backend == Backend::WebCrypto {
        if let Some(ok) = verify(check, message, signature).await {
            return ok;
        }
    }
    verify_signature(check.alg, &check.key.material, message, signature)
}

/// Checks the signature through WebCrypto only: `Some(valid)`, or `None` when
/// WebCrypto cannot do this check (then use [`verify_signature`]).
pub async fn verify(check: &SignatureCheck<'_>, message: &[u8], signature: &[u8]) -> Option<bool> {
    let alg = check.alg;
    // The Rust backend's answer for a key that does not fit; never reached through the
    // gate, whose key selection already ensures the fit.
    if !key_fits(alg, &check.key.material) {
        return Some(false);
    }
    let jwk = check.key.jwk.as_ref()?;
    let spec = Spec::of(alg)?;
    if spec.sig_len.is_some_and(|len| signature.len() != len) {
        return Some(false);
    }
    let (subtle, verify_fn) = subtle()?;
    let id = fingerprint(alg, jwk);
    let cached = KEYS.with(|k| {
        k.borrow()
            .get(&id)
            .filter(|c| c.alg == alg && c.jwk == *jwk)
            .map(|c| c.entry.clone())
    });
    let (key, verify_params) = match cached {
        Some(entry) => entry?,
        None => {
            // No borrow of the map is held across this await.
            let entry = import_key(&subtle, &jwk.to_string(), &spec.import_params())
                .await
                .map(|key| (key, spec.verify_params().into()));
            KEYS.with(|k| {
                let mut k = k.borrow_mut();
                if k.len() >= MAX_KEYS {
                    k.clear();
                }
                let jwk = jwk.clone();
                k.insert(
                    id,
                    Cached {
                        alg,
                        jwk,
                        entry: entry.clone(),
                    },
                );
            });
            entry?
        }
    };
    let pending = verify_fn.call4(
        &subtle,
        &verify_params,
        &key,
        &Uint8Array::from(signature).into(),
        &Uint8Array::from(message).into(),
    );
    Some(match pending {
        Ok(p) => settle(p).await.is_ok_and(|v| v.as_bool() == Some(true)),
        Err(_) => false,
    })
}

/// The WebCrypto parameters of a JWS algorithm.
struct Spec {
    /// The WebCrypto algorithm name.
    name: &'static str,
    /// The hash: bound to the key for RSA, given to `verify` for ECDSA.
    hash: Option<&'static str>,
    /// The RSA-PSS salt length.
    salt: Option<u32>,
    /// The ECDSA curve.
    curve: Option<&'static str>,
    /// The fixed signature length (ECDSA `r || s`, Ed25519).
    sig_len: Option<usize>,
}

impl Spec {
    /// `None` for HMAC (always checked in Rust).
    fn of(alg: Alg) -> Option<Spec> {
        let rsa = |name, hash, salt| (name, Some(hash), salt, None, None);
        let (name, hash, salt, curve, sig_len) = match alg {
            Alg::RS256 => rsa("RSASSA-PKCS1-v1_5", "SHA-256", None),
            Alg::RS384 => rsa("RSASSA-PKCS1-v1_5", "SHA-384", None),
            Alg::RS512 => rsa("RSASSA-PKCS1-v1_5", "SHA-512", None),
            Alg::PS256 => rsa("RSA-PSS", "SHA-256", Some(32)),
            Alg::PS384 => rsa("RSA-PSS", "SHA-384", Some(48)),
            Alg::PS512 => rsa("RSA-PSS", "SHA-512", Some(64)),
            Alg::ES256 => ("ECDSA", Some("SHA-256"), None, Some("P-256"), Some(64)),
            Alg::ES384 => ("ECDSA", Some("SHA-384"), None, Some("P-384"), Some(96)),
            Alg::EdDSA => ("Ed25519", None, None, None, Some(64)),
            _ => return None,
        };
        Some(Spec {
            name,
            hash,
            salt,
            curve,
            sig_len,
        })
    }

    /// The `importKey` algorithm: `{name, hash}` (RSA), `{name, namedCurve}` (ECDSA),
    /// `{name}` (Ed25519).
    fn import_params(&self) -> Object {
        let o = object(&[("name", self.name.into())]);
        match (self.curve, self.hash) {
            (Some(curve), _) => set(&o, "namedCurve", curve.into()),
            (None, Some(hash)) => set(&o, "hash", hash.into()),
            (None, None) => {}
        }
        o
    }

    /// The `verify` algorithm: `{name}`, plus `saltLength` (RSA-PSS) or `hash` (ECDSA).
    fn verify_params(&self) -> Object {
        let o = object(&[("name", self.name.into())]);
        if let Some(salt) = self.salt {
            set(&o, "saltLength", salt.into());
        }
        if let (Some(_), Some(hash)) = (self.curve, self.hash) {
            set(&o, "hash", hash.into());
        }
        o
    }
}

/// The cache's key: a hash of the algorithm and, for each member of the public JWK,
/// its name, length and last 16 characters (enough to tell keys apart cheaply; the
/// whole JWK is compared on lookup).
fn fingerprint(alg: Alg, jwk: &Value) -> u64 {
    let mut h = DefaultHasher::new();
    alg.hash(&mut h);
    if let Some(members) = jwk.as_object() {
        for (name, value) in members {
            let v = value.as_str().unwrap_or_default().as_bytes();
            (name, v.len(), &v[v.len().saturating_sub(16)..]).hash(&mut h);
        }
    }
    h.finish()
}

/// `subtle.importKey("jwk", jwk, algorithm, false, ["verify"])`; `None` on any failure.
async fn import_key(subtle: &JsValue, jwk: &str, algorithm: &Object) -> Option<JsValue> {
    let jwk = js_sys::JSON::parse(jwk).ok()?;
    let usages = Array::of1(&"verify".into());
    let pending = Reflect::get(subtle, &"importKey".into())
        .ok()?
        .dyn_into::<Function>()
        .ok()?
        .call5(
            subtle,
            &"jwk".into(),
            &jwk,
            algorithm,
            &false.into(),
            &usages.into(),
        )
        .ok()?;
    settle(pending).await.ok().filter(JsValue::is_object)
}

thread_local! {
    /// The property names used on every check, made into JS strings once.
    static NAMES: [JsValue; 3] = ["crypto", "subtle", "verify"].map(JsValue::from);
}

/// `globalThis.crypto.subtle` and its `verify`, looked up at each call (so that a host
/// or a test may replace them).
fn subtle() -> Option<(JsValue, Function)> {
    NAMES.with(|[crypto, subtle, verify]| {
        let global: JsValue = js_sys::global().into();
        let crypto = Reflect::get(&global, crypto)
            .ok()
            .filter(JsValue::is_object)?;
        let subtle = Reflect::get(&crypto, subtle)
            .ok()
            .filter(JsValue::is_object)?;
        let verify = Reflect::get(&subtle, verify).ok()?.dyn_into().ok()?;
        Some((subtle, verify))
    })
}

fn object(members: &[(&str, JsValue)]) -> Object {
    let o = Object::new();
    for (k, v) in members {
        set(&o, k, v.clone());
    }
    o
}

fn set(o: &Object, key: &str, value: JsValue) {
    let _ = Reflect::set(o, &key.into(), &value);
}

/// Awaits a value that may or may not be a promise.
async fn settle(v: JsValue) -> Result<JsValue, JsValue> {
    let promise = v
        .dyn_into::<Promise>()
        .unwrap_or_else(|v| Promise::resolve(&v));
    JsFuture::from(promise).await
}
