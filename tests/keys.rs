//! The key provider under concurrent requests and with a shared store, driven natively
//! through a fake [`KeyIo`] on a virtual clock: single-flight store reads and fetches
//! (waiters poll with their own timers and never await the leader), a leader that is
//! dropped or never resumed, the store key, future-dated stored states, and OIDC
//! discovery (issuer check, the discovered `jwks_uri` kept).

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use tokengate::JwksCacheState;
use tokengate::KeySource;
use tokengate::{store_key, wait_limit_ms, HttpResponse, KeyIo, KeyOutcome, KeyProvider, Keys};
use tokengate::{Config, ErrorCode, JwksError};

const ISSUER: &str = "https://idp.test/";
const JWKS: &str = "https://idp.test/jwks";
const DISCOVERY: &str = "https://idp.test/.well-known/openid-configuration";
/// The fake adapter's fetch timeout, virtual ms.
const TIMEOUT: u64 = 1000;
/// Request time (unix seconds) of the tests.
const NOW: u64 = 1_700_000_000;

/// Resolves once the virtual clock reaches `at`.
struct Until {
    clock: Rc<Cell<u64>>,
    at: u64,
}

impl Future for Until {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        if self.clock.get() >= self.at {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

/// What the fake IdP or store does for one call.
#[derive(Clone, Debug)]
enum Reply {
    /// 200 with this body after `delay` virtual ms.
    Body(String, u64),
    /// This status after `delay` virtual ms.
    Status(u16, u64),
    /// Never answers.
    Hang,
}

/// A fake adapter on a virtual clock (ms): answers per URL (or for the store) from a
/// queue whose last entry repeats, and records every call.
#[derive(Clone, Default)]
struct Fake {
    clock: Rc<Cell<u64>>,
    routes: Rc<RefCell<HashMap<String, VecDeque<Reply>>>>,
    fetched: Rc<RefCell<Vec<String>>>,
    loads: Rc<Cell<usize>>,
    load_replies: Rc<RefCell<VecDeque<Reply>>>,
    store: Rc<RefCell<HashMap<String, String>>>,
}

impl Fake {
    fn with_clock(clock: &Rc<Cell<u64>>) -> Fake {
        Fake {
            clock: clock.clone(),
            ..Fake::default()
        }
    }

    fn route(&self, url: &str, replies: &[Reply]) {
        self.routes
            .borrow_mut()
            .insert(url.into(), replies.iter().cloned().collect());
    }

    fn loads_answer(&self, replies: &[Reply]) {
        *self.load_replies.borrow_mut() = replies.iter().cloned().collect();
    }

    fn fetched(&self) -> Vec<String> {
        self.fetched.borrow().clone()
    }

    fn count(&self, url: &str) -> usize {
        self.fetched.borrow().iter().filter(|u| *u == url).count()
    }

    fn next(queue: &mut VecDeque<Reply>) -> Option<Reply> {
        if queue.len() > 1 {
            queue.pop_front()
        } else {
            queue.front().cloned()
        }
    }

    async fn wait(&self, ms: u64) {
        Until {
            clock: self.clock.clone(),
            at: self.clock.get() + ms,
        }
        .await
    }
}

impl KeyIo for Fake {
    async fn fetch(&self, url: &str) -> Result<HttpResponse, String> {
        self.fetched.borrow_mut().push(url.into());
        let reply = self
            .routes
            .borrow_mut()
            .get_mut(url)
            .and_then(Fake::next)
            .unwrap_or(Reply::Status(404, 0));
        let (status, body, delay) = match reply {
            Reply::Body(b, d) => (200, b, d),
            Reply::Status(s, d) => (s, String::new(), d),
            Reply::Hang => return std::future::pending().await,
        };
        self.wait(delay).await;
        Ok(HttpResponse {
            status,
            body,
            cache_control: Some("max-age=600".into()),
            age: None,
        })
    }

    async fn load(&self, key: &str) -> Option<String> {
        self.loads.set(self.loads.get() + 1);
        let reply = Fake::next(&mut self.load_replies.borrow_mut());
        match reply {
            Some(Reply::Hang) => std::future::pending().await,
            Some(Reply::Body(_, d) | Reply::Status(_, d)) => self.wait(d).await,
            None => {}
        }
        self.store.borrow().get(key).cloned()
    }

    async fn save(&self, key: &str, value: String, _ttl: u64) {
        self.store.borrow_mut().insert(key.into(), value);
    }

    fn secret(&self, _: &str) -> Option<String> {
        None
    }

    async fn sleep(&self, ms: u64) {
        self.wait(ms).await
    }

    fn fetch_timeout_ms(&self) -> u64 {
        TIMEOUT
    }
}

type Task<'a> = Pin<Box<dyn Future<Output = Result<Keys, JwksError>> + 'a>>;

/// A single-threaded executor on the virtual clock: every tick polls every live task
/// (the waker is a no-op), then advances the clock by 1 ms.
struct Sim<'a> {
    clock: Rc<Cell<u64>>,
    tasks: Vec<Option<Task<'a>>>,
    results: Vec<Option<Result<Keys, JwksError>>>,
    /// Tasks that are never polled again but not dropped (a request workerd cancelled).
    parked: Vec<Task<'a>>,
}

impl<'a> Sim<'a> {
    fn new(clock: &Rc<Cell<u64>>) -> Self {
        Sim {
            clock: clock.clone(),
            tasks: Vec::new(),
            results: Vec::new(),
            parked: Vec::new(),
        }
    }

    fn spawn(&mut self, f: impl Future<Output = Result<Keys, JwksError>> + 'a) -> usize {
        self.tasks.push(Some(Box::pin(f)));
        self.results.push(None);
        self.tasks.len() - 1
    }

    fn tick(&mut self) {
        let mut cx = Context::from_waker(Waker::noop());
        for (i, slot) in self.tasks.iter_mut().enumerate() {
            if let Some(task) = slot {
                if let Poll::Ready(r) = task.as_mut().poll(&mut cx) {
                    self.results[i] = Some(r);
                    *slot = None;
                }
            }
        }
        self.clock.set(self.clock.get() + 1);
    }

    fn run_for(&mut self, ms: u64) {
        for _ in 0..ms {
            self.tick();
        }
    }

    /// Runs until every task has finished; panics after a virtual minute (a hang).
    fn run(&mut self) {
        let start = self.clock.get();
        while self.tasks.iter().any(Option::is_some) {
            assert!(self.clock.get() - start < 60_000, "tasks hang");
            self.tick();
        }
    }

    fn drop_task(&mut self, i: usize) {
        self.tasks[i] = None;
    }

    fn park(&mut self, i: usize) {
        if let Some(t) = self.tasks[i].take() {
            self.parked.push(t);
        }
    }

    fn result(&self, i: usize) -> &Result<Keys, JwksError> {
        self.results[i].as_ref().expect("task finished")
    }
}

fn config(source: &str) -> Config {
    Config::from_json(&format!(
        r#"{{"issuers":[{{"issuer":"{ISSUER}","audiences":["a"]{source}}}]}}"#
    ))
    .unwrap()
}

fn jwks_uri_config() -> Config {
    config(&format!(r#","jwks_uri":"{JWKS}""#))
}

fn discovery_config() -> Config {
    config("")
}

fn jwks(kid: &str) -> String {
    let k = tokengate::SigningKey::generate(tokengate::Alg::EdDSA)
        .unwrap()
        .with_kid(kid);
    tokengate::public_jwks(&[k]).to_string()
}

fn discovery_doc(issuer: &str) -> String {
    serde_json::json!({"issuer": issuer, "jwks_uri": JWKS}).to_string()
}

fn outcome(r: &Result<Keys, JwksError>) -> KeyOutcome {
    r.as_ref().expect("keys").outcome
}

/// What a lone request on a fresh provider gets with the same fake answers.
fn lone(cfg: &Config, io: &Fake) -> Result<Keys, JwksError> {
    let p = KeyProvider::new(cfg);
    let mut sim = Sim::new(&io.clock);
    let i = sim.spawn(p.keys(io, 0, Some("a"), NOW));
    sim.run();
    sim.results[i].take().unwrap()
}

#[test]
fn cold_burst_costs_one_store_read_and_one_fetch() {
    let clock = Rc::new(Cell::new(0));
    let io = Fake::with_clock(&clock);
    io.route(JWKS, &[Reply::Body(jwks("a"), 300)]);
    io.loads_answer(&[Reply::Body(String::new(), 20)]);
    let cfg = jwks_uri_config();
    let p = KeyProvider::new(&cfg);
    let mut sim = Sim::new(&clock);
    let ids: Vec<usize> = (0..8)
        .map(|_| sim.spawn(p.keys(&io, 0, Some("a"), NOW)))
        .collect();
    sim.run();
    assert_eq!(io.fetched(), vec![JWKS.to_string()]);
    assert_eq!(io.loads.get(), 1, "one store read for the burst");
    let g = sim.result(0).as_ref().unwrap().generation;
    for &i in &ids {
        assert_eq!(outcome(sim.result(i)), KeyOutcome::Fetched);
        assert_eq!(sim.result(i).as_ref().unwrap().generation, g);
        assert!(sim.result(i).as_ref().unwrap().set.has_kid("a"));
    }
    // The waiters answered shortly after the leader (their polls are at most 50 ms).
    assert!(clock.get() <= 20 + 300 + 60, "done at {} ms", clock.get());
    // The same as a lone request on another fresh isolate (with an empty store).
    io.store.borrow_mut().clear();
    let alone = lone(&cfg, &io);
    assert_eq!(outcome(&alone), KeyOutcome::Fetched);
    assert_eq!(alone.unwrap().generation, g);
}

#[test]
fn cold_burst_with_discovery_costs_one_discovery_and_one_jwks_fetch() {
    let clock = Rc::new(Cell::new(0));
    let io = Fake::with_clock(&clock);
    io.route(DISCOVERY, &[Reply::Body(discovery_doc(ISSUER), 200)]);
    io.route(JWKS, &[Reply::Body(jwks("a"), 200)]);
    let p = KeyProvider::new(&discovery_config());
    let mut sim = Sim::new(&clock);
    for _ in 0..8 {
        sim.spawn(p.keys(&io, 0, Some("a"), NOW));
    }
    sim.run();
    assert_eq!(io.fetched(), vec![DISCOVERY.to_string(), JWKS.to_string()]);
    for i in 0..8 {
        assert_eq!(outcome(sim.result(i)), KeyOutcome::Fetched);
    }
}

#[test]
fn cold_burst_with_a_stored_state_fetches_nothing() {
    let clock = Rc::new(Cell::new(0));
    let io = Fake::with_clock(&clock);
    io.route(JWKS, &[Reply::Body(jwks("a"), 300)]);
    let cfg = jwks_uri_config();
    // Another isolate fetched and stored the set.
    assert_eq!(outcome(&lone(&cfg, &io)), KeyOutcome::Fetched);
    io.fetched.borrow_mut().clear();
    io.loads.set(0);
    io.loads_answer(&[Reply::Body(String::new(), 100)]);
    let p = KeyProvider::new(&cfg);
    let mut sim = Sim::new(&clock);
    for _ in 0..8 {
        sim.spawn(p.keys(&io, 0, Some("a"), NOW + 1));
    }
    sim.run();
    assert_eq!(io.fetched(), Vec::<String>::new(), "no fetch");
    assert_eq!(io.loads.get(), 1, "one store read");
    for i in 0..8 {
        assert_eq!(outcome(sim.result(i)), KeyOutcome::Store);
    }
}

#[test]
fn cold_burst_against_a_failing_idp_shares_the_failure() {
    let clock = Rc::new(Cell::new(0));
    let io = Fake::with_clock(&clock);
    io.route(JWKS, &[Reply::Status(503, 200)]);
    let cfg = jwks_uri_config();
    let p = KeyProvider::new(&cfg);
    let mut sim = Sim::new(&clock);
    for _ in 0..8 {
        sim.spawn(p.keys(&io, 0, None, NOW));
    }
    sim.run();
    assert_eq!(io.count(JWKS), 1);
    let alone = lone(&cfg, &io).unwrap_err();
    for i in 0..8 {
        let e = sim.result(i).as_ref().unwrap_err();
        assert_eq!(e.code(), "jwks_unavailable");
        assert_eq!(e.to_string(), alone.to_string());
    }
}

#[test]
fn a_dropped_leader_is_taken_over_at_once() {
    let clock = Rc::new(Cell::new(0));
    let io = Fake::with_clock(&clock);
    io.route(JWKS, &[Reply::Hang, Reply::Body(jwks("a"), 100)]);
    let p = KeyProvider::new(&jwks_uri_config());
    let mut sim = Sim::new(&clock);
    let leader = sim.spawn(p.keys(&io, 0, Some("a"), NOW));
    sim.run_for(10);
    assert_eq!(io.count(JWKS), 1, "the leader's fetch is in flight");
    let waiters: Vec<usize> = (0..7)
        .map(|_| sim.spawn(p.keys(&io, 0, Some("a"), NOW)))
        .collect();
    sim.run_for(100);
    sim.drop_task(leader);
    let dropped_at = clock.get();
    sim.run();
    assert_eq!(
        io.count(JWKS),
        2,
        "one waiter took over, the others waited for it"
    );
    for &i in &waiters {
        assert_eq!(outcome(sim.result(i)), KeyOutcome::Fetched);
    }
    let took = clock.get() - dropped_at;
    assert!(
        took < 100 + 120,
        "took over after {took} ms, not after the wait limit"
    );
}

#[test]
fn a_leader_that_never_resumes_is_taken_over_after_the_wait_limit() {
    let clock = Rc::new(Cell::new(0));
    let io = Fake::with_clock(&clock);
    io.route(JWKS, &[Reply::Hang, Reply::Body(jwks("a"), 100)]);
    let p = KeyProvider::new(&jwks_uri_config());
    let mut sim = Sim::new(&clock);
    let leader = sim.spawn(p.keys(&io, 0, Some("a"), NOW));
    sim.run_for(10);
    let waiters: Vec<usize> = (0..8)
        .map(|_| sim.spawn(p.keys(&io, 0, Some("a"), NOW)))
        .collect();
    let started = clock.get();
    // Cancelled in workerd: never polled again, never dropped.
    sim.park(leader);
    sim.run();
    assert_eq!(io.count(JWKS), 2, "one take-over fetch");
    for &i in &waiters {
        assert_eq!(outcome(sim.result(i)), KeyOutcome::Fetched);
    }
    let took = clock.get() - started;
    let limit = wait_limit_ms(TIMEOUT);
    assert_eq!(limit, 1600);
    assert!(
        (limit..limit + 100 + 120).contains(&took),
        "took over after {took} ms"
    );
}

#[test]
fn a_store_reader_that_never_resumes_is_taken_over() {
    let clock = Rc::new(Cell::new(0));
    let io = Fake::with_clock(&clock);
    io.route(JWKS, &[Reply::Body(jwks("a"), 100)]);
    let cfg = jwks_uri_config();
    assert_eq!(outcome(&lone(&cfg, &io)), KeyOutcome::Fetched);
    io.fetched.borrow_mut().clear();
    io.loads.set(0);
    io.loads_answer(&[Reply::Hang, Reply::Body(String::new(), 10)]);
    let p = KeyProvider::new(&cfg);
    let mut sim = Sim::new(&clock);
    let leader = sim.spawn(p.keys(&io, 0, Some("a"), NOW));
    sim.run_for(5);
    let waiters: Vec<usize> = (0..8)
        .map(|_| sim.spawn(p.keys(&io, 0, Some("a"), NOW)))
        .collect();
    sim.park(leader);
    sim.run();
    assert_eq!(io.loads.get(), 2, "the stuck read and one take-over");
    assert_eq!(io.fetched(), Vec::<String>::new());
    for &i in &waiters {
        assert_eq!(outcome(sim.result(i)), KeyOutcome::Store);
    }
}

#[test]
fn a_store_that_never_answers_costs_one_timeout_then_one_fetch() {
    let clock = Rc::new(Cell::new(0));
    let io = Fake::with_clock(&clock);
    io.route(JWKS, &[Reply::Body(jwks("a"), 100)]);
    io.loads_answer(&[Reply::Hang]);
    let p = KeyProvider::new(&jwks_uri_config());
    let mut sim = Sim::new(&clock);
    for _ in 0..8 {
        sim.spawn(p.keys(&io, 0, Some("a"), NOW));
    }
    sim.run();
    assert_eq!(io.loads.get(), 1);
    assert_eq!(io.count(JWKS), 1);
    for i in 0..8 {
        assert_eq!(outcome(sim.result(i)), KeyOutcome::Fetched);
    }
    assert!(
        clock.get() < TIMEOUT + 100 + 120,
        "done at {} ms",
        clock.get()
    );
}

#[test]
fn a_live_leader_making_progress_is_never_taken_over() {
    // Discovery and the JWKS each take 0.9 of the timeout: together more than the
    // wait limit, but the leader reports progress in between.
    let clock = Rc::new(Cell::new(0));
    let io = Fake::with_clock(&clock);
    io.route(DISCOVERY, &[Reply::Body(discovery_doc(ISSUER), 900)]);
    io.route(JWKS, &[Reply::Body(jwks("a"), 900)]);
    let p = KeyProvider::new(&discovery_config());
    let mut sim = Sim::new(&clock);
    for _ in 0..8 {
        sim.spawn(p.keys(&io, 0, Some("a"), NOW));
    }
    sim.run();
    assert!(clock.get() > wait_limit_ms(TIMEOUT));
    assert_eq!(io.fetched(), vec![DISCOVERY.to_string(), JWKS.to_string()]);
    for i in 0..8 {
        assert_eq!(outcome(sim.result(i)), KeyOutcome::Fetched);
    }
}

#[test]
fn a_burst_with_a_new_kid_waits_for_the_one_refetch() {
    let clock = Rc::new(Cell::new(0));
    let io = Fake::with_clock(&clock);
    io.route(JWKS, &[Reply::Body(jwks("a"), 10)]);
    let p = KeyProvider::new(&jwks_uri_config());
    let mut sim = Sim::new(&clock);
    sim.spawn(p.keys(&io, 0, Some("a"), NOW));
    sim.run();
    // Rotation, after the cooldown: every request of the burst gets the new key.
    io.route(JWKS, &[Reply::Body(jwks("b"), 300)]);
    let ids: Vec<usize> = (0..8)
        .map(|_| sim.spawn(p.keys(&io, 0, Some("b"), NOW + 31)))
        .collect();
    sim.run();
    assert_eq!(io.count(JWKS), 2);
    for &i in &ids {
        let k = sim.result(i).as_ref().unwrap();
        assert!(k.set.has_kid("b"), "request {i} has the new key");
        assert_eq!(k.outcome, KeyOutcome::KidRefetch);
    }
}

#[test]
fn store_keys_include_the_key_source() {
    let a = store_key(ISSUER, &KeySource::JwksUri("https://a.test/jwks".into())).unwrap();
    let b = store_key(ISSUER, &KeySource::JwksUri("https://b.test/jwks".into())).unwrap();
    let d = store_key(ISSUER, &KeySource::Discovery("https://a.test/jwks".into())).unwrap();
    let other = store_key(
        "https://other/",
        &KeySource::JwksUri("https://a.test/jwks".into()),
    );
    assert!(a.starts_with("jwks:v2:") && a.len() == 8 + 64, "{a}");
    assert!(a[8..]
        .bytes()
        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    assert_ne!(a, b);
    assert_ne!(a, d);
    assert_ne!(Some(a.clone()), other);
    assert_eq!(
        store_key(ISSUER, &KeySource::SharedSecret("S".into())),
        None
    );
    // The documented derivation: SHA-256 of the JSON array [issuer, kind, url].
    use sha2::Digest;
    let hex: String =
        sha2::Sha256::digest(br#"["https://idp.test/","jwks_uri","https://a.test/jwks"]"#)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
    assert_eq!(a, format!("jwks:v2:{hex}"));
}

#[test]
fn two_tenants_with_one_issuer_and_one_store_never_read_each_others_keys() {
    let clock = Rc::new(Cell::new(0));
    let io = Fake::with_clock(&clock);
    let (ja, jb) = (jwks("a"), jwks("b"));
    io.route("https://a.test/jwks", &[Reply::Body(ja, 0)]);
    io.route("https://b.test/jwks", &[Reply::Body(jb, 0)]);
    let pa = KeyProvider::new(&config(r#","jwks_uri":"https://a.test/jwks""#));
    let pb = KeyProvider::new(&config(r#","jwks_uri":"https://b.test/jwks""#));
    let mut sim = Sim::new(&clock);
    let a = sim.spawn(pa.keys(&io, 0, None, NOW));
    sim.run();
    let b = sim.spawn(pb.keys(&io, 0, None, NOW));
    sim.run();
    assert_eq!(
        outcome(sim.result(b)),
        KeyOutcome::Fetched,
        "b fetched its own keys"
    );
    assert!(sim.result(a).as_ref().unwrap().set.has_kid("a"));
    let kb = sim.result(b).as_ref().unwrap();
    assert!(kb.set.has_kid("b") && !kb.set.has_kid("a"));
    assert_eq!(io.store.borrow().len(), 2);
}

#[test]
fn a_stored_state_from_the_future_is_refused() {
    let clock = Rc::new(Cell::new(0));
    let io = Fake::with_clock(&clock);
    io.route(JWKS, &[Reply::Body(jwks("a"), 0)]);
    let cfg = jwks_uri_config();
    let key = store_key(ISSUER, &cfg.issuers[0].key_source()).unwrap();
    let planted = |at: u64| {
        let mut s = JwksCacheState::new();
        s.record_success(&cfg.jwks_cache, at, jwks("x"), Some("max-age=86400"), None);
        io.store.borrow_mut().insert(key.clone(), s.to_json());
    };
    // A year ahead: it would be served for a year. Refused; the keys are fetched.
    planted(NOW + 365 * 86_400);
    assert_eq!(outcome(&lone(&cfg, &io)), KeyOutcome::Fetched);
    assert_eq!(io.count(JWKS), 1);
    // Within the leeway (60 s): clock skew between isolates, accepted.
    planted(NOW + 30);
    let p = KeyProvider::new(&cfg);
    let mut sim = Sim::new(&clock);
    let i = sim.spawn(p.keys(&io, 0, None, NOW));
    sim.run();
    assert_eq!(outcome(sim.result(i)), KeyOutcome::Store);
    assert_eq!(io.count(JWKS), 1);
}

#[test]
fn the_discovery_document_must_name_the_configured_issuer() {
    for (doc, why) in [
        (
            discovery_doc("https://evil.test/"),
            "discovery document names another issuer",
        ),
        (
            discovery_doc("https://idp.test"),
            "discovery document names another issuer",
        ),
        (
            serde_json::json!({"jwks_uri": JWKS}).to_string(),
            "discovery document has no issuer",
        ),
    ] {
        let clock = Rc::new(Cell::new(0));
        let io = Fake::with_clock(&clock);
        io.route(DISCOVERY, &[Reply::Body(doc, 0)]);
        io.route(JWKS, &[Reply::Body(jwks("a"), 0)]);
        let e = lone(&discovery_config(), &io).unwrap_err();
        assert_eq!(e.code(), "jwks_unavailable");
        assert!(e.to_string().contains(why), "{e}");
        assert_eq!(
            io.fetched(),
            vec![DISCOVERY.to_string()],
            "the jwks_uri is not fetched"
        );
    }
}

#[test]
fn the_discovered_jwks_uri_is_kept_until_it_fails() {
    let clock = Rc::new(Cell::new(0));
    let io = Fake::with_clock(&clock);
    io.route(DISCOVERY, &[Reply::Body(discovery_doc(ISSUER), 0)]);
    io.route(JWKS, &[Reply::Body(jwks("a"), 0)]);
    let p = KeyProvider::new(&discovery_config());
    let run = |f: Pin<Box<dyn Future<Output = ()> + '_>>| {
        let mut f = f;
        let mut cx = Context::from_waker(Waker::noop());
        while f.as_mut().poll(&mut cx).is_pending() {
            clock.set(clock.get() + 1);
        }
    };
    run(Box::pin(async {
        p.keys(&io, 0, None, NOW).await.unwrap();
    }));
    assert_eq!(io.fetched(), vec![DISCOVERY.to_string(), JWKS.to_string()]);
    // Refreshes and a fetch after expiry go straight to the kept jwks_uri.
    run(Box::pin(p.refresh(&io, 0, NOW + 545)));
    run(Box::pin(async {
        p.keys(&io, 0, None, NOW + 100_000).await.unwrap();
    }));
    assert_eq!(io.count(DISCOVERY), 1);
    assert_eq!(io.count(JWKS), 3);
    // The kept URI fails: the next attempt discovers again.
    io.route(JWKS, &[Reply::Status(404, 0), Reply::Body(jwks("a"), 0)]);
    run(Box::pin(p.refresh(&io, 0, NOW + 100_600)));
    assert_eq!(io.count(DISCOVERY), 1);
    run(Box::pin(p.refresh(&io, 0, NOW + 100_700)));
    assert_eq!(io.count(DISCOVERY), 2);
    assert_eq!(io.count(JWKS), 5);
}
