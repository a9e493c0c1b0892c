//! The JWKS cache policy, as a pure state machine.
//!
//! Modelled on panva/jose's `cacheMaxAge` / `cooldownDuration`, plus stale-if-error.
//! The state never parses keys: it holds the raw JWKS JSON text of the last good
//! fetch and its [`generation`](JwksCacheState::generation). An adapter (the Worker:
//! memory, then KV, then fetch; the JS bindings: memory, then an optional user cache,
//! then fetch) drives it:
//!
//! 1. [`JwksCacheState::decide`] says what to do now: [`Action::Use`] the held set,
//!    [`Action::UseAndRefresh`] (use it and refresh in the background),
//!    [`Action::Fetch`] (nothing usable: fetch and wait), or [`Action::Fail`].
//! 2. The adapter fetches, parses the body with [`KeySet::from_jwks`](crate::KeySet::from_jwks)
//!    and reports the outcome with [`JwksCacheState::record_success`] (the body text and
//!    the `Cache-Control` and `Age` headers) or [`JwksCacheState::record_failure`]
//!    (network error, a non-2xx status — see [`check_fetch_status`] — an invalid
//!    document, or a set without a usable key).
//! 3. When a token's `kid` is not in the held set, the adapter asks
//!    [`JwksCacheState::may_refetch_for_unknown_kid`]: at most one fetch per
//!    [`cooldown`](JwksCacheConfig::cooldown).
//!
//! Calling [`JwksCacheState::record_attempt`] when a fetch starts (before its outcome
//! is known) keeps concurrent requests of the same isolate from starting more
//! background refreshes or kid-miss refetches; a blocking [`Action::Fetch`] is still
//! answered to them, and the adapter should share the one fetch in flight.
//!
//! Time is always a parameter: `now` is unix time in **seconds**. All config fields
//! are seconds too, except [`fetch_timeout_ms`](JwksCacheConfig::fetch_timeout_ms).
//!
//! Timeline of a held set fetched at `fetched_at` with freshness lifetime `fresh_for`:
//!
//! ```text
//! fetched_at        refresh_at          fresh_until               stale_until
//! |-- Use Fresh ----|-- UseAndRefresh --|-- UseAndRefresh Stale --|-- Fetch or Fail
//!                   |   Fresh (*)       |   (*)                   |
//! ```
//!
//! (*) `refresh_at = fresh_until - min(refresh_ahead, fresh_for / 2)`; a refresh is
//! only asked for when no fetch was attempted within the last `cooldown` seconds,
//! otherwise the set is just used. A set is never served at or past `stale_until`.
//!
//! ```
//! use tokengate::{Action, JwksCacheConfig, JwksCacheState};
//!
//! let cfg = JwksCacheConfig::default();
//! let mut state = JwksCacheState::new();
//! assert_eq!(state.decide(&cfg, 1_000), Action::Fetch);
//! state.record_success(&cfg, 1_000, r#"{"keys":[]}"#.into(), Some("max-age=300"), None);
//! assert!(matches!(state.decide(&cfg, 1_100), Action::Use { .. }));
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{ConfigError, JwksError};

/// The longest `last_error` kept, in characters.
const MAX_ERROR_CHARS: usize = 256;
/// Upper bound accepted for `max_max_age`, `stale_window`, `default_max_age` and
/// `refresh_ahead` (30 days).
const MAX_DURATION: u64 = 30 * 24 * 3600;

/// The JWKS cache policy. All durations are in seconds, except `fetch_timeout_ms`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct JwksCacheConfig {
    /// Freshness lifetime of a set whose response has no usable `Cache-Control`
    /// (absent, unparseable, `no-store` or `no-cache`); clamped into
    /// `[min_max_age, max_max_age]`. Default 600.
    pub default_max_age: u64,
    /// Lower bound of the freshness lifetime taken from the response headers.
    /// Default 60; at least 1.
    pub min_max_age: u64,
    /// Upper bound of the freshness lifetime taken from the response headers.
    /// Default 86400 (one day); at most 30 days.
    pub max_max_age: u64,
    /// After any fetch attempt (success or failure), no other fetch is asked for
    /// (unknown-`kid` refetch, background refresh, or fetch after failures) until this
    /// many seconds have passed. Default 30; between 1 and 3600.
    pub cooldown: u64,
    /// When refreshes fail, the last good set keeps being served until
    /// `fetched_at + fresh_for + stale_window`, never beyond. Default 43200 (12 h);
    /// 0 disables stale serving (the set is still used while a refresh is in flight
    /// only until `fresh_until`).
    pub stale_window: u64,
    /// Within this many seconds before a set goes stale, the set is still used but a
    /// background refresh is asked for ([`Action::UseAndRefresh`]), so that a busy
    /// gate never waits on the IdP. It is capped at half the set's freshness lifetime.
    /// Default 60.
    pub refresh_ahead: u64,
    /// Timeout of a JWKS or discovery fetch (headers and body), in milliseconds: the
    /// one fetch timeout of every adapter (the Worker's `EdgeIo`, the npm package's
    /// `fetchTimeout`; the Worker also reads `edge.fetch_timeout_ms` as its alias).
    /// Default 5000; between 1 and 60000.
    pub fetch_timeout_ms: u64,
}

impl Default for JwksCacheConfig {
    fn default() -> Self {
        Self {
            default_max_age: 600,
            min_max_age: 60,
            max_max_age: 86_400,
            cooldown: 30,
            stale_window: 43_200,
            refresh_ahead: 60,
            fetch_timeout_ms: 5_000,
        }
    }
}

impl JwksCacheConfig {
    /// Checks the bounds; errors name the field as `jwks_cache.<field>`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad =
            |field: &str, why: &str| Err(ConfigError::invalid(format!("jwks_cache.{field}"), why));
        if self.min_max_age == 0 {
            return bad("min_max_age", "must be at least 1 second");
        }
        if self.max_max_age > MAX_DURATION {
            return bad("max_max_age", "must be at most 2592000 seconds (30 days)");
        }
        if self.min_max_age > self.max_max_age {
            return bad(
                "min_max_age",
                "must not be greater than jwks_cache.max_max_age",
            );
        }
        if self.default_max_age > MAX_DURATION {
            return bad(
                "default_max_age",
                "must be at most 2592000 seconds (30 days)",
            );
        }
        if self.cooldown == 0 || self.cooldown > 3600 {
            return bad("cooldown", "must be between 1 and 3600 seconds");
        }
        if self.stale_window > MAX_DURATION {
            return bad("stale_window", "must be at most 2592000 seconds (30 days)");
        }
        if self.refresh_ahead > MAX_DURATION {
            return bad("refresh_ahead", "must be at most 2592000 seconds (30 days)");
        }
        if self.fetch_timeout_ms == 0 || self.fetch_timeout_ms > 60_000 {
            return bad(
                "fetch_timeout_ms",
                "must be between 1 and 60000 milliseconds",
            );
        }
        Ok(())
    }

    /// Clamps a lifetime into `[min_max_age, max_max_age]` without panicking on an
    /// unvalidated config (the upper bound wins).
    fn clamp(&self, secs: u64) -> u64 {
        secs.max(self.min_max_age).min(self.max_max_age)
    }

    /// The freshness lifetime, in seconds, of a set fetched with these response
    /// headers.
    ///
    /// With a usable `max-age` / `s-maxage` (see [`parse_cache_control_max_age`]; the
    /// Worker is a shared cache, so `s-maxage` wins), it is that value minus the `Age`
    /// header (delta-seconds; absent or invalid counts as 0), clamped into
    /// `[min_max_age, max_max_age]`. Otherwise it is `default_max_age`, clamped the same
    /// way (`Age` is then ignored: the default is our policy, not the origin's).
    pub fn freshness_lifetime(&self, cache_control: Option<&str>, age: Option<&str>) -> u64 {
        match cache_control.and_then(parse_cache_control_max_age) {
            Some(max_age) => {
                let age = age.and_then(parse_delta_seconds).unwrap_or(0);
                self.clamp(max_age.saturating_sub(age))
            }
            None => self.clamp(self.default_max_age),
        }
    }
}

/// How fresh a served set is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheStatus {
    /// Within its freshness lifetime.
    Fresh,
    /// Past its freshness lifetime but within the stale window (a refresh is due or
    /// fetches are failing).
    Stale,
}

impl CacheStatus {
    /// `"fresh"` or `"stale"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fresh => "fresh",
            Self::Stale => "stale",
        }
    }
}

impl fmt::Display for CacheStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the adapter must do now, from [`JwksCacheState::decide`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action<'a> {
    /// Use the held set; no fetch is due (or one is, but a fetch was attempted within
    /// the cooldown).
    Use {
        /// The JWKS JSON text.
        jwks: &'a str,
        /// Its generation (for token-cache invalidation).
        generation: u64,
        /// Fresh, or stale (served past freshness because fetches fail).
        status: CacheStatus,
    },
    /// Use the held set now and refresh it in the background (it is about to go stale
    /// or is stale but within the stale window, and no fetch is cooling down).
    UseAndRefresh {
        /// The JWKS JSON text.
        jwks: &'a str,
        /// Its generation (for token-cache invalidation).
        generation: u64,
        /// Fresh (refresh ahead of time) or stale.
        status: CacheStatus,
    },
    /// Nothing usable is held: fetch now and wait for the result.
    Fetch,
    /// Nothing usable is held and a fetch is not allowed now (a fetch failed within
    /// the cooldown): answer [`JwksError::Unavailable`].
    Fail(JwksError),
}

impl<'a> Action<'a> {
    /// The set to use now with its generation, for [`Action::Use`] and
    /// [`Action::UseAndRefresh`].
    pub fn jwks(&self) -> Option<(&'a str, u64)> {
        match *self {
            Self::Use {
                jwks, generation, ..
            }
            | Self::UseAndRefresh {
                jwks, generation, ..
            } => Some((jwks, generation)),
            _ => None,
        }
    }

    /// Whether the adapter must start a fetch (blocking or in the background).
    pub fn wants_fetch(&self) -> bool {
        matches!(self, Self::Fetch | Self::UseAndRefresh { .. })
    }
}

/// The cache state of one JWKS URL, kept by adapters in memory or KV (see
/// [`to_json`](Self::to_json) / [`from_json`](Self::from_json)). All times are unix
/// seconds.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JwksCacheState {
    /// The JWKS JSON text of the last good fetch.
    pub jwks: Option<String>,
    /// The generation of `jwks`: derived from its content ([`generation_of`], the first
    /// 8 bytes of its SHA-256, never 0), so it changes whenever the held content
    /// changes and is the same in every isolate holding the same text; 0 when no set
    /// is held.
    pub generation: u64,
    /// When the held set was fetched.
    pub fetched_at: u64,
    /// The held set is fresh before this time.
    pub fresh_until: u64,
    /// The held set is never served at or after this time.
    pub stale_until: u64,
    /// When a fetch was last attempted (started, succeeded or failed).
    pub last_attempt: Option<u64>,
    /// The error of the last fetch, if it failed (cleared by a success).
    pub last_error: Option<String>,
    /// Fetches failed in a row since the last success.
    pub consecutive_failures: u32,
}

impl JwksCacheState {
    /// An empty state: the first [`decide`](Self::decide) answers [`Action::Fetch`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether a fetch was attempted within the cooldown. An attempt stamped in the
    /// future (clock skew between isolates) only counts while within `cooldown` of
    /// `now`, so a skewed state cannot block fetching for long.
    fn cooling_down(&self, cfg: &JwksCacheConfig, now: u64) -> bool {
        self.last_attempt
            .is_some_and(|t| now.abs_diff(t) < cfg.cooldown)
    }

    /// `(fresh_until, stale_until)` with the current config's bounds applied, so a
    /// state written under a looser config (e.g. read from KV after a redeploy) is
    /// not served longer than this config allows.
    fn effective_bounds(&self, cfg: &JwksCacheConfig) -> (u64, u64) {
        let fresh_until = self
            .fresh_until
            .min(self.fetched_at.saturating_add(cfg.max_max_age));
        let stale_until = self
            .stale_until
            .min(fresh_until.saturating_add(cfg.stale_window));
        (fresh_until, stale_until)
    }

    /// What the adapter must do at `now`.
    ///
    /// - A held set before its refresh point: [`Action::Use`] `Fresh`.
    /// - Within `refresh_ahead` of going stale: [`Action::UseAndRefresh`] `Fresh`.
    /// - Past freshness but before `stale_until`: [`Action::UseAndRefresh`] `Stale`.
    /// - In both refresh cases, when a fetch was attempted within the cooldown:
    ///   [`Action::Use`] instead (so a failing IdP is asked at most once per cooldown).
    /// - No set, or the held one is at or past `stale_until`: [`Action::Fetch`], or
    ///   [`Action::Fail`] when the last fetch failed within the cooldown.
    pub fn decide(&self, cfg: &JwksCacheConfig, now: u64) -> Action<'_> {
        let cooling = self.cooling_down(cfg, now);
        if let Some(jwks) = self.jwks.as_deref() {
            let (fresh_until, stale_until) = self.effective_bounds(cfg);
            if now < stale_until {
                let generation = self.generation;
                let (status, refresh_due) = if now < fresh_until {
                    let fresh_for = fresh_until.saturating_sub(self.fetched_at);
                    let ahead = cfg.refresh_ahead.min(fresh_for / 2);
                    (CacheStatus::Fresh, now >= fresh_until.saturating_sub(ahead))
                } else {
                    (CacheStatus::Stale, true)
                };
                return if refresh_due && !cooling {
                    Action::UseAndRefresh {
                        jwks,
                        generation,
                        status,
                    }
                } else {
                    Action::Use {
                        jwks,
                        generation,
                        status,
                    }
                };
            }
        }
        if cooling && self.consecutive_failures > 0 {
            let wait = self
                .last_attempt
                .map_or(0, |t| t.saturating_add(cfg.cooldown).saturating_sub(now));
            let why = self.last_error.as_deref().unwrap_or("fetch failed");
            return Action::Fail(JwksError::Unavailable(format!(
                "{why} ({} failed fetch(es) in a row, next attempt in {wait}s)",
                self.consecutive_failures
            )));
        }
        Action::Fetch
    }

    /// A token's `kid` is not in the held set: may the adapter refetch now? True when
    /// no fetch was attempted within the cooldown, so at most one refetch happens per
    /// cooldown however many unknown `kid`s arrive. Call
    /// [`record_attempt`](Self::record_attempt) (or record the outcome) right away when
    /// it says yes.
    pub fn may_refetch_for_unknown_kid(&self, cfg: &JwksCacheConfig, now: u64) -> bool {
        !self.cooling_down(cfg, now)
    }

    /// Notes that a fetch starts at `now`, before its outcome is known: further
    /// refreshes and kid-miss refetches wait for the cooldown. Changes nothing else.
    pub fn record_attempt(&mut self, now: u64) {
        self.last_attempt = Some(now);
    }

    /// Records a successful fetch at `now` of `jwks` (the response body, already
    /// checked to parse into a set with a usable key) with the response's
    /// `Cache-Control` and `Age` header values.
    ///
    /// The freshness lifetime is [`JwksCacheConfig::freshness_lifetime`]; then
    /// `fresh_until = now + lifetime` and `stale_until = fresh_until + stale_window`.
    /// The generation changes only if the text differs from the held one. Failures
    /// are cleared.
    pub fn record_success(
        &mut self,
        cfg: &JwksCacheConfig,
        now: u64,
        jwks: String,
        cache_control: Option<&str>,
        age: Option<&str>,
    ) {
        let lifetime = cfg.freshness_lifetime(cache_control, age);
        if self.jwks.as_deref() != Some(jwks.as_str()) {
            self.generation = generation_of(&jwks);
            self.jwks = Some(jwks);
        }
        self.fetched_at = now;
        self.fresh_until = now.saturating_add(lifetime);
        self.stale_until = self.fresh_until.saturating_add(cfg.stale_window);
        self.last_attempt = Some(now);
        self.last_error = None;
        self.consecutive_failures = 0;
    }

    /// Records a failed fetch at `now` (network error, bad status, invalid document or
    /// no usable key). The last good set is kept (and served until its
    /// `stale_until`); `error` is kept, truncated to 256 characters, for
    /// [`Action::Fail`] messages.
    pub fn record_failure(&mut self, _cfg: &JwksCacheConfig, now: u64, error: &str) {
        self.last_attempt = Some(now);
        self.last_error = Some(error.chars().take(MAX_ERROR_CHARS).collect());
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
    }

    /// Seconds from `now` until the held set can no longer be served (0 when none is
    /// held or it is past `stale_until`); e.g. a KV expiration TTL.
    pub fn usable_for(&self, cfg: &JwksCacheConfig, now: u64) -> u64 {
        if self.jwks.is_none() {
            return 0;
        }
        self.effective_bounds(cfg).1.saturating_sub(now)
    }

    /// The state as JSON, for KV or a user cache.
    pub fn to_json(&self) -> String {
        // Serializing strings, integers and options cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a state written by [`to_json`](Self::to_json). Corrupted content (not JSON,
    /// unknown fields, inconsistent times, a generation that does not match the text)
    /// is a [`JwksError::Invalid`]; the adapter then starts from [`new`](Self::new).
    pub fn from_json(s: &str) -> Result<Self, JwksError> {
        if !s.trim_start().starts_with('{') {
            return Err(JwksError::Invalid(
                "cached state is corrupted: not a json object".into(),
            ));
        }
        let state: Self = serde_json::from_str(s)
            .map_err(|e| JwksError::Invalid(format!("cached state is corrupted: {e}")))?;
        let corrupted = |why: &str| {
            Err(JwksError::Invalid(format!(
                "cached state is corrupted: {why}"
            )))
        };
        match &state.jwks {
            Some(jwks) => {
                if state.generation != generation_of(jwks) {
                    return corrupted("generation does not match the key set");
                }
                if state.fetched_at > state.fresh_until || state.fresh_until > state.stale_until {
                    return corrupted("times are inconsistent");
                }
            }
            None => {
                if state.generation != 0 {
                    return corrupted("generation without a key set");
                }
            }
        }
        Ok(state)
    }

    /// Reads a state from a shared store (Workers KV, a user cache) at `now`:
    /// [`from_json`](Self::from_json), and then a state whose `fetched_at` or
    /// `last_attempt` lies more than `max_skew` seconds in the future is refused as a
    /// [`JwksError::Invalid`]. No isolate writes such a state (they stamp their own
    /// clock), and [`decide`](Self::decide) measures freshness from `fetched_at`, so a
    /// future-dated state could be served far longer than any response allowed.
    pub fn from_stored(s: &str, now: u64, max_skew: u64) -> Result<Self, JwksError> {
        let state = Self::from_json(s)?;
        let limit = now.saturating_add(max_skew);
        let future = (state.jwks.is_some() && state.fetched_at > limit)
            || state.last_attempt.is_some_and(|t| t > limit);
        if future {
            return Err(JwksError::Invalid(
                "cached state is refused: its times lie in the future".into(),
            ));
        }
        Ok(state)
    }
}

/// The generation of a JWKS text: the first 8 bytes of its SHA-256 as a big-endian
/// integer, with 0 (reserved for "no set") mapped to 1.
pub fn generation_of(jwks: &str) -> u64 {
    let digest = Sha256::digest(jwks.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first).max(1)
}

/// Classifies the HTTP status of a JWKS response: `Ok` for 200 and 203, otherwise the
/// error to pass to [`JwksCacheState::record_failure`].
pub fn check_fetch_status(status: u16) -> Result<(), String> {
    match status {
        200 | 203 => Ok(()),
        300..=399 => Err(format!(
            "jwks endpoint answered an unfollowed redirect (http {status})"
        )),
        _ => Err(format!("jwks endpoint answered http {status}")),
    }
}

/// The freshness lifetime a `Cache-Control` response header value grants, in seconds.
///
/// - `s-maxage` is preferred over `max-age` (the Worker is a shared cache, RFC 9111
///   §5.2.2.10); when a directive appears more than once, the smallest value counts.
/// - `no-store`, or an unqualified `no-cache`, gives `None` (the caller then uses its
///   default lifetime: JWKS fetches are rate-limited rather than revalidated on every
///   request). A qualified `no-cache="field"` only concerns header fields and is
///   ignored.
/// - Directive names are case-insensitive; values may be quoted; commas inside quoted
///   strings do not split directives; invalid directives and values (negative, not a
///   number, empty) are ignored. Values too large for `u64` saturate.
/// - No usable directive gives `None`.
pub fn parse_cache_control_max_age(cache_control: &str) -> Option<u64> {
    let mut max_age: Option<u64> = None;
    let mut s_maxage: Option<u64> = None;
    for element in split_list(cache_control) {
        let (name, value) = match element.split_once('=') {
            Some((n, v)) => (trim_ows(n), Some(unquote(trim_ows(v)))),
            None => (trim_ows(element), None),
        };
        if name.eq_ignore_ascii_case("no-store") {
            return None;
        }
        if name.eq_ignore_ascii_case("no-cache") {
            match value {
                None | Some(Some("")) => return None,
                Some(_) => continue,
            }
        }
        let slot = if name.eq_ignore_ascii_case("max-age") {
            &mut max_age
        } else if name.eq_ignore_ascii_case("s-maxage") {
            &mut s_maxage
        } else {
            continue;
        };
        if let Some(secs) = value.flatten().and_then(parse_delta_seconds) {
            *slot = Some(slot.map_or(secs, |old| old.min(secs)));
        }
    }
    s_maxage.or(max_age)
}

/// Splits a header list on commas that are not inside a quoted string.
fn split_list(s: &str) -> impl Iterator<Item = &str> {
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut in_quote = false;
    let mut escaped = false;
    let mut parts = Vec::new();
    for (i, &b) in bytes.iter().enumerate() {
        if in_quote {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_quote = false;
            }
        } else if b == b'"' {
            in_quote = true;
        } else if b == b',' {
            // Commas are ASCII, so `i` is a char boundary.
            parts.push(s.get(start..i).unwrap_or(""));
            start = i + 1;
        }
    }
    parts.push(s.get(start..).unwrap_or(""));
    parts.into_iter()
}

/// Trims optional whitespace (spaces and tabs).
fn trim_ows(s: &str) -> &str {
    s.trim_matches([' ', '\t'])
}

/// The content of a value: a token as is, or a well-formed quoted string without
/// escapes (the only values we read are digits). `None` for a malformed quoted string.
fn unquote(v: &str) -> Option<&str> {
    match v.strip_prefix('"') {
        None => Some(v),
        Some(rest) => {
            let inner = rest.strip_suffix('"')?;
            if inner.contains(['"', '\\']) {
                None
            } else {
                Some(inner)
            }
        }
    }
}

/// Parses delta-seconds (RFC 9111 §1.2.2): ASCII digits only, surrounding whitespace
/// allowed; too large saturates to `u64::MAX`.
fn parse_delta_seconds(s: &str) -> Option<u64> {
    let s = trim_ows(s);
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.bytes().fold(0u64, |acc, b| {
        acc.saturating_mul(10).saturating_add(u64::from(b - b'0'))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SET_A: &str = r#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"AAAA","kid":"a"}]}"#;
    const SET_B: &str = r#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"BBBB","kid":"b"}]}"#;

    fn cfg() -> JwksCacheConfig {
        JwksCacheConfig::default()
    }

    #[test]
    fn defaults_validate() {
        assert_eq!(cfg().validate(), Ok(()));
        let c: JwksCacheConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(c, cfg());
    }

    #[test]
    fn validation_names_fields() {
        let c = JwksCacheConfig {
            min_max_age: 100,
            max_max_age: 50,
            ..cfg()
        };
        let e = c.validate().unwrap_err();
        assert!(e.to_string().contains("jwks_cache.min_max_age"), "{e}");
        let c = JwksCacheConfig {
            cooldown: 0,
            ..cfg()
        };
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("jwks_cache.cooldown"));
        let c = JwksCacheConfig {
            fetch_timeout_ms: 0,
            ..cfg()
        };
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("jwks_cache.fetch_timeout_ms"));
        assert!(serde_json::from_str::<JwksCacheConfig>(r#"{"cooldwn": 3}"#).is_err());
    }

    #[test]
    fn unvalidated_config_does_not_panic() {
        let c = JwksCacheConfig {
            min_max_age: 100,
            max_max_age: 50,
            ..cfg()
        };
        assert_eq!(c.freshness_lifetime(Some("max-age=10"), None), 50);
        let mut s = JwksCacheState::new();
        s.record_success(&c, u64::MAX - 5, SET_A.into(), None, None);
        assert_eq!(s.stale_until, u64::MAX);
        let _ = s.decide(&c, u64::MAX);
        let _ = s.decide(&c, 0);
    }

    #[test]
    fn cache_control_parsing() {
        let p = parse_cache_control_max_age;
        assert_eq!(p("max-age=300"), Some(300));
        assert_eq!(p("public, MAX-AGE=300, must-revalidate"), Some(300));
        assert_eq!(p("max-age=\"120\""), Some(120));
        assert_eq!(p("max-age=300, s-maxage=900"), Some(900));
        assert_eq!(p("s-maxage=oops, max-age=300"), Some(300));
        assert_eq!(p("max-age=300, max-age=100"), Some(100));
        assert_eq!(p("max-age=300, no-store"), None);
        assert_eq!(p("No-Cache, max-age=300"), None);
        assert_eq!(p("no-cache=\"set-cookie, x\", max-age=300"), Some(300));
        assert_eq!(p("private=\"a,max-age=5\", max-age=40"), Some(40));
        assert_eq!(p("max-age=-1"), None);
        assert_eq!(p("max-age="), None);
        assert_eq!(p("max-age"), None);
        assert_eq!(p("max-age=1e3"), None);
        assert_eq!(p("max-age=\"12"), None);
        assert_eq!(p(""), None);
        assert_eq!(p(",,, ;;; ===\"\"\"\\"), None);
        assert_eq!(p("max-age=99999999999999999999999"), Some(u64::MAX));
        assert_eq!(p(" max-age = 30 "), Some(30));
        assert_eq!(p("mäx-age=3, max-age=7"), Some(7));
    }

    #[test]
    fn freshness_lifetime_rules() {
        let c = cfg();
        assert_eq!(c.freshness_lifetime(None, None), 600);
        assert_eq!(c.freshness_lifetime(Some("max-age=300"), Some("100")), 200);
        assert_eq!(c.freshness_lifetime(Some("max-age=300"), Some("junk")), 300);
        assert_eq!(c.freshness_lifetime(Some("max-age=300"), Some("1000")), 60);
        assert_eq!(c.freshness_lifetime(Some("max-age=5"), None), 60);
        assert_eq!(c.freshness_lifetime(Some("max-age=9999999"), None), 86_400);
        assert_eq!(c.freshness_lifetime(Some("no-store"), Some("5")), 600);
    }

    #[test]
    fn lifecycle() {
        let c = cfg();
        let mut s = JwksCacheState::new();
        assert_eq!(s.decide(&c, 1000), Action::Fetch);
        s.record_success(&c, 1000, SET_A.into(), Some("max-age=600"), None);
        let g = s.generation;
        assert_eq!(g, generation_of(SET_A));
        assert_eq!(
            s.decide(&c, 1000),
            Action::Use {
                jwks: SET_A,
                generation: g,
                status: CacheStatus::Fresh
            }
        );
        // refresh ahead: 60 s before 1600
        assert!(matches!(s.decide(&c, 1539), Action::Use { .. }));
        assert_eq!(
            s.decide(&c, 1540),
            Action::UseAndRefresh {
                jwks: SET_A,
                generation: g,
                status: CacheStatus::Fresh
            }
        );
        assert_eq!(
            s.decide(&c, 1600),
            Action::UseAndRefresh {
                jwks: SET_A,
                generation: g,
                status: CacheStatus::Stale
            }
        );
        s.record_failure(&c, 1600, "http 503");
        assert_eq!(
            s.decide(&c, 1629),
            Action::Use {
                jwks: SET_A,
                generation: g,
                status: CacheStatus::Stale
            }
        );
        assert!(matches!(s.decide(&c, 1630), Action::UseAndRefresh { .. }));
        // stale_until = 1600 + 43200
        let end = 1600 + 43_200;
        assert!(s.decide(&c, end - 1).jwks().is_some());
        s.record_failure(&c, end - 1, "http 503");
        assert!(matches!(
            s.decide(&c, end),
            Action::Fail(JwksError::Unavailable(_))
        ));
        assert_eq!(s.decide(&c, end + 28).jwks(), None);
        assert!(!s.decide(&c, end + 28).wants_fetch());
        assert_eq!(s.decide(&c, end + 29), Action::Fetch);
    }

    #[test]
    fn refresh_ahead_capped_at_half_lifetime() {
        let c = JwksCacheConfig {
            refresh_ahead: 1000,
            ..cfg()
        };
        let mut s = JwksCacheState::new();
        s.record_success(&c, 0, SET_A.into(), Some("max-age=100"), None);
        assert!(matches!(s.decide(&c, 49), Action::Use { .. }));
        assert!(matches!(s.decide(&c, 50), Action::UseAndRefresh { .. }));
    }

    #[test]
    fn generation_tracks_content() {
        let c = cfg();
        let mut s = JwksCacheState::new();
        assert_eq!(s.generation, 0);
        s.record_success(&c, 0, SET_A.into(), None, None);
        let a = s.generation;
        assert_ne!(a, 0);
        s.record_success(&c, 700, SET_A.into(), None, None);
        assert_eq!(s.generation, a);
        s.record_failure(&c, 800, "down");
        assert_eq!(s.generation, a);
        s.record_success(&c, 900, SET_B.into(), None, None);
        assert_ne!(s.generation, a);
        assert_eq!(s.generation, generation_of(SET_B));
    }

    #[test]
    fn config_tightening_applies_to_held_state() {
        let loose = JwksCacheConfig {
            max_max_age: 10_000,
            ..cfg()
        };
        let mut s = JwksCacheState::new();
        s.record_success(&loose, 0, SET_A.into(), Some("max-age=10000"), None);
        let tight = JwksCacheConfig {
            max_max_age: 1000,
            stale_window: 0,
            ..cfg()
        };
        assert_eq!(s.decide(&tight, 1000), Action::Fetch);
        assert_eq!(s.usable_for(&tight, 500), 500);
    }

    #[test]
    fn serde_round_trip_and_corruption() {
        let c = cfg();
        let mut s = JwksCacheState::new();
        assert_eq!(JwksCacheState::from_json(&s.to_json()), Ok(s.clone()));
        s.record_success(&c, 10, SET_A.into(), Some("max-age=120"), None);
        s.record_failure(&c, 50, "boom \"quoted\"");
        assert_eq!(JwksCacheState::from_json(&s.to_json()), Ok(s.clone()));
        for bad in ["", "null", "[]", "{", "{\"jwks\":5}", "{\"extra\":1}"] {
            assert!(JwksCacheState::from_json(bad).is_err(), "{bad}");
        }
        let mut wrong = s.clone();
        wrong.generation ^= 1;
        assert!(JwksCacheState::from_json(&wrong.to_json()).is_err());
        let mut wrong = s.clone();
        wrong.stale_until = wrong.fresh_until - 1;
        assert!(JwksCacheState::from_json(&wrong.to_json()).is_err());
    }

    #[test]
    fn fetch_status() {
        assert!(check_fetch_status(200).is_ok());
        assert!(check_fetch_status(304).is_err());
        assert_eq!(
            check_fetch_status(503).unwrap_err(),
            "jwks endpoint answered http 503"
        );
    }

    #[test]
    fn error_is_truncated() {
        let mut s = JwksCacheState::new();
        s.record_failure(&cfg(), 0, &"é".repeat(1000));
        assert_eq!(s.last_error.as_ref().map(|e| e.chars().count()), Some(256));
    }
}
