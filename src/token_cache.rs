//! A bounded cache of verified tokens, so that a repeated token skips signature
//! verification.
//!
//! Entries are keyed by the SHA-256 digest of the token ([`TokenKey`]); the token itself
//! is never stored. An entry is served until its `expires_at` (unix seconds; a miss when
//! `now >= expires_at`) and only for the key-set generation it was verified with (see
//! [`JwksCacheState::generation`](crate::jwks_cache::JwksCacheState::generation)): a
//! lookup with another generation misses and evicts the entry.
//!
//! When full, an insert first drops expired entries (the oldest entry if it has expired,
//! otherwise a sweep of the whole cache at most once per second of `now`, and only when
//! some entry may have expired), then the oldest inserted entry (FIFO). A hit is one
//! hash lookup and a clone of the value; inserts are amortised O(1).
//!
//! ```
//! use tokengate::TokenCache;
//!
//! let mut cache: TokenCache<&str> = TokenCache::new(2);
//! let key = TokenCache::<&str>::key("eyJ...");
//! cache.insert(key, "alice", 2_000, 7, 1_000);
//! assert_eq!(cache.get(&key, 7, 1_500), Some("alice"));
//! assert_eq!(cache.get(&key, 8, 1_500), None); // the key set changed
//! ```

use std::collections::{HashMap, VecDeque};
use std::fmt;

use sha2::{Digest, Sha256};

/// The SHA-256 digest of a token: the cache key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenKey([u8; 32]);

impl TokenKey {
    /// A placeholder key for a check whose result is not cached (a disabled cache).
    pub const UNUSED: TokenKey = TokenKey([0; 32]);

    /// The key of a token (its SHA-256 digest).
    pub fn from_token(token: &str) -> Self {
        Self(Sha256::digest(token.as_bytes()).into())
    }

    /// The digest bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenKey(")?;
        for b in &self.0[..8] {
            write!(f, "{b:02x}")?;
        }
        f.write_str("…)")
    }
}

struct Entry<V> {
    value: V,
    expires_at: u64,
    generation: u64,
    /// Insertion sequence number, matching this entry's record in `order`.
    seq: u64,
}

/// A bounded cache of verified tokens; see the module docs (`src/token_cache.rs`).
pub struct TokenCache<V> {
    capacity: usize,
    map: HashMap<TokenKey, Entry<V>>,
    /// Insertion order: `(key, seq)`. Records whose `seq` no longer matches the map
    /// (removed entries) are skipped and compacted away.
    order: VecDeque<(TokenKey, u64)>,
    next_seq: u64,
    /// A lower bound of the entries' `expires_at` (exact after a sweep).
    earliest_expiry: u64,
    /// The `now` of the last full sweep.
    last_sweep: Option<u64>,
}

impl<V> fmt::Debug for TokenCache<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCache")
            .field("capacity", &self.capacity)
            .field("len", &self.map.len())
            .finish_non_exhaustive()
    }
}

impl<V: Clone> TokenCache<V> {
    /// A cache holding at most `capacity` entries; 0 disables it (inserts are dropped,
    /// lookups miss).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            map: HashMap::new(),
            order: VecDeque::new(),
            next_seq: 0,
            earliest_expiry: u64::MAX,
            last_sweep: None,
        }
    }

    /// The key of a token (its SHA-256 digest); same as [`TokenKey::from_token`].
    pub fn key(token: &str) -> TokenKey {
        TokenKey::from_token(token)
    }

    /// The value cached for `key`, if it was inserted with `generation` and has not
    /// expired (`now < expires_at`). An expired entry, or one of another generation,
    /// is evicted.
    pub fn get(&mut self, key: &TokenKey, generation: u64, now: u64) -> Option<V> {
        let entry = self.map.get(key)?;
        if now < entry.expires_at && entry.generation == generation {
            return Some(entry.value.clone());
        }
        self.map.remove(key);
        None
    }

    /// The value cached for `key` whatever its generation, if it has not expired
    /// (`now < expires_at`); an expired entry is evicted. The caller applies its own
    /// rule for the key set (see [`Authenticator::recheck`](crate::Authenticator::recheck)).
    pub fn lookup(&mut self, key: &TokenKey, now: u64) -> Option<V> {
        let entry = self.map.get(key)?;
        if now < entry.expires_at {
            return Some(entry.value.clone());
        }
        self.map.remove(key);
        None
    }

    /// Caches `value` for `key` until `expires_at` (unix seconds, exclusive) for the
    /// key-set `generation`. An already expired value is not cached; an existing entry
    /// for `key` is replaced in place. When the cache is full, expired entries go first,
    /// then the oldest inserted one.
    pub fn insert(&mut self, key: TokenKey, value: V, expires_at: u64, generation: u64, now: u64) {
        if self.capacity == 0 || now >= expires_at {
            return;
        }
        self.earliest_expiry = self.earliest_expiry.min(expires_at);
        if let Some(entry) = self.map.get_mut(&key) {
            entry.value = value;
            entry.expires_at = expires_at;
            entry.generation = generation;
            return;
        }
        if self.map.len() >= self.capacity {
            self.make_room(now);
        }
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        self.map.insert(
            key,
            Entry {
                value,
                expires_at,
                generation,
                seq,
            },
        );
        self.order.push_back((key, seq));
        if self.order.len() > self.capacity.saturating_mul(2) {
            self.compact();
        }
    }

    /// Frees at least one slot (the cache is full).
    fn make_room(&mut self, now: u64) {
        // 1. The oldest entry, if it has expired (the common case: tokens of one
        //    issuer tend to expire in insertion order).
        self.skip_dead_front();
        if let Some(&(front, _)) = self.order.front() {
            if self.map.get(&front).is_some_and(|e| now >= e.expires_at) {
                self.map.remove(&front);
                self.order.pop_front();
                return;
            }
        }
        // 2. A sweep of all expired entries, when one may have expired, at most once
        //    per second of `now`.
        if now >= self.earliest_expiry && self.last_sweep != Some(now) {
            self.last_sweep = Some(now);
            let mut earliest = u64::MAX;
            self.map.retain(|_, e| {
                let keep = now < e.expires_at;
                if keep {
                    earliest = earliest.min(e.expires_at);
                }
                keep
            });
            self.earliest_expiry = earliest;
            self.compact();
            if self.map.len() < self.capacity {
                return;
            }
        }
        // 3. The oldest inserted entry.
        while self.map.len() >= self.capacity {
            self.skip_dead_front();
            match self.order.pop_front() {
                Some((key, _)) => {
                    self.map.remove(&key);
                }
                // Unreachable while `order` covers every entry; never loop forever.
                None => break,
            }
        }
    }

    /// Pops order records of removed or replaced entries off the front.
    fn skip_dead_front(&mut self) {
        while let Some(&(key, seq)) = self.order.front() {
            if self.map.get(&key).is_some_and(|e| e.seq == seq) {
                break;
            }
            self.order.pop_front();
        }
    }

    /// Drops order records of removed entries (keeps the order).
    fn compact(&mut self) {
        let map = &self.map;
        self.order
            .retain(|(key, seq)| map.get(key).is_some_and(|e| e.seq == *seq));
    }

    /// Removes the entry of `key`, if any.
    pub fn remove(&mut self, key: &TokenKey) {
        self.map.remove(key);
    }

    /// The number of entries (some may have expired but not been evicted yet).
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the cache holds no entry.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The most entries the cache holds (0: disabled).
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Removes every entry (e.g. when every key set changed).
    pub fn clear(&mut self) {
        self.map.clear();
        self.order.clear();
        self.earliest_expiry = u64::MAX;
        self.last_sweep = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(i: u32) -> TokenKey {
        TokenCache::<u32>::key(&format!("token-{i}"))
    }

    #[test]
    fn key_is_sha256() {
        let key = TokenCache::<u32>::key("abc");
        assert_eq!(key.as_bytes()[..4], [0xba, 0x78, 0x16, 0xbf]);
        assert_eq!(key, TokenKey::from_token("abc"));
        assert_ne!(key, TokenKey::from_token("abd"));
        assert!(format!("{key:?}").starts_with("TokenKey(ba7816bf"));
    }

    #[test]
    fn hit_and_miss() {
        let mut c = TokenCache::new(4);
        assert!(c.is_empty());
        c.insert(k(1), 10u32, 100, 1, 0);
        assert_eq!(c.get(&k(1), 1, 50), Some(10));
        assert_eq!(c.get(&k(2), 1, 50), None);
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn expiry_evicts() {
        let mut c = TokenCache::new(4);
        c.insert(k(1), 10u32, 100, 1, 0);
        assert_eq!(c.get(&k(1), 1, 99), Some(10));
        assert_eq!(c.get(&k(1), 1, 100), None);
        assert!(c.is_empty());
        c.insert(k(2), 20, 100, 1, 100);
        assert!(c.is_empty(), "an expired value is not cached");
    }

    #[test]
    fn generation_change_evicts() {
        let mut c = TokenCache::new(4);
        c.insert(k(1), 10u32, 100, 1, 0);
        assert_eq!(c.get(&k(1), 2, 10), None);
        assert_eq!(c.get(&k(1), 1, 10), None, "evicted by the generation miss");
    }

    #[test]
    fn replace_in_place() {
        let mut c = TokenCache::new(2);
        c.insert(k(1), 1u32, 100, 1, 0);
        c.insert(k(1), 2, 200, 2, 0);
        assert_eq!(c.len(), 1);
        assert_eq!(c.get(&k(1), 2, 150), Some(2));
    }

    #[test]
    fn fifo_eviction_prefers_expired() {
        let mut c = TokenCache::new(3);
        c.insert(k(1), 1u32, 1000, 1, 0);
        c.insert(k(2), 2, 10, 1, 0);
        c.insert(k(3), 3, 1000, 1, 0);
        // k(2) has expired at 20: it goes, not the oldest k(1).
        c.insert(k(4), 4, 1000, 1, 20);
        assert_eq!(c.get(&k(1), 1, 20), Some(1));
        assert_eq!(c.get(&k(2), 1, 5), None);
        // Nothing expired: the oldest (k(1)) goes.
        c.insert(k(5), 5, 1000, 1, 20);
        assert_eq!(c.get(&k(1), 1, 20), None);
        assert_eq!(c.get(&k(3), 1, 20), Some(3));
        assert_eq!(c.len(), 3);
    }

    #[test]
    fn capacity_bound_under_churn() {
        let mut c = TokenCache::new(100);
        for i in 0..10_000u32 {
            let now = u64::from(i / 7);
            c.insert(k(i), i, now + u64::from(i % 50) + 1, u64::from(i % 3), now);
            if i % 5 == 0 {
                let _ = c.get(&k(i), 0, now);
            }
            assert!(c.len() <= 100);
            assert!(c.order.len() <= 200);
        }
    }

    #[test]
    fn disabled() {
        let mut c = TokenCache::new(0);
        c.insert(k(1), 1u32, 100, 1, 0);
        assert_eq!(c.get(&k(1), 1, 0), None);
        assert!(c.is_empty());
        assert_eq!(c.capacity(), 0);
    }

    #[test]
    fn clear_and_remove() {
        let mut c = TokenCache::new(4);
        c.insert(k(1), 1u32, 100, 1, 0);
        c.insert(k(2), 2u32, 100, 1, 0);
        c.remove(&k(1));
        assert_eq!(c.len(), 1);
        c.clear();
        assert!(c.is_empty());
        c.insert(k(3), 3, 100, 1, 0);
        assert_eq!(c.get(&k(3), 1, 0), Some(3));
    }
}
