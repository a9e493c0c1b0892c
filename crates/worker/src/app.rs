//! The authorizer's request path: translate the request, ask the core's pipeline
//! ([`Authenticator`]: rules, JWKS cache, verified-token cache), carry out the
//! decision. Per isolate it keeps the built pipeline and a small client-registry cache.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use serde::Serialize;
use serde_json::Value;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::{Context, Env, Headers, Method, Response};

use tokengate::classify::Principal;
use tokengate::config::{Config, ServerTiming};
use tokengate::gate::{Gate, Verified};
use tokengate::headers;
use tokengate::keys::KeyOutcome;
use tokengate::policy::RouteMatch;
use tokengate::{
    AuthError, Authenticator, ConfigError, Credentials, Deny, ErrorCode, InternalError,
    SignatureBackend, SignatureCheck, Verification,
};
use tokengate_webcrypto::Backend;

use super::demo::{self, Demo};
use super::exchange::{self, SigningKeys};
use super::host;
use super::io::EdgeIo;

/// The KV binding of the client registry.
const CLIENTS_KV: &str = "CLIENTS";
/// How long a client-registry answer (found or not) is kept in memory, seconds.
const CLIENT_TTL: f64 = 300.0;
/// The secret holding the origin shared secret.
const ORIGIN_SECRET: &str = "TOKENGATE_ORIGIN_SECRET";
/// The service binding that, when present, receives allowed requests.
const ORIGIN_BINDING: &str = "ORIGIN";

/// What the registry knows about a client.
#[derive(Clone, Debug, serde::Deserialize)]
struct ClientInfo {
    name: Option<String>,
}

/// The per-isolate state built from the configuration.
pub struct App {
    auth: Authenticator,
    clients: RefCell<HashMap<String, (Option<ClientInfo>, f64)>>,
    demo: Option<Demo>,
    signing: Option<SigningKeys>,
    /// The `TOKENGATE_ORIGIN_SECRET` secret, if set.
    origin_secret: Option<String>,
    /// Whether a service binding named `ORIGIN` exists.
    origin_service: bool,
    /// Which requests get a log line (`edge.log`).
    log_level: LogLevel,
}

/// Which requests get a log line: the `edge.log` setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogLevel {
    /// Every request (the default).
    All,
    /// Requests tokengate refused or failed to serve: denials (including refused
    /// token exchanges), configuration and internal errors; and requests served with
    /// a stale key set.
    Denials,
    /// None.
    Off,
}

/// Reads and removes `edge.log` from the configuration document: the setting belongs
/// to this adapter, and the core's schema (which rejects unknown keys) does not know it.
fn take_log_level(config: &mut Value) -> Result<LogLevel, ConfigError> {
    let Some(edge) = config.get_mut("edge").and_then(Value::as_object_mut) else {
        return Ok(LogLevel::All);
    };
    match edge.remove("log") {
        None => Ok(LogLevel::All),
        Some(Value::String(s)) if s == "all" => Ok(LogLevel::All),
        Some(Value::String(s)) if s == "denials" => Ok(LogLevel::Denials),
        Some(Value::String(s)) if s == "off" => Ok(LogLevel::Off),
        Some(_) => Err(ConfigError::invalid(
            "edge.log",
            "must be \"all\", \"denials\" or \"off\"",
        )),
    }
}

thread_local! {
    static APP: RefCell<Option<Rc<App>>> = const { RefCell::new(None) };
}

fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// The raw configuration text: the `TOKENGATE_CONFIG` var as a JSON string, or a
/// `[vars]` table (an object) serialised.
fn config_source(env: &Env) -> Result<String, ConfigError> {
    let v = js_sys::Reflect::get(env, &JsValue::from_str("TOKENGATE_CONFIG"))
        .map_err(|_| ConfigError::Parse("TOKENGATE_CONFIG is not readable".into()))?;
    if v.is_undefined() || v.is_null() {
        return Err(ConfigError::Parse(
            "the TOKENGATE_CONFIG var is not set".into(),
        ));
    }
    if let Some(s) = v.as_string() {
        return Ok(s);
    }
    js_sys::JSON::stringify(&v)
        .ok()
        .and_then(|s| s.as_string())
        .ok_or_else(|| {
            ConfigError::Parse("TOKENGATE_CONFIG is neither a string nor an object".into())
        })
}

fn demo_enabled(env: &Env) -> bool {
    env.var("TOKENGATE_DEMO")
        .map(|v| v.to_string() == "1")
        .unwrap_or(false)
}

async fn load_app(env: &Env, inc: &Incoming) -> Result<Rc<App>, ConfigError> {
    // The demo (an open token mint) serves loopback requests only, checked on every
    // request and before the demo is built: no demo key and no signing key is generated
    // for a request from anywhere else.
    let demo_gate = || {
        let client = inc.headers.get("cf-connecting-ip").ok().flatten();
        demo::require_loopback(&inc.url, client.as_deref())
    };
    // Vars and secrets are fixed for the life of an isolate (a new deployment gets new
    // isolates), so a built App is reused without re-reading the configuration.
    if let Some(app) = APP.with(|a| a.borrow().clone()) {
        if app.demo.is_some() {
            demo_gate()?;
        }
        return Ok(app);
    }
    let source = config_source(env)?;
    let demo_on = demo_enabled(env);
    if demo_on {
        demo_gate()?;
    }
    let mut value: Value =
        serde_json::from_str(&source).map_err(|e| ConfigError::from_json_error(&e))?;
    let demo = if demo_on {
        let d = Demo::load(env)
            .await
            .map_err(|e| ConfigError::invalid("demo", e))?;
        d.inject(&mut value);
        Some(d)
    } else {
        None
    };
    let own_issuer = value
        .get("exchange")
        .and_then(|e| e.get("issuer"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let signing = match own_issuer {
        Some(iss) => {
            let keys = SigningKeys::load(env, demo_on)
                .await
                .map_err(|e| ConfigError::invalid("exchange", e))?;
            keys.inject(&mut value, &iss);
            Some(keys)
        }
        None => None,
    };
    let log_level = take_log_level(&mut value)?;
    let config = Config::from_value(value)?;
    let app = Rc::new(App {
        auth: Authenticator::new(config)?,
        clients: RefCell::new(HashMap::new()),
        demo,
        signing,
        origin_secret: env.secret(ORIGIN_SECRET).ok().map(|s| s.to_string()),
        origin_service: env.service(ORIGIN_BINDING).is_ok(),
        log_level,
    });
    APP.with(|a| *a.borrow_mut() = Some(app.clone()));
    Ok(app)
}

/// One structured log line per request; never contains a token.
#[derive(Default)]
pub(super) struct LogLine {
    method: Method,
    path: String,
    route: Option<usize>,
    pub(super) decision: &'static str,
    status: u16,
    pub(super) code: Option<&'static str>,
    pub(super) kind: Option<&'static str>,
    pub(super) subject: Option<String>,
    pub(super) client: Option<String>,
    jwks: Option<&'static str>,
    verify_ms: Option<f64>,
    pub(super) message: Option<String>,
}

/// The JSON form of a [`LogLine`], serialized straight into one string.
#[derive(Serialize)]
struct LogRecord<'a> {
    tokengate: u8,
    method: &'a str,
    path: &'a str,
    route: Option<usize>,
    decision: &'a str,
    status: u16,
    code: Option<&'a str>,
    kind: Option<&'a str>,
    subject: Option<&'a str>,
    client: Option<&'a str>,
    jwks: Option<&'a str>,
    verify_ms: Option<f64>,
    total_ms: f64,
    message: Option<&'a str>,
}

impl LogLine {
    /// Whether `level` asks for this line.
    fn wanted(&self, level: LogLevel) -> bool {
        match level {
            LogLevel::All => true,
            LogLevel::Off => false,
            LogLevel::Denials => {
                !matches!(
                    self.decision,
                    "allow" | "public" | "preflight" | "metadata" | "demo" | "exchange"
                ) || self.jwks == Some(KeyOutcome::Stale.as_str())
            }
        }
    }

    fn emit(&self, total_ms: f64) {
        let record = LogRecord {
            tokengate: 1,
            method: self.method.as_ref(),
            path: &self.path,
            route: self.route,
            decision: self.decision,
            status: self.status,
            code: self.code,
            kind: self.kind,
            subject: self.subject.as_deref(),
            client: self.client.as_deref(),
            jwks: self.jwks,
            verify_ms: self.verify_ms,
            total_ms,
            message: self.message.as_deref(),
        };
        if let Ok(line) = serde_json::to_string(&record) {
            web_sys::console::log_1(&JsValue::from_str(&line));
        }
    }

    /// The `Server-Timing` header value `edge.server_timing` asks for, if any: total
    /// time and decision; with `detail` also the key source and verify time.
    fn server_timing(&self, total_ms: f64, level: ServerTiming) -> Option<String> {
        if level == ServerTiming::Off {
            return None;
        }
        let mut t = String::with_capacity(80);
        t.push_str("tokengate;dur=");
        push_ms(&mut t, total_ms);
        t.push_str(";desc=\"");
        t.push_str(self.decision);
        t.push('"');
        if level == ServerTiming::Basic {
            return Some(t);
        }
        if let Some(j) = self.jwks {
            t.push_str(", jwks;desc=\"");
            t.push_str(j);
            t.push('"');
        }
        if let Some(v) = self.verify_ms {
            t.push_str(", verify;dur=");
            push_ms(&mut t, v);
        }
        Some(t)
    }
}

/// Milliseconds with two decimals (as `{:.2}` would print them, without the float
/// formatting machinery).
fn push_ms(out: &mut String, ms: f64) {
    let hundredths = (ms.max(0.0) * 100.0).round() as u64;
    out.push_str(&(hundredths / 100).to_string());
    out.push('.');
    let frac = hundredths % 100;
    if frac < 10 {
        out.push('0');
    }
    out.push_str(&frac.to_string());
}

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

/// What answers a request: a response made here, or the origin's.
enum Reply {
    Made(Response),
    Origin(web_sys::Response),
}

/// Handles one request; never fails open and never returns an error to the runtime.
pub async fn handle(req: web_sys::Request, env: Env, ctx: Context) -> web_sys::Response {
    let started = now_ms();
    let inc = Incoming::new(req);
    let mut log = LogLine {
        method: inc.method.clone(),
        path: inc.path.clone(),
        decision: "error",
        ..LogLine::default()
    };
    // Before the configuration is read, every line is logged, and no Server-Timing.
    let mut level = LogLevel::All;
    let mut timing_level = ServerTiming::Off;
    // A 500's body says only that the authorizer failed (see `Deny::public_description`);
    // what failed goes to the log line.
    let reply = match load_app(&env, &inc).await {
        Ok(app) => {
            level = app.log_level;
            timing_level = app.gate().config().edge.server_timing;
            match handle_inner(&app, &inc, &env, &ctx, &mut log, started).await {
                Ok(r) => r,
                Err(e) => {
                    log.decision = "error";
                    let deny = Deny::from_error(&InternalError(e.to_string()), "", None);
                    log.code = Some(deny.code);
                    log.message = Some(deny.message.clone());
                    Reply::Made(deny_response(&deny, None))
                }
            }
        }
        Err(e) => {
            log.decision = "config_error";
            log.code = Some(e.code());
            log.message = Some(e.to_string());
            Reply::Made(deny_response(&Deny::from_error(&e, "", None), None))
        }
    };
    log.status = match &reply {
        Reply::Made(r) => r.status_code(),
        Reply::Origin(r) => r.status(),
    };
    let total = now_ms() - started;
    let resp = match (reply, log.server_timing(total, timing_level)) {
        (Reply::Made(r), None) => r.into(),
        (Reply::Origin(r), None) => r,
        (Reply::Made(mut r), Some(timing)) => {
            let _ = r.headers_mut().append("server-timing", &timing);
            r.into()
        }
        // The header is informational: should the copy fail, the origin's answer
        // goes out as it came.
        (Reply::Origin(r), Some(timing)) => host::with_server_timing(&r, &timing).unwrap_or(r),
    };
    if log.wanted(level) {
        log.emit(total);
    }
    resp
}

fn deny_response(deny: &Deny, retry_after: Option<u64>) -> Response {
    let headers = Headers::new();
    let _ = headers.set("content-type", "application/json");
    let _ = headers.set("cache-control", "no-store");
    if let Some(w) = &deny.www_authenticate {
        let _ = headers.set("www-authenticate", w);
    }
    if let Some(r) = retry_after {
        let _ = headers.set("retry-after", &r.to_string());
    }
    Response::builder()
        .with_status(deny.status)
        .with_headers(headers)
        .fixed(deny.body_json_retry(retry_after).into_bytes())
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

    if let Some(resp) = exchange::metadata(app, path) {
        log.decision = "metadata";
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
                log.decision = "demo";
                return Ok(Reply::Made(demo::json_response(200, &d.jwks())));
            }
            "/__demo/token" => {
                log.decision = "demo";
                let url = worker::Url::parse(&inc.url)?;
                let aud = cfg
                    .issuers
                    .iter()
                    .find(|i| i.issuer == demo::DEMO_ISSUER)
                    .and_then(|i| i.audiences.first())
                    .cloned()
                    .unwrap_or_else(|| "https://api.example.com".into());
                return Ok(Reply::Made(d.mint(&url, &aud, (started / 1000.0) as i64)));
            }
            _ => {}
        }
    }

    // A `_method` query parameter naming another method is refused on every
    // forwarded path: an origin honouring it would run a method not authorized here.
    if let Some((_, query)) = inc.path_and_query.split_once('?') {
        if let Err(e) = headers::check_method_param(method.as_ref(), query) {
            let deny = app.gate().deny(&e, None);
            log.decision = "deny";
            log.code = Some(deny.code);
            log.message = Some(deny.message.clone());
            return Ok(Reply::Made(deny_response(&deny, None)));
        }
    }

    let route = app.auth.route(method.as_ref(), path);
    log.route = route.index;
    // CORS preflight pass-through, when configured, for paths that pass the path
    // checks (a rejected path gets its 400 below).
    if cfg.edge.cors_preflight_passthrough
        && !route.rejected
        && *method == Method::Options
        && inc.headers.has("access-control-request-method")?
    {
        log.decision = "preflight";
        return forward(app, env, inc, None, log, now_s).await;
    }
    if route.public && !route.rejected {
        log.decision = "public";
        return forward(app, env, inc, None, log, now_s).await;
    }
    match authenticate(app, env, ctx, inc, &route, log, started).await {
        Ok(verified) => {
            log.decision = "allow";
            forward(app, env, inc, Some(&verified.principal), log, now_s).await
        }
        Err((deny, retry)) => {
            log.decision = "deny";
            log.code = Some(deny.code);
            log.message = Some(deny.message.clone());
            Ok(Reply::Made(deny_response(&deny, retry)))
        }
    }
}

impl App {
    /// The compiled rules.
    pub(super) fn gate(&self) -> &Gate {
        self.auth.gate()
    }

    /// The exchange's signing keys, when the configuration has an `exchange` section.
    pub(super) fn signing(&self) -> Option<&SigningKeys> {
        self.signing.as_ref()
    }
}

/// The signature backend of the request path: WebCrypto (Rust as the fallback), timed
/// for the log line's `verify_ms`.
struct TimedWebCrypto {
    ms: std::cell::Cell<Option<f64>>,
}

impl SignatureBackend for TimedWebCrypto {
    async fn verify(&self, check: &SignatureCheck<'_>, message: &[u8], signature: &[u8]) -> bool {
        let t0 = now_ms();
        let ok = Backend::WebCrypto.verify(check, message, signature).await;
        self.ms.set(Some(now_ms() - t0));
        ok
    }
}

/// The denial for a pipeline error; a key-set failure carries `Retry-After` (the
/// cooldown before keys are fetched again).
fn refusal(app: &App, e: &AuthError) -> (Deny, Option<u64>) {
    let retry = matches!(e, AuthError::Keys(_)).then(|| app.gate().config().jwks_cache.cooldown);
    (e.deny(app.gate()), retry)
}

/// Extracts, verifies, classifies and authorizes (the core's pipeline); the error is
/// the denial to send.
async fn authenticate(
    app: &Rc<App>,
    env: &Env,
    ctx: &Context,
    inc: &Incoming,
    route: &RouteMatch<'_>,
    log: &mut LogLine,
    started: f64,
) -> Result<Verified, (Deny, Option<u64>)> {
    let authorization = inc.headers.get("authorization").ok().flatten();
    // The Cookie header is read only when a cookie may carry the token.
    let cookie = match app.gate().config().edge.cookie {
        Some(_) => inc.headers.get("cookie").ok().flatten(),
        None => None,
    };
    let credentials = Credentials {
        authorization: authorization.as_deref(),
        cookie: cookie.as_deref(),
    };
    let (io, backend, now) = pipeline_parts(app, env, started);
    let outcome = app
        .auth
        .authenticate(&io, &backend, route, credentials, now)
        .await;
    finish(app, ctx, io, &backend, outcome, log)
}

/// Verifies and classifies one token (the core's pipeline, keys through `fetch` and
/// KV); the error is the denial to send and an optional `Retry-After`.
pub(super) async fn verify_token(
    app: &Rc<App>,
    env: &Env,
    ctx: &Context,
    token: &str,
    log: &mut LogLine,
    started: f64,
) -> Result<Verified, (Deny, Option<u64>)> {
    let (io, backend, now) = pipeline_parts(app, env, started);
    let outcome = app.auth.verify(&io, &backend, token, now).await;
    finish(app, ctx, io, &backend, outcome, log)
}

fn pipeline_parts(app: &App, env: &Env, started: f64) -> (EdgeIo, TimedWebCrypto, u64) {
    let io = EdgeIo {
        env: env.clone(),
        timeout_ms: app.gate().config().edge.fetch_timeout_ms,
    };
    let backend = TimedWebCrypto {
        ms: std::cell::Cell::new(None),
    };
    (io, backend, (started / 1000.0).max(0.0) as u64)
}

/// Records a pipeline outcome in the log line, starts a due key refresh in the
/// background, and turns an error into the denial to send.
fn finish(
    app: &Rc<App>,
    ctx: &Context,
    io: EdgeIo,
    backend: &TimedWebCrypto,
    outcome: Result<Verification, AuthError>,
    log: &mut LogLine,
) -> Result<Verified, (Deny, Option<u64>)> {
    // The signature check's time; 0 for a kept verification, none when no check ran.
    log.verify_ms = backend.ms.get().or_else(|| outcome.is_ok().then_some(0.0));
    let v = outcome.map_err(|e| refusal(app, &e))?;
    log.jwks = Some(v.keys.as_str());
    if v.keys == KeyOutcome::Stale {
        log.message = Some("served with a stale key set (identity provider unreachable)".into());
    }
    if v.refresh {
        let app2 = app.clone();
        let issuer = v.kept.issuer;
        let now = (now_ms() / 1000.0) as u64;
        ctx.wait_until(async move {
            app2.auth.refresh(&io, issuer, now).await;
        });
    }
    let verified = v.kept.verified;
    let p = &verified.principal;
    log.kind = Some(p.kind.as_str());
    log.subject = Some(p.subject.clone());
    log.client = p.client_id.clone();
    Ok(verified)
}

async fn client_name(app: &App, env: &Env, client_id: &str, now: f64) -> Option<String> {
    if let Some((info, until)) = app.clients.borrow().get(client_id) {
        if *until > now {
            return info.as_ref().and_then(|i| i.name.clone());
        }
    }
    let info = match env.kv(CLIENTS_KV) {
        Ok(kv) => kv
            .get(client_id)
            .text()
            .await
            .ok()
            .flatten()
            .and_then(|t| serde_json::from_str::<ClientInfo>(&t).ok()),
        Err(_) => None,
    };
    let mut clients = app.clients.borrow_mut();
    if clients.len() > 10_000 {
        clients.clear();
    }
    clients.insert(client_id.to_string(), (info.clone(), now + CLIENT_TTL));
    info.and_then(|i| i.name)
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

/// The inbound headers (`names`, one per line as [`host::header_names`] lists them) that
/// must not reach the origin ([`headers::is_reserved_inbound`]), one per line.
fn reserved_inbound(names: &str, origin_secret_header: &str) -> String {
    let mut out = String::new();
    for name in names.split('\n') {
        if !name.is_empty() && headers::is_reserved_inbound(name, origin_secret_header) {
            out.push_str(name);
            out.push('\n');
        }
    }
    out
}

/// Forwards the request to the origin (service binding `ORIGIN`, the configured
/// `origin`, or the demo echo), with identity headers when `principal` is given.
async fn forward(
    app: &App,
    env: &Env,
    inc: &Incoming,
    principal: Option<&Principal>,
    log: &mut LogLine,
    now_s: f64,
) -> worker::Result<Reply> {
    let cfg = app.gate().config();
    // Identity headers as `name\nvalue\n` pairs, set in the same call that copies the
    // inbound headers (without host, inbound identity headers and, when so configured,
    // the Authorization header). Values are percent-encoded (`headers::encode_value`),
    // never altered.
    let mut set = String::new();
    if let Some(p) = principal {
        use headers::{encode_list, encode_value};
        push_header(&mut set, headers::KIND, p.kind.as_str());
        push_header(&mut set, headers::SUBJECT, &encode_value(&p.subject));
        if let Some(c) = &p.client_id {
            push_header(&mut set, headers::CLIENT_ID, &encode_value(c));
            if let Some(name) = client_name(app, env, c, now_s).await {
                push_header(&mut set, headers::CLIENT_NAME, &encode_value(&name));
            }
        }
        let scopes = encode_list(p.scopes.iter().map(String::as_str));
        push_header(&mut set, headers::SCOPES, &scopes);
        push_header(&mut set, headers::ISSUER, &encode_value(&p.issuer));
        if let Some(u) = &p.user_id {
            push_header(&mut set, headers::USER_ID, &encode_value(u));
        }
        if let Some(actor) = &p.actor {
            push_header(&mut set, headers::ACTOR, &encode_list(actor.chain()));
        }
    }
    let secret_header = cfg
        .edge
        .origin_secret_header
        .as_deref()
        .unwrap_or(headers::DEFAULT_ORIGIN_SECRET_HEADER);
    // Inbound identity, origin-secret and method-override headers, in every spelling
    // an origin may fold together, are dropped on every path.
    let drop = reserved_inbound(&host::header_names(&inc.headers)?, secret_header);
    let secret_name = app.origin_secret.as_ref().map(|_| secret_header);
    let secret = app.origin_secret.as_deref();
    let drop_authorization = !cfg.edge.forward_authorization;

    if !app.origin_service && cfg.origin.is_none() {
        if app.demo.is_some() {
            let headers = host::forward_headers(
                &inc.headers,
                drop_authorization,
                &drop,
                &set,
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
            log.message
                .get_or_insert_with(|| "forwarded to the demo echo origin".into());
            return Ok(Reply::Made(demo::echo(
                inc.method.as_ref(),
                &inc.path_and_query,
                &Headers(headers),
                &bytes,
            )));
        }
        log.decision = "config_error";
        let e = ConfigError::invalid(
            "origin",
            "no origin is configured (set \"origin\" or bind a service named ORIGIN)",
        );
        log.code = Some(e.code());
        log.message = Some(e.to_string());
        return Ok(Reply::Made(deny_response(
            &Deny::from_error(&e, "", None),
            None,
        )));
    }
    let (service, target) = if app.origin_service {
        let service = js_sys::Reflect::get(env, &JsValue::from_str(ORIGIN_BINDING))?;
        (service, format!("https://origin{}", inc.path_and_query))
    } else {
        let base = cfg
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
        &drop,
        &set,
        secret_name,
        secret,
    )?;
    let resp: web_sys::Response = JsFuture::from(promise).await?.dyn_into()?;
    Ok(Reply::Origin(resp))
}
