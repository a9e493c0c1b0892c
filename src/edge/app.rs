//! The authorizer's request path: translate the request, ask the core, carry out the
//! decision. Per isolate it keeps the built [`Gate`], the [`KeyProvider`] (memory tier
//! of the JWKS cache), the verified-token cache and a small client-registry cache.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use serde_json::{json, Value};
use wasm_bindgen::JsValue;
use worker::{console_log, Context, Env, Headers, Method, Request, RequestInit, Response};

use crate::classify::Principal;
use crate::config::Config;
use crate::gate::{extract_token, Begin, Gate, Verified};
use crate::keys::{KeyOutcome, KeyProvider};
use crate::policy::RouteMatch;
use crate::token_cache::TokenCache;
use crate::webcrypto::{self, Backend};
use crate::{ConfigError, Deny, ErrorCode};

use super::demo::{self, Demo};
use super::exchange::{self, SigningKeys};
use super::io::EdgeIo;

/// The KV binding of the client registry.
const CLIENTS_KV: &str = "CLIENTS";
/// How long a client-registry answer (found or not) is kept in memory, seconds.
const CLIENT_TTL: f64 = 300.0;
/// The secret holding the origin shared secret.
const ORIGIN_SECRET: &str = "TOKENGATE_ORIGIN_SECRET";
/// The default header carrying it.
const ORIGIN_SECRET_HEADER: &str = "x-tokengate-secret";
/// The prefix of identity headers; inbound ones are always removed.
const IDENTITY_PREFIX: &str = "x-tokengate-";

/// What the registry knows about a client.
#[derive(Clone, Debug, serde::Deserialize)]
struct ClientInfo {
    name: Option<String>,
}

/// The per-isolate state built from the configuration.
pub struct App {
    pub(super) gate: Gate,
    keys: KeyProvider,
    tokens: RefCell<TokenCache<Verified>>,
    clients: RefCell<HashMap<String, (Option<ClientInfo>, f64)>>,
    demo: Option<Demo>,
    pub(super) signing: Option<SigningKeys>,
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

async fn load_app(env: &Env) -> Result<Rc<App>, ConfigError> {
    // Vars and secrets are fixed for the life of an isolate (a new deployment gets new
    // isolates), so a built App is reused without re-reading the configuration.
    if let Some(app) = APP.with(|a| a.borrow().clone()) {
        return Ok(app);
    }
    let source = config_source(env)?;
    let demo_on = demo_enabled(env);
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
    let config = Config::from_value(value)?;
    let app = Rc::new(App {
        keys: KeyProvider::new(&config),
        tokens: RefCell::new(TokenCache::new(config.token_cache_size)),
        clients: RefCell::new(HashMap::new()),
        gate: Gate::new(config)?,
        demo,
        signing,
    });
    APP.with(|a| *a.borrow_mut() = Some(app.clone()));
    Ok(app)
}

/// One structured log line per request; never contains a token.
#[derive(Default)]
pub(super) struct LogLine {
    method: String,
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

impl LogLine {
    fn emit(&self, started: f64) {
        let line = json!({
            "tokengate": 1,
            "method": self.method, "path": self.path, "route": self.route,
            "decision": self.decision, "status": self.status, "code": self.code,
            "kind": self.kind, "subject": self.subject, "client": self.client,
            "jwks": self.jwks, "verify_ms": self.verify_ms,
            "total_ms": now_ms() - started, "message": self.message,
        });
        console_log!("{}", line);
    }
}

/// Handles one request; never fails open and never returns an error to the runtime.
pub async fn handle(req: Request, env: Env, ctx: Context) -> Response {
    let started = now_ms();
    let mut log = LogLine {
        method: req.method().to_string(),
        path: req.path(),
        decision: "error",
        ..LogLine::default()
    };
    let mut resp = match handle_inner(req, &env, &ctx, &mut log, started).await {
        Ok(r) => r,
        Err(e) => {
            log.decision = "error";
            log.message = Some(format!("internal error: {e}"));
            error_response(500, "server_error", "internal_error", "internal error")
        }
    };
    log.status = resp.status_code();
    let total = now_ms() - started;
    let mut timing = format!("tokengate;dur={total:.2};desc=\"{}\"", log.decision);
    if let Some(j) = log.jwks {
        timing.push_str(&format!(", jwks;desc=\"{j}\""));
    }
    if let Some(v) = log.verify_ms {
        timing.push_str(&format!(", verify;dur={v:.2}"));
    }
    let headers = Headers::new();
    for (k, v) in resp.headers().entries() {
        let _ = headers.append(&k, &v);
    }
    let _ = headers.append("server-timing", &timing);
    resp = resp.with_headers(headers);
    log.emit(started);
    resp
}

fn error_response(status: u16, error: &str, code: &str, description: &str) -> Response {
    demo::json_response(
        status,
        &json!({"error": error, "error_description": description, "code": code}),
    )
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
        .fixed(deny.body_json().into_bytes())
}

async fn handle_inner(
    req: Request,
    env: &Env,
    ctx: &Context,
    log: &mut LogLine,
    started: f64,
) -> worker::Result<Response> {
    let app = match load_app(env).await {
        Ok(app) => app,
        Err(e) => {
            log.decision = "config_error";
            log.code = Some(e.code());
            log.message = Some(e.to_string());
            return Ok(error_response(
                500,
                "server_error",
                e.code(),
                &e.to_string(),
            ));
        }
    };
    let url = req.url()?;
    let path = url.path().to_string();
    let method = req.method();
    let cfg = app.gate.config();

    if let Some(resp) = exchange::metadata(&app, &path) {
        log.decision = "metadata";
        return Ok(resp);
    }
    if cfg.exchange.as_ref().is_some_and(|ex| ex.path == path) {
        return exchange::token_endpoint(&app, env, ctx, req, log, started).await;
    }

    if let Some(d) = &app.demo {
        match path.as_str() {
            "/__demo/jwks.json" => {
                log.decision = "demo";
                return Ok(demo::json_response(200, &d.jwks()));
            }
            "/__demo/token" => {
                log.decision = "demo";
                let aud = cfg
                    .issuers
                    .iter()
                    .find(|i| i.issuer == demo::DEMO_ISSUER)
                    .and_then(|i| i.audiences.first())
                    .cloned()
                    .unwrap_or_else(|| "https://api.example.com".into());
                return Ok(d.mint(&url, &aud, (started / 1000.0) as i64));
            }
            _ => {}
        }
    }

    // CORS preflight pass-through, when configured.
    if cfg.edge.cors_preflight_passthrough
        && method == Method::Options
        && req.headers().has("access-control-request-method")?
    {
        log.decision = "preflight";
        return forward(&app, env, req, None, log).await;
    }

    let route = app.gate.route(method.as_ref(), &path);
    log.route = route.index;
    if route.public && !route.rejected {
        log.decision = "public";
        return forward(&app, env, req, None, log).await;
    }
    match authenticate(&app, env, ctx, &req, &route, log, started).await {
        Ok(verified) => {
            log.decision = "allow";
            forward(&app, env, req, Some(&verified.principal), log).await
        }
        Err((deny, retry)) => {
            log.decision = "deny";
            log.code = Some(deny.code);
            log.message = Some(deny.message.clone());
            Ok(deny_response(&deny, retry))
        }
    }
}

/// Extracts, verifies, classifies and authorizes; the error is the denial to send.
async fn authenticate(
    app: &Rc<App>,
    env: &Env,
    ctx: &Context,
    req: &Request,
    route: &RouteMatch<'_>,
    log: &mut LogLine,
    started: f64,
) -> Result<Verified, (Deny, Option<u64>)> {
    let gate = &app.gate;
    let cfg = gate.config();
    if route.rejected {
        return Err((
            gate.deny(&crate::policy::PolicyError::PathRejected, None),
            None,
        ));
    }
    let authorization = req.headers().get("authorization").ok().flatten();
    let cookie = req.headers().get("cookie").ok().flatten();
    let token = extract_token(
        authorization.as_deref(),
        cookie.as_deref(),
        cfg.edge.cookie.as_deref(),
    )
    .map_err(|e| (gate.deny(&e, None), None))?
    .ok_or_else(|| (gate.deny(&crate::RequestError::TokenMissing, None), None))?;
    let verified = verify_token(app, env, ctx, token, log, started).await?;
    gate.authorize(route, &verified.principal)
        .map_err(|e| (gate.deny_policy(&e), None))?;
    Ok(verified)
}

/// Verifies and classifies one token against the configured issuers (keys from the
/// key provider); the error is the denial to send and an optional `Retry-After`.
pub(super) async fn verify_token(
    app: &Rc<App>,
    env: &Env,
    ctx: &Context,
    token: &str,
    log: &mut LogLine,
    started: f64,
) -> Result<Verified, (Deny, Option<u64>)> {
    let gate = &app.gate;
    let cfg = gate.config();
    let deny = |e: &dyn ErrorCode| (gate.deny(e, None), None);
    let unverified = gate.peek(token).map_err(|e| deny(&e))?;
    let now = (started / 1000.0) as i64;
    let now_u = u64::try_from(now).unwrap_or(0);
    let io = EdgeIo {
        env: env.clone(),
        timeout_ms: cfg.edge.fetch_timeout_ms,
    };
    let keys = app
        .keys
        .keys(&io, unverified.issuer_index, unverified.kid(), now_u)
        .await
        .map_err(|e| (gate.deny(&e, None), Some(cfg.jwks_cache.cooldown)))?;
    log.jwks = Some(keys.outcome.as_str());
    if keys.outcome == KeyOutcome::Stale {
        log.message = Some("served with a stale key set (identity provider unreachable)".into());
    }
    if keys.refresh {
        let app2 = app.clone();
        let issuer = unverified.issuer_index;
        ctx.wait_until(async move {
            app2.keys.refresh(&io, issuer, now_u).await;
        });
    }
    let t0 = now_ms();
    // Gate::begin, the signature check through WebCrypto (Rust as the fallback), then
    // Gate::complete. The token cache is borrowed on either side of the await, never
    // across it; `keys.set` (which `check` borrows) lives until the end.
    let begun = {
        let mut cache = app.tokens.borrow_mut();
        gate.begin(
            token,
            &unverified,
            &keys.set,
            keys.generation,
            &mut cache,
            now,
        )
    };
    let verified = match begun {
        Ok(Begin::Cached(v)) => Ok(*v),
        Ok(Begin::Check(check)) => {
            let ok = webcrypto::check(
                &check,
                unverified.jws.signing_input.as_bytes(),
                &unverified.jws.signature,
                Backend::WebCrypto,
            )
            .await;
            let mut cache = app.tokens.borrow_mut();
            gate.complete(&unverified, &check, ok, keys.generation, &mut cache, now)
        }
        Err(e) => Err(e),
    };
    log.verify_ms = Some(now_ms() - t0);
    let verified = verified.map_err(|e| deny(&e))?;
    let p = &verified.principal;
    log.kind = Some(p.kind.as_str());
    log.subject = Some(p.subject.clone());
    log.client = p.client_id.clone();
    Ok(verified)
}

async fn client_name(app: &App, env: &Env, client_id: &str) -> Option<String> {
    let now = now_ms() / 1000.0;
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

/// Header values must not carry CR/LF or other controls.
fn header_safe(v: &str) -> String {
    v.chars().filter(|c| !c.is_control()).collect()
}

/// Forwards the request to the origin (service binding `ORIGIN`, the configured
/// `origin`, or the demo echo), with identity headers when `principal` is given.
async fn forward(
    app: &App,
    env: &Env,
    mut req: Request,
    principal: Option<&Principal>,
    log: &mut LogLine,
) -> worker::Result<Response> {
    let cfg = app.gate.config();
    let url = req.url()?;
    let mut path_and_query = url.path().to_string();
    if let Some(q) = url.query() {
        path_and_query.push('?');
        path_and_query.push_str(q);
    }
    let headers = Headers::new();
    for (k, v) in req.headers().entries() {
        let lk = k.to_ascii_lowercase();
        if lk.starts_with(IDENTITY_PREFIX) || lk == "host" {
            continue;
        }
        if lk == "authorization" && !cfg.edge.forward_authorization {
            continue;
        }
        headers.append(&k, &v)?;
    }
    if let Some(p) = principal {
        headers.set("x-tokengate-kind", p.kind.as_str())?;
        headers.set("x-tokengate-subject", &header_safe(&p.subject))?;
        if let Some(c) = &p.client_id {
            headers.set("x-tokengate-client-id", &header_safe(c))?;
            if let Some(name) = client_name(app, env, c).await {
                headers.set("x-tokengate-client-name", &header_safe(&name))?;
            }
        }
        headers.set("x-tokengate-scopes", &header_safe(&p.scopes.join(" ")))?;
        headers.set("x-tokengate-issuer", &header_safe(&p.issuer))?;
        if let Some(u) = &p.user_id {
            headers.set("x-tokengate-user-id", &header_safe(u))?;
        }
        if let Some(actor) = &p.actor {
            headers.set("x-tokengate-actor", &header_safe(&actor.chain().join(" ")))?;
        }
    }
    if let Ok(secret) = env.secret(ORIGIN_SECRET) {
        let name = cfg
            .edge
            .origin_secret_header
            .as_deref()
            .unwrap_or(ORIGIN_SECRET_HEADER);
        headers.set(name, &secret.to_string())?;
    }
    let method = req.method();
    let body: Option<JsValue> = req.inner().body().map(JsValue::from);

    let origin_binding = env.service("ORIGIN").ok();
    if origin_binding.is_none() && cfg.origin.is_none() {
        if app.demo.is_some() {
            let bytes = req.bytes().await.unwrap_or_default();
            log.message
                .get_or_insert_with(|| "forwarded to the demo echo origin".into());
            return Ok(demo::echo(
                method.as_ref(),
                &path_and_query,
                &headers,
                &bytes,
            ));
        }
        log.decision = "config_error";
        return Ok(error_response(
            500,
            "server_error",
            "config_invalid",
            "no origin is configured (set \"origin\" or bind a service named ORIGIN)",
        ));
    }
    let mut init = RequestInit::new();
    init.with_method(method)
        .with_headers(headers)
        .with_body(body);
    init.with_redirect(worker::RequestRedirect::Manual);
    let resp = match origin_binding {
        Some(fetcher) => {
            let target = format!("https://origin{path_and_query}");
            fetcher.fetch(target, Some(init)).await?
        }
        None => {
            let base = cfg
                .origin
                .as_deref()
                .unwrap_or_default()
                .trim_end_matches('/');
            let target = format!("{base}{path_and_query}");
            let out = Request::new_with_init(&target, &init)?;
            worker::Fetch::Request(out).send().await?
        }
    };
    Ok(resp)
}
