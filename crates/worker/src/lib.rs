//! The Cloudflare Worker adapter: the edge authorizer.
//!
//! `#[event(fetch)]` only routes; [`app`] translates requests to the core's
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

mod app;
mod demo;
mod exchange;
mod host;
mod io;
mod log;
mod settings;
mod signing;
mod state;

use worker::{event, web_sys, Context, Env, Result};

#[event(fetch)]
async fn fetch(req: web_sys::Request, env: Env, ctx: Context) -> Result<web_sys::Response> {
    Ok(app::handle(req, env, ctx).await)
}
