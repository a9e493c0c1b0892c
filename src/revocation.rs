//! Revocation without introspection: entries in a key-value store (the Worker's KV
//! namespace `REVOKED`, or any store an npm caller hands in) that revoke one token by
//! its `jti`, or every token of a client or a subject issued up to a time.
//!
//! # Entries
//!
//! Each key is scoped to its issuer:
//!
//! | key | revokes |
//! |---|---|
//! | `<issuer>\|jti\|<jti>` | that token, whatever the value |
//! | `<issuer>\|client\|<client_id>` | every token of the client (`azp` / `client_id`) with `iat` ≤ `before` |
//! | `<issuer>\|sub\|<sub>` | every token of the subject with `iat` ≤ `before` |
//!
//! The value is `{"before": <unix seconds>}` ([`entry_value`]). A token without `iat`
//! is revoked by any client or subject entry (its issue time cannot be shown to be
//! later); an entry whose value is not that JSON revokes every token of its client or
//! subject (fail closed). A key over [`MAX_KEY_BYTES`] (Workers KV's limit) cannot be
//! stored, so it is not looked up.
//!
//! # Cost and staleness
//!
//! The check runs on every request that presents a token, token-cache hits included,
//! after verification and the sender check and before the route's requirement. It
//! reads up to three entries, through a per-isolate cache ([`RevocationCache`]) that
//! keeps each answer, present or absent, for `revocation.cache_seconds` (default
//! [`DEFAULT_CACHE_SECONDS`]): the bound on how long this process may miss a new
//! entry. The store's own propagation adds to it (Workers KV: up to 60 s to other
//! locations). A store that cannot answer refuses the request with
//! `revocation_unavailable` (503): never an open door.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::catalogue::{self, CodeInfo};
use crate::{Claims, ErrorCode, Principal, UnixSeconds};

/// The default bound on a cached entry's staleness, in seconds.
pub const DEFAULT_CACHE_SECONDS: u64 = 10;
/// The largest `revocation.cache_seconds`.
pub const MAX_CACHE_SECONDS: u64 = 300;
/// The longest key that is looked up (Workers KV keys are at most 512 bytes).
pub const MAX_KEY_BYTES: usize = 512;
/// Entries the per-isolate cache holds before it starts again empty.
pub const CACHE_CAPACITY: usize = 10_000;

fn default_cache_seconds() -> u64 {
    DEFAULT_CACHE_SECONDS
}

/// The `revocation` section: checking every token against the revocation store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevocationConfig {
    /// How long (seconds) this process keeps a store answer, present or absent: the
    /// bound on how late it sees a new entry, besides the store's own propagation
    /// (default 10, at most 300; 0 reads the store on every request).
    #[serde(default = "default_cache_seconds")]
    pub cache_seconds: u64,
}

impl Default for RevocationConfig {
    fn default() -> Self {
        RevocationConfig {
            cache_seconds: DEFAULT_CACHE_SECONDS,
        }
    }
}

impl RevocationConfig {
    /// Checks the section; the error names the field.
    pub fn validate(&self) -> Result<(), crate::ConfigError> {
        if self.cache_seconds > MAX_CACHE_SECONDS {
            return Err(crate::ConfigError::invalid(
                "revocation.cache_seconds",
                format!("must be at most {MAX_CACHE_SECONDS}"),
            ));
        }
        Ok(())
    }
}

/// What an entry names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RevokedBy {
    /// The token's `jti`.
    Jti,
    /// The token's client.
    Client,
    /// The token's subject.
    Subject,
}

impl RevokedBy {
    /// The key's middle part: `jti`, `client`, `sub`.
    pub fn as_str(self) -> &'static str {
        match self {
            RevokedBy::Jti => "jti",
            RevokedBy::Client => "client",
            RevokedBy::Subject => "sub",
        }
    }
}

/// The store key of an entry: `<issuer>|<kind>|<id>`.
pub fn entry_key(issuer: &str, by: RevokedBy, id: &str) -> String {
    format!("{issuer}|{}|{id}", by.as_str())
}

/// The value of a client or subject entry revoking what was issued up to `before`.
pub fn entry_value(before: UnixSeconds) -> String {
    format!("{{\"before\":{before}}}")
}

/// The keys to look up for a verified token: its `jti` (when a string), its client,
/// its subject; those over [`MAX_KEY_BYTES`] left out.
pub fn lookup_keys(principal: &Principal, claims: &Claims) -> Vec<(RevokedBy, String)> {
    let issuer = &principal.issuer;
    let mut out = Vec::with_capacity(3);
    if let Some(Value::String(jti)) = claims.get("jti") {
        if !jti.is_empty() {
            out.push((RevokedBy::Jti, entry_key(issuer, RevokedBy::Jti, jti)));
        }
    }
    if let Some(c) = principal.client_id.as_deref().filter(|c| !c.is_empty()) {
        out.push((RevokedBy::Client, entry_key(issuer, RevokedBy::Client, c)));
    }
    if !principal.subject.is_empty() {
        out.push((
            RevokedBy::Subject,
            entry_key(issuer, RevokedBy::Subject, &principal.subject),
        ));
    }
    out.retain(|(_, k)| k.len() <= MAX_KEY_BYTES);
    out
}

/// Whether an entry's `value` revokes a token issued at `iat` (the claim, if a number).
pub fn revokes(by: RevokedBy, value: &str, iat: Option<f64>) -> bool {
    if by == RevokedBy::Jti {
        return true;
    }
    let before = serde_json::from_str::<Value>(value)
        .ok()
        .and_then(|v| v.get("before").and_then(Value::as_f64))
        .filter(|b| b.is_finite());
    match (before, iat) {
        (Some(before), Some(iat)) => iat <= before,
        // No issue time, or an entry that is not {"before": n}: revoked (fail closed).
        _ => true,
    }
}

/// Errors of the revocation stage.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RevocationError {
    /// An entry revokes the token.
    Revoked(RevokedBy),
    /// The store could not be read.
    Unavailable(String),
}

impl ErrorCode for RevocationError {
    fn info(&self) -> &'static CodeInfo {
        match self {
            Self::Revoked(_) => &catalogue::TOKEN_REVOKED,
            Self::Unavailable(_) => &catalogue::REVOCATION_UNAVAILABLE,
        }
    }
}

impl fmt::Display for RevocationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Revoked(RevokedBy::Jti) => f.write_str("the token was revoked (by its jti)"),
            Self::Revoked(RevokedBy::Client) => {
                f.write_str("the token was revoked (its client's tokens issued up to a time)")
            }
            Self::Revoked(RevokedBy::Subject) => {
                f.write_str("the token was revoked (its subject's tokens issued up to a time)")
            }
            Self::Unavailable(why) => write!(f, "the revocation store cannot be read: {why}"),
        }
    }
}

impl std::error::Error for RevocationError {}

/// The per-isolate cache of store answers: key to (value or absent, when read). An
/// answer is used while younger than the configured `cache_seconds`.
#[derive(Debug, Default)]
pub struct RevocationCache {
    entries: HashMap<String, (Option<String>, UnixSeconds)>,
}

impl RevocationCache {
    /// An empty cache.
    pub fn new() -> Self {
        RevocationCache::default()
    }

    /// The cached answer for `key` at `now`, if one is younger than `max_age`
    /// seconds: `Some(None)` is a cached absence.
    pub fn get(&self, key: &str, now: UnixSeconds, max_age: u64) -> Option<Option<&str>> {
        let (value, at) = self.entries.get(key)?;
        (now.saturating_sub(*at) < max_age && *at <= now).then_some(value.as_deref())
    }

    /// Keeps the store's answer for `key`, read at `now`.
    pub fn put(&mut self, key: String, value: Option<String>, now: UnixSeconds) {
        if self.entries.len() >= CACHE_CAPACITY && !self.entries.contains_key(&key) {
            // Bounded memory: start again rather than track ages (a refill costs reads,
            // never a missed entry).
            self.entries.clear();
        }
        self.entries.insert(key, (value, now));
    }

    /// The number of cached answers.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DecidedBy, Kind};
    use serde_json::json;

    fn principal() -> Principal {
        Principal {
            kind: Kind::User,
            subject: "auth0|u1".into(),
            client_id: Some("app".into()),
            user_id: Some("auth0|u1".into()),
            scopes: vec![],
            roles: vec![],
            issuer: "https://t/".into(),
            audiences: vec![],
            expires_at: None,
            decided_by: DecidedBy::Default,
            actor: None,
            binding: None,
        }
    }

    #[test]
    fn keys_are_scoped_to_the_issuer() {
        let c = json!({"jti": "j1"}).as_object().cloned().unwrap();
        let keys: Vec<String> = lookup_keys(&principal(), &c)
            .into_iter()
            .map(|k| k.1)
            .collect();
        assert_eq!(
            keys,
            [
                "https://t/|jti|j1",
                "https://t/|client|app",
                "https://t/|sub|auth0|u1"
            ]
        );
        let no_jti = json!({"jti": 5}).as_object().cloned().unwrap();
        assert_eq!(lookup_keys(&principal(), &no_jti).len(), 2);
        let long = Principal {
            subject: "s".repeat(600),
            ..principal()
        };
        assert_eq!(lookup_keys(&long, &Claims::new()).len(), 1);
    }

    #[test]
    fn before_revokes_tokens_issued_up_to_it_and_fails_closed() {
        let v = entry_value(1000);
        assert_eq!(v, "{\"before\":1000}");
        assert!(revokes(RevokedBy::Client, &v, Some(999.0)));
        assert!(revokes(RevokedBy::Client, &v, Some(1000.0)));
        assert!(!revokes(RevokedBy::Client, &v, Some(1001.0)));
        assert!(!revokes(RevokedBy::Subject, &v, Some(1000.5)));
        assert!(revokes(RevokedBy::Subject, &v, None), "no iat");
        for bad in ["", "x", "{}", "{\"before\":\"1000\"}", "[1000]", "null"] {
            assert!(revokes(RevokedBy::Client, bad, Some(5000.0)), "{bad:?}");
        }
        assert!(revokes(RevokedBy::Jti, "anything", Some(5000.0)));
        assert!(revokes(RevokedBy::Jti, &entry_value(0), Some(5000.0)));
    }

    #[test]
    fn the_cache_keeps_answers_for_its_bound_only() {
        let mut c = RevocationCache::new();
        c.put("k".into(), None, 100);
        c.put("r".into(), Some(entry_value(90)), 100);
        assert_eq!(c.get("k", 100, 10), Some(None));
        assert_eq!(c.get("k", 109, 10), Some(None));
        assert_eq!(c.get("k", 110, 10), None, "stale at the bound");
        assert_eq!(c.get("k", 99, 10), None, "a clock going back");
        assert_eq!(c.get("r", 105, 10), Some(Some("{\"before\":90}")));
        assert_eq!(c.get("k", 100, 0), None, "cache_seconds 0 never reuses");
        assert_eq!(c.get("x", 100, 10), None);
    }

    #[test]
    fn the_section_is_checked() {
        let c: RevocationConfig = serde_json::from_value(json!({})).unwrap();
        assert_eq!(c.cache_seconds, DEFAULT_CACHE_SECONDS);
        let bad: RevocationConfig = serde_json::from_value(json!({"cache_seconds": 301})).unwrap();
        assert_eq!(
            bad.validate().unwrap_err().field(),
            Some("revocation.cache_seconds")
        );
        assert!(serde_json::from_value::<RevocationConfig>(json!({"ttl": 1})).is_err());
    }
}
