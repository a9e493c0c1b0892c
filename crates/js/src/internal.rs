//! Internal hooks, **not part of the package's API**: `__setHostVerify` (called by
//! the Node.js entries) and `__verifySignature` (for the tests that compare the
//! signature backends). The package's entry points do not re-export
//! `__verifySignature`, and `npm/index.d.ts` does not declare it: it exists only on
//! the wasm-bindgen module (`tokengate_bg.js`), which the package's `exports` map does
//! not expose; tests import that file by its path.

use js_sys::{Function, Promise};
use serde_json::{json, Map, Value};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::future_to_promise;

use tokengate::Alg;
use tokengate::KeySet;
use tokengate::SignatureCheck;
use tokengate_webcrypto::Backend;

/// `__setHostVerify(fn)`: **internal, not part of the API**: registers the runtime's
/// synchronous signature check (`npm/node-crypto.js`, by the Node.js entries; see
/// [`tokengate_webcrypto`]); `null` removes it.
#[wasm_bindgen(js_name = __setHostVerify)]
pub fn set_host_verify(f: JsValue) -> Result<(), JsValue> {
    if f.is_null() || f.is_undefined() {
        tokengate_webcrypto::set_host_verify(None);
        return Ok(());
    }
    let f = f
        .dyn_into::<Function>()
        .map_err(|_| JsValue::from(js_sys::TypeError::new("expected a function")))?;
    tokengate_webcrypto::set_host_verify(Some(f));
    Ok(())
}

/// `__verifySignature(alg, jwk, message, signature, backend)`: **internal, not part of
/// the API** (tests and benchmarks compare the signature backends with it). Checks
/// `signature` over `message` (`Uint8Array`s) with the public members of `jwk` (a JSON
/// string; `kty`, `crv`, `x`, `y`, `n`, `e`, or `k` for HMAC) under `alg`, loaded
/// with the same rules as a JWKS. Resolves to a boolean with `backend` `"wasm"`; with
/// `"node"` (the registered synchronous host function), `"webcrypto"`, or `"auto"`
/// (the first, then the second), to a boolean or `null` when that backend cannot do
/// the check (no Rust fallback here). Throws a `TypeError` for an unknown algorithm or backend, or a key
/// that does not load.
#[wasm_bindgen(js_name = __verifySignature)]
pub fn verify_signature_internal(
    alg: String,
    jwk: String,
    message: Vec<u8>,
    signature: Vec<u8>,
    backend: String,
) -> Result<Promise, JsValue> {
    let type_error = |m: String| -> JsValue { js_sys::TypeError::new(&m).into() };
    let alg: Alg = alg.parse().map_err(type_error)?;
    let backend = Backend::parse(&backend)
        .ok_or_else(|| type_error(format!("unknown backend {backend:?}")))?;
    let jwk: Value = serde_json::from_str(&jwk).map_err(|e| type_error(e.to_string()))?;
    let public: Map<String, Value> = ["kty", "crv", "x", "y", "n", "e", "k"]
        .iter()
        .filter_map(|m| jwk.get(*m).map(|v| ((*m).to_string(), v.clone())))
        .collect();
    let set = KeySet::from_value(&json!({ "keys": [public] }))
        .map_err(|e| type_error(format!("the key does not load: {e}")))?;
    Ok(future_to_promise(async move {
        let Some(key) = set.keys().first() else {
            return Ok(JsValue::NULL);
        };
        let check = SignatureCheck { key, alg };
        let answer = match backend {
            Backend::Wasm => Some(tokengate::verify_signature(
                alg,
                &key.material,
                &message,
                &signature,
            )),
            Backend::Node => tokengate_webcrypto::verify_host(&check, &message, &signature),
            Backend::WebCrypto => tokengate_webcrypto::verify(&check, &message, &signature).await,
            // Both host backends, as a verifier would ask them (no Rust fallback).
            Backend::Auto => match tokengate_webcrypto::verify_host(&check, &message, &signature) {
                Some(ok) => Some(ok),
                None => tokengate_webcrypto::verify(&check, &message, &signature).await,
            },
        };
        Ok(answer.map_or(JsValue::NULL, JsValue::from))
    }))
}
