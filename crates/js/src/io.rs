//! The key provider's I/O in a JS host: the global `fetch` with an `AbortController`
//! timeout, the optional user cache, the values of `secret` options, the DPoP
//! replay store (`replayStore`, in memory by default) and the revocation store
//! (`revocation.store`).

use std::collections::HashMap;
use std::rc::Rc;

use js_sys::{Array, Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use tokengate::check_fetch_url;
use tokengate::{HttpResponse, KeyIo, ProofReplay, UnixSeconds};

/// The key provider's I/O in a JS host: the global `fetch` (looked up on every call, so
/// that tests can stub it) with an `AbortController` timeout, the optional user cache
/// (`get(key)` / `set(key, value, ttlSeconds)`, errors ignored) and the `secret`
/// options.
#[derive(Clone)]
pub struct JsIo {
    cache: Option<JsValue>,
    secrets: Rc<HashMap<String, String>>,
    timeout_ms: u64,
    replay: ReplayStore,
    revocation: Option<JsValue>,
}

impl JsIo {
    /// The I/O of a verifier: its user `cache` (already checked to have `get` and
    /// `set`), the values of its `secret` options by name, the fetch timeout and where
    /// the `jti` of DPoP proofs are remembered.
    pub fn new(
        cache: Option<JsValue>,
        secrets: HashMap<String, String>,
        timeout_ms: u64,
        replay: ReplayStore,
    ) -> Self {
        JsIo {
            cache,
            secrets: Rc::new(secrets),
            timeout_ms,
            replay,
            revocation: None,
        }
    }

    /// The same I/O reading revocation entries from `store` (the `revocation.store`
    /// option, already checked to have `get(key)`).
    pub fn with_revocation_store(mut self, store: JsValue) -> Self {
        self.revocation = Some(store);
        self
    }
}

/// The `revocation.store` option: an object with `get(key)` (a Workers KV namespace,
/// a Redis client wrapper, a `Map`), answering the entry's value (a string), or
/// `null`/`undefined` when there is none, or a promise of it.
pub fn revocation_store(v: &JsValue) -> Result<JsValue, &'static str> {
    if v.is_undefined() || v.is_null() {
        return Err("is required: an object with get(key) (e.g. a Workers KV namespace or a Map)");
    }
    if !v.is_object() || get_fn(v, "get").is_none() {
        return Err(
            "must be an object with a get(key) method (e.g. a Workers KV namespace or a Map)",
        );
    }
    Ok(v.clone())
}

/// At most this many proof `jti` are remembered by the in-memory replay store; when
/// that many are live (none expired), further proofs are refused
/// (`dpop_replay_unavailable`) rather than any forgotten early.
pub const MEMORY_REPLAY_CAPACITY: usize = 100_000;

/// Where the `jti` of DPoP proofs are remembered (the `replayStore` option).
#[derive(Clone)]
pub enum ReplayStore {
    /// The default: in this verifier's memory (one process or isolate), bounded by
    /// [`MEMORY_REPLAY_CAPACITY`].
    Memory(Rc<std::cell::RefCell<MemoryReplay>>),
    /// The user's store: an object with `claim(key, ttlSeconds)` (preferred), or
    /// `has(key)` and `put(key, ttlSeconds)`.
    Js(JsValue),
}

impl ReplayStore {
    /// The default in-memory store.
    pub fn memory() -> Self {
        ReplayStore::Memory(Rc::new(std::cell::RefCell::new(MemoryReplay::new(
            MEMORY_REPLAY_CAPACITY,
        ))))
    }

    /// The `replayStore` option: `undefined`/`null` for the in-memory store, else an
    /// object with `claim`, or with `has` and `put`.
    pub fn from_option(v: JsValue) -> Result<Self, &'static str> {
        if v.is_undefined() || v.is_null() {
            return Ok(ReplayStore::memory());
        }
        if !v.is_object() {
            return Err("must be an object with claim(key, ttlSeconds), or has(key) and put(key, ttlSeconds)");
        }
        if get_fn(&v, "claim").is_some()
            || (get_fn(&v, "has").is_some() && get_fn(&v, "put").is_some())
        {
            Ok(ReplayStore::Js(v))
        } else {
            Err("must have a claim(key, ttlSeconds) method, or has(key) and put(key, ttlSeconds)")
        }
    }
}

/// The in-memory replay store: key -> the time (unix seconds) it may be forgotten.
#[derive(Debug)]
pub struct MemoryReplay {
    capacity: usize,
    entries: HashMap<String, UnixSeconds>,
}

impl MemoryReplay {
    /// An empty store of at most `capacity` live entries.
    pub fn new(capacity: usize) -> Self {
        MemoryReplay {
            capacity,
            entries: HashMap::new(),
        }
    }

    /// `Ok(true)` the first time `key` is claimed before `until`, `Ok(false)` while
    /// it is remembered; `Err` when the store is full of live entries.
    pub fn claim(
        &mut self,
        key: &str,
        until: UnixSeconds,
        now: UnixSeconds,
    ) -> Result<bool, String> {
        if let Some(&t) = self.entries.get(key) {
            // At `until` itself the proof is still young enough to be accepted.
            if t >= now {
                return Ok(false);
            }
        }
        if self.entries.len() >= self.capacity && !self.entries.contains_key(key) {
            self.entries.retain(|_, t| *t >= now);
            if self.entries.len() >= self.capacity {
                return Err(format!(
                    "the in-memory replay store holds {} live proofs (its limit): give a replayStore",
                    self.capacity
                ));
            }
        }
        self.entries.insert(key.to_owned(), until);
        Ok(true)
    }

    /// The number of entries (live or not yet purged).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
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

impl JsIo {
    /// `replayStore.claim(key, ttl)` (preferred), else `has(key)` then `put(key, ttl)`.
    async fn claim_js(store: &JsValue, key: &str, ttl: u64) -> Result<bool, String> {
        let key_js = JsValue::from_str(key);
        let ttl_js = JsValue::from_f64(ttl as f64);
        let call = |name: &str, args: &[&JsValue]| -> Result<JsValue, String> {
            let f = get_fn(store, name)
                .ok_or_else(|| format!("replayStore.{name} is not a function"))?;
            let r = match args {
                [a] => f.call1(store, a),
                [a, b] => f.call2(store, a, b),
                _ => f.call0(store),
            };
            r.map_err(|e| format!("replayStore.{name}: {}", js_message(&e)))
        };
        if get_fn(store, "claim").is_some() {
            let v = call("claim", &[&key_js, &ttl_js])?;
            let v = settle(v)
                .await
                .map_err(|e| format!("replayStore.claim: {}", js_message(&e)))?;
            return v
                .as_bool()
                .ok_or_else(|| "replayStore.claim must resolve to a boolean".to_string());
        }
        let seen = call("has", &[&key_js])?;
        let seen = settle(seen)
            .await
            .map_err(|e| format!("replayStore.has: {}", js_message(&e)))?;
        if seen.is_truthy() {
            return Ok(false);
        }
        let put = call("put", &[&key_js, &ttl_js])?;
        settle(put)
            .await
            .map_err(|e| format!("replayStore.put: {}", js_message(&e)))?;
        Ok(true)
    }
}

impl JsIo {
    /// `revocation.store.get(key)` for every key, concurrently: a string is the entry's
    /// value, `null` or `undefined` no entry; a store that throws, rejects or answers
    /// anything else is unavailable (the request is refused, never let through).
    async fn revocation_js(
        store: &JsValue,
        keys: &[String],
    ) -> Result<Vec<Option<String>>, String> {
        let get = get_fn(store, "get").ok_or("revocation.store.get is not a function")?;
        let pending = Array::new();
        for key in keys {
            let v = get
                .call1(store, &JsValue::from_str(key))
                .map_err(|e| format!("revocation.store.get: {}", js_message(&e)))?;
            pending.push(&Promise::resolve(&v));
        }
        let all = JsFuture::from(Promise::all(&pending))
            .await
            .map_err(|e| format!("revocation.store.get: {}", js_message(&e)))?;
        let all: Array = all.unchecked_into();
        all.iter()
            .map(|v| {
                if v.is_undefined() || v.is_null() {
                    Ok(None)
                } else {
                    v.as_string().map(Some).ok_or_else(|| {
                        "revocation.store.get must answer a string, null or undefined".to_string()
                    })
                }
            })
            .collect()
    }
}

impl KeyIo for JsIo {
    /// Revocation entries through `revocation.store` (see `JsIo::revocation_js`).
    async fn revocation_entries(&self, keys: &[String]) -> Result<Vec<Option<String>>, String> {
        match &self.revocation {
            Some(store) => Self::revocation_js(store, keys).await,
            None => Err("no revocation store is configured".into()),
        }
    }

    /// The `jti` of a proof, through the `replayStore` (or the in-memory default): a
    /// store that throws, rejects or answers something else refuses the proof.
    async fn claim_proof(&self, proof: &ProofReplay, now: UnixSeconds) -> Result<bool, String> {
        match &self.replay {
            ReplayStore::Memory(m) => m.borrow_mut().claim(&proof.key(), proof.expires_at, now),
            ReplayStore::Js(store) => Self::claim_js(store, &proof.key(), proof.ttl(now)).await,
        }
    }

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

#[cfg(test)]
mod tests {
    use super::MemoryReplay;

    #[test]
    fn the_memory_replay_store_accepts_a_key_once_within_its_window_and_stays_bounded() {
        let mut m = MemoryReplay::new(2);
        assert_eq!(m.claim("a", 100, 10), Ok(true));
        assert_eq!(m.claim("a", 100, 50), Ok(false));
        // Still remembered at `until` itself (the proof is still young enough then).
        assert_eq!(m.claim("a", 100, 100), Ok(false));
        assert_eq!(m.claim("a", 200, 101), Ok(true), "forgotten after until");
        assert_eq!(m.claim("b", 150, 101), Ok(true));
        // Full of live entries: refused, nothing forgotten early.
        assert!(m.claim("c", 160, 120).is_err());
        assert_eq!(m.claim("b", 150, 120), Ok(false));
        // Once one expires, room is made.
        assert_eq!(m.claim("c", 300, 151), Ok(true));
        assert_eq!(m.len(), 2);
        assert!(!m.is_empty());
    }
}
