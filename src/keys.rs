//! The key provider: drives the [`JwksCacheState`] policy for every configured issuer
//! through an adapter's I/O (memory first, then a shared store such as Workers KV,
//! then a fetch), with one store read and one fetch in flight per issuer.
//!
//! The provider itself does no I/O: everything goes through the [`KeyIo`] trait the
//! adapter implements (the Worker with `fetch` and KV, the JS bindings with the global
//! `fetch` and an optional user cache, tests with fakes). Time is a parameter.
//!
//! # Concurrent requests
//!
//! The first read of the shared store and every fetch are *single flight*: the request
//! that starts one (the leader) does the I/O and records the outcome in the shared
//! state; concurrent requests that need the same I/O wait for it without ever touching
//! the leader's futures or I/O objects. They sleep on their own timers
//! ([`KeyIo::sleep`]: 5, 10, 20, 40, then 50 ms) and look at the shared state after
//! each sleep. In workerd a request must never await a promise created by another
//! request, and this is how it does not.
//!
//! A waiter stops waiting when the flight it waits for (or a later one) has completed:
//! it then answers with that flight's outcome, as the leader does. A leader that is
//! dropped gives the flight up at once, and one that never finishes (a request cancelled
//! in workerd is never resumed) is given up by its waiters once no progress was seen for
//! [`wait_limit_ms`] of the adapter's [`fetch_timeout_ms`](KeyIo::fetch_timeout_ms): the
//! first waiter to notice starts a new flight and leads it, the others wait for that
//! one. A leader reports progress after each step (discovery, then the JWKS), and the
//! store read is bounded by the same timeout, so a live leader is never given up on.

use std::cell::RefCell;
use std::future::Future;
use std::pin::pin;
use std::rc::Rc;

use futures_util::future::{select, Either};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::config::{Config, KeySource};
use crate::fetch_url::check_fetch_url;
use crate::jwk::KeySet;
use crate::jwks_cache::{check_fetch_status, Action, JwksCacheConfig, JwksCacheState};
use crate::jws::{b64_decode, parse_json};
use crate::JwksError;

/// A response to a key fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The HTTP status.
    pub status: u16,
    /// The body text.
    pub body: String,
    /// The `Cache-Control` header, if any.
    pub cache_control: Option<String>,
    /// The `Age` header, if any.
    pub age: Option<String>,
}

/// The I/O an adapter provides to the key provider.
pub trait KeyIo: Clone + 'static {
    /// GETs `url`, headers and body within [`fetch_timeout_ms`](Self::fetch_timeout_ms);
    /// `Err` for network errors, timeouts and a redirect that ended on a URL
    /// [`check_fetch_url`] refuses.
    fn fetch(&self, url: &str) -> impl Future<Output = Result<HttpResponse, String>>;
    /// Reads a value from the shared store, if there is one.
    fn load(&self, key: &str) -> impl Future<Output = Option<String>>;
    /// Writes a value to the shared store with a time to live in seconds.
    fn save(&self, key: &str, value: String, ttl_secs: u64) -> impl Future<Output = ()>;
    /// Looks up a named secret (for shared-secret issuers).
    fn secret(&self, name: &str) -> Option<String>;
    /// Resolves after about `ms` milliseconds, on a timer of the calling request (in
    /// workerd: a timer the current request creates, never another request's promise).
    fn sleep(&self, ms: u64) -> impl Future<Output = ()>;
    /// How long one [`fetch`](Self::fetch) may take, in milliseconds; store reads are
    /// given the same time, and waiters derive their patience from it
    /// ([`wait_limit_ms`]).
    fn fetch_timeout_ms(&self) -> u64;
    /// Records a DPoP proof's `jti` in the replay store (RFC 9449 §11.1), to be kept
    /// until [`ProofReplay::expires_at`](crate::ProofReplay::expires_at): `Ok(true)` the
    /// first time, `Ok(false)` for a replay, `Err` when the store cannot answer (the
    /// proof is then refused with `dpop_replay_unavailable`). The default has no store
    /// and refuses every proof (fail closed).
    fn claim_proof(
        &self,
        proof: &crate::ProofReplay,
        now: crate::UnixSeconds,
    ) -> impl Future<Output = Result<bool, String>> {
        let _ = (proof, now);
        std::future::ready(Err("no DPoP replay store is configured".to_string()))
    }
    /// Reads revocation entries (see `src/revocation.rs`): for each key, its value or
    /// `None` when there is no entry, in the order given; `Err` when the store cannot
    /// answer (the request is then refused with `revocation_unavailable`). Called only
    /// when the configuration has a `revocation` section, and only for keys the
    /// per-process cache does not hold. The default has no store (fail closed).
    fn revocation_entries(
        &self,
        keys: &[String],
    ) -> impl Future<Output = Result<Vec<Option<String>>, String>> {
        let _ = keys;
        std::future::ready(Err("no revocation store is configured".to_string()))
    }
}

/// Where the keys of a decision came from, for logs and `Server-Timing`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOutcome {
    /// The isolate's memory, fresh.
    Memory,
    /// The shared store (first use in this isolate).
    Store,
    /// Fetched now, the request waited.
    Fetched,
    /// Fetched again because the token's `kid` was unknown.
    KidRefetch,
    /// Served past freshness because refreshes fail (stale-if-error).
    Stale,
    /// Inline keys or a shared secret from the configuration.
    Static,
}

impl KeyOutcome {
    /// A short lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyOutcome::Memory => "memory",
            KeyOutcome::Store => "store",
            KeyOutcome::Fetched => "fetched",
            KeyOutcome::KidRefetch => "kid_refetch",
            KeyOutcome::Stale => "stale",
            KeyOutcome::Static => "static",
        }
    }
}

/// Keys for a token, with their generation and provenance.
#[derive(Debug, Clone)]
pub struct Keys {
    /// The parsed key set.
    pub set: Rc<KeySet>,
    /// The key-set generation (for the verified-token cache).
    pub generation: u64,
    /// Where they came from.
    pub outcome: KeyOutcome,
    /// Whether the adapter should call [`KeyProvider::refresh`] in the background.
    pub refresh: bool,
}

type FetchResult = Result<HttpResponse, String>;

/// The generation of inline keys and shared secrets (they never change).
const STATIC_GENERATION: u64 = 1;

/// How long a waiter waits for a flight that shows no progress before it gives the
/// flight up and leads a new one: the adapter's fetch timeout, plus half of it and
/// 100 ms for the leader to record the outcome. A live leader's step (a fetch, or the
/// store read) ends within the timeout, so it is never given up on.
pub fn wait_limit_ms(fetch_timeout_ms: u64) -> u64 {
    fetch_timeout_ms
        .saturating_add(fetch_timeout_ms / 2)
        .saturating_add(100)
}

/// The sleep before a waiter's `n`-th look at the shared state, in milliseconds.
fn poll_delay_ms(n: u32) -> u64 {
    match n {
        0 => 5,
        1 => 10,
        2 => 20,
        3 => 40,
        _ => 50,
    }
}

/// A flight: one store read or one fetch, led by one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Flight {
    id: u64,
    /// Steps the leader has completed (a waiter's patience restarts at each).
    progress: u32,
}

/// Single flight for one kind of I/O of one issuer in one isolate.
#[derive(Debug)]
struct Lane<T> {
    /// The id of the last flight started.
    last_id: u64,
    /// The flight in progress.
    running: Option<Flight>,
    /// The latest completed flight and its outcome.
    done: Option<(u64, T)>,
}

impl<T> Default for Lane<T> {
    fn default() -> Self {
        Lane {
            last_id: 0,
            running: None,
            done: None,
        }
    }
}

/// A request's part in a flight.
enum Turn<T> {
    /// Do the I/O of flight `id`.
    Lead(u64),
    /// Wait for this flight.
    Wait(Flight),
    /// The flight waited for completed with this outcome.
    Done(T),
}

impl<T: Clone> Lane<T> {
    fn start(&mut self) -> u64 {
        self.last_id += 1;
        self.running = Some(Flight {
            id: self.last_id,
            progress: 0,
        });
        self.last_id
    }

    /// Lead a new flight, or wait for the one in progress.
    fn join(&mut self) -> Turn<T> {
        match self.running {
            Some(f) => Turn::Wait(f),
            None => Turn::Lead(self.start()),
        }
    }

    fn progress(&mut self, id: u64) {
        if let Some(f) = self.running.as_mut().filter(|f| f.id == id) {
            f.progress = f.progress.saturating_add(1);
        }
    }

    fn finish(&mut self, id: u64, outcome: T) {
        self.abandon(id);
        if self.done.as_ref().is_none_or(|(d, _)| *d < id) {
            self.done = Some((id, outcome));
        }
    }

    fn abandon(&mut self, id: u64) {
        if self.running.is_some_and(|f| f.id == id) {
            self.running = None;
        }
    }

    /// A waiter's look at the lane after sleeping `slept_ms`: `None` to keep waiting.
    fn look(&mut self, w: &mut Waiter, slept_ms: u64, limit_ms: u64) -> Option<Turn<T>> {
        if let Some((d, outcome)) = &self.done {
            if *d >= w.flight.id {
                return Some(Turn::Done(outcome.clone()));
            }
        }
        match self.running {
            // The leader went away without an outcome.
            None => Some(Turn::Lead(self.start())),
            // Another flight (a take-over), or progress: patience starts again.
            Some(f) if f != w.flight => {
                w.flight = f;
                w.waited_ms = 0;
                None
            }
            Some(_) => {
                w.waited_ms = w.waited_ms.saturating_add(slept_ms);
                (w.waited_ms >= limit_ms).then(|| Turn::Lead(self.start()))
            }
        }
    }
}

/// A waiting request's view of the flight it waits for.
struct Waiter {
    flight: Flight,
    waited_ms: u64,
}

#[derive(Clone, Copy)]
enum LaneKind {
    Store,
    Fetch,
}

#[derive(Default)]
struct IssuerState {
    cache: JwksCacheState,
    parsed: Option<(u64, Rc<KeySet>)>,
    /// The shared store has been read (once per isolate).
    store_read: bool,
    /// The first read of the shared store; its outcome: whether a state was loaded.
    store: Lane<bool>,
    /// Fetches of the key set.
    fetch: Lane<Result<(), JwksError>>,
    /// The `jwks_uri` found by discovery, used until a fetch from it fails.
    jwks_uri: Option<String>,
}

impl IssuerState {
    fn abandon(&mut self, kind: LaneKind, id: u64) {
        match kind {
            LaneKind::Store => self.store.abandon(id),
            LaneKind::Fetch => self.fetch.abandon(id),
        }
    }
}

/// Held by a flight's leader: a leader dropped before it finished gives the flight up,
/// so that a waiter takes over at its next look.
struct Leading<'a> {
    cell: &'a RefCell<IssuerState>,
    kind: LaneKind,
    id: u64,
}

impl Drop for Leading<'_> {
    fn drop(&mut self) {
        // A finished flight is no longer running: abandoning it again changes nothing.
        if let Ok(mut s) = self.cell.try_borrow_mut() {
            s.abandon(self.kind, self.id);
        }
    }
}

/// An issuer of the provider.
struct Issuer {
    name: String,
    source: KeySource,
    /// Its key in the shared store.
    store_key: String,
}

/// Keeps every issuer's key set under the cache policy.
pub struct KeyProvider {
    cfg: JwksCacheConfig,
    /// How far in the future a stored state's times may lie (the token leeway).
    max_skew: u64,
    issuers: Vec<Issuer>,
    state: Vec<RefCell<IssuerState>>,
}

impl std::fmt::Debug for KeyProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyProvider")
            .field("issuers", &self.issuers.len())
            .finish_non_exhaustive()
    }
}

/// The shared-store key of an issuer's cache state: `jwks:v2:` and the hex SHA-256 of
/// the JSON array `[issuer, "jwks_uri" or "discovery", url]`, so that issuers with the
/// same `iss` but different key sources (two tenants, two verifiers sharing one cache)
/// never read each other's keys. Inline keys and shared secrets are never stored
/// (`None`).
pub fn store_key(issuer: &str, source: &KeySource) -> Option<String> {
    let (kind, url) = match source {
        KeySource::JwksUri(u) => ("jwks_uri", u),
        KeySource::Discovery(d) => ("discovery", d),
        KeySource::Inline(_) | KeySource::SharedSecret(_) => return None,
    };
    let material = serde_json::json!([issuer, kind, url]).to_string();
    let digest = Sha256::digest(material.as_bytes());
    let mut key = String::with_capacity(8 + 64);
    key.push_str("jwks:v2:");
    for b in digest {
        key.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        key.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
    Some(key)
}

/// `fut`, or `None` when it has not completed within `ms` (on the adapter's timer).
async fn within<I: KeyIo, T>(io: &I, ms: u64, fut: impl Future<Output = T>) -> Option<T> {
    match select(pin!(fut), pin!(io.sleep(ms))).await {
        Either::Left((v, _)) => Some(v),
        Either::Right(_) => None,
    }
}

impl KeyProvider {
    /// A provider for the issuers of `config`.
    pub fn new(config: &Config) -> Self {
        KeyProvider {
            cfg: config.jwks_cache.clone(),
            max_skew: config.leeway,
            issuers: config
                .issuers
                .iter()
                .map(|i| {
                    let source = i.key_source();
                    Issuer {
                        store_key: store_key(&i.issuer, &source).unwrap_or_default(),
                        name: i.issuer.clone(),
                        source,
                    }
                })
                .collect(),
            state: config.issuers.iter().map(|_| RefCell::default()).collect(),
        }
    }

    /// The current cache state of an issuer (for inspection and tests).
    pub fn state(&self, issuer: usize) -> Option<JwksCacheState> {
        self.state.get(issuer).map(|s| s.borrow().cache.clone())
    }

    /// The keys of issuer `issuer` at `now`, fetching when the policy says so. When
    /// `kid` is given and not in the held set, the fetch in flight is waited for, or
    /// one refetch is made if the cooldown allows it.
    pub async fn keys<I: KeyIo>(
        &self,
        io: &I,
        issuer: usize,
        kid: Option<&str>,
        now: u64,
    ) -> Result<Keys, JwksError> {
        let (Some(iss), Some(cell)) = (self.issuers.get(issuer), self.state.get(issuer)) else {
            return Err(JwksError::Unavailable("unknown issuer".into()));
        };
        match &iss.source {
            KeySource::Inline(v) => return self.static_keys(issuer, || KeySet::from_value(v)),
            KeySource::SharedSecret(secret_name) => {
                let secret = io.secret(secret_name).ok_or_else(|| {
                    JwksError::Unavailable(format!("secret {secret_name:?} is not set"))
                })?;
                let bytes = b64_decode(secret.trim()).ok_or_else(|| {
                    JwksError::Invalid(format!("secret {secret_name:?} is not base64url"))
                })?;
                return self.static_keys(issuer, || KeySet::from_secret(&bytes));
            }
            KeySource::JwksUri(_) | KeySource::Discovery(_) => {}
        }
        let from_store = self.read_store(io, issuer, now).await;
        let decision = {
            let s = cell.borrow();
            match s.cache.decide(&self.cfg, now) {
                Action::Use { status, .. } => Some((false, status)),
                Action::UseAndRefresh { status, .. } => Some((true, status)),
                Action::Fetch => None,
                Action::Fail(e) => return Err(e),
            }
        };
        let mut keys = match decision {
            Some((refresh, status)) => {
                let outcome = if status == crate::jwks_cache::CacheStatus::Stale {
                    KeyOutcome::Stale
                } else if from_store {
                    KeyOutcome::Store
                } else {
                    KeyOutcome::Memory
                };
                let mut k = self.parsed(issuer)?;
                k.outcome = outcome;
                k.refresh = refresh;
                k
            }
            None => {
                let first = cell.borrow_mut().fetch.join();
                self.fetch_flight(io, issuer, now, first).await?;
                let mut k = self.parsed(issuer)?;
                k.outcome = KeyOutcome::Fetched;
                k
            }
        };
        if let Some(kid) = kid {
            if !keys.set.has_kid(kid) && keys.outcome != KeyOutcome::Fetched {
                // A fetch in flight may bring the kid: wait for it rather than answer
                // from the old set. Otherwise refetch once per cooldown.
                let first = {
                    let mut s = cell.borrow_mut();
                    match s.fetch.running {
                        Some(f) => Some(Turn::Wait(f)),
                        None if s.cache.may_refetch_for_unknown_kid(&self.cfg, now) => {
                            Some(Turn::Lead(s.fetch.start()))
                        }
                        None => None,
                    }
                };
                if let Some(first) = first {
                    if self.fetch_flight(io, issuer, now, first).await.is_ok() {
                        keys = self.parsed(issuer)?;
                        keys.outcome = KeyOutcome::KidRefetch;
                    }
                }
            }
        }
        Ok(keys)
    }

    /// Whether the keys of generation `generation` are what [`KeyProvider::keys`] would
    /// use for issuer `issuer` at `now` without any I/O: the same generation, held and
    /// usable with no fetch or background refresh due (inline keys and secrets: always,
    /// for their generation). A verification made with them may be reused while this
    /// holds.
    pub fn is_current(&self, issuer: usize, generation: u64, now: u64) -> bool {
        let (Some(iss), Some(cell)) = (self.issuers.get(issuer), self.state.get(issuer)) else {
            return false;
        };
        let s = cell.borrow();
        let held = s.parsed.as_ref().is_some_and(|(g, _)| *g == generation);
        match iss.source {
            KeySource::Inline(_) | KeySource::SharedSecret(_) => held,
            KeySource::JwksUri(_) | KeySource::Discovery(_) => {
                held && s.cache.generation == generation
                    && matches!(s.cache.decide(&self.cfg, now), Action::Use { .. })
            }
        }
    }

    /// Refreshes an issuer's keys (for a background task after [`Keys::refresh`]);
    /// nothing when a fetch is already in flight.
    pub async fn refresh<I: KeyIo>(&self, io: &I, issuer: usize, now: u64) {
        let (Some(iss), Some(cell)) = (self.issuers.get(issuer), self.state.get(issuer)) else {
            return;
        };
        if !matches!(iss.source, KeySource::JwksUri(_) | KeySource::Discovery(_)) {
            return;
        }
        let first = {
            let mut s = cell.borrow_mut();
            if s.fetch.running.is_some() {
                return;
            }
            Turn::Lead(s.fetch.start())
        };
        let _ = self.fetch_flight(io, issuer, now, first).await;
    }

    /// Inline keys and shared secrets never change: parse them once per provider.
    fn static_keys(
        &self,
        issuer: usize,
        build: impl FnOnce() -> Result<KeySet, JwksError>,
    ) -> Result<Keys, JwksError> {
        let mut s = self.state[issuer].borrow_mut();
        let set = match &s.parsed {
            Some((_, set)) => set.clone(),
            None => {
                let set = Rc::new(build()?);
                s.parsed = Some((STATIC_GENERATION, set.clone()));
                set
            }
        };
        Ok(Keys {
            set,
            generation: STATIC_GENERATION,
            outcome: KeyOutcome::Static,
            refresh: false,
        })
    }

    fn parsed(&self, issuer: usize) -> Result<Keys, JwksError> {
        let mut s = self.state[issuer].borrow_mut();
        let generation = s.cache.generation;
        if let Some((g, set)) = &s.parsed {
            if *g == generation {
                return Ok(Keys {
                    set: set.clone(),
                    generation,
                    outcome: KeyOutcome::Memory,
                    refresh: false,
                });
            }
        }
        let text = s
            .cache
            .jwks
            .as_deref()
            .ok_or_else(|| JwksError::Unavailable("no key set".into()))?;
        let set = Rc::new(KeySet::from_jwks(text.as_bytes())?);
        s.parsed = Some((generation, set.clone()));
        Ok(Keys {
            set,
            generation,
            outcome: KeyOutcome::Memory,
            refresh: false,
        })
    }

    /// Waits, from `first`, until this request leads a flight of `lane` (the id) or
    /// the flight it waits for completed (its outcome).
    async fn take_turn<I: KeyIo, T: Clone>(
        &self,
        io: &I,
        cell: &RefCell<IssuerState>,
        first: Turn<T>,
        lane: fn(&mut IssuerState) -> &mut Lane<T>,
    ) -> Result<u64, T> {
        let mut w = match first {
            Turn::Lead(id) => return Ok(id),
            Turn::Done(outcome) => return Err(outcome),
            Turn::Wait(flight) => Waiter {
                flight,
                waited_ms: 0,
            },
        };
        let limit = wait_limit_ms(io.fetch_timeout_ms());
        let mut n = 0u32;
        loop {
            let ms = poll_delay_ms(n);
            n = n.saturating_add(1);
            io.sleep(ms).await;
            let mut s = cell.borrow_mut();
            match lane(&mut s).look(&mut w, ms, limit) {
                None => {}
                Some(Turn::Lead(id)) => return Ok(id),
                Some(Turn::Done(outcome)) => return Err(outcome),
                Some(Turn::Wait(_)) => {}
            }
        }
    }

    /// Reads the shared store once per isolate, before the first decision: concurrent
    /// first requests wait for the one read. Whether this request's state came from it.
    async fn read_store<I: KeyIo>(&self, io: &I, issuer: usize, now: u64) -> bool {
        let cell = &self.state[issuer];
        let first = {
            let mut s = cell.borrow_mut();
            if s.store_read || s.cache.jwks.is_some() {
                return false;
            }
            s.store.join()
        };
        let id = match self.take_turn(io, cell, first, |s| &mut s.store).await {
            Ok(id) => id,
            Err(loaded) => return loaded,
        };
        let leading = Leading {
            cell,
            kind: LaneKind::Store,
            id,
        };
        let key = &self.issuers[issuer].store_key;
        let text = within(io, io.fetch_timeout_ms(), io.load(key))
            .await
            .flatten();
        // A corrupted or future-dated state is ignored: the request fetches.
        let state = text.and_then(|t| JwksCacheState::from_stored(&t, now, self.max_skew).ok());
        let mut s = cell.borrow_mut();
        let loaded = match state {
            Some(state) if s.cache.jwks.is_none() => {
                s.cache = state;
                true
            }
            _ => false,
        };
        s.store_read = true;
        s.store.finish(id, loaded);
        drop(s);
        drop(leading);
        loaded
    }

    /// Takes part in a fetch from `first`: leads it (fetch, record, store) or waits for
    /// the one in flight; the outcome of the fetch.
    async fn fetch_flight<I: KeyIo>(
        &self,
        io: &I,
        issuer: usize,
        now: u64,
        first: Turn<Result<(), JwksError>>,
    ) -> Result<(), JwksError> {
        let cell = &self.state[issuer];
        let id = match self.take_turn(io, cell, first, |s| &mut s.fetch).await {
            Ok(id) => id,
            Err(outcome) => return outcome,
        };
        let leading = Leading {
            cell,
            kind: LaneKind::Fetch,
            id,
        };
        cell.borrow_mut().cache.record_attempt(now);
        let (used_uri, result) = self.fetch_jwks(io, issuer, id).await;
        let (outcome, stored) = self.record(issuer, now, used_uri, result);
        cell.borrow_mut().fetch.finish(id, outcome.clone());
        drop(leading);
        // Waiters have the outcome already; the store write is the leader's alone.
        if let Some((json, ttl)) = stored {
            io.save(&self.issuers[issuer].store_key, json, ttl).await;
        }
        outcome
    }

    /// Records a fetch's result; its outcome and, on success, the state to store with
    /// its time to live.
    fn record(
        &self,
        issuer: usize,
        now: u64,
        used_uri: Option<String>,
        result: FetchResult,
    ) -> (Result<(), JwksError>, Option<(String, u64)>) {
        let outcome = result.and_then(|resp| {
            check_fetch_status(resp.status)?;
            let set = KeySet::from_jwks(resp.body.as_bytes()).map_err(|e| e.to_string())?;
            Ok((resp, set))
        });
        let mut s = self.state[issuer].borrow_mut();
        match outcome {
            Ok((resp, set)) => {
                s.cache.record_success(
                    &self.cfg,
                    now,
                    resp.body,
                    resp.cache_control.as_deref(),
                    resp.age.as_deref(),
                );
                let g = s.cache.generation;
                s.parsed = Some((g, Rc::new(set)));
                let ttl = s.cache.usable_for(&self.cfg, now).max(60);
                (Ok(()), Some((s.cache.to_json(), ttl)))
            }
            Err(e) => {
                s.cache.record_failure(&self.cfg, now, &e);
                // A discovered jwks_uri that failed is looked up again next time.
                if used_uri.is_some() && s.jwks_uri == used_uri {
                    s.jwks_uri = None;
                }
                (Err(JwksError::Unavailable(e)), None)
            }
        }
    }

    /// Fetches an issuer's JWKS as the leader of fetch flight `id`, resolving
    /// `jwks_uri` by OIDC discovery when needed (once: the discovered URI is kept). The
    /// discovered URI it used, if any, and the response.
    async fn fetch_jwks<I: KeyIo>(
        &self,
        io: &I,
        issuer: usize,
        id: u64,
    ) -> (Option<String>, FetchResult) {
        let iss = &self.issuers[issuer];
        let cell = &self.state[issuer];
        match &iss.source {
            KeySource::JwksUri(u) => (None, io.fetch(u).await),
            KeySource::Discovery(d) => {
                let known = cell.borrow().jwks_uri.clone();
                let uri = match known {
                    Some(u) => u,
                    None => match discover(io, d, &iss.name).await {
                        Ok(u) => {
                            let mut s = cell.borrow_mut();
                            s.jwks_uri = Some(u.clone());
                            s.fetch.progress(id);
                            u
                        }
                        Err(e) => return (None, Err(e)),
                    },
                };
                let result = io.fetch(&uri).await;
                (Some(uri), result)
            }
            KeySource::Inline(_) | KeySource::SharedSecret(_) => {
                (None, Err("no jwks source".into()))
            }
        }
    }
}

/// Fetches an OIDC discovery document and reads it ([`jwks_uri_from_discovery`]).
async fn discover<I: KeyIo>(io: &I, url: &str, issuer: &str) -> Result<String, String> {
    let resp = io.fetch(url).await?;
    check_fetch_status(resp.status).map_err(|e| format!("discovery: {e}"))?;
    jwks_uri_from_discovery(resp.body.as_bytes(), issuer)
}

/// Reads an OIDC discovery document (the JSON body, duplicate keys refused): its
/// `issuer` must be exactly `issuer`, the configured one (OIDC Discovery 1.0 §4.3), and
/// its `jwks_uri` must pass [`check_fetch_url`]. Returns that `jwks_uri`, or why not.
pub fn jwks_uri_from_discovery(body: &[u8], issuer: &str) -> Result<String, String> {
    let doc = parse_json(body).map_err(|e| format!("discovery document {e}"))?;
    match doc.get("issuer").and_then(Value::as_str) {
        Some(i) if i == issuer => {}
        Some(_) => return Err("discovery document names another issuer".into()),
        None => return Err("discovery document has no issuer".into()),
    }
    let uri = doc
        .get("jwks_uri")
        .and_then(Value::as_str)
        .ok_or("discovery document has no jwks_uri")?
        .to_string();
    check_fetch_url(&uri).map_err(|e| format!("discovered jwks_uri: {e}"))?;
    Ok(uri)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::collections::HashMap;
    use std::task::{Context, Poll, Waker};

    #[test]
    fn discovery_documents_are_read_strictly() {
        let iss = "https://tenant.example.com/";
        let read = |doc: &str| jwks_uri_from_discovery(doc.as_bytes(), iss);
        assert_eq!(
            read(
                r#"{"issuer":"https://tenant.example.com/","jwks_uri":"https://keys.example.com/j"}"#
            ),
            Ok("https://keys.example.com/j".into())
        );
        let e = read(r#"{"issuer":"https://tenant.example.com","jwks_uri":"https://k/j"}"#);
        assert_eq!(e, Err("discovery document names another issuer".into()));
        let e = read(r#"{"jwks_uri":"https://k/j"}"#);
        assert_eq!(e, Err("discovery document has no issuer".into()));
        let e = read(r#"{"issuer":"https://tenant.example.com/"}"#);
        assert_eq!(e, Err("discovery document has no jwks_uri".into()));
        let e =
            read(r#"{"issuer":"https://tenant.example.com/","jwks_uri":"http://k.example.com/j"}"#)
                .unwrap_err();
        assert!(e.starts_with("discovered jwks_uri: must be https"), "{e}");
        assert!(read(
            r#"{"issuer":"https://tenant.example.com/","jwks_uri":"http://[::1]:8080/j"}"#
        )
        .is_ok());
        let e = read(
            r#"{"issuer":"https://tenant.example.com/","issuer":"https://tenant.example.com/"}"#,
        )
        .unwrap_err();
        assert!(e.starts_with("discovery document is not valid JSON"), "{e}");
        assert!(read("not json")
            .unwrap_err()
            .starts_with("discovery document is not valid JSON"));
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        let mut f = std::pin::pin!(f);
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
        }
    }

    #[derive(Clone, Default)]
    struct Fake {
        jwks: Rc<RefCell<Option<String>>>,
        fetches: Rc<Cell<usize>>,
        store: Rc<RefCell<HashMap<String, String>>>,
    }

    impl KeyIo for Fake {
        async fn fetch(&self, _url: &str) -> Result<HttpResponse, String> {
            self.fetches.set(self.fetches.get() + 1);
            match self.jwks.borrow().clone() {
                Some(body) => Ok(HttpResponse {
                    status: 200,
                    body,
                    cache_control: Some("max-age=600".into()),
                    age: None,
                }),
                None => Err("connection refused".into()),
            }
        }
        async fn load(&self, key: &str) -> Option<String> {
            self.store.borrow().get(key).cloned()
        }
        async fn save(&self, key: &str, value: String, _ttl: u64) {
            self.store.borrow_mut().insert(key.into(), value);
        }
        fn secret(&self, _: &str) -> Option<String> {
            None
        }
        async fn sleep(&self, _ms: u64) {}
        fn fetch_timeout_ms(&self) -> u64 {
            1000
        }
    }

    fn config() -> Config {
        Config::from_json(
            r#"{"issuers":[{"issuer":"https://i/","audiences":["a"],"jwks_uri":"https://i/jwks"}]}"#,
        )
        .unwrap()
    }

    /// A JWKS of one P-256 public key (a real point: it loads with and without
    /// `rust-crypto`) under `kid`.
    fn jwks(kid: &str) -> String {
        serde_json::json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256",
            "x": "6hHkVKIa95MVXHrcFeDp8ZPvyfP9KRB9hwWxQcdRkiQ",
            "y": "MsH37RJFvDC7_Lx21BwFEkD5QORgPYd_1D43Ciue2Uc"}]})
        .to_string()
    }

    #[test]
    fn memory_store_and_fetch() {
        let io = Fake::default();
        *io.jwks.borrow_mut() = Some(jwks("a"));
        let p = KeyProvider::new(&config());
        let k = block_on(p.keys(&io, 0, Some("a"), 1000)).unwrap();
        assert_eq!(k.outcome, KeyOutcome::Fetched);
        for t in 0..100 {
            let k = block_on(p.keys(&io, 0, Some("a"), 1001 + t)).unwrap();
            assert_eq!(k.outcome, KeyOutcome::Memory);
        }
        assert_eq!(io.fetches.get(), 1);
        // A new isolate with the same store fetches nothing.
        let p2 = KeyProvider::new(&config());
        let k = block_on(p2.keys(&io, 0, Some("a"), 1200)).unwrap();
        assert_eq!(k.outcome, KeyOutcome::Store);
        assert_eq!(io.fetches.get(), 1);
        // Unknown kids: one refetch per cooldown.
        for i in 0..200 {
            let _ = block_on(p2.keys(&io, 0, Some(&format!("x{i}")), 1300));
        }
        assert_eq!(io.fetches.get(), 2);
        // Rotation: new kid after the cooldown -> one refetch, then found.
        *io.jwks.borrow_mut() = Some(jwks("b"));
        let k = block_on(p2.keys(&io, 0, Some("b"), 1400)).unwrap();
        assert_eq!(k.outcome, KeyOutcome::KidRefetch);
        assert!(k.set.has_kid("b"));
        assert_eq!(io.fetches.get(), 3);
    }

    #[test]
    fn down_from_the_start_fails_without_hammering() {
        let io = Fake::default();
        let p = KeyProvider::new(&config());
        for t in 0..20 {
            let e = block_on(p.keys(&io, 0, None, 1000 + t)).unwrap_err();
            assert_eq!(crate::ErrorCode::code(&e), "jwks_unavailable");
        }
        assert_eq!(io.fetches.get(), 1);
    }

    #[test]
    fn is_current_follows_generation_and_refresh() {
        let io = Fake::default();
        *io.jwks.borrow_mut() = Some(jwks("a"));
        let p = KeyProvider::new(&config());
        assert!(!p.is_current(0, 0, 1000), "nothing held yet");
        let k = block_on(p.keys(&io, 0, Some("a"), 1000)).unwrap();
        assert!(p.is_current(0, k.generation, 1001));
        assert!(
            !p.is_current(0, k.generation + 1, 1001),
            "another generation"
        );
        assert!(!p.is_current(1, k.generation, 1001), "no such issuer");
        // max-age=600 with a 60 s refresh-ahead: from 1540 a refresh is due, and
        // results are no longer reused (the full path starts the refresh).
        assert!(p.is_current(0, k.generation, 1539));
        assert!(!p.is_current(0, k.generation, 1540));
        // The refresh brings the same set: the same generation (content-derived), reused.
        block_on(p.refresh(&io, 0, 1540));
        assert!(p.is_current(0, k.generation, 1541));
        // A rotated set is a new generation: results of the old one end.
        *io.jwks.borrow_mut() = Some(jwks("b"));
        block_on(p.refresh(&io, 0, 2200));
        let k2 = block_on(p.keys(&io, 0, None, 2201)).unwrap();
        assert_ne!(k2.generation, k.generation);
        assert!(
            !p.is_current(0, k.generation, 2201),
            "the old generation ended"
        );
        assert!(p.is_current(0, k2.generation, 2201));
    }

    #[test]
    fn inline_keys_are_current_for_their_generation() {
        let cfg = Config::from_value(
            serde_json::json!({"issuers":[{"issuer":"https://i/","audiences":["a"],
            "jwks": serde_json::from_str::<Value>(&jwks("a")).unwrap()}]}),
        )
        .unwrap();
        let p = KeyProvider::new(&cfg);
        let io = Fake::default();
        assert!(!p.is_current(0, STATIC_GENERATION, 1), "not parsed yet");
        let k = block_on(p.keys(&io, 0, Some("a"), 1)).unwrap();
        assert_eq!(k.generation, STATIC_GENERATION);
        assert!(p.is_current(0, STATIC_GENERATION, u64::MAX));
        assert!(!p.is_current(0, STATIC_GENERATION + 1, 1));
    }
}
