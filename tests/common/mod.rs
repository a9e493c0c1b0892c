//! Shared by the integration tests: a key I/O with no network and no store, and a way
//! to run the pipeline's futures when nothing in them waits.
#![allow(dead_code)]

use std::future::Future;

use tokengate::{poll_once, Authenticator, Config, Credentials, Decision, RustBackend};
use tokengate::{HttpResponse, KeyIo};

/// A [`KeyIo`] for configurations with inline keys: no fetch succeeds (so an issuer
/// with a `jwks_uri` has no keys), no store, timers that are already done.
#[derive(Clone, Copy, Default)]
pub struct NoIo;

impl KeyIo for NoIo {
    async fn fetch(&self, url: &str) -> Result<HttpResponse, String> {
        Err(format!("no network in this test ({url})"))
    }
    async fn load(&self, _key: &str) -> Option<String> {
        None
    }
    async fn save(&self, _key: &str, _value: String, _ttl_secs: u64) {}
    fn secret(&self, _name: &str) -> Option<String> {
        None
    }
    async fn sleep(&self, _ms: u64) {}
    fn fetch_timeout_ms(&self) -> u64 {
        1000
    }
}

/// The output of a future that completes on its first poll (inline keys and the Rust
/// backend never wait); panics otherwise.
pub fn ready<F: Future>(fut: F) -> F::Output {
    match poll_once(Box::pin(fut)) {
        Ok(v) => v,
        Err(_) => panic!("the future waited, but nothing here can wake it"),
    }
}

/// The pipeline's decision for a request with an `Authorization: Bearer` token.
pub fn decide(
    auth: &Authenticator,
    method: &str,
    path: &str,
    token: Option<&str>,
    now: tokengate::UnixSeconds,
) -> Decision {
    let header = token.map(|t| format!("Bearer {t}"));
    let credentials = Credentials {
        authorization: header.as_deref(),
        ..Credentials::default()
    };
    ready(auth.decide(&NoIo, &RustBackend, method, path, credentials, now))
}

/// An authenticator for a configuration document.
pub fn authenticator(config: serde_json::Value) -> Authenticator {
    Authenticator::new(Config::from_value(config).unwrap()).unwrap()
}
