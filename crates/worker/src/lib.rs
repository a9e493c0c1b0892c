//! The Cloudflare Worker adapter: the edge authorizer.
//!
//! The exported `fetch` only routes; [`app`] translates requests to the core's
//! pipeline and carries out its decisions, [`state`] is the per-isolate state built from
//! the configuration, [`settings`] the Worker's own configuration sections (`edge`,
//! `origin`), [`log`] the request log line, [`exchange`] the token endpoint (with
//! [`signing`], the edge's keys), [`io`] gives the key provider `fetch` and Workers KV,
//! [`host`] holds the few JS helpers of the request path, and [`demo`] is the local demo
//! issuer and echo origin (active only in the `demo` environment).
//!
//! The handler takes and returns the runtime's own `Request` and `Response` objects
//! rather than worker-rs' wrappers: converting a request into a `worker::Request`
//! reads its `cf` object (costly, and never used here), and a fetched response turned
//! into a `worker::Response` and back is rebuilt header by header.
//!
//! `fetch` is a plain `#[wasm_bindgen]` export rather than worker-rs' `#[event(fetch)]`,
//! which wraps the handler in a Rust future run by `wasm-bindgen-futures` (a
//! `queueMicrotask` per wake-up and a promise per request). Here the handler is polled
//! once, synchronously: a request the isolate can decide without I/O (a public route,
//! a kept verification with its keys in memory) returns the origin's `fetch` promise
//! straight from that poll, and only a request that waits on I/O (a key fetch, KV,
//! WebCrypto) is handed to `wasm-bindgen-futures`. Measured in workerd: see the README's
//! Performance section.

mod app;
mod demo;
mod exchange;
mod host;
mod io;
mod log;
mod settings;
mod signing;
mod state;

use wasm_bindgen::prelude::*;
use worker::{worker_sys, Context, Env};

/// The Worker's fetch handler (the runtime calls it through worker-build's entry
/// module): a `Promise` of the response.
#[wasm_bindgen]
pub fn fetch(req: web_sys::Request, env: Env, ctx: worker_sys::Context) -> js_sys::Promise {
    let handled = Box::pin(app::handle(req, env, Context::new(ctx)));
    match tokengate::poll_once(handled) {
        Ok(answer) => answer.into_promise(),
        Err(pending) => wasm_bindgen_futures::future_to_promise(async move {
            // A promise resolved with a promise takes on its outcome.
            Ok(pending.await.into_promise().into())
        }),
    }
}
