//! What the verified-token cache holds, measured: a counting global allocator gives the
//! heap bytes live before and after an Authenticator has verified many more distinct
//! tokens than its cache holds. The cache never exceeds its entry cap, an entry costs at
//! most `MAX_ENTRY_BYTES` (table slack and insertion order included), and claims that
//! reusing a verification does not read are not kept (a token with a 2 KB profile claim
//! costs what one without it costs). One test in this file: the allocator counts every
//! thread of the process.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use serde_json::{json, Value};
use tokengate::{b64_encode, Authenticator, Config, SignatureCheck};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; only the count of
// live bytes is added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            LIVE.fetch_add(
                new_size as isize - layout.size() as isize,
                Ordering::Relaxed,
            );
        }
        p
    }
}

#[global_allocator]
static A: Counting = Counting;

const ISS: &str = "https://tenant.auth0.com/";
const AUD: &str = "https://api.example.com";
const NOW: u64 = 1_700_000_000;
const CAPACITY: usize = 1024;
/// The most heap bytes one cache entry may cost, for the token below: the boxed `Kept`
/// (328 bytes on x86_64), its claims map (iss, sub, aud, exp, iat: one B-tree leaf of
/// some 630 bytes and the values), the principal (subject, client, user, scopes,
/// issuer, audiences), the hash table's slot and its spare capacity, the
/// insertion-order record. Measured 1662 (2026-12-02); before the cache kept only what
/// a hit reads, 2811 for this token and 2 KB more with the profile claim.
const MAX_ENTRY_BYTES: usize = 1800;

/// Accepts every signature: this test is about what is kept, not about signatures (the
/// tokens carry made-up ones), and it saves signing thousands of tokens.
struct AcceptAll;

impl tokengate::SignatureBackend for AcceptAll {
    async fn verify(&self, _: &SignatureCheck<'_>, _: &[u8], _: &[u8]) -> bool {
        true
    }
}

/// The issuer's one key: a P-256 public key (a real point, so that it loads with and
/// without `rust-crypto`; nothing is signed with it).
fn jwks() -> Value {
    json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": "k1", "alg": "ES256", "use": "sig",
        "x": "6hHkVKIa95MVXHrcFeDp8ZPvyfP9KRB9hwWxQcdRkiQ",
        "y": "MsH37RJFvDC7_Lx21BwFEkD5QORgPYd_1D43Ciue2Uc"}]})
}

/// Distinct user tokens (`jti` differs) with an ES256 header naming that key and a
/// made-up 64-byte signature; `extra` bytes of a profile claim no check reads.
fn tokens(n: usize, extra: usize) -> Vec<String> {
    let header = b64_encode(json!({"alg": "ES256", "kid": "k1"}).to_string().as_bytes());
    let sig = b64_encode(&[7u8; 64]);
    (0..n)
        .map(|i| {
            let mut c = json!({"iss": ISS, "aud": [AUD, "https://tenant.auth0.com/userinfo"],
                "sub": format!("auth0|{:08}", i % 97), "azp": "spa-client-1234567890",
                "scope": "openid profile email read:data", "permissions": ["read:data", "write:data"],
                "iat": NOW - 5, "exp": NOW + 3600, "jti": format!("{i:016x}")});
            if extra > 0 {
                c["https://example.com/profile"] = Value::String("p".repeat(extra));
            }
            let payload = b64_encode(c.to_string().as_bytes());
            format!("{header}.{payload}.{sig}")
        })
        .collect()
}

/// Live heap bytes the cache holds after `tokens` were verified, per entry.
fn bytes_per_entry(auth: &Authenticator, tokens: &[String]) -> usize {
    let before = LIVE.load(Ordering::Relaxed);
    for (i, t) in tokens.iter().enumerate() {
        let v = common::ready(auth.verify(&common::NoIo, &AcceptAll, t, NOW)).unwrap();
        assert!(v.kept.verified.token.header.is_empty(), "no header kept");
        assert!(!v.kept.verified.token.claims.contains_key("jti"));
        assert!(
            auth.cached() <= CAPACITY,
            "{} entries after {} tokens",
            auth.cached(),
            i + 1
        );
    }
    assert_eq!(auth.cached(), CAPACITY);
    let after = LIVE.load(Ordering::Relaxed);
    usize::try_from(after - before).unwrap() / CAPACITY
}

#[test]
fn the_token_cache_is_bounded_in_entries_and_in_bytes() {
    let cfg = |capacity: usize| {
        let doc = json!({
            "issuers": [{"issuer": ISS, "audiences": [AUD], "jwks": jwks()}],
            "token_cache_size": capacity,
        });
        Config::from_value(doc).unwrap()
    };
    // Made before any measurement, so that their own bytes do not count.
    let plain = tokens(4 * CAPACITY, 0);
    let padded = tokens(4 * CAPACITY, 2048);

    let auth = Authenticator::new(cfg(CAPACITY)).unwrap();
    let per_entry = bytes_per_entry(&auth, &plain);
    eprintln!("token cache: {per_entry} bytes per entry ({CAPACITY} entries)");
    assert!(per_entry <= MAX_ENTRY_BYTES, "{per_entry} bytes per entry");

    let auth = Authenticator::new(cfg(CAPACITY)).unwrap();
    let padded_per_entry = bytes_per_entry(&auth, &padded);
    eprintln!("token cache, 2 KB profile claim: {padded_per_entry} bytes per entry");
    assert!(
        padded_per_entry <= per_entry + 16,
        "{padded_per_entry} bytes per entry with a 2 KB claim no check reads, {per_entry} without"
    );

    // A hit still makes its checks: past exp + leeway the kept entry is refused.
    let late = common::ready(auth.verify(
        &common::NoIo,
        &AcceptAll,
        padded.last().unwrap(),
        NOW + 3600 + 61,
    ));
    assert_eq!(late.unwrap_err().code(), "token_expired");
}
