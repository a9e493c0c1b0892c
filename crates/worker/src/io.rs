//! The Worker's I/O for the key provider: `fetch` with a timeout, Workers KV, and
//! timers.
//!
//! Everything here runs in the request that calls it: the key provider never hands a
//! request another request's promise (see [`tokengate::keys`]), and waiters sleep on their
//! own [`Delay`]s.

use std::pin::pin;
use std::time::Duration;

use futures_util::future::{select, Either};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use worker::{AbortController, Delay, Env};

use tokengate::check_fetch_url;
use tokengate::{HttpResponse, KeyIo};

/// The KV binding holding JWKS cache states (and the demo issuer's key).
pub const JWKS_KV: &str = "JWKS_CACHE";

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
        let timeout = pin!(Delay::from(Duration::from_millis(self.timeout_ms)));
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
        let kv = self.env.kv(JWKS_KV).ok()?;
        kv.get(key).text().await.ok().flatten()
    }

    async fn save(&self, key: &str, value: String, ttl_secs: u64) {
        if let Ok(kv) = self.env.kv(JWKS_KV) {
            if let Ok(put) = kv.put(key, value) {
                // KV's minimum TTL is 60 s.
                let _ = put.expiration_ttl(ttl_secs.max(60)).execute().await;
            }
        }
    }

    fn secret(&self, name: &str) -> Option<String> {
        self.env.secret(name).ok().map(|s| s.to_string())
    }

    async fn sleep(&self, ms: u64) {
        Delay::from(Duration::from_millis(ms)).await;
    }

    fn fetch_timeout_ms(&self) -> u64 {
        self.timeout_ms
    }
}
