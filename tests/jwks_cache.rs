//! The JWKS cache policy driven like an adapter would, with a fake clock and a fake
//! IdP.

use tokengate::JwksError;
use tokengate::{
    generation_of, parse_cache_control_max_age, Action, CacheStatus, JwksCacheConfig,
    JwksCacheState,
};

const SET_A: &str = r#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"a"}]}"#;
const SET_B: &str = r#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"b"}]}"#;

/// What the fake IdP answers.
#[derive(Clone)]
enum Idp {
    Up {
        body: &'static str,
        cache_control: Option<&'static str>,
        age: Option<&'static str>,
    },
    Down,
}

/// A fake adapter: a clock, an IdP, the state, and a count of fetches.
struct Harness {
    cfg: JwksCacheConfig,
    now: u64,
    idp: Idp,
    state: JwksCacheState,
    fetches: u32,
}

/// What one request got.
#[derive(Debug, PartialEq)]
enum Got {
    Keys {
        generation: u64,
        status: CacheStatus,
    },
    Unavailable,
}

impl Harness {
    fn new(idp: Idp) -> Self {
        Self {
            cfg: JwksCacheConfig::default(),
            now: 1_700_000_000,
            idp,
            state: JwksCacheState::new(),
            fetches: 0,
        }
    }

    fn up(body: &'static str, cache_control: Option<&'static str>) -> Idp {
        Idp::Up {
            body,
            cache_control,
            age: None,
        }
    }

    fn fetch(&mut self) {
        self.fetches += 1;
        self.state.record_attempt(self.now);
        match self.idp.clone() {
            Idp::Up {
                body,
                cache_control,
                age,
            } => {
                self.state
                    .record_success(&self.cfg, self.now, body.to_string(), cache_control, age)
            }
            Idp::Down => {
                self.state
                    .record_failure(&self.cfg, self.now, "jwks endpoint answered http 503")
            }
        }
    }

    /// One request: decide, fetch as told (background refreshes complete at once).
    fn request(&mut self) -> Got {
        let action = self.state.decide(&self.cfg, self.now);
        let (got, fetch) = match action {
            Action::Use {
                generation, status, ..
            } => (Some(Got::Keys { generation, status }), false),
            Action::UseAndRefresh {
                generation, status, ..
            } => (Some(Got::Keys { generation, status }), true),
            Action::Fetch => (None, true),
            Action::Fail(e) => {
                assert!(matches!(e, JwksError::Unavailable(_)), "{e:?}");
                (Some(Got::Unavailable), false)
            }
        };
        if fetch {
            self.fetch();
        }
        match got {
            Some(g) => g,
            // A blocking fetch: decide again on the new state.
            None => match self.state.decide(&self.cfg, self.now) {
                Action::Use {
                    generation, status, ..
                }
                | Action::UseAndRefresh {
                    generation, status, ..
                } => Got::Keys { generation, status },
                _ => Got::Unavailable,
            },
        }
    }

    /// A token with an unknown kid: refetch if allowed.
    fn kid_miss(&mut self) {
        if self.state.may_refetch_for_unknown_kid(&self.cfg, self.now) {
            self.fetch();
        }
    }

    fn advance(&mut self, secs: u64) {
        self.now += secs;
    }
}

fn fresh(set: &str) -> Got {
    Got::Keys {
        generation: generation_of(set),
        status: CacheStatus::Fresh,
    }
}

fn stale(set: &str) -> Got {
    Got::Keys {
        generation: generation_of(set),
        status: CacheStatus::Stale,
    }
}

#[test]
fn first_request_fetches_then_serves_fresh() {
    let mut h = Harness::new(Harness::up(SET_A, Some("public, max-age=300")));
    assert_eq!(h.state.decide(&h.cfg, h.now), Action::Fetch);
    assert_eq!(h.request(), fresh(SET_A));
    assert_eq!(h.fetches, 1);
    for _ in 0..100 {
        h.advance(2);
        assert_eq!(h.request(), fresh(SET_A));
    }
    assert_eq!(h.fetches, 1, "no fetch while fresh");
    assert_eq!(h.state.fresh_until, h.state.fetched_at + 300);
    assert_eq!(h.state.stale_until, h.state.fresh_until + 43_200);
}

#[test]
fn header_max_age_minus_age() {
    let mut h = Harness::new(Idp::Up {
        body: SET_A,
        cache_control: Some("max-age=600"),
        age: Some("100"),
    });
    h.request();
    assert_eq!(h.state.fresh_until - h.state.fetched_at, 500);
}

#[test]
fn s_maxage_is_preferred() {
    let mut h = Harness::new(Harness::up(SET_A, Some("max-age=100, s-maxage=1000")));
    h.request();
    assert_eq!(h.state.fresh_until - h.state.fetched_at, 1000);
}

#[test]
fn clamping_both_ways() {
    let mut h = Harness::new(Harness::up(SET_A, Some("max-age=1")));
    h.request();
    assert_eq!(h.state.fresh_until - h.state.fetched_at, 60);

    let mut h = Harness::new(Harness::up(SET_A, Some("max-age=31536000")));
    h.request();
    assert_eq!(h.state.fresh_until - h.state.fetched_at, 86_400);

    // Age larger than max-age: the lower bound.
    let mut h = Harness::new(Idp::Up {
        body: SET_A,
        cache_control: Some("max-age=300"),
        age: Some("5000"),
    });
    h.request();
    assert_eq!(h.state.fresh_until - h.state.fetched_at, 60);
}

#[test]
fn no_store_no_cache_and_garbage_use_default() {
    for header in [
        Some("no-store"),
        Some("no-cache, max-age=3000"),
        Some("max-age=3000, NO-STORE"),
        Some("max-age=banana"),
        Some("\"\"\",,,=;"),
        None,
    ] {
        let mut h = Harness::new(Harness::up(SET_A, header));
        h.request();
        assert_eq!(
            h.state.fresh_until - h.state.fetched_at,
            600,
            "header {header:?}"
        );
    }
    // The default itself is clamped.
    let mut h = Harness::new(Harness::up(SET_A, None));
    h.cfg.default_max_age = 10;
    h.request();
    assert_eq!(h.state.fresh_until - h.state.fetched_at, 60);
    assert_eq!(parse_cache_control_max_age("no-store, max-age=5"), None);
}

#[test]
fn unknown_kids_refetch_once_per_cooldown() {
    let mut h = Harness::new(Harness::up(SET_A, Some("max-age=3600")));
    h.request();
    h.advance(100);
    // 200 tokens with unknown kids over 10 seconds.
    for i in 0..200 {
        if i % 20 == 0 && i > 0 {
            h.advance(1);
        }
        h.kid_miss();
    }
    assert_eq!(h.fetches, 2, "the first fetch and one refetch");
    h.advance(20);
    h.kid_miss();
    assert_eq!(h.fetches, 2, "still cooling down 29 s after the refetch");
    h.advance(1);
    h.kid_miss();
    assert_eq!(h.fetches, 3, "allowed again after the cooldown");
}

#[test]
fn kid_miss_right_after_the_first_fetch_waits() {
    let mut h = Harness::new(Harness::up(SET_A, None));
    h.request();
    h.kid_miss();
    assert_eq!(h.fetches, 1);
    h.advance(30);
    h.kid_miss();
    assert_eq!(h.fetches, 2);
}

#[test]
fn refresh_ahead_then_refresh_picks_up_rotation() {
    let mut h = Harness::new(Harness::up(SET_A, Some("max-age=600")));
    h.request();
    h.advance(539);
    assert_eq!(h.request(), fresh(SET_A));
    assert_eq!(h.fetches, 1);
    h.idp = Harness::up(SET_B, Some("max-age=600"));
    h.advance(1);
    // Served from the held set while refreshing in the background.
    assert_eq!(h.request(), fresh(SET_A));
    assert_eq!(h.fetches, 2);
    assert_eq!(h.request(), fresh(SET_B));
}

#[test]
fn stale_if_error_serving() {
    let mut h = Harness::new(Harness::up(SET_A, Some("max-age=600")));
    h.request();
    h.idp = Idp::Down;
    h.advance(600);
    // Past freshness: stale, refresh attempted (fails).
    assert_eq!(h.request(), stale(SET_A));
    assert_eq!(h.fetches, 2);
    assert_eq!(h.state.consecutive_failures, 1);
    // Within the cooldown: served stale, no fetch.
    for _ in 0..29 {
        h.advance(1);
        assert_eq!(h.request(), stale(SET_A));
    }
    assert_eq!(h.fetches, 2);
    // After the cooldown: one more attempt.
    h.advance(1);
    assert_eq!(h.request(), stale(SET_A));
    assert_eq!(h.fetches, 3);
    // The IdP comes back: fresh again, failures cleared.
    h.idp = Harness::up(SET_A, Some("max-age=600"));
    h.advance(30);
    assert_eq!(h.request(), stale(SET_A));
    assert_eq!(h.request(), fresh(SET_A));
    assert_eq!(h.state.consecutive_failures, 0);
    assert_eq!(h.state.last_error, None);
}

#[test]
fn at_most_one_fetch_per_cooldown_while_down() {
    let mut h = Harness::new(Harness::up(SET_A, Some("max-age=600")));
    h.request();
    h.idp = Idp::Down;
    h.advance(600);
    let start = h.fetches;
    // One request per second for an hour.
    for _ in 0..3600 {
        h.request();
        h.advance(1);
    }
    assert_eq!(h.fetches - start, 120, "3600 s / 30 s cooldown");
}

#[test]
fn stale_window_expiry_then_fetch_or_fail() {
    let mut h = Harness::new(Harness::up(SET_A, Some("max-age=600")));
    h.request();
    let stale_until = h.state.stale_until;
    h.idp = Idp::Down;
    h.now = stale_until - 1;
    assert_eq!(h.request(), stale(SET_A));
    // Never served at or past stale_until; the failure just now blocks a fetch.
    h.now = stale_until;
    assert!(matches!(
        h.state.decide(&h.cfg, h.now),
        Action::Fail(JwksError::Unavailable(_))
    ));
    assert_eq!(h.request(), Got::Unavailable);
    // After the cooldown: fetch (fails again) then unavailable.
    h.now = stale_until - 1 + 30;
    assert_eq!(h.state.decide(&h.cfg, h.now), Action::Fetch);
    assert_eq!(h.request(), Got::Unavailable);
    // The IdP is back after another cooldown.
    h.idp = Harness::up(SET_B, None);
    h.advance(29);
    assert_eq!(h.request(), Got::Unavailable);
    h.advance(1);
    assert_eq!(h.request(), fresh(SET_B));
}

#[test]
fn stale_window_passed_without_failures_fetches() {
    let mut h = Harness::new(Harness::up(SET_A, Some("max-age=600")));
    h.request();
    h.now = h.state.stale_until + 5;
    assert_eq!(h.state.decide(&h.cfg, h.now), Action::Fetch);
}

#[test]
fn down_from_the_start_fails_within_cooldown() {
    let mut h = Harness::new(Idp::Down);
    assert_eq!(h.request(), Got::Unavailable);
    assert_eq!(h.fetches, 1);
    for _ in 0..29 {
        h.advance(1);
        assert_eq!(h.request(), Got::Unavailable);
    }
    assert_eq!(h.fetches, 1, "a down IdP is not hammered");
    match h.state.decide(&h.cfg, h.now) {
        Action::Fail(e) => {
            let msg = e.to_string();
            assert!(msg.contains("http 503"), "{msg}");
            assert!(msg.contains("next attempt in 1s"), "{msg}");
        }
        other => panic!("{other:?}"),
    }
    h.advance(1);
    assert_eq!(h.request(), Got::Unavailable);
    assert_eq!(h.fetches, 2);
    assert_eq!(h.state.consecutive_failures, 2);
}

#[test]
fn attempt_in_flight_without_a_set_still_fetches() {
    let mut h = Harness::new(Harness::up(SET_A, None));
    h.state.record_attempt(h.now);
    // No failure yet: concurrent requests wait on the fetch rather than failing.
    assert_eq!(h.state.decide(&h.cfg, h.now), Action::Fetch);
}

#[test]
fn attempt_in_flight_suppresses_duplicate_refreshes() {
    let mut h = Harness::new(Harness::up(SET_A, Some("max-age=600")));
    h.request();
    h.advance(700);
    assert!(matches!(
        h.state.decide(&h.cfg, h.now),
        Action::UseAndRefresh { .. }
    ));
    h.state.record_attempt(h.now);
    assert!(matches!(
        h.state.decide(&h.cfg, h.now),
        Action::Use {
            status: CacheStatus::Stale,
            ..
        }
    ));
}

#[test]
fn generation_changes_only_with_content() {
    let mut h = Harness::new(Harness::up(SET_A, Some("max-age=60")));
    h.request();
    let g1 = h.state.generation;
    h.advance(60);
    h.request();
    h.request();
    assert_eq!(h.fetches, 2);
    assert_eq!(h.state.generation, g1, "same content, same generation");
    h.idp = Idp::Down;
    h.advance(60);
    h.request();
    assert_eq!(h.state.generation, g1, "a failure keeps the generation");
    h.idp = Harness::up(SET_B, Some("max-age=60"));
    h.advance(30);
    h.request();
    assert_ne!(h.state.generation, g1);
    assert_eq!(h.state.generation, generation_of(SET_B));
    // Independent states holding the same text agree on the generation.
    let mut other = JwksCacheState::new();
    other.record_success(&h.cfg, 5, SET_B.into(), None, None);
    assert_eq!(other.generation, h.state.generation);
}

#[test]
fn serde_round_trip() {
    let mut h = Harness::new(Harness::up(SET_A, Some("max-age=600")));
    assert_eq!(
        JwksCacheState::from_json(&h.state.to_json()).unwrap(),
        h.state
    );
    h.request();
    h.idp = Idp::Down;
    h.advance(700);
    h.request();
    let json = h.state.to_json();
    let back = JwksCacheState::from_json(&json).unwrap();
    assert_eq!(back, h.state);
    assert_eq!(back.decide(&h.cfg, h.now), h.state.decide(&h.cfg, h.now));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["consecutive_failures"], 1);
    assert_eq!(v["jwks"], SET_A);
    assert_eq!(
        serde_json::to_string(&CacheStatus::Stale).unwrap(),
        "\"stale\""
    );
    assert_eq!(CacheStatus::Fresh.as_str(), "fresh");
}

#[test]
fn corrupted_json_is_an_error() {
    let mut h = Harness::new(Harness::up(SET_A, None));
    h.request();
    let good = h.state.to_json();
    let truncated = &good[..good.len() / 2];
    let tampered = good.replace(SET_A.replace('"', "\\\"").as_str(), "{\\\"keys\\\":[]}");
    assert_ne!(tampered, good);
    for bad in [
        "",
        "not json",
        "42",
        truncated,
        r#"{"jwks":null,"generation":7}"#,
        r#"{"fresh_until":"soon"}"#,
        r#"{"consecutive_failures":-1}"#,
        r#"{"unknown_field":true}"#,
        tampered.as_str(),
    ] {
        match JwksCacheState::from_json(bad) {
            Err(JwksError::Invalid(msg)) => assert!(msg.contains("corrupted"), "{msg}"),
            other => panic!("{bad:?} gave {other:?}"),
        }
    }
    // An adapter starts fresh from an error.
    let state = JwksCacheState::from_json("garbage").unwrap_or_default();
    assert_eq!(state.decide(&h.cfg, h.now), Action::Fetch);
}

#[test]
fn config_serde() {
    let cfg: JwksCacheConfig =
        serde_json::from_str(r#"{"cooldown": 10, "stale_window": 0}"#).unwrap();
    assert_eq!(cfg.cooldown, 10);
    assert_eq!(cfg.default_max_age, 600);
    assert_eq!(cfg.validate(), Ok(()));
    assert!(serde_json::from_str::<JwksCacheConfig>(r#"{"coolDown": 10}"#).is_err());
    let back: JwksCacheConfig =
        serde_json::from_str(&serde_json::to_string(&cfg).unwrap()).unwrap();
    assert_eq!(back, cfg);
}

#[test]
fn zero_stale_window_never_serves_past_freshness() {
    let mut h = Harness::new(Harness::up(SET_A, Some("max-age=600")));
    h.cfg.stale_window = 0;
    h.request();
    h.idp = Idp::Down;
    h.advance(599);
    assert_eq!(h.request(), fresh(SET_A));
    h.advance(1);
    assert_eq!(h.request(), Got::Unavailable);
}

#[test]
fn a_stored_state_with_future_times_is_refused() {
    let cfg = JwksCacheConfig::default();
    let now = 1_700_000_000;
    let stored = |fetched_at: u64, last_attempt: Option<u64>| {
        let mut s = JwksCacheState::new();
        s.record_success(&cfg, fetched_at, SET_A.into(), Some("max-age=600"), None);
        s.last_attempt = last_attempt;
        s.to_json()
    };
    // Fetched now, a little earlier, or within the allowed skew: accepted as is.
    for at in [now, now - 500, now + 60] {
        let json = stored(at, Some(at));
        assert_eq!(
            JwksCacheState::from_stored(&json, now, 60),
            JwksCacheState::from_json(&json)
        );
        assert!(JwksCacheState::from_stored(&json, now, 60).is_ok(), "{at}");
    }
    // Fetched in the future (it would be fresh until then and beyond), or a fetch
    // attempt stamped in the future: refused.
    for json in [
        stored(now + 61, Some(now + 61)),
        stored(now + 86_400 * 365, None),
        stored(now, Some(now + 3_600)),
    ] {
        match JwksCacheState::from_stored(&json, now, 60) {
            Err(JwksError::Invalid(msg)) => assert!(msg.contains("future"), "{msg}"),
            other => panic!("{json} gave {other:?}"),
        }
    }
    // Corrupted content is still an error, and an empty state is fine.
    assert!(JwksCacheState::from_stored("{", now, 60).is_err());
    assert!(JwksCacheState::from_stored(&JwksCacheState::new().to_json(), now, 0).is_ok());
    // Saturating: no overflow at the end of time.
    assert!(JwksCacheState::from_stored(&stored(u64::MAX, None), u64::MAX, u64::MAX).is_ok());
}
