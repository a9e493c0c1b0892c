//! The Cloudflare Worker adapter: the edge authorizer.
//!
//! The exported `fetch` only routes; [`app`] translates requests to the core's
//! pipeline and carries out its decisions, [`state`] is the per-isolate state built from
//! the configuration, [`settings`] the Worker's own configuration sections (`edge`,
//! `origin`), [`log`] the request log line, [`exchange`] the token endpoint (with
//! [`signing`], the edge's keys), [`io`] gives the key provider `fetch` and Workers KV
//! and the pipeline the DPoP replay store (the Durable Object class of [`replay`]), the
//! revocation store and the Rate Limiting bindings,
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
//! straight from that poll. A request that waits for WebCrypto's `verify` only (a new
//! token, its keys in memory) hands that promise out of the poll ([`Waiting`]): JS awaits
//! it and polls the handler again with its outcome. Only a request that waits on other
//! I/O (a key fetch, KV) is handed to `wasm-bindgen-futures`. Measured in workerd: see
//! the README's Performance section.

mod app;
mod demo;
mod exchange;
mod host;
mod io;
mod log;
mod replay;
mod settings;
mod signing;
mod state;

use wasm_bindgen::prelude::*;
use worker::{worker_sys, Context, Env};

/// The Worker's fetch handler (the runtime calls it through worker-build's entry
/// module): a `Promise` of the response.
#[wasm_bindgen]
pub fn fetch(req: web_sys::Request, env: Env, ctx: worker_sys::Context) -> js_sys::Promise {
    drive(Box::pin(app::handle(req, env, Context::new(ctx))))
}

/// A request's handler, boxed so that it can wait across calls into the module.
type Handler = std::pin::Pin<Box<dyn std::future::Future<Output = app::Answer>>>;

/// Polls the handler once: its answer when it is done; when it waits for a WebCrypto
/// `verify` only (a new token whose keys are in memory), that promise, awaited in JS
/// ([`host::resume_after`]) and handed back through [`Waiting::resume`], instead of a
/// `wasm-bindgen-futures` task (two closures, a `queueMicrotask` and a promise per
/// wake-up); anything else (a key fetch, KV) goes to `wasm-bindgen-futures`.
fn drive(mut handler: Handler) -> js_sys::Promise {
    match tokengate_webcrypto::poll_handoff(handler.as_mut()) {
        Ok(answer) => answer.into_promise(),
        Err(Some(host)) => {
            let promise = host.promise.clone();
            host::resume_after(&promise, Waiting { handler, host })
        }
        Err(None) => wasm_bindgen_futures::future_to_promise(async move {
            // A promise resolved with a promise takes on its outcome.
            Ok(handler.await.into_promise().into())
        }),
    }
}

/// A request whose handler waits for the WebCrypto `verify` promise it handed out.
/// (worker-build re-exports every exported class from the Worker's module, so the JS
/// name says whose it is.)
#[wasm_bindgen(js_name = TokengateWaiting)]
pub struct Waiting {
    handler: Handler,
    host: tokengate_webcrypto::HostPromise,
}

#[wasm_bindgen(js_class = TokengateWaiting)]
impl Waiting {
    /// The promise settled (`fulfilled` false: it rejected, `value` is ignored): hands
    /// the outcome to the handler and polls it again; a promise of the response.
    pub fn resume(self, fulfilled: bool, value: JsValue) -> js_sys::Promise {
        self.host.settle(fulfilled.then_some(&value));
        drive(self.handler)
    }
}
