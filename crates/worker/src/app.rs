//! The authorizer's request path: translate the request, ask the core's pipeline
//! ([`Authenticator`]: rules, JWKS cache, verified-token cache), carry out the
//! decision. The per-isolate state is [`state`](crate::state), the log line
//! [`log`](crate::log); this module routes a request to the token exchange, the demo or
//! the pipeline and forwards what is allowed: counted against its route's rate limit
//! first (a Workers Rate Limiting binding), with identity and claim headers.
//!
//! [`Authenticator`]: tokengate::Authenticator

use std::rc::Rc;

use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::{Context, Env, Headers, Method, Response};

use tokengate::headers;
use tokengate::{ConfigError, Deny, ErrorCode, InternalError};
use tokengate::{RouteMatch, Verified};

use crate::demo;
use crate::exchange;
use crate::host;
use crate::log::LogLine;
use crate::settings::{LogLevel, ServerTiming};
use crate::state::{load_app, now_ms, App, ClientInfo, ORIGIN_BINDING};

/// The incoming request, read from the runtime once: URL, method and headers are each
/// one call across the wasm boundary, and nothing else (`cf` above all) is touched.
struct Incoming {
    raw: web_sys::Request,
    headers: web_sys::Headers,
    /// As worker-rs maps it: a method it does not know is `GET`, routed and forwarded
    /// as such.
    method: Method,
    /// Whether `method` is the request's own method string.
    method_unchanged: bool,
    /// The request's own method string (what a DPoP proof's `htm` names).
    raw_method: String,
    /// The full URL as the runtime serialized it.
    url: String,
    /// The pathname.
    path: String,
    /// The pathname and the `?query`, if any.
    path_and_query: String,
}

impl Incoming {
    fn new(raw: web_sys::Request) -> Incoming {
        let url = raw.url();
        let raw_method = raw.method();
        let method = Method::from(raw_method.clone());
        let method_unchanged = raw_method == method.as_ref();
        let headers = raw.headers();
        let (path, path_and_query) = split_url(&url);
        Incoming {
            raw,
            headers,
            method,
            method_unchanged,
            raw_method,
            path: path.to_owned(),
            path_and_query: path_and_query.to_owned(),
            url,
        }
    }
}

/// The pathname, and the pathname with the query, of an absolute URL as the runtime
/// serializes it (`scheme://host[:port]/path[?query]`): the path is everything from the
/// first `/` after the authority up to `?` (or `#`), which the serializer never leaves
/// unescaped inside it.
fn split_url(url: &str) -> (&str, &str) {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let Some(slash) = url[after_scheme..].find('/') else {
        return ("/", "/");
    };
    let rest = &url[after_scheme + slash..];
    let rest = &rest[..rest.find('#').unwrap_or(rest.len())];
    let path = &rest[..rest.find('?').unwrap_or(rest.len())];
    (path, rest)
}

/// What answers a request: a response made here, or the origin's fetch (not awaited).
enum Reply {
    Made(Response),
    Fetch(js_sys::Promise),
}

/// A reply whose origin fetch, if any, has been awaited.
enum Ready {
    Made(Response),
    Origin(web_sys::Response),
}

/// What [`handle`] gives the runtime: a response, or a promise of one (the origin's
/// fetch, with its log line and failure handling attached in JS).
pub enum Answer {
    Response(web_sys::Response),
    Promise(js_sys::Promise),
}

impl Answer {
    /// The answer as the promise the runtime's `fetch` handler returns.
    pub fn into_promise(self) -> js_sys::Promise {
        match self {
            Answer::Response(r) => js_sys::Promise::resolve(&JsValue::from(r)),
            Answer::Promise(p) => p,
        }
    }
}

/// The 500 for an origin fetch that failed (`error` is what it threw or rejected with),
/// with its log line: the one place both request paths (awaited in Rust, or settled in
/// JS by [`host::settle`]) describe that failure.
pub fn origin_failed(log: &mut LogLine, error: &JsValue) -> Response {
    let what = error
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| error.as_string())
        .unwrap_or_else(|| "(no message)".into());
    let e = InternalError(format!("the origin's fetch failed: {what}"));
    let deny = Deny::from_error(&e, "", None);
    log.refused("error", deny.code, deny.message.clone());
    log.status(deny.status);
    deny_response(&deny, None)
}

thread_local! {
    /// The isolate's [`origin_error_handler`], made on first use.
    static ON_ORIGIN_ERROR: std::cell::OnceCell<js_sys::Function> = const { std::cell::OnceCell::new() };
}

/// The handler of a failed origin fetch settled in JS ([`host::settle`]):
/// `(error, request, started)` to [`origin_failed`]'s response, its line logged as
/// `level` (the isolate's `edge.log`, fixed for its life) asks. Made once per isolate,
/// not per request.
fn origin_error_handler(level: LogLevel) -> js_sys::Function {
    ON_ORIGIN_ERROR.with(|h| h.get_or_init(|| make_origin_error_handler(level)).clone())
}

fn make_origin_error_handler(level: LogLevel) -> js_sys::Function {
    let handler = move |error: JsValue, req: web_sys::Request, started: f64| {
        let inc = Incoming::new(req);
        let mut log = LogLine::new(inc.method, inc.path);
        let resp = origin_failed(&mut log, &error);
        log.finish(now_ms() - started, level);
        web_sys::Response::from(resp)
    };
    let closure =
        Closure::<dyn Fn(JsValue, web_sys::Request, f64) -> web_sys::Response>::new(handler);
    closure.into_js_value().unchecked_into()
}

/// Handles one request; never fails open and never returns an error to the runtime.
///
/// With no `Server-Timing` to add, an allowed request's answer is the origin's fetch
/// promise as it is, its log line (when `edge.log` wants it) written by a JS reaction
/// when the origin answers: no Rust future waits on the origin.
pub async fn handle(req: web_sys::Request, env: Env, ctx: Context) -> Answer {
    let started = now_ms();
    let inc = Incoming::new(req);
    let mut log = LogLine::new(inc.method.clone(), inc.path.clone());
    // Before the configuration is read, every line is logged, and no Server-Timing.
    let mut level = LogLevel::All;
    let mut timing_level = ServerTiming::Off;
    // A 500's body says only that the authorizer failed (see `Deny::public_description`);
    // what failed goes to the log line.
    let reply = match load_app(&env, &inc.url, &inc.headers).await {
        Ok(app) => {
            level = app.settings.edge.log;
            timing_level = app.settings.edge.server_timing;
            match handle_inner(&app, &inc, &env, &ctx, &mut log, started).await {
                Ok(r) => r,
                Err(e) => {
                    let deny = Deny::from_error(&InternalError(e.to_string()), "", None);
                    log.refused("error", deny.code, deny.message.clone());
                    Reply::Made(deny_response(&deny, None))
                }
            }
        }
        Err(e) => {
            log.refused("config_error", e.code(), e.to_string());
            Reply::Made(deny_response(&Deny::from_error(&e, "", None), None))
        }
    };
    // The origin's fetch goes back as it is, settled in JS (`host::settle`), unless a
    // Server-Timing header is to be added to the origin's response: then it is awaited.
    let ready = match reply {
        Reply::Made(r) => Ready::Made(r),
        Reply::Fetch(p) => {
            if timing_level == ServerTiming::Off {
                let line = log.wanted(level).then(|| log.head()).flatten();
                let on_error = origin_error_handler(level);
                let settled = host::settle(&p, &inc.raw, line.as_deref(), started, &on_error);
                return Answer::Promise(settled);
            }
            match JsFuture::from(p).await.and_then(JsCast::dyn_into) {
                Ok(r) => Ready::Origin(r),
                Err(e) => Ready::Made(origin_failed(&mut log, &e)),
            }
        }
    };
    log.status(match &ready {
        Ready::Made(r) => r.status_code(),
        Ready::Origin(r) => r.status(),
    });
    let total = now_ms() - started;
    let resp = match (ready, log.server_timing(total, timing_level)) {
        (Ready::Made(r), None) => r.into(),
        (Ready::Origin(r), None) => r,
        (Ready::Made(mut r), Some(timing)) => {
            let _ = r.headers_mut().append("server-timing", &timing);
            r.into()
        }
        // The header is informational: should the copy fail, the origin's answer
        // goes out as it came.
        (Ready::Origin(r), Some(timing)) => host::with_server_timing(&r, &timing).unwrap_or(r),
    };
    log.finish(total, level);
    Answer::Response(resp)
}

fn deny_response(deny: &Deny, retry_after: Option<u64>) -> Response {
    let headers = Headers::new();
    let _ = headers.set("content-type", "application/json");
    let _ = headers.set("cache-control", "no-store");
    if let Some(w) = &deny.www_authenticate {
        let _ = headers.set("www-authenticate", w);
    }
    if let Some(n) = &deny.dpop_nonce {
        let _ = headers.set("dpop-nonce", n);
    }
    if let Some(r) = retry_after {
        let _ = headers.set("retry-after", &r.to_string());
    }
    Response::builder()
        .with_status(deny.status)
        .with_headers(headers)
        .fixed(deny.body_json_retry(retry_after).into_bytes())
}

/// The answer at the protected-resource metadata path (RFC 9728 §3): the document `doc`
/// to GET and HEAD, readable from any origin; a CORS preflight's 204; 405 otherwise.
fn resource_metadata(method: &Method, doc: String) -> Response {
    const METHODS: &str = "GET, HEAD, OPTIONS";
    let headers = Headers::new();
    let _ = headers.set("access-control-allow-origin", "*");
    let (status, body) = match method {
        Method::Get | Method::Head => {
            let _ = headers.set("content-type", "application/json");
            let _ = headers.set("cache-control", "public, max-age=300");
            let body = if *method == Method::Get {
                doc
            } else {
                String::new()
            };
            (200, body)
        }
        Method::Options => {
            let _ = headers.set("access-control-allow-methods", METHODS);
            (204, String::new())
        }
        _ => {
            let _ = headers.set("allow", METHODS);
            (405, String::new())
        }
    };
    Response::builder()
        .with_status(status)
        .with_headers(headers)
        .fixed(body.into_bytes())
}

async fn handle_inner(
    app: &Rc<App>,
    inc: &Incoming,
    env: &Env,
    ctx: &Context,
    log: &mut LogLine,
    started: f64,
) -> worker::Result<Reply> {
    let path = inc.path.as_str();
    let method = &inc.method;
    let cfg = app.gate().config();
    let now_s = started / 1000.0;

    // RFC 9728 protected-resource metadata: before the routes, without a token.
    if let Some(doc) = app.gate().resource_metadata(path) {
        log.decided("metadata");
        return Ok(Reply::Made(resource_metadata(method, doc)));
    }
    if let Some(resp) = exchange::metadata(app, path) {
        log.decided("metadata");
        return Ok(Reply::Made(resp));
    }
    if cfg.exchange.as_ref().is_some_and(|ex| ex.path == path) {
        // (`Clone::clone`: the reference, not JS `Request.clone()`.)
        let req = worker::Request::from(Clone::clone(&inc.raw));
        return exchange::token_endpoint(app, env, ctx, req, log, started)
            .await
            .map(Reply::Made);
    }

    if let Some(d) = &app.demo {
        match path {
            "/__demo/jwks.json" => {
                log.decided("demo");
                return Ok(Reply::Made(demo::json_response(200, &d.jwks())));
            }
            "/__demo/token" => {
                log.decided("demo");
                let query = inc.path_and_query.split_once('?').map_or("", |(_, q)| q);
                let aud = cfg
                    .issuers
                    .iter()
                    .find(|i| i.issuer == demo::DEMO_ISSUER)
                    .and_then(|i| i.audiences.first())
                    .cloned()
                    .unwrap_or_else(|| "https://api.example.com".into());
                return Ok(Reply::Made(
                    d.mint(query, &aud, crate::state::unix_seconds(started))
                        .await,
                ));
            }
            _ => {}
        }
    }

    // A `_method` query parameter naming another method is refused on every
    // forwarded path: an origin honouring it would run a method not authorized here.
    if let Some((_, query)) = inc.path_and_query.split_once('?') {
        if let Err(e) = headers::check_method_param(method.as_ref(), query) {
            let deny = app.gate().deny(&e, None);
            log.refused("deny", deny.code, deny.message.clone());
            return Ok(Reply::Made(deny_response(&deny, None)));
        }
    }

    let route = app.auth.route(method.as_ref(), path);
    log.route(route.index);
    // CORS preflight pass-through, when configured, for paths that pass the path
    // checks (a rejected path gets its 400 below).
    if app.settings.edge.cors_preflight_passthrough
        && !route.rejected
        && *method == Method::Options
        && inc.headers.has("access-control-request-method")?
    {
        log.decided("preflight");
        return forward(app, env, inc, "", log).await;
    }
    if route.public && !route.rejected {
        log.decided("public");
        return forward(app, env, inc, "", log).await;
    }
    let request = (inc.raw_method.as_str(), inc.url.as_str(), &inc.headers);
    match app
        .authenticate(env, ctx, &inc.raw, request, &route, log, started)
        .await
    {
        Ok(verified) => {
            // The client registry's entry (its name for the identity headers, its
            // rate-limit tier), read once for both.
            let client = match &verified.principal.client_id {
                Some(c) => app.client_info(env, c, now_s).await,
                None => None,
            };
            if let Some(refused) =
                check_rate_limit(app, env, &route, &verified, client.as_ref(), log).await
            {
                return Ok(Reply::Made(refused));
            }
            log.decided("allow");
            let name = client.as_ref().and_then(|c| c.name.as_deref());
            let set = origin_headers(app, &verified, name);
            forward(app, env, inc, &set, log).await
        }
        Err((deny, retry)) => {
            log.refused("deny", deny.code, deny.message.clone());
            Ok(Reply::Made(deny_response(&deny, retry)))
        }
    }
}

/// The route's rate limit for an allowed request (`gate.rate_limit`: the client's
/// tier from its registry entry, else the route's binding), counted with the binding;
/// the refusal to send instead of forwarding, if any.
///
/// Over the limit: 429 `rate_limited` with `Retry-After` the binding's declared
/// period (the binding says only yes or no). A token without the key's claim is the
/// core's 403 `claim_not_allowed`; a tier naming an undeclared binding its 500
/// `config_invalid`. A binding that fails or does not answer within the fetch timeout
/// fails closed: 503 `rate_limit_unavailable` (the log line says what failed); the
/// request is never let through uncounted.
async fn check_rate_limit(
    app: &App,
    env: &Env,
    route: &RouteMatch<'_>,
    verified: &Verified,
    client: Option<&ClientInfo>,
    log: &mut LogLine,
) -> Option<Response> {
    let tier = client.and_then(|c| c.rate_limit_binding.as_deref());
    let limit = match app.gate().rate_limit(route, verified, tier) {
        Ok(None) => return None,
        Ok(Some(limit)) => limit,
        Err(e) => {
            let (deny, retry) = app.refusal(&e);
            let decision = match e {
                tokengate::AuthError::Config(_) => "config_error",
                _ => "deny",
            };
            log.refused(decision, deny.code, deny.message.clone());
            return Some(deny_response(&deny, retry));
        }
    };
    match crate::io::rate_limit(env, &limit.binding, &limit.key, app.timeout_ms()).await {
        Ok(true) => None,
        Ok(false) => {
            let deny = app.gate().deny_policy(&limit.exceeded());
            log.refused("deny", deny.code, deny.message.clone());
            Some(deny_response(&deny, Some(u64::from(limit.period))))
        }
        Err(why) => {
            let deny = app.gate().deny_policy(&limit.unavailable(why));
            log.refused("error", deny.code, deny.message.clone());
            Some(deny_response(&deny, None))
        }
    }
}

/// The headers set for the origin of an allowed request, as `name\nvalue\n` pairs
/// for [`host::forward_headers`]: the identity headers (with the client registry's
/// `client_name`), then the claim headers of `edge.claim_headers` whose claim the
/// token has ([`tokengate::claim_header_value`]; an absent claim sends none).
fn origin_headers(app: &App, verified: &Verified, client_name: Option<&str>) -> String {
    let mut set = String::new();
    headers::for_each_identity_header(&verified.principal, client_name, |n, v| {
        push_header(&mut set, n, v)
    });
    let claims = &verified.token.claims;
    for (claim, header) in &app.settings.edge.claim_headers {
        if let Some(v) = tokengate::claim_header_value(tokengate::claim_at(claims, claim)) {
            push_header(&mut set, header, &v);
        }
    }
    set
}

/// Appends `name\nvalue\n` for [`host::forward_headers`]; `value` is already encoded
/// ([`headers::encode_value`] / [`headers::encode_list`]: visible ASCII only, so no
/// newline can split or join the pairs).
fn push_header(out: &mut String, name: &str, value: &str) {
    out.push_str(name);
    out.push('\n');
    out.push_str(value);
    out.push('\n');
}

/// Forwards the request to the origin (service binding `ORIGIN`, the configured
/// `origin`, or the demo echo), with the headers `set` ([`origin_headers`]; empty on
/// a public path).
async fn forward(
    app: &App,
    env: &Env,
    inc: &Incoming,
    set: &str,
    log: &mut LogLine,
) -> worker::Result<Reply> {
    let settings = &app.settings;
    // Identity and claim headers as `name\nvalue\n` pairs, set in the same call that
    // copies the inbound headers (without host, inbound identity and claim headers and,
    // when so configured, the Authorization header). Values are percent-encoded
    // (`headers::encode_value`), never altered.
    let secret_header = settings.edge.origin_secret_header();
    // Inbound identity, origin-secret and method-override headers, in every spelling
    // an origin may fold together, are dropped on every path (`App::reserved_inbound`).
    let reserved = &app.reserved_inbound;
    let secret_name = app.origin_secret.as_ref().map(|_| secret_header);
    let secret = app.origin_secret.as_deref();
    let drop_authorization = !settings.edge.forward_authorization;

    if !app.origin_service && settings.origin.is_none() {
        if app.demo.is_some() {
            let headers = host::forward_headers(
                &inc.headers,
                drop_authorization,
                reserved,
                set,
                secret_name,
                secret,
            )?;
            let bytes = match inc.raw.array_buffer() {
                Ok(p) => JsFuture::from(p)
                    .await
                    .map(|b| js_sys::Uint8Array::new(&b).to_vec())
                    .unwrap_or_default(),
                Err(_) => Vec::new(),
            };
            log.note("forwarded to the demo echo origin");
            return Ok(Reply::Made(demo::echo(
                inc.method.as_ref(),
                &inc.path_and_query,
                &Headers(headers),
                &bytes,
            )));
        }
        let e = ConfigError::invalid(
            "origin",
            "no origin is configured (set \"origin\" or bind a service named ORIGIN)",
        );
        log.refused("config_error", e.code(), e.to_string());
        return Ok(Reply::Made(deny_response(
            &Deny::from_error(&e, "", None),
            None,
        )));
    }
    let (service, target) = if app.origin_service {
        let service = js_sys::Reflect::get(env, &JsValue::from_str(ORIGIN_BINDING))?;
        (service, format!("https://origin{}", inc.path_and_query))
    } else {
        let base = settings
            .origin
            .as_deref()
            .unwrap_or_default()
            .trim_end_matches('/');
        (JsValue::UNDEFINED, format!("{base}{}", inc.path_and_query))
    };
    // The method as routed: the request's own unless worker-rs' mapping changed it.
    let method = (!inc.method_unchanged).then(|| inc.method.as_ref());
    let promise = host::forward(
        &service,
        &target,
        &inc.raw,
        method,
        drop_authorization,
        reserved,
        set,
        secret_name,
        secret,
    )?;
    Ok(Reply::Fetch(promise))
}
