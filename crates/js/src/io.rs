//! The key provider's I/O in a JS host: the global `fetch` with an `AbortController`
//! timeout, the optional user cache and the values of `secret` options.

use std::collections::HashMap;
use std::rc::Rc;

use js_sys::{Array, Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use tokengate::check_fetch_url;
use tokengate::{HttpResponse, KeyIo};

/// The key provider's I/O in a JS host: the global `fetch` (looked up on every call, so
/// that tests can stub it) with an `AbortController` timeout, the optional user cache
/// (`get(key)` / `set(key, value, ttlSeconds)`, errors ignored) and the `secret`
/// options.
#[derive(Clone)]
pub struct JsIo {
    cache: Option<JsValue>,
    secrets: Rc<HashMap<String, String>>,
    timeout_ms: u64,
}

impl JsIo {
    /// The I/O of a verifier: its user `cache` (already checked to have `get` and
    /// `set`), the values of its `secret` options by name, and the fetch timeout.
    pub fn new(cache: Option<JsValue>, secrets: HashMap<String, String>, timeout_ms: u64) -> Self {
        JsIo {
            cache,
            secrets: Rc::new(secrets),
            timeout_ms,
        }
    }
}

fn js_message(e: &JsValue) -> String {
    if let Some(s) = e.as_string() {
        return s;
    }
    let name = Reflect::get(e, &"name".into())
        .ok()
        .and_then(|v| v.as_string());
    let message = Reflect::get(e, &"message".into())
        .ok()
        .and_then(|v| v.as_string());
    let cause = Reflect::get(e, &"cause".into())
        .ok()
        .filter(|c| c.is_object())
        .and_then(|c| Reflect::get(&c, &"message".into()).ok())
        .and_then(|v| v.as_string());
    let mut out = match (name, message) {
        (Some(n), Some(m)) => format!("{n}: {m}"),
        (None, Some(m)) => m,
        (Some(n), None) => n,
        (None, None) => "unknown error".into(),
    };
    if let Some(c) = cause {
        out.push_str(&format!(" ({c})"));
    }
    out
}

/// The function `target[name]`, if it is one.
pub fn get_fn(target: &JsValue, name: &str) -> Option<Function> {
    Reflect::get(target, &name.into())
        .ok()
        .and_then(|f| f.dyn_into::<Function>().ok())
}

/// Awaits a value that may or may not be a promise.
async fn settle(v: JsValue) -> Result<JsValue, JsValue> {
    JsFuture::from(Promise::resolve(&v)).await
}

impl JsIo {
    async fn fetch_inner(&self, url: &str) -> Result<HttpResponse, String> {
        let global: JsValue = js_sys::global().into();
        let fetch =
            get_fn(&global, "fetch").ok_or("there is no global fetch function in this runtime")?;
        let init = Object::new();
        let headers = Object::new();
        let _ = Reflect::set(&headers, &"accept".into(), &"application/json".into());
        let _ = Reflect::set(&init, &"method".into(), &"GET".into());
        let _ = Reflect::set(&init, &"headers".into(), &headers);
        // A timeout through AbortController where the runtime has one.
        let mut abort: Option<(JsValue, JsValue)> = None;
        if let Some(ctor) = get_fn(&global, "AbortController") {
            if let Ok(ctrl) = Reflect::construct(&ctor, &Array::new()) {
                let signal = Reflect::get(&ctrl, &"signal".into()).unwrap_or(JsValue::UNDEFINED);
                let trigger = get_fn(&ctrl, "abort").map(|f| f.bind0(&ctrl));
                let set_timeout = get_fn(&global, "setTimeout");
                if let (Some(trigger), Some(set_timeout)) = (trigger, set_timeout) {
                    let _ = Reflect::set(&init, &"signal".into(), &signal);
                    if let Ok(timer) =
                        set_timeout.call2(&global, &trigger, &(self.timeout_ms as f64).into())
                    {
                        abort = Some((signal, timer));
                    }
                }
            }
        }
        let result = async {
            let pending = fetch
                .call2(&global, &url.into(), &init)
                .map_err(|e| js_message(&e))?;
            let resp = settle(pending).await.map_err(|e| js_message(&e))?;
            let status = Reflect::get(&resp, &"status".into())
                .ok()
                .and_then(|s| s.as_f64())
                .ok_or("fetch returned something that is not a Response")?;
            // fetch follows redirects: the final URL must pass the same rule as the
            // configured one (https, or http on a loopback host).
            if let Some(final_url) = Reflect::get(&resp, &"url".into())
                .ok()
                .and_then(|u| u.as_string())
                .filter(|u| !u.is_empty())
            {
                check_fetch_url(&final_url)
                    .map_err(|why| format!("redirected to {final_url}: {why}"))?;
            }
            let headers = Reflect::get(&resp, &"headers".into()).unwrap_or(JsValue::UNDEFINED);
            let header = |name: &str| -> Option<String> {
                let get = get_fn(&headers, "get")?;
                get.call1(&headers, &name.into()).ok()?.as_string()
            };
            let cache_control = header("cache-control");
            let age = header("age");
            let text = get_fn(&resp, "text").ok_or("the response has no text()")?;
            let body = text.call0(&resp).map_err(|e| js_message(&e))?;
            let body = settle(body).await.map_err(|e| js_message(&e))?;
            Ok(HttpResponse {
                status: status as u16,
                body: body.as_string().unwrap_or_default(),
                cache_control,
                age,
            })
        }
        .await;
        if let Some((signal, timer)) = abort {
            if let Some(clear) = get_fn(&global, "clearTimeout") {
                let _ = clear.call1(&global, &timer);
            }
            let aborted = Reflect::get(&signal, &"aborted".into())
                .ok()
                .and_then(|a| a.as_bool())
                .unwrap_or(false);
            if aborted && result.is_err() {
                return Err(format!("timed out after {} ms", self.timeout_ms));
            }
        }
        result
    }
}

impl KeyIo for JsIo {
    async fn fetch(&self, url: &str) -> Result<HttpResponse, String> {
        self.fetch_inner(url)
            .await
            .map_err(|e| format!("fetching {url}: {e}"))
    }

    async fn load(&self, key: &str) -> Option<String> {
        let cache = self.cache.as_ref()?;
        let get = get_fn(cache, "get")?;
        let v = get.call1(cache, &key.into()).ok()?;
        settle(v).await.ok()?.as_string()
    }

    async fn save(&self, key: &str, value: String, ttl_secs: u64) {
        let Some(cache) = self.cache.as_ref() else {
            return;
        };
        let Some(set) = get_fn(cache, "set") else {
            return;
        };
        if let Ok(v) = set.call3(cache, &key.into(), &value.into(), &(ttl_secs as f64).into()) {
            let _ = settle(v).await;
        }
    }

    fn secret(&self, name: &str) -> Option<String> {
        self.secrets.get(name).cloned()
    }

    /// A `setTimeout` promise made by the caller (so, in workerd, by its own request).
    async fn sleep(&self, ms: u64) {
        let global: JsValue = js_sys::global().into();
        let promise = match get_fn(&global, "setTimeout") {
            Some(set_timeout) => Promise::new(&mut |resolve, _reject| {
                if set_timeout
                    .call2(&global, &resolve, &(ms as f64).into())
                    .is_err()
                {
                    let _ = resolve.call0(&JsValue::UNDEFINED);
                }
            }),
            // No timers: at least yield to the event loop.
            None => Promise::resolve(&JsValue::UNDEFINED),
        };
        let _ = JsFuture::from(promise).await;
    }

    fn fetch_timeout_ms(&self) -> u64 {
        self.timeout_ms
    }
}
