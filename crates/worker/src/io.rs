//! The Worker's I/O for the key provider: `fetch` with a timeout, Workers KV, timers,
//! the DPoP replay store (the [`DpopReplay`](crate::replay::DpopReplay) Durable
//! Object), the revocation store (KV [`REVOKED_KV`]) and the Workers Rate Limiting
//! bindings ([`rate_limit`]), each call bounded by the fetch timeout.
//!
//! Everything here runs in the request that calls it: the key provider never hands a
//! request another request's promise (see [`tokengate::keys`]), and waiters sleep on their
//! own timers ([`Sleep`]).

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use futures_util::future::{select, Either};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::{AbortController, Env};

use tokengate::check_fetch_url;
use tokengate::{HttpResponse, KeyIo, ProofReplay, UnixSeconds};

/// The KV binding holding JWKS cache states (and the demo issuer's key).
pub const JWKS_KV: &str = "JWKS_CACHE";
/// The Durable Object namespace binding of the DPoP replay store.
pub const REPLAY_BINDING: &str = "DPOP_REPLAY";
/// The KV binding holding revocation entries (`tokengate::revocation_key`).
pub const REVOKED_KV: &str = "REVOKED";

/// The replay store's namespace binding, if the Worker has it.
fn replay_namespace(env: &Env) -> Option<JsValue> {
    js_sys::Reflect::get(env, &JsValue::from_str(REPLAY_BINDING))
        .ok()
        .filter(JsValue::is_object)
}

/// Whether the Worker has the [`REPLAY_BINDING`] Durable Object binding.
pub fn replay_bound(env: &Env) -> bool {
    replay_namespace(env).is_some()
}

/// The Workers Rate Limiting binding `name`, if the Worker has one (an object with a
/// `limit` method).
pub fn rate_limiter(env: &Env, name: &str) -> Option<JsValue> {
    let binding = js_sys::Reflect::get(env, &JsValue::from_str(name))
        .ok()
        .filter(JsValue::is_object)?;
    js_sys::Reflect::get(&binding, &JsValue::from_str("limit"))
        .ok()
        .filter(JsValue::is_function)
        .map(|_| binding)
}

/// Counts one request under `key` with the Rate Limiting binding `name`, within
/// `timeout_ms`: `Ok(false)` when the key is over the binding's limit. A missing
/// binding, a failed call or a timeout is an error (the caller refuses the request).
pub async fn rate_limit(env: &Env, name: &str, key: &str, timeout_ms: u64) -> Result<bool, String> {
    let binding = rate_limiter(env, name)
        .ok_or_else(|| format!("the {name} Rate Limiting binding is missing"))?;
    let pending = crate::host::rate_limit(&binding, key)
        .map_err(|e| format!("the {name} rate limiter failed: {}", js_error(e)))?;
    let timeout = pin!(Sleep::new(timeout_ms));
    let work = pin!(JsFuture::from(pending));
    match select(work, timeout).await {
        Either::Left((Ok(ok), _)) => Ok(ok.as_bool() == Some(true)),
        Either::Left((Err(e), _)) => {
            Err(format!("the {name} rate limiter failed: {}", js_error(e)))
        }
        Either::Right(_) => Err(format!(
            "the {name} rate limiter did not answer within {timeout_ms} ms"
        )),
    }
}

/// A Workers KV namespace, used through the binding's own `get` and `put`
/// ([`host::kv_get`](crate::host::kv_get)): worker-rs' `KvStore` brings serialisation
/// code the Worker never runs (about 12 KB of its wasm).
pub struct Kv(JsValue);

impl Kv {
    /// The KV namespace bound as `binding`; `None` when there is no such binding.
    pub fn bound(env: &Env, binding: &str) -> Option<Kv> {
        js_sys::Reflect::get(env, &JsValue::from_str(binding))
            .ok()
            .filter(JsValue::is_object)
            .map(Kv)
    }

    /// The text stored under `key`; `None` when there is none or the read fails.
    pub async fn get(&self, key: &str) -> Option<String> {
        let pending = crate::host::kv_get(&self.0, key).ok()?;
        JsFuture::from(pending).await.ok()?.as_string()
    }

    /// The texts stored under `keys`, all read at once (one `get` each, together): `None`
    /// where there is none, `Err` when any read fails.
    pub async fn get_all(&self, keys: &[String]) -> Result<Vec<Option<String>>, String> {
        let list: js_sys::Array = keys.iter().map(|k| JsValue::from_str(k)).collect();
        let pending = crate::host::kv_get_all(&self.0, &list).map_err(js_error)?;
        let values = JsFuture::from(pending).await.map_err(js_error)?;
        Ok(js_sys::Array::from(&values)
            .iter()
            .map(|v| v.as_string())
            .collect())
    }

    /// Stores `value` under `key`, expiring after `ttl_secs` when given (KV's minimum
    /// is 60 s: a shorter one is raised to it); whether the write succeeded.
    pub async fn put(&self, key: &str, value: &str, ttl_secs: Option<u64>) -> bool {
        let ttl = ttl_secs.map(|t| u32::try_from(t.max(60)).unwrap_or(u32::MAX));
        match crate::host::kv_put(&self.0, key, value, ttl) {
            Ok(pending) => JsFuture::from(pending).await.is_ok(),
            Err(_) => false,
        }
    }
}

/// Key I/O through the Worker runtime.
#[derive(Clone)]
pub struct EdgeIo {
    /// The Worker's bindings.
    pub env: Env,
    /// Timeout for key and discovery fetches (headers and body together).
    pub timeout_ms: u64,
}

fn js_error(e: wasm_bindgen::JsValue) -> String {
    worker::Error::from(e).to_string()
}

/// GETs `url` following redirects; the final URL must pass [`check_fetch_url`] like the
/// configured one (https, or http on a loopback host).
async fn get(url: &str, signal: &web_sys::AbortSignal) -> Result<HttpResponse, String> {
    let init = web_sys::RequestInit::new();
    init.set_signal(Some(signal));
    let global: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
    let resp = JsFuture::from(global.fetch_with_str_and_init(url, &init))
        .await
        .map_err(|e| format!("fetch failed: {}", js_error(e)))?;
    let resp: web_sys::Response = resp
        .dyn_into()
        .map_err(|_| "fetch returned something that is not a Response".to_string())?;
    let final_url = resp.url();
    if !final_url.is_empty() {
        check_fetch_url(&final_url).map_err(|why| format!("redirected to {final_url}: {why}"))?;
    }
    let headers = resp.headers();
    let cache_control = headers.get("cache-control").ok().flatten();
    let age = headers.get("age").ok().flatten();
    let text = resp
        .text()
        .map_err(|e| format!("reading the body failed: {}", js_error(e)))?;
    let body = JsFuture::from(text)
        .await
        .map_err(|e| format!("reading the body failed: {}", js_error(e)))?
        .as_string()
        .unwrap_or_default();
    Ok(HttpResponse {
        status: resp.status(),
        body,
        cache_control,
        age,
    })
}

impl KeyIo for EdgeIo {
    async fn fetch(&self, url: &str) -> Result<HttpResponse, String> {
        let controller = AbortController::default();
        let signal = controller.signal();
        let timeout = pin!(Sleep::new(self.timeout_ms));
        let work = pin!(get(url, &signal));
        let outcome = match select(work, timeout).await {
            Either::Left((result, _)) => Some(result),
            Either::Right(_) => None,
        };
        outcome.unwrap_or_else(|| {
            controller.abort();
            Err(format!("fetch timed out after {} ms", self.timeout_ms))
        })
    }

    async fn load(&self, key: &str) -> Option<String> {
        Kv::bound(&self.env, JWKS_KV)?.get(key).await
    }

    async fn save(&self, key: &str, value: String, ttl_secs: u64) {
        if let Some(kv) = Kv::bound(&self.env, JWKS_KV) {
            kv.put(key, &value, Some(ttl_secs)).await;
        }
    }

    fn secret(&self, name: &str) -> Option<String> {
        self.env.secret(name).ok().map(|s| s.to_string())
    }

    async fn sleep(&self, ms: u64) {
        Sleep::new(ms).await;
    }

    fn fetch_timeout_ms(&self) -> u64 {
        self.timeout_ms
    }

    /// Through the proof key's own [`DpopReplay`](crate::replay::DpopReplay) object
    /// (`idFromName(jkt)`: one object per key, so the load spreads and one client's
    /// proofs are decided in one place), within the fetch timeout. A timeout or a failed
    /// call is an error (the request is refused with `dpop_replay_unavailable`); the
    /// object may still have recorded the `jti`, which only refuses that proof later.
    async fn claim_proof(&self, proof: &ProofReplay, _now: UnixSeconds) -> Result<bool, String> {
        let ns = replay_namespace(&self.env)
            .ok_or_else(|| format!("the {REPLAY_BINDING} Durable Object binding is missing"))?;
        let pending =
            crate::host::replay_claim(&ns, &proof.jkt, &proof.jti, proof.expires_at as f64)
                .map_err(|e| format!("the replay store failed: {}", js_error(e)))?;
        let timeout = pin!(Sleep::new(self.timeout_ms));
        let work = pin!(JsFuture::from(pending));
        match select(work, timeout).await {
            Either::Left((Ok(fresh), _)) => fresh
                .as_bool()
                .ok_or_else(|| "the replay store answered something else than a boolean".into()),
            Either::Left((Err(e), _)) => Err(format!("the replay store failed: {}", js_error(e))),
            Either::Right(_) => Err(format!(
                "the replay store did not answer within {} ms",
                self.timeout_ms
            )),
        }
    }

    /// From the [`REVOKED_KV`] namespace, every key at once, within the fetch timeout:
    /// a missing binding, a failed read or a timeout is an error (the request is refused
    /// with `revocation_unavailable`, never let through unchecked).
    async fn revocation_entries(&self, keys: &[String]) -> Result<Vec<Option<String>>, String> {
        let kv = Kv::bound(&self.env, REVOKED_KV)
            .ok_or_else(|| format!("the {REVOKED_KV} KV binding is missing"))?;
        let timeout = pin!(Sleep::new(self.timeout_ms));
        let work = pin!(kv.get_all(keys));
        match select(work, timeout).await {
            Either::Left((Ok(values), _)) => Ok(values),
            Either::Left((Err(e), _)) => Err(format!("reading {REVOKED_KV} failed: {e}")),
            Either::Right(_) => Err(format!(
                "{REVOKED_KV} did not answer within {} ms",
                self.timeout_ms
            )),
        }
    }
}

/// A `setTimeout` timer as a future that wakes the waker of its latest poll.
///
/// worker-rs' `Delay` keeps the waker of its first poll only; the request path polls
/// its future once synchronously with a do-nothing waker before an executor takes it
/// over (see the crate docs), so a `Delay` first polled there would never wake the
/// executor's task, and the request would hang. A timer dropped before it fires is
/// cleared.
pub struct Sleep {
    ms: u64,
    shared: Rc<SleepState>,
    timer: Option<(i32, Closure<dyn FnMut()>)>,
}

#[derive(Default)]
struct SleepState {
    fired: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

impl Sleep {
    /// A timer of `ms` milliseconds, started at its first poll.
    pub fn new(ms: u64) -> Sleep {
        Sleep {
            ms,
            shared: Rc::default(),
            timer: None,
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if this.shared.fired.get() {
            return Poll::Ready(());
        }
        *this.shared.waker.borrow_mut() = Some(cx.waker().clone());
        if this.timer.is_none() {
            let shared = this.shared.clone();
            let fire = Closure::<dyn FnMut()>::new(move || {
                shared.fired.set(true);
                if let Some(w) = shared.waker.borrow_mut().take() {
                    w.wake();
                }
            });
            let ms = i32::try_from(this.ms).unwrap_or(i32::MAX);
            match global().set_timeout_with_callback_and_timeout_and_arguments_0(
                fire.as_ref().unchecked_ref(),
                ms,
            ) {
                Ok(id) => this.timer = Some((id, fire)),
                // No timer to wait for: the time is up now (a fetch then times out,
                // a waiter looks at the shared state again).
                Err(_) => {
                    this.shared.fired.set(true);
                    return Poll::Ready(());
                }
            }
        }
        Poll::Pending
    }
}

/// The Worker's global scope (`setTimeout`, `clearTimeout`).
fn global() -> web_sys::WorkerGlobalScope {
    js_sys::global().unchecked_into()
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some((id, _)) = &self.timer {
            if !self.shared.fired.get() {
                global().clear_timeout_with_handle(*id);
            }
        }
    }
}
