//! Signature checks through the host's native crypto, for the Worker and the JS
//! bindings (the `tokengate-worker` and `tokengate-js` crates).
//!
//! RSA and elliptic-curve arithmetic compiled to WebAssembly is several times slower
//! than the host's native code. [`check`] therefore asks the host first and falls back
//! to the portable Rust backend ([`verify_signature`], the reference) when the host
//! cannot do the check: HMAC that Rust checks itself (see below), a host without
//! `crypto.subtle`, or a key the host will not import for that algorithm (for example
//! Ed25519 on a runtime without it). The host offers up to two ways:
//!
//! * a synchronous verify function registered with [`set_host_verify`] (the npm
//!   package's Node.js entry registers one over `node:crypto`'s `verify`; see
//!   `npm/node-crypto.js`): called as `f(alg, jwk, message, signature)` with the JWS
//!   algorithm name, the public JWK as an object (the same object for the same key, so
//!   the host can cache its imported key on it), and `Uint8Array`s; it returns `true`
//!   or `false`, or `undefined` when it cannot do this check. Being synchronous, it
//!   spares the promise round trip of WebCrypto, which in Node.js costs more than the
//!   RSA check itself;
//! * WebCrypto (`globalThis.crypto.subtle`):
//!
//! | JWS | `importKey` | `verify` |
//! |---|---|---|
//! | RS256/384/512 | `RSASSA-PKCS1-v1_5`, SHA-256/384/512 | `RSASSA-PKCS1-v1_5` |
//! | PS256/384/512 | `RSA-PSS`, SHA-256/384/512 | `RSA-PSS`, saltLength 32/48/64 |
//! | ES256, ES384 | `ECDSA`, P-256/P-384 | `ECDSA`, SHA-256/384 (raw `r‖s`, as in JWS) |
//! | EdDSA | `Ed25519` | `Ed25519` |
//! | HS384, HS512 | `HMAC`, SHA-384/512 (the secret as an `oct` JWK) | `HMAC` |
//!
//! HMAC goes to the host only where the Rust backend cannot check it (HS384 and HS512
//! in a core built without `hmac-sha512`, as the Worker's is:
//! [`rust_backend_checks`]); HS256, and HMAC wherever Rust can, stays synchronous in
//! Rust.
//!
//! Keys are kept per isolate (thread) in a small map keyed by the algorithm and the
//! key's public JWK: the JWK as a JS object (for the synchronous host function) and the
//! imported `CryptoKey`, so each key is parsed and imported once; an import that failed
//! is remembered too (that key then always goes to Rust). The map holds at most
//! [`MAX_KEYS`] entries and is emptied when full. Keying by the JWK itself (not by a
//! key-set generation or `kid`) keeps verifiers and issuers from ever sharing a wrong
//! key.
//!
//! A caller that can await a promise itself polls with [`poll_handoff`]: a WebCrypto
//! `verify` then hands it its promise instead of awaiting it through `JsFuture` (the
//! npm package's wrapper awaits it and resumes the verification with the outcome).
//!
//! Once a key is imported, a `verify` that throws or rejects (a malformed signature)
//! counts as an invalid signature. Signatures of the wrong length for ECDSA and
//! Ed25519 are rejected before the host is asked. Nothing here panics.

use std::cell::{Cell, RefCell};
use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll as TaskPoll, Waker};

use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use serde_json::Value;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use tokengate::{b64_encode, key_fits, rust_backend_checks, verify_signature, Alg, KeyMaterial};
use tokengate::{SignatureBackend, SignatureCheck};

/// The most keys kept per isolate.
pub const MAX_KEYS: usize = 128;

/// Which backend checks signatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    /// The host's synchronous verify function where one is registered and can do the
    /// check, else WebCrypto where it can, else the Rust backend.
    #[default]
    Auto,
    /// As [`Backend::Auto`]; for callers that insist on the host's synchronous function
    /// (the JS bindings refuse it when none is registered).
    Node,
    /// WebCrypto where the host can do the check, the Rust backend otherwise (the
    /// synchronous host function is not used).
    WebCrypto,
    /// The Rust backend only (portable; the reference).
    Wasm,
}

impl Backend {
    /// Parses `"auto"`, `"node"`, `"webcrypto"` or `"wasm"`.
    pub fn parse(name: &str) -> Option<Backend> {
        match name {
            "auto" => Some(Backend::Auto),
            "node" => Some(Backend::Node),
            "webcrypto" => Some(Backend::WebCrypto),
            "wasm" => Some(Backend::Wasm),
            _ => None,
        }
    }

    /// Whether this backend asks the synchronous host function first.
    fn uses_host(self) -> bool {
        matches!(self, Backend::Auto | Backend::Node)
    }
}

/// An imported `CryptoKey` and its `verify` parameters; `None` when the import failed.
type Imported = Option<(JsValue, JsValue)>;

/// What is kept of one key: the algorithm and public JWK it is for, the JWK as a JS
/// object, and the WebCrypto import (not tried yet, failed, or done).
struct KeyEntry {
    alg: Alg,
    /// The algorithm's JWS name as a JS string, the host function's first argument.
    alg_js: JsValue,
    jwk: Value,
    jwk_js: JsValue,
    imported: RefCell<Option<Imported>>,
}

thread_local! {
    /// Keys by a hash of (algorithm, JWK); the stored pair is compared on lookup, so a
    /// hash collision is only a miss.
    static KEYS: RefCell<HashMap<u64, Rc<KeyEntry>>> = RefCell::new(HashMap::new());
    /// The host's synchronous verify function, if one was registered.
    static HOST_VERIFY: RefCell<Option<Function>> = const { RefCell::new(None) };
}

/// Registers (or, with `None`, removes) the host's synchronous verify function; see
/// the [module docs](self).
pub fn set_host_verify(f: Option<Function>) {
    HOST_VERIFY.with(|h| *h.borrow_mut() = f);
}

/// Whether a synchronous host verify function is registered.
pub fn has_host_verify() -> bool {
    HOST_VERIFY.with(|h| h.borrow().is_some())
}

/// Checks `signature` over `message` as `check` asks, with `backend` (each host backend
/// falls back to the next, and finally to Rust, when it cannot do the check). With the
/// synchronous host function doing the check, the returned future is ready at its first
/// poll.
pub async fn check(
    check: &SignatureCheck<'_>,
    message: &[u8],
    signature: &[u8],
    backend: Backend,
) -> bool {
    if backend.uses_host() {
        if let Some(ok) = verify_host(check, message, signature) {
            return ok;
        }
    }
    if backend != Backend::Wasm {
        if let Some(ok) = verify(check, message, signature).await {
            return ok;
        }
    }
    verify_signature(check.alg, &check.key.material, message, signature)
}

/// The pipeline's signature backend in a JS host: [`check`] with this backend.
impl SignatureBackend for Backend {
    async fn verify(&self, c: &SignatureCheck<'_>, message: &[u8], signature: &[u8]) -> bool {
        check(c, message, signature, *self).await
    }
}

/// What the host can be asked about `check`: `Err(answer)` when the answer is known
/// without the host (a key that does not fit, a signature of the wrong length),
/// `Ok(None)` when the host cannot do it (no public JWK: HMAC), else the key's entry.
fn prepare(
    check: &SignatureCheck<'_>,
    signature: &[u8],
) -> Result<Option<(Rc<KeyEntry>, Spec)>, bool> {
    let alg = check.alg;
    // The Rust backend's answer for a key that does not fit; never reached through the
    // gate, whose key selection already ensures the fit.
    if !key_fits(alg, &check.key.material) {
        return Err(false);
    }
    let Some(spec) = Spec::of(alg) else {
        return Ok(None);
    };
    let secret_jwk;
    let jwk = match (check.key.jwk.as_ref(), &check.key.material) {
        (Some(jwk), _) => jwk,
        // An HMAC key has no public JWK: the host gets the secret as an `oct` JWK, and
        // only when Rust cannot check this algorithm.
        (None, KeyMaterial::Hmac(secret)) if !rust_backend_checks(alg) => {
            secret_jwk = serde_json::json!({ "kty": "oct", "k": b64_encode(secret) });
            &secret_jwk
        }
        (None, _) => return Ok(None),
    };
    if spec.sig_len.is_some_and(|len| signature.len() != len) {
        return Err(false);
    }
    Ok(entry(alg, jwk).map(|e| (e, spec)))
}

/// The kept entry of (`alg`, `jwk`), made on first use; `None` if the JWK does not
/// become a JS object.
fn entry(alg: Alg, jwk: &Value) -> Option<Rc<KeyEntry>> {
    let id = fingerprint(alg, jwk);
    let found = KEYS.with(|k| {
        k.borrow()
            .get(&id)
            .filter(|e| e.alg == alg && e.jwk == *jwk)
            .cloned()
    });
    if found.is_some() {
        return found;
    }
    let jwk_js = js_sys::JSON::parse(&jwk.to_string())
        .ok()
        .filter(JsValue::is_object)?;
    let made = Rc::new(KeyEntry {
        alg,
        alg_js: JsValue::from_str(alg.as_str()),
        jwk: jwk.clone(),
        jwk_js,
        imported: RefCell::new(None),
    });
    KEYS.with(|k| {
        let mut k = k.borrow_mut();
        if k.len() >= MAX_KEYS {
            k.clear();
        }
        k.insert(id, Rc::clone(&made));
    });
    Some(made)
}

/// Checks the signature through the synchronous host function only: `Some(valid)`,
/// or `None` when there is none or it cannot do this check.
pub fn verify_host(check: &SignatureCheck<'_>, message: &[u8], signature: &[u8]) -> Option<bool> {
    let f = HOST_VERIFY.with(|h| h.borrow().clone())?;
    let (entry, _) = match prepare(check, signature) {
        Err(answer) => return Some(answer),
        Ok(found) => found?,
    };
    // SAFETY: the views alias wasm memory and stay valid while it is not resized,
    // that is until the next allocation in this module. Nothing allocates between
    // their creation and the end of the call: the host function is synchronous JS that
    // does not call back into this module (npm/node-crypto.js), its arguments are
    // made above, and the views are dropped right after.
    let (message, signature) = unsafe { (Uint8Array::view(message), Uint8Array::view(signature)) };
    // A host function that throws cannot do the check; WebCrypto or Rust will.
    let answer = f.call4(
        &JsValue::UNDEFINED,
        &entry.alg_js,
        &entry.jwk_js,
        &message,
        &signature,
    );
    drop((message, signature));
    answer.ok()?.as_bool()
}

/// Checks the signature through WebCrypto only: `Some(valid)`, or `None` when
/// WebCrypto cannot do this check (then use [`verify_signature`]).
pub async fn verify(check: &SignatureCheck<'_>, message: &[u8], signature: &[u8]) -> Option<bool> {
    let (entry, spec) = match prepare(check, signature) {
        Err(answer) => return Some(answer),
        Ok(found) => found?,
    };
    let (subtle, verify_fn) = subtle()?;
    let tried = entry.imported.borrow().is_some();
    if !tried {
        // No borrow of the entry is held across this await.
        let imported = import_key(&subtle, &entry.jwk_js, &spec.import_params())
            .await
            .map(|key| (key, spec.verify_params().into()));
        *entry.imported.borrow_mut() = Some(imported);
    }
    let pending = {
        // A shared borrow (no await inside): a `verify` that calls back into this
        // module for the same key only borrows it again.
        let imported = entry.imported.borrow();
        let (key, verify_params) = imported.as_ref()?.as_ref()?;
        verify_fn.call4(
            &subtle,
            verify_params,
            key,
            &Uint8Array::from(signature).into(),
            &Uint8Array::from(message).into(),
        )
    };
    let Ok(pending) = pending else {
        return Some(false);
    };
    Some(match hand_off(pending) {
        Ok(slot) => HostWait(slot).await,
        Err(pending) => settle(pending)
            .await
            .is_ok_and(|v| v.as_bool() == Some(true)),
    })
}

/// A WebCrypto `verify` promise handed out by [`poll_handoff`], for its caller to
/// await in JS and answer with [`HostPromise::settle`] before polling the future again.
pub struct HostPromise {
    /// What `crypto.subtle.verify` returned (a promise, or whatever a replaced
    /// `verify` returned).
    pub promise: JsValue,
    slot: Rc<Cell<Option<bool>>>,
}

impl HostPromise {
    /// Gives the waiting check the value the promise settled with (`None`: it
    /// rejected). Valid only when that value is `true`, as through `JsFuture`.
    pub fn settle(&self, value: Option<&JsValue>) {
        self.slot
            .set(Some(value.is_some_and(|v| v.as_bool() == Some(true))));
    }
}

/// Whether a WebCrypto `verify` may hand its promise to the caller of
/// [`poll_handoff`], and the one it handed over.
enum Handoff {
    Off,
    Open,
    Taken(HostPromise),
}

thread_local! {
    static HANDOFF: RefCell<Handoff> = const { RefCell::new(Handoff::Off) };
}

/// Polls `fut` once (with a waker that does nothing). While it runs, a WebCrypto
/// `verify` does not await its promise through `JsFuture` (two closures, the
/// executor's queue and a wake-up: a large part of a verification's cost in workerd)
/// but hands it out:
///
/// * `Ok(output)`: done without waiting;
/// * `Err(Some(host))`: the future waits for `host.promise`. The caller awaits it (in
///   JS), calls [`HostPromise::settle`] with its outcome, then polls the future again
///   with this function. Until then the future stays pending;
/// * `Err(None)`: it waits for something else (a key fetch, a key import): drive it
///   with an executor (`future_to_promise`), as any future. Later WebCrypto checks of
///   that future then go through `JsFuture`.
pub fn poll_handoff<F: Future + ?Sized>(
    fut: Pin<&mut F>,
) -> Result<F::Output, Option<HostPromise>> {
    let before = HANDOFF.with(|h| h.replace(Handoff::Open));
    let polled = fut.poll(&mut Context::from_waker(Waker::noop()));
    let state = HANDOFF.with(|h| h.replace(before));
    match (polled, state) {
        (TaskPoll::Ready(out), _) => Ok(out),
        (TaskPoll::Pending, Handoff::Taken(host)) => Err(Some(host)),
        (TaskPoll::Pending, _) => Err(None),
    }
}

/// Hands `promise` to the caller of [`poll_handoff`] when one is polling and none was
/// handed over yet: `Ok` with the slot its outcome will be put in, else `Err(promise)`.
fn hand_off(promise: JsValue) -> Result<Rc<Cell<Option<bool>>>, JsValue> {
    HANDOFF.with(|h| {
        let Ok(mut h) = h.try_borrow_mut() else {
            return Err(promise);
        };
        if !matches!(*h, Handoff::Open) {
            return Err(promise);
        }
        let slot = Rc::new(Cell::new(None));
        *h = Handoff::Taken(HostPromise {
            promise,
            slot: Rc::clone(&slot),
        });
        Ok(slot)
    })
}

/// Waits until [`HostPromise::settle`] fills the slot. Its waker is never woken: the
/// caller of [`poll_handoff`] polls again once it has settled the promise.
struct HostWait(Rc<Cell<Option<bool>>>);

impl Future for HostWait {
    type Output = bool;

    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> TaskPoll<bool> {
        match self.0.take() {
            Some(valid) => TaskPoll::Ready(valid),
            None => TaskPoll::Pending,
        }
    }
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
    /// `None` for HS256 (always checked in Rust).
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
            // The full tag length, as the Rust backend requires.
            Alg::HS384 => ("HMAC", Some("SHA-384"), None, None, Some(48)),
            Alg::HS512 => ("HMAC", Some("SHA-512"), None, None, Some(64)),
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

    /// The `importKey` algorithm: `{name, hash}` (RSA, HMAC), `{name, namedCurve}` (ECDSA),
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
async fn import_key(subtle: &JsValue, jwk: &JsValue, algorithm: &Object) -> Option<JsValue> {
    let usages = Array::of1(&"verify".into());
    let pending = Reflect::get(subtle, &"importKey".into())
        .ok()?
        .dyn_into::<Function>()
        .ok()?
        .call5(
            subtle,
            &"jwk".into(),
            jwk,
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
