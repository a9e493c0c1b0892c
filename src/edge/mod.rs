//! The Cloudflare Worker adapter: the edge authorizer.
//!
//! `#[event(fetch)]` only routes; [`app`] translates requests to the core's
//! [`Gate`](crate::Gate) and carries out its decisions, [`io`] gives the key provider
//! `fetch` and Workers KV, and [`demo`] is the local demo issuer and echo origin
//! (active only in the `demo` environment).

mod app;
mod demo;
mod exchange;
mod io;

use worker::{event, Context, Env, Request, Response, Result};

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> Result<Response> {
    Ok(app::handle(req, env, ctx).await)
}
