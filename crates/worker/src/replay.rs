//! The DPoP replay store (RFC 9449 §11.1): the Durable Object class [`DpopReplay`],
//! bound as `DPOP_REPLAY` (wrangler.toml, with its migration).
//!
//! One object per DPoP key: the Worker names it by the key's thumbprint
//! (`idFromName(jkt)`, [`EdgeIo::claim_proof`](crate::io::EdgeIo)), so a client's proofs
//! are all decided in one place, whichever isolate or location they reach, and the load
//! spreads over as many objects as there are keys. The object records each `jti` until
//! the proof's window closes (after that the proof's `iat` refuses it anyway) and an
//! alarm deletes what has expired.
//!
//! The protocol is one `POST` whose body is `<expires_at>\n<jti>` (`expires_at` in unix
//! seconds): 201 the first time, 409 for a replay, 400 for a malformed body.
//!
//! The class is a plain `#[wasm_bindgen]` export, as the Worker's `fetch` is (see the
//! crate docs), rather than worker-rs' `#[durable_object]`: that macro wraps each
//! handler in worker-rs' `Request`, `Response` and `Error` types (their conversions and
//! error formatting): a first version of this file with the macro (and a float parse
//! since dropped) made the wasm 18.9 KB larger gzipped than this one (236,417 against
//! 217,542 bytes, `scripts/build-worker.sh`, 2026-12-03). Here the runtime's own objects
//! are used, and its storage without worker-rs' serde wrappers. worker-build re-exports
//! the class from the Worker's module like any exported class.

use std::rc::Rc;

use js_sys::{Date, Object, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use worker::worker_sys::DurableObjectStorage;

/// The class name wrangler.toml binds.
pub const CLASS_NAME: &str = "DpopReplay";

/// The replay store of one DPoP key; see the module docs.
#[wasm_bindgen(js_name = DpopReplay)]
pub struct DpopReplay {
    storage: Rc<DurableObjectStorage>,
}

async fn run(p: Result<Promise, JsValue>) -> Result<JsValue, JsValue> {
    JsFuture::from(p?).await
}

/// A response with `status` and no body.
fn status(status: u16) -> Result<JsValue, JsValue> {
    let init = web_sys::ResponseInit::new();
    init.set_status(status);
    web_sys::Response::new_with_opt_str_and_init(None, &init).map(JsValue::from)
}

/// Sets the alarm to `at_ms` unless one is set no later.
async fn alarm_by(storage: &DurableObjectStorage, at_ms: f64) -> Result<(), JsValue> {
    let set = run(storage.get_alarm(Object::new())).await?;
    if set.as_f64().is_none_or(|t| t > at_ms) {
        let when = Date::new(&JsValue::from_f64(at_ms));
        run(storage.set_alarm(when, Object::new())).await?;
    }
    Ok(())
}

async fn claim(storage: &DurableObjectStorage, req: web_sys::Request) -> Result<JsValue, JsValue> {
    let body = run(req.text()).await?.as_string().unwrap_or_default();
    let parsed = body
        .split_once('\n')
        .and_then(|(exp, jti)| Some((exp.parse::<u64>().ok()?, jti)));
    let Some((exp, jti)) = parsed.filter(|(_, jti)| !jti.is_empty()) else {
        return status(400);
    };
    // Atomic: between this `get` and the `put` below the object awaits only its own
    // storage, and while a storage operation is in flight its input gate delivers no
    // other event (no other request for this key); so of two requests with the same
    // jti exactly one sees it absent. (The output gate holds the 201 until the `put` is
    // durable.) Nothing but storage may be awaited in between.
    let seen = run(storage.get(jti)).await?;
    let now = Date::now() / 1000.0;
    if seen.as_f64().is_some_and(|until| until > now) {
        return status(409);
    }
    let exp = exp as f64;
    run(storage.put(jti, JsValue::from_f64(exp))).await?;
    alarm_by(storage, exp * 1000.0).await?;
    status(201)
}

/// Deletes the entries whose window has closed, and sets the next alarm at the
/// earliest one left.
async fn sweep(storage: &DurableObjectStorage) -> Result<JsValue, JsValue> {
    let now = Date::now() / 1000.0;
    let all: js_sys::Map = run(storage.list()).await?.unchecked_into();
    let mut expired = Vec::new();
    let mut next = f64::INFINITY;
    all.for_each(&mut |value, key| match value.as_f64() {
        Some(until) if until > now => next = next.min(until),
        _ => expired.push(key),
    });
    // At most 128 keys per delete call.
    for chunk in expired.chunks(128) {
        run(storage.delete_multiple(chunk.to_vec())).await?;
    }
    if next.is_finite() {
        alarm_by(storage, next * 1000.0).await?;
    }
    Ok(JsValue::UNDEFINED)
}

#[wasm_bindgen(js_class = DpopReplay)]
impl DpopReplay {
    /// The object, constructed by the runtime with its state and the Worker's env.
    #[wasm_bindgen(constructor)]
    pub fn new(state: &JsValue, _env: &JsValue) -> DpopReplay {
        let storage = js_sys::Reflect::get(state, &JsValue::from_str("storage"))
            .unwrap_or(JsValue::UNDEFINED);
        DpopReplay {
            storage: Rc::new(storage.unchecked_into()),
        }
    }

    /// Claims a `jti` (see the module docs): a promise of the response.
    pub fn fetch(&self, req: web_sys::Request) -> Promise {
        let storage = self.storage.clone();
        wasm_bindgen_futures::future_to_promise(async move { claim(&storage, req).await })
    }

    /// The alarm: deletes expired entries.
    pub fn alarm(&self) -> Promise {
        let storage = self.storage.clone();
        wasm_bindgen_futures::future_to_promise(async move { sweep(&storage).await })
    }
}
