//! The key provider: drives the [`JwksCacheState`] policy for every configured issuer
//! through an adapter's I/O (memory first, then a shared store such as Workers KV,
//! then a fetch), with one fetch in flight per issuer.
//!
//! The provider itself does no I/O: everything goes through the [`KeyIo`] trait the
//! adapter implements (the Worker with `fetch` and KV, the JS bindings with the global
//! `fetch` and an optional user cache, tests with fakes). Time is a parameter.

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;

use futures_util::future::{FutureExt, LocalBoxFuture, Shared};
use serde_json::Value;

use crate::config::{check_fetch_url, Config, KeySource};
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
    /// GETs `url` (with the adapter's timeout); `Err` for network errors and timeouts.
    fn fetch(&self, url: &str) -> impl Future<Output = Result<HttpResponse, String>>;
    /// Reads a value from the shared store, if there is one.
    fn load(&self, key: &str) -> impl Future<Output = Option<String>>;
    /// Writes a value to the shared store with a time to live in seconds.
    fn save(&self, key: &str, value: String, ttl_secs: u64) -> impl Future<Output = ()>;
    /// Looks up a named secret (for shared-secret issuers).
    fn secret(&self, name: &str) -> Option<String>;
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

#[derive(Default)]
struct IssuerState {
    cache: JwksCacheState,
    parsed: Option<(u64, Rc<KeySet>)>,
    store_checked: bool,
    jwks_uri: Option<String>,
    inflight: Option<Shared<LocalBoxFuture<'static, FetchResult>>>,
}

/// Keeps every issuer's key set under the cache policy.
pub struct KeyProvider {
    cfg: JwksCacheConfig,
    issuers: Vec<(String, KeySource)>,
    state: Vec<RefCell<IssuerState>>,
}

impl std::fmt::Debug for KeyProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyProvider")
            .field("issuers", &self.issuers.len())
            .finish_non_exhaustive()
    }
}

/// The shared-store key of an issuer's cache state.
pub fn store_key(issuer: &str) -> String {
    format!("jwks:v1:{issuer}")
}

impl KeyProvider {
    /// A provider for the issuers of `config`.
    pub fn new(config: &Config) -> Self {
        KeyProvider {
            cfg: config.jwks_cache.clone(),
            issuers: config
                .issuers
                .iter()
                .map(|i| (i.issuer.clone(), i.key_source()))
                .collect(),
            state: config.issuers.iter().map(|_| RefCell::default()).collect(),
        }
    }

    /// The current cache state of an issuer (for inspection and tests).
    pub fn state(&self, issuer: usize) -> Option<JwksCacheState> {
        self.state.get(issuer).map(|s| s.borrow().cache.clone())
    }

    /// The keys of issuer `issuer` at `now`, fetching when the policy says so. When
    /// `kid` is given and not in the held set, one refetch is made if the cooldown
    /// allows it.
    pub async fn keys<I: KeyIo>(
        &self,
        io: &I,
        issuer: usize,
        kid: Option<&str>,
        now: u64,
    ) -> Result<Keys, JwksError> {
        let (name, source) = self
            .issuers
            .get(issuer)
            .ok_or_else(|| JwksError::Unavailable("unknown issuer".into()))?;
        let cell = &self.state[issuer];
        match source {
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
        let mut from_store = false;
        if !cell.borrow().store_checked {
            cell.borrow_mut().store_checked = true;
            if cell.borrow().cache.jwks.is_none() {
                if let Some(text) = io.load(&store_key(name)).await {
                    if let Ok(state) = JwksCacheState::from_json(&text) {
                        let mut s = cell.borrow_mut();
                        if s.cache.jwks.is_none() {
                            s.cache = state;
                            from_store = true;
                        }
                    }
                }
            }
        }
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
                self.fetch_now(io, issuer, now).await?;
                let mut k = self.parsed(issuer)?;
                k.outcome = KeyOutcome::Fetched;
                k
            }
        };
        if let Some(kid) = kid {
            let may = cell
                .borrow()
                .cache
                .may_refetch_for_unknown_kid(&self.cfg, now);
            if !keys.set.has_kid(kid)
                && may
                && keys.outcome != KeyOutcome::Fetched
                && self.fetch_now(io, issuer, now).await.is_ok()
            {
                keys = self.parsed(issuer)?;
                keys.outcome = KeyOutcome::KidRefetch;
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
        let (Some((_, source)), Some(cell)) = (self.issuers.get(issuer), self.state.get(issuer))
        else {
            return false;
        };
        let s = cell.borrow();
        let held = s.parsed.as_ref().is_some_and(|(g, _)| *g == generation);
        match source {
            KeySource::Inline(_) | KeySource::SharedSecret(_) => held,
            KeySource::JwksUri(_) | KeySource::Discovery(_) => {
                held && s.cache.generation == generation
                    && matches!(s.cache.decide(&self.cfg, now), Action::Use { .. })
            }
        }
    }

    /// Refreshes an issuer's keys (for a background task after [`Keys::refresh`]).
    pub async fn refresh<I: KeyIo>(&self, io: &I, issuer: usize, now: u64) {
        let _ = self.fetch_now(io, issuer, now).await;
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

    /// Fetches (or joins the fetch in flight), records the outcome and stores it.
    ///
    /// Whoever first sees the shared fetch complete records it (normally the request
    /// that started it; a joiner if that request was dropped mid-fetch).
    async fn fetch_now<I: KeyIo>(&self, io: &I, issuer: usize, now: u64) -> Result<(), JwksError> {
        let cell = &self.state[issuer];
        let fut = {
            let mut s = cell.borrow_mut();
            match &s.inflight {
                Some(f) => f.clone(),
                None => {
                    s.cache.record_attempt(now);
                    let (_, source) = &self.issuers[issuer];
                    let f = fetch_jwks(io.clone(), source.clone(), s.jwks_uri.clone())
                        .boxed_local()
                        .shared();
                    s.inflight = Some(f.clone());
                    f
                }
            }
        };
        let result = fut.await;
        if cell.borrow().inflight.is_some() {
            return self.record(io, issuer, now, result).await;
        }
        result.map(|_| ()).map_err(JwksError::Unavailable)
    }

    async fn record<I: KeyIo>(
        &self,
        io: &I,
        issuer: usize,
        now: u64,
        result: FetchResult,
    ) -> Result<(), JwksError> {
        let cell = &self.state[issuer];
        let (name, _) = &self.issuers[issuer];
        let outcome = result.and_then(|resp| {
            check_fetch_status(resp.status)?;
            let set = KeySet::from_jwks(resp.body.as_bytes()).map_err(|e| e.to_string())?;
            Ok((resp, set))
        });
        let stored = {
            let mut s = cell.borrow_mut();
            s.inflight = None;
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
                    Ok(s.cache.to_json())
                }
                Err(e) => {
                    s.cache.record_failure(&self.cfg, now, &e);
                    Err(e)
                }
            }
        };
        match stored {
            Ok(json) => {
                let ttl = self.state[issuer]
                    .borrow()
                    .cache
                    .usable_for(&self.cfg, now)
                    .max(60);
                io.save(&store_key(name), json, ttl).await;
                Ok(())
            }
            Err(e) => Err(JwksError::Unavailable(e)),
        }
    }
}

/// Fetches an issuer's JWKS, resolving `jwks_uri` by OIDC discovery when needed.
async fn fetch_jwks<I: KeyIo>(io: I, source: KeySource, known_uri: Option<String>) -> FetchResult {
    let uri = match (source, known_uri) {
        (KeySource::JwksUri(u), _) => u,
        (KeySource::Discovery(_), Some(u)) => u,
        (KeySource::Discovery(d), None) => {
            let resp = io.fetch(&d).await?;
            check_fetch_status(resp.status).map_err(|e| format!("discovery: {e}"))?;
            let doc =
                parse_json(resp.body.as_bytes()).map_err(|e| format!("discovery document {e}"))?;
            let uri = doc
                .get("jwks_uri")
                .and_then(Value::as_str)
                .ok_or("discovery document has no jwks_uri")?
                .to_string();
            check_fetch_url(&uri).map_err(|e| format!("discovered jwks_uri: {e}"))?;
            uri
        }
        _ => return Err("no jwks source".into()),
    };
    io.fetch(&uri).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::collections::HashMap;
    use std::task::{Context, Poll, Waker};

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
    }

    fn config() -> Config {
        Config::from_json(
            r#"{"issuers":[{"issuer":"https://i/","audiences":["a"],"jwks_uri":"https://i/jwks"}]}"#,
        )
        .unwrap()
    }

    fn jwks(kid: &str) -> String {
        let k = crate::mint::SigningKey::generate(crate::Alg::EdDSA)
            .unwrap()
            .with_kid(kid);
        crate::mint::public_jwks(&[k]).to_string()
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
