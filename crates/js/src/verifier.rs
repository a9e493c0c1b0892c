//! The verifier of `createVerifier`: the pipeline ([`Authenticator`]) with the
//! bindings' I/O ([`JsIo`]), the signature backend, the compiled `authorize`
//! requirements, and the successes kept for the JS wrapper (`Memo`).
//!
//! [`Verifier::verify_now`] runs [`Authenticator::verify`] (keys through [`JsIo`],
//! signatures through [`tokengate_webcrypto`]: node:crypto's synchronous verify where
//! the Node.js entry registered it, else WebCrypto, with the Rust backend as the
//! fallback or with `signatureBackend: "wasm"`; the core's token cache is disabled
//! here) and polls it once: when nothing had to wait (keys in memory, a synchronous
//! signature check) it answers with the result itself, sparing the promise machinery;
//! when it waits for WebCrypto's `verify` only, it hands that promise to the wrapper,
//! which awaits it and resumes the verification ([`Verifier::resume`]). It keeps the
//! success for [`Verifier::recheck`] and [`Verifier::authorize_kept`], which let the
//! JS wrapper (`npm/api.js`) reuse the result of a repeated token after checking the
//! key set and the time claims again. [`Verifier::authorize`] (the
//! wrapper's path when nothing is kept) verifies and checks a
//! [`Requirement`](tokengate::Requirement) with a compiled [`Policy`].

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use js_sys::{Array, Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{future_to_promise, spawn_local};

use tokengate::UnixSeconds;
use tokengate::{poll_once, Authenticator, Credentials, Kept, Scheme};
use tokengate::{ClientCertificate, DpopRequest, KeyIo, Nonces, NONCE_SECRET};
use tokengate::{Deny, ErrorCode, InternalError, RequestError, TokenError};
use tokengate::{Policy, PolicyConfig};
use tokengate_webcrypto::{poll_handoff, Backend, HostPromise};

use crate::io::{get_fn, revocation_store, JsIo, ReplayStore};
use crate::options::{
    config_error, from_js, js_only, requirement, requirement_error, translate, OptionError,
    Translated,
};
use crate::results::{to_js, Failure, Success};

/// At most this many compiled `authorize` requirements are kept per verifier.
const MAX_POLICIES: usize = 256;

struct Inner {
    auth: Authenticator,
    policies: RefCell<HashMap<String, Rc<Policy>>>,
    io: JsIo,
    current_date: Option<Function>,
    backend: Backend,
    memo: RefCell<Memo>,
    /// The verifications waiting for a WebCrypto promise that the JS wrapper awaits
    /// ([`Verifier::verify_now`], [`Verifier::resume`]), by wait id.
    waiting: RefCell<HashMap<u32, Waiting>>,
    next_wait: Cell<u32>,
}

/// A verification in flight.
type Pending = Pin<Box<dyn Future<Output = Result<Kept, Deny>>>>;

/// A verification waiting for the WebCrypto promise `host`, and whether to keep its
/// success.
struct Waiting {
    pending: Pending,
    host: HostPromise,
    keep: bool,
}

/// The verifications that the package's JS wrapper (`npm/api.js`) keeps by token
/// string, so that a repeated token skips the wasm call with the token, the hashing and
/// the result marshalling: the wrapper holds `token -> (id, frozen result)` and, on a
/// hit, asks [`Verifier::recheck`] whether entry `id` still holds *now*. The entries
/// are the core's [`Kept`] verifications, and the recheck is the core's one reuse rule
/// ([`Authenticator::recheck`]), the rule of the Worker's token cache. Bounded like the
/// token cache.
#[derive(Default)]
struct Memo {
    capacity: usize,
    entries: HashMap<u32, Kept>,
    order: VecDeque<u32>,
    next: u32,
    /// The id of the last success kept (0: the last call kept nothing).
    last: u32,
}

impl Memo {
    fn insert(&mut self, success: Kept) -> u32 {
        if self.capacity == 0 {
            return 0;
        }
        while self.entries.len() >= self.capacity {
            match self.order.pop_front() {
                Some(old) => {
                    self.entries.remove(&old);
                }
                None => break,
            }
        }
        // Entries dropped by a failed recheck leave their id in `order`: compact it
        // before it outgrows the entries, so that it stays bounded.
        if self.order.len() >= self.capacity.saturating_mul(2).max(16) {
            let entries = &self.entries;
            self.order.retain(|id| entries.contains_key(id));
        }
        // Ids start at 1 and skip 0 on wrap-around.
        self.next = self.next.checked_add(1).unwrap_or(1);
        let id = self.next;
        self.entries.insert(id, success);
        self.order.push_back(id);
        id
    }
}

/// A token verifier made by `createVerifier(options)`: `verify(token)` and
/// `authorize(token, requirement)` return promises of plain result objects.
#[wasm_bindgen]
pub struct Verifier {
    inner: Rc<Inner>,
}

/// `createVerifier(options)`: validates the options and builds a verifier. Throws a
/// `TypeError` naming the bad option.
#[wasm_bindgen(js_name = createVerifier)]
pub fn create_verifier(options: JsValue) -> Result<Verifier, JsValue> {
    if !options.is_object() || Array::is_array(&options) {
        return Err(OptionError::new("", "createVerifier expects an options object").to_js());
    }
    let cache = Reflect::get(&options, &"cache".into()).unwrap_or(JsValue::UNDEFINED);
    let cache = if cache.is_undefined() || cache.is_null() {
        None
    } else {
        if get_fn(&cache, "get").is_none() || get_fn(&cache, "set").is_none() {
            return Err(OptionError::new(
                "cache",
                "must be an object with get(key) and set(key, value, ttlSeconds) methods",
            )
            .to_js());
        }
        Some(cache)
    };
    let current_date = Reflect::get(&options, &"currentDate".into()).unwrap_or(JsValue::UNDEFINED);
    let current_date = if current_date.is_undefined() || current_date.is_null() {
        None
    } else {
        Some(current_date.dyn_into::<Function>().map_err(|_| {
            OptionError::new("currentDate", "must be a function returning a Date").to_js()
        })?)
    };
    let backend = Reflect::get(&options, &"signatureBackend".into()).unwrap_or(JsValue::UNDEFINED);
    let backend = if backend.is_undefined() || backend.is_null() {
        Backend::default()
    } else {
        backend
            .as_string()
            .as_deref()
            .and_then(Backend::parse)
            .ok_or_else(|| {
                OptionError::new(
                    "signatureBackend",
                    "must be \"auto\", \"node\", \"webcrypto\" or \"wasm\"",
                )
                .to_js()
            })?
    };
    if backend == Backend::Node && !tokengate_webcrypto::has_host_verify() {
        return Err(OptionError::new(
            "signatureBackend",
            "\"node\" needs the package's Node.js entry (node:crypto); this runtime has none",
        )
        .to_js());
    }
    // Everything else is plain data: copy it without the two callbacks and the backend
    // and read it as JSON.
    let data = Object::assign(&Object::new(), &Object::from(options.clone()));
    for key in js_only() {
        let _ = Reflect::delete_property(&data, &key.into());
    }
    // `revocation.store` is an object of the caller's (a KV namespace, a Map): read
    // here, the rest of the section is data.
    let revocation = Reflect::get(&options, &"revocation".into()).unwrap_or(JsValue::UNDEFINED);
    let revocation_store = if revocation.is_object() && !Array::is_array(&revocation) {
        let store = Reflect::get(&revocation, &"store".into()).unwrap_or(JsValue::UNDEFINED);
        let store = revocation_store(&store)
            .map_err(|why| OptionError::new("revocation.store", why).to_js())?;
        let section = Object::assign(&Object::new(), &Object::from(revocation));
        let _ = Reflect::delete_property(&section, &"store".into());
        let _ = Reflect::set(&data, &"revocation".into(), &section);
        Some(store)
    } else {
        None
    };
    let value = from_js(&data, "options").map_err(|e| e.to_js())?;
    let Translated {
        config,
        mut secrets,
        single,
    } = translate(&value).map_err(|e| e.to_js())?;
    let replay = ReplayStore::from_option(
        Reflect::get(&options, &"replayStore".into()).unwrap_or(JsValue::UNDEFINED),
    )
    .map_err(|why| OptionError::new("replayStore", why).to_js())?;
    let nonce_secret =
        Reflect::get(&options, &"dpopNonceSecret".into()).unwrap_or(JsValue::UNDEFINED);
    if !nonce_secret.is_undefined() && !nonce_secret.is_null() {
        let secret = nonce_secret
            .as_string()
            .filter(|s| Nonces::new(s.as_bytes()).is_some())
            .ok_or_else(|| {
                OptionError::new("dpopNonceSecret", "must be a string of at least 32 bytes").to_js()
            })?;
        secrets.insert(NONCE_SECRET.to_string(), secret);
    } else if config.dpop.as_ref().is_some_and(|d| d.nonce) {
        return Err(OptionError::new(
            "dpopNonceSecret",
            "is required with dpopProofs.nonce (the key nonces are made with)",
        )
        .to_js());
    }
    let mut io = JsIo::new(cache, secrets, config.jwks_cache.fetch_timeout_ms, replay);
    if let Some(store) = revocation_store {
        io = io.with_revocation_store(store);
    }
    // Successes are kept in `Memo` (with the JS wrapper's map by token string), not in
    // the pipeline's hashed token cache: one cache, and no token hashing.
    let memo_capacity = config.token_cache_size;
    let auth =
        Authenticator::with_cache(config, 0).map_err(|e| config_error(&e, single).to_js())?;
    Ok(Verifier {
        inner: Rc::new(Inner {
            auth,
            policies: RefCell::new(HashMap::new()),
            io,
            current_date,
            backend,
            memo: RefCell::new(Memo {
                capacity: memo_capacity,
                ..Memo::default()
            }),
            waiting: RefCell::new(HashMap::new()),
            next_wait: Cell::new(0),
        }),
    })
}

/// The earliest time `currentDate` may return, in epoch milliseconds (1973-03-03):
/// anything earlier is a number of seconds read as milliseconds.
const MIN_CURRENT_DATE_MS: f64 = 1e11;

impl Inner {
    /// The current time in unix seconds: `currentDate()` or `Date.now()`.
    fn now(&self) -> Result<UnixSeconds, JsValue> {
        let ms = match &self.current_date {
            None => js_sys::Date::now(),
            Some(f) => {
                let v = f.call0(&JsValue::UNDEFINED)?;
                let ms = if let Some(d) = v.dyn_ref::<js_sys::Date>() {
                    d.get_time()
                } else {
                    v.as_f64().unwrap_or(f64::NAN)
                };
                if !ms.is_finite() {
                    return Err(js_sys::TypeError::new(
                        "tokengate: option \"currentDate\" must return a valid Date (or epoch milliseconds)",
                    )
                    .into());
                }
                // A clock before March 1973 is a number of seconds taken for
                // milliseconds (or a Date made from one): every token would look
                // issued in the future, and the error would be misleading.
                if ms < MIN_CURRENT_DATE_MS {
                    return Err(js_sys::TypeError::new(
                        "tokengate: option \"currentDate\" returned a time before 1973: return a Date or epoch milliseconds, not seconds",
                    )
                    .into());
                }
                ms
            }
        };
        // The one conversion to the core's time type (`ms` is at least 1973 here).
        Ok((ms / 1000.0).floor().max(0.0) as UnixSeconds)
    }

    fn deny(&self, err: &dyn ErrorCode) -> Deny {
        self.auth.gate().deny(err, None)
    }

    /// The result object of a verification and, with `keep`, the id its success is
    /// kept under (0: a failure, or not kept).
    fn settle(&self, outcome: Result<Kept, Deny>, keep: bool) -> (JsValue, u32) {
        match outcome {
            Ok(s) => {
                // The answer for a token presented as a bearer token; the success is
                // kept all the same, for a request that proves its binding
                // ([`Verifier::sender_kept`]).
                let result = match self.bearer_check(&s) {
                    Ok(()) => to_js(&Success::from(&s.verified)),
                    Err(deny) => to_js(&Failure::new(&deny)),
                };
                let id = if keep {
                    self.memo.borrow_mut().insert(s)
                } else {
                    0
                };
                (result, id)
            }
            Err(deny) => (to_js(&Failure::new(&deny)), 0),
        }
    }

    /// The sender check of a token presented as a bearer token, without a client
    /// certificate (`verify(token)`, `authorize(token)`): a bound token is refused, and
    /// so is any token of an issuer that requires DPoP.
    fn bearer_check(&self, kept: &Kept) -> Result<(), Deny> {
        let creds = Credentials::default();
        let fut =
            self.auth
                .prove_sender(&self.io, &self.backend, kept, "", Scheme::Bearer, &creds, 0);
        let polled = match poll_once(Box::pin(fut)) {
            Ok(r) => r.map_err(|e| e.deny(self.auth.gate())),
            // Not reached: a bearer presentation waits for nothing.
            Err(_) => Err(self.deny(&InternalError("the bearer check waited".into()))),
        };
        polled
    }

    /// The sender check of a kept verification for a request (`Authorization` scheme,
    /// DPoP proof, client certificate), then `policy`'s requirement.
    async fn prove(
        &self,
        kept: &Kept,
        presented: &Presented,
        parts: &RequestParts,
        policy: &Policy,
        now: UnixSeconds,
    ) -> Result<(), Deny> {
        let cert = parts.client_certificate.clone();
        let read = move || cert.clone();
        let creds = Credentials {
            authorization: None,
            cookie: None,
            dpop: Some(DpopRequest {
                method: &parts.method,
                url: &parts.url,
                proof: parts.dpop.as_deref(),
            }),
            client_cert: Some(&read),
        };
        self.auth
            .prove_sender(
                &self.io,
                &self.backend,
                kept,
                &presented.token,
                presented.scheme,
                &creds,
                now,
            )
            .await
            .map_err(|e| e.deny(self.auth.gate()))?;
        let route = policy.route("GET", "/");
        policy
            .authorize(
                &route,
                &kept.verified.principal,
                &kept.verified.token.claims,
            )
            .map_err(|e| self.auth.gate().deny_policy(&e))
    }

    /// The token of a request's `Authorization` header and its scheme; `Err` is the
    /// failure result (a malformed header, no token).
    fn presented(&self, authorization: Option<&str>) -> Result<Presented, Deny> {
        match tokengate::extract_presented(authorization, None, None) {
            Ok(Some((token, scheme))) => Ok(Presented {
                token: token.to_string(),
                scheme,
            }),
            Ok(None) => Err(self.deny(&RequestError::TokenMissing)),
            Err(e) => Err(self.deny(&e)),
        }
    }

    /// Verifies a token; `Err` carries the failure result (not an exception).
    async fn verify(self: &Rc<Self>, token: &JsValue, now: UnixSeconds) -> Result<Kept, Deny> {
        let token = match token.as_string() {
            Some(t) if !t.is_empty() => t,
            _ if token.is_undefined() || token.is_null() || token.as_string().is_some() => {
                return Err(self.deny(&RequestError::TokenMissing))
            }
            _ => return Err(self.deny(&TokenError::Malformed("the token must be a string".into()))),
        };
        let v = self
            .auth
            .verify(&self.io, &self.backend, &token, now)
            .await
            .map_err(|e| e.deny(self.auth.gate()))?;
        if v.refresh {
            let me = Rc::clone(self);
            let issuer = v.kept.issuer;
            spawn_local(async move {
                me.auth.refresh(&me.io, issuer, now).await;
            });
        }
        // Revocation (when configured) before anything is kept: a revoked token is
        // never kept, and a kept one is checked again on every reuse
        // ([`Verifier::revocation_kept`]).
        self.auth
            .check_revocation(&self.io, &v.kept, now)
            .await
            .map_err(|e| e.deny(self.auth.gate()))?;
        Ok(v.kept)
    }

    /// The compiled policy of a requirement (cached by its JSON text).
    fn policy(&self, req: &JsValue) -> Result<Rc<Policy>, OptionError> {
        let value = from_js(req, "requirement").map_err(|mut e| {
            e.what = "requirement";
            e
        })?;
        let requirement = requirement(&value)?;
        // The core's own JSON of the requirement: equal requirements share a policy.
        let key = serde_json::to_string(&requirement).unwrap_or_default();
        if let Some(p) = self.policies.borrow().get(&key) {
            return Ok(Rc::clone(p));
        }
        let policy = self.auth.gate().policy();
        let cfg = PolicyConfig {
            default: policy.default_rule().clone(),
            wildcard_scopes: policy.wildcard_scopes(),
            realm: policy.realm().to_string(),
            ..PolicyConfig::for_requirement(requirement)
        };
        let compiled = Policy::new(&cfg).map_err(|e| requirement_error(&e))?;
        let compiled = Rc::new(compiled);
        let mut map = self.policies.borrow_mut();
        if map.len() >= MAX_POLICIES {
            map.clear();
        }
        map.insert(key, Rc::clone(&compiled));
        Ok(compiled)
    }
}

#[wasm_bindgen]
impl Verifier {
    /// `verifyNow(token, keep)`: the verification behind the wrapper's `verify(token)`.
    /// Answers with the result object (`{ ok: true, principal, claims, header }` or
    /// `{ ok: false, error }`) itself when the verification completes without waiting
    /// (keys in memory and a synchronous signature check: the usual case in Node.js);
    /// with `[promise, wait]` when it waits for a WebCrypto `verify` only (the usual
    /// case on edge runtimes): the wrapper awaits `promise` and hands its outcome to
    /// [`Verifier::resume`] with `wait`; otherwise with a promise of `[result, id]`.
    /// Throws when `currentDate` misbehaves. With `keep`, a success is kept for
    /// [`Verifier::recheck`] and [`Verifier::authorize_kept`] under `id` (when the
    /// result comes synchronously, the id [`Verifier::last_id`] returns next); 0 when
    /// nothing was kept.
    #[wasm_bindgen(js_name = verifyNow)]
    pub fn verify_now(&self, token: JsValue, keep: bool) -> Result<JsValue, JsValue> {
        self.inner.memo.borrow_mut().last = 0;
        let now = self.inner.now()?;
        let inner = Rc::clone(&self.inner);
        self.drive(
            Box::pin(async move { inner.verify(&token, now).await }),
            keep,
        )
    }

    /// `resume(wait, fulfilled, value)`: the outcome of the promise of a `[promise,
    /// wait]` answer (`fulfilled` false: it rejected, and `value` is ignored): answers
    /// as [`Verifier::verify_now`]. Throws for an unknown `wait`. Each wait is resumed
    /// once.
    pub fn resume(&self, wait: u32, fulfilled: bool, value: JsValue) -> Result<JsValue, JsValue> {
        self.inner.memo.borrow_mut().last = 0;
        let Some(w) = self.inner.waiting.borrow_mut().remove(&wait) else {
            return Err(
                js_sys::TypeError::new("tokengate: no such verification is waiting").into(),
            );
        };
        w.host.settle(fulfilled.then_some(&value));
        self.drive(w.pending, w.keep)
    }

    /// Polls a verification: its result, `[promise, wait]` when it waits for a WebCrypto
    /// promise that the wrapper awaits, else a promise of `[result, id]` (an executor
    /// polls it again with a real waker, which is all a future owes: only the waker of
    /// its latest poll is woken).
    fn drive(&self, mut pending: Pending, keep: bool) -> Result<JsValue, JsValue> {
        match poll_handoff(pending.as_mut()) {
            Ok(outcome) => {
                let (result, id) = self.inner.settle(outcome, keep);
                self.inner.memo.borrow_mut().last = id;
                Ok(result)
            }
            Err(Some(host)) => {
                let wait = self.inner.next_wait.get().wrapping_add(1);
                self.inner.next_wait.set(wait);
                let promise = host.promise.clone();
                self.inner.waiting.borrow_mut().insert(
                    wait,
                    Waiting {
                        pending,
                        host,
                        keep,
                    },
                );
                Ok(Array::of2(&promise, &wait.into()).into())
            }
            Err(None) => {
                let inner = Rc::clone(&self.inner);
                Ok(future_to_promise(async move {
                    let (result, id) = inner.settle(pending.await, keep);
                    Ok(Array::of2(&result, &id.into()).into())
                })
                .into())
            }
        }
    }

    /// How many successes are kept for [`Verifier::recheck`] (the token cache size).
    #[wasm_bindgen(js_name = memoCapacity)]
    pub fn memo_capacity(&self) -> u32 {
        u32::try_from(self.inner.memo.borrow().capacity).unwrap_or(u32::MAX)
    }

    /// The id under which the last [`Verifier::verify_now`] kept its success, or 0.
    #[wasm_bindgen(js_name = lastId)]
    pub fn last_id(&self) -> u32 {
        self.inner.memo.borrow().last
    }

    /// `authorizeKept(requirement, id)`: compiles (and caches) the requirement, throwing
    /// a `TypeError` when it is invalid; then, for `id` 0, answers `undefined`; for a
    /// kept success, `true` when its principal meets the requirement, else the failure
    /// result (a 403); `null` when `id` is no longer kept.
    #[wasm_bindgen(js_name = authorizeKept)]
    pub fn authorize_kept(&self, requirement: JsValue, id: u32) -> Result<JsValue, JsValue> {
        let policy = self.inner.policy(&requirement).map_err(|e| e.to_js())?;
        if id == 0 {
            return Ok(JsValue::UNDEFINED);
        }
        let memo = self.inner.memo.borrow();
        let Some(kept) = memo.entries.get(&id) else {
            return Ok(JsValue::NULL);
        };
        let route = policy.route("GET", "/");
        Ok(
            match policy.authorize(
                &route,
                &kept.verified.principal,
                &kept.verified.token.claims,
            ) {
                Ok(()) => JsValue::TRUE,
                Err(e) => to_js(&Failure::new(&self.inner.auth.gate().deny_policy(&e))),
            },
        )
    }

    /// `checksRevocation()`: whether the verifier has a `revocation` store, so that
    /// the wrapper asks [`Verifier::revocation_kept`] on every reuse of a kept result.
    #[wasm_bindgen(js_name = checksRevocation)]
    pub fn checks_revocation(&self) -> bool {
        self.inner.auth.config().revocation.is_some()
    }

    /// `revocationKept(id)`: the revocation check of kept success `id` now (the core's
    /// [`Authenticator::check_revocation`], its per-verifier cache then the store):
    /// `true` when no entry revokes it, else the failure result (`token_revoked`, or
    /// `revocation_unavailable` when the store throws or rejects); a promise of one of
    /// these when the store is read; `null` when `id` is no longer kept. Throws when
    /// `currentDate` misbehaves.
    #[wasm_bindgen(js_name = revocationKept)]
    pub fn revocation_kept(&self, id: u32) -> Result<JsValue, JsValue> {
        let Some(kept) = self.inner.memo.borrow().entries.get(&id).cloned() else {
            return Ok(JsValue::NULL);
        };
        let now = self.inner.now()?;
        let inner = Rc::clone(&self.inner);
        let fut = Box::pin(async move {
            match inner.auth.check_revocation(&inner.io, &kept, now).await {
                Ok(()) => JsValue::TRUE,
                Err(e) => to_js(&Failure::new(&e.deny(inner.auth.gate()))),
            }
        });
        Ok(match poll_once(fut) {
            Ok(result) => result,
            Err(fut) => future_to_promise(async move { Ok(fut.await) }).into(),
        })
    }

    /// Whether kept success `id` still holds now: the same key-set generation, keys
    /// usable without a fetch or refresh, and the time claims valid at the current time
    /// (as a token cache hit). `false` drops the entry (and whenever `currentDate`
    /// misbehaves, so that the full path reports it).
    pub fn recheck(&self, id: u32) -> bool {
        let Ok(now) = self.inner.now() else {
            return false;
        };
        let mut memo = self.inner.memo.borrow_mut();
        let holds = memo
            .entries
            .get(&id)
            .is_some_and(|kept| self.inner.auth.recheck(kept, now) == Ok(true));
        if !holds {
            memo.entries.remove(&id);
        }
        holds
    }

    /// `authorize(token, requirement)`: verifies, then checks the requirement (kinds,
    /// scopes, roles, clients, delegation). Policy denials are 403s (400 never occurs
    /// here). Rejects with a `TypeError` when the requirement is invalid.
    pub fn authorize(&self, token: JsValue, requirement: JsValue) -> Promise {
        let inner = Rc::clone(&self.inner);
        future_to_promise(async move {
            let policy = inner.policy(&requirement).map_err(|e| e.to_js())?;
            let now = inner.now()?;
            let verified = match inner.verify(&token, now).await {
                Ok(v) => v,
                Err(deny) => return Ok(to_js(&Failure::new(&deny))),
            };
            if let Err(deny) = inner.bearer_check(&verified) {
                return Ok(to_js(&Failure::new(&deny)));
            }
            let verified = verified.verified;
            let route = policy.route("GET", "/");
            let result = match policy.authorize(&route, &verified.principal, &verified.token.claims)
            {
                Ok(()) => to_js(&Success::from(&verified)),
                Err(e) => to_js(&Failure::new(&inner.auth.gate().deny_policy(&e))),
            };
            Ok(result)
        })
    }
}

/// A request's token and how it was presented.
struct Presented {
    token: String,
    scheme: Scheme,
}

/// What the JS wrapper reads of a request for its sender check: `{ method, url,
/// dpop, clientCertificate }` (`dpop`: the `DPoP` header's value, several joined with
/// `,`; `clientCertificate`: the SHA-256 fingerprint of the verified TLS client
/// certificate, hex as Node's `fingerprint256` or base64url).
struct RequestParts {
    method: String,
    url: String,
    dpop: Option<String>,
    client_certificate: ClientCertificate,
}

impl RequestParts {
    fn from_js(parts: &JsValue) -> Result<Self, JsValue> {
        let text = |name: &str| -> Result<Option<String>, JsValue> {
            let v = Reflect::get(parts, &name.into()).unwrap_or(JsValue::UNDEFINED);
            if v.is_undefined() || v.is_null() {
                return Ok(None);
            }
            v.as_string().map(Some).ok_or_else(|| {
                js_sys::TypeError::new(&format!("tokengate: the request's {name} must be a string"))
                    .into()
            })
        };
        let client_certificate = match text("clientCertificate")? {
            None => ClientCertificate::Absent,
            Some(s) if s.is_empty() => ClientCertificate::Absent,
            Some(s) => ClientCertificate::from_fingerprint(s.trim()).ok_or_else(|| -> JsValue {
                js_sys::TypeError::new(
                    "tokengate: clientCertificate must be the certificate's SHA-256 fingerprint: hex (Node's fingerprint256, colons allowed) or base64url (x5t#S256)",
                )
                .into()
            })?,
        };
        Ok(RequestParts {
            method: text("method")?.unwrap_or_else(|| "GET".into()),
            url: text("url")?.unwrap_or_default(),
            dpop: text("dpop")?,
            client_certificate,
        })
    }
}

#[wasm_bindgen]
impl Verifier {
    /// `presented(authorization)`: `{ ok: true, token, dpop }` for the token of an
    /// `Authorization: Bearer|DPoP <token>` value (`dpop`: the DPoP scheme), else the
    /// failure result (`token_missing` without a header, `invalid_request`), with this
    /// verifier's realm and challenges.
    pub fn presented(&self, authorization: JsValue) -> JsValue {
        let header = authorization.as_string();
        match self.inner.presented(header.as_deref()) {
            Ok(p) => {
                let out = Object::new();
                let _ = Reflect::set(&out, &"ok".into(), &JsValue::TRUE);
                let _ = Reflect::set(&out, &"token".into(), &p.token.into());
                let _ = Reflect::set(
                    &out,
                    &"dpop".into(),
                    &JsValue::from_bool(p.scheme == Scheme::Dpop),
                );
                out.into()
            }
            Err(deny) => to_js(&Failure::new(&deny)),
        }
    }

    /// `senderKept(id, token, dpop, parts, requirement)`: the request check of kept
    /// success `id` (the verification of `token`, presented with the DPoP scheme when
    /// `dpop`): its sender proven with the request's `parts` (see `RequestParts`), then
    /// the requirement. The success result, the failure result, a promise of one
    /// (when the proof's signature or the replay store waits), or `null` when `id` is
    /// no longer kept. Throws a `TypeError` for an invalid requirement or parts.
    #[wasm_bindgen(js_name = senderKept)]
    pub fn sender_kept(
        &self,
        id: u32,
        token: String,
        dpop: bool,
        parts: JsValue,
        requirement: JsValue,
    ) -> Result<JsValue, JsValue> {
        let policy = self.inner.policy(&requirement).map_err(|e| e.to_js())?;
        let parts = RequestParts::from_js(&parts)?;
        let Some(kept) = self.inner.memo.borrow().entries.get(&id).cloned() else {
            return Ok(JsValue::NULL);
        };
        let now = self.inner.now()?;
        let presented = Presented {
            token,
            scheme: if dpop { Scheme::Dpop } else { Scheme::Bearer },
        };
        let inner = Rc::clone(&self.inner);
        let fut = Box::pin(async move {
            let r = inner.prove(&kept, &presented, &parts, &policy, now).await;
            match r {
                Ok(()) => to_js(&Success::from(&kept.verified)),
                Err(deny) => to_js(&Failure::new(&deny)),
            }
        });
        Ok(match poll_once(fut) {
            Ok(result) => result,
            Err(fut) => future_to_promise(async move { Ok(fut.await) }).into(),
        })
    }

    /// `authorizeRequest(authorization, parts, requirement)`: the whole request check
    /// without a kept verification: the token of the `Authorization` header, verified,
    /// its sender proven with `parts`, then the requirement. A promise of the result;
    /// rejects with a `TypeError` for an invalid requirement or parts.
    #[wasm_bindgen(js_name = authorizeRequest)]
    pub fn authorize_request(
        &self,
        authorization: JsValue,
        parts: JsValue,
        requirement: JsValue,
    ) -> Promise {
        let inner = Rc::clone(&self.inner);
        future_to_promise(async move {
            let policy = inner.policy(&requirement).map_err(|e| e.to_js())?;
            let parts = RequestParts::from_js(&parts)?;
            let now = inner.now()?;
            let header = authorization.as_string();
            let presented = match inner.presented(header.as_deref()) {
                Ok(p) => p,
                Err(deny) => return Ok(to_js(&Failure::new(&deny))),
            };
            let token = JsValue::from_str(&presented.token);
            let kept = match inner.verify(&token, now).await {
                Ok(k) => k,
                Err(deny) => return Ok(to_js(&Failure::new(&deny))),
            };
            Ok(
                match inner.prove(&kept, &presented, &parts, &policy, now).await {
                    Ok(()) => to_js(&Success::from(&kept.verified)),
                    Err(deny) => to_js(&Failure::new(&deny)),
                },
            )
        })
    }

    /// `resourceMetadata(path)`: the RFC 9728 document (JSON text) when
    /// `resourceMetadata` is configured and `path` is its well-known path (`undefined`:
    /// that path, whatever it is); else `null`.
    #[wasm_bindgen(js_name = resourceMetadata)]
    pub fn resource_metadata(&self, path: JsValue) -> Option<String> {
        let gate = self.inner.auth.gate();
        let path = match path.as_string() {
            Some(p) => p,
            None => gate.config().resource_metadata.as_ref()?.well_known_path(),
        };
        gate.resource_metadata(&path)
    }

    /// `resourceMetadataUrl()`: the URL of the metadata document that challenges
    /// name (`resource_metadata="..."`), or `null` when it is not configured.
    #[wasm_bindgen(js_name = resourceMetadataUrl)]
    pub fn resource_metadata_url(&self) -> Option<String> {
        self.inner
            .auth
            .gate()
            .challenges()
            .resource_metadata
            .clone()
    }

    /// `dpopNonce()`: a fresh DPoP nonce (for a `DPoP-Nonce` header on any answer),
    /// or `null` when nonces are off.
    #[wasm_bindgen(js_name = dpopNonce)]
    pub fn dpop_nonce(&self) -> Result<Option<String>, JsValue> {
        if !self.inner.auth.gate().dpop_rules().nonce {
            return Ok(None);
        }
        let now = self.inner.now()?;
        Ok(self
            .inner
            .io
            .secret(NONCE_SECRET)
            .and_then(|s| Nonces::new(s.as_bytes()))
            .map(|n| n.issue(now)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tokengate::Alg;
    use tokengate::Config;
    use tokengate::KeySet;

    #[test]
    fn memo_stays_bounded_when_entries_are_dropped_between_inserts() {
        let verified = || {
            let key = tokengate::SigningKey::generate(Alg::EdDSA).unwrap();
            let claims = json!({"iss": "https://i/", "aud": "a", "sub": "u", "exp": 2_000_000_000});
            let token = key.sign(claims.as_object().unwrap(), None);
            let cfg = Config::from_value(json!({"issuers": [{"issuer": "https://i/",
                "audiences": ["a"], "jwks": tokengate::public_jwks(&[key])}]}))
            .unwrap();
            let gate = tokengate::Gate::new(cfg).unwrap();
            let u = gate.peek(&token).unwrap();
            let keys = KeySet::from_value(&gate.config().issuers[0].jwks.clone().unwrap()).unwrap();
            Kept {
                verified: gate.verify_with(&u, &keys, 1_700_000_000).unwrap(),
                issuer: 0,
                generation: 1,
            }
        };
        let v = verified();
        let mut memo = Memo {
            capacity: 4,
            ..Memo::default()
        };
        let mut ids = Vec::new();
        for _ in 0..1000 {
            let id = memo.insert(v.clone());
            // What a failed recheck does.
            memo.entries.remove(&id);
            ids.push(id);
        }
        assert!(memo.order.len() <= 16, "{}", memo.order.len());
        assert!(ids.iter().all(|&id| id != 0));
        for _ in 0..10 {
            let id = memo.insert(v.clone());
            assert_ne!(id, 0);
        }
        assert_eq!(memo.entries.len(), 4);
        let empty = Memo::default().insert(v);
        assert_eq!(empty, 0, "capacity 0 keeps nothing");
    }
}
