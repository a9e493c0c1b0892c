//! The per-isolate state built from the configuration ([`App`]: the core's pipeline,
//! the Worker's settings, the demo and signing keys, a small client-registry cache),
//! and the pipeline calls of the request path ([`App::authenticate`],
//! [`App::verify_token`]) with their log-line bookkeeping.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use wasm_bindgen::JsValue;
use worker::{Context, Env};

use tokengate::RouteMatch;
use tokengate::UnixSeconds;
use tokengate::{
    AuthError, Authenticator, ClientCertificate, ConfigError, Credentials, Deny, DpopMode,
    DpopRequest, SignatureBackend, SignatureCheck, TokenCookie, Verification, WorkerConfig,
};
use tokengate::{Gate, Verified};
use tokengate_webcrypto::Backend;

use crate::demo::{self, Demo};
use crate::io::{EdgeIo, Kv, REVOKED_KV};
use crate::log::LogLine;
use crate::settings::Settings;
use crate::signing::SigningKeys;

/// The KV binding of the client registry.
const CLIENTS_KV: &str = "CLIENTS";
/// How long a client-registry answer (found or not) is kept in memory, seconds.
const CLIENT_TTL: f64 = 300.0;
/// The secret holding the origin shared secret.
const ORIGIN_SECRET: &str = "TOKENGATE_ORIGIN_SECRET";
/// The service binding that, when present, receives allowed requests.
pub const ORIGIN_BINDING: &str = "ORIGIN";

/// What the registry knows about a client: a KV value `{"name": ...,
/// "rate_limit_binding": ...}` under its client id, both optional.
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct ClientInfo {
    /// Its display name (the `x-tokengate-client-name` header).
    pub name: Option<String>,
    /// Its rate-limit tier: the Rate Limiting binding (declared in `rate_limits`) that
    /// counts its requests instead of the route's.
    pub rate_limit_binding: Option<String>,
}

/// The per-isolate state built from the configuration.
pub struct App {
    /// The core's pipeline.
    pub auth: Authenticator,
    /// The Worker's own settings (`edge`, `origin`).
    pub settings: Settings,
    clients: RefCell<HashMap<String, (Option<ClientInfo>, f64)>>,
    /// The demo issuer, in the demo environment only.
    pub demo: Option<Demo>,
    signing: Option<SigningKeys>,
    /// The `TOKENGATE_ORIGIN_SECRET` secret, if set.
    pub origin_secret: Option<String>,
    /// Whether a service binding named `ORIGIN` exists.
    pub origin_service: bool,
    /// The inbound headers never forwarded
    /// ([`tokengate::headers::is_reserved_inbound_with`] with the configured
    /// origin-secret header and the `edge.claim_headers` names) as the JS RegExp the
    /// forwarding helper tests each name with
    /// ([`tokengate::headers::reserved_inbound_pattern_with`]).
    pub reserved_inbound: js_sys::RegExp,
}

thread_local! {
    static APP: RefCell<Option<Rc<App>>> = const { RefCell::new(None) };
}

/// Milliseconds since the epoch, from the runtime's clock.
pub fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// A time from [`now_ms`] in the core's time type (unix seconds): the one conversion.
pub fn unix_seconds(ms: f64) -> UnixSeconds {
    (ms / 1000.0).max(0.0) as UnixSeconds
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

/// The isolate's [`App`], built from the configuration on first use. `url` and
/// `headers` are the request's: the demo serves loopback requests only.
pub async fn load_app(
    env: &Env,
    url: &str,
    headers: &web_sys::Headers,
) -> Result<Rc<App>, ConfigError> {
    // The demo (an open token mint) serves loopback requests only, checked on every
    // request and before the demo is built: no demo key and no signing key is generated
    // for a request from anywhere else.
    let demo_gate = || {
        let client = headers.get("cf-connecting-ip").ok().flatten();
        demo::require_loopback(url, client.as_deref())
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
    let mut value = tokengate::parse_worker_document(&source)?;
    let demo = if demo_on {
        let d = Demo::load(env)
            .await
            .map_err(|e| ConfigError::invalid("demo", e))?;
        d.inject(&mut value);
        Some(d)
    } else {
        None
    };
    let own_issuer = tokengate::exchange_issuer(&value).map(str::to_owned);
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
    // The Worker's sections out first (checked against their schema), the rest to the
    // core: the code `tokengate::check_worker_config` checks documents with.
    let WorkerConfig { settings, config } = WorkerConfig::from_value(value)?;
    // Replay protection of DPoP proofs holds across isolates and locations only through
    // the Durable Object (crate::replay). Without its binding a configuration that
    // requires DPoP is refused here (500 config_invalid, logged), rather than served with
    // a weaker per-isolate replay check: a proof replayed to another isolate would pass,
    // and nothing in the answers would say so. (An issuer that only allows DPoP gets
    // 503 dpop_replay_unavailable for each DPoP request instead: its bearer tokens
    // still work.)
    if !crate::io::replay_bound(env) {
        if let Some(i) = config
            .issuers
            .iter()
            .position(|i| i.dpop == DpopMode::Required)
        {
            return Err(ConfigError::invalid(
                format!("issuers[{i}].dpop"),
                format!(
                    "is \"required\" and the {} Durable Object binding (class {}) is missing: \
                     without it DPoP proofs cannot be checked for replay across isolates \
                     (declare it and its migration in wrangler.toml)",
                    crate::io::REPLAY_BINDING,
                    crate::replay::CLASS_NAME
                ),
            ));
        }
    }
    check_gateway_bindings(env, &config)?;
    let app = Rc::new(App {
        auth: Authenticator::new(config)?,
        clients: RefCell::new(HashMap::new()),
        demo,
        signing,
        origin_secret: env.secret(ORIGIN_SECRET).ok().map(|s| s.to_string()),
        origin_service: env.service(ORIGIN_BINDING).is_ok(),
        reserved_inbound: js_sys::RegExp::new(
            &tokengate::headers::reserved_inbound_pattern_with(
                settings.edge.origin_secret_header(),
                &settings.edge.claim_header_names(),
            ),
            "i",
        ),
        settings,
    });
    APP.with(|a| *a.borrow_mut() = Some(app.clone()));
    Ok(app)
}

/// The bindings the gateway rules need, checked once per isolate like the replay
/// store's above: a `revocation` section without the [`REVOKED_KV`] namespace, or a
/// `rate_limits` entry without its Rate Limiting binding, is refused here (500
/// config_invalid, the field named in the log line) rather than found out request by
/// request.
fn check_gateway_bindings(env: &Env, config: &tokengate::Config) -> Result<(), ConfigError> {
    if config.revocation.is_some() && Kv::bound(env, REVOKED_KV).is_none() {
        return Err(ConfigError::invalid(
            "revocation",
            format!(
                "is configured and the {REVOKED_KV} KV namespace binding is missing: \
                 without it no token can be checked for revocation (declare it in \
                 wrangler.toml's [[kv_namespaces]])"
            ),
        ));
    }
    for name in config.rate_limits.keys() {
        if crate::io::rate_limiter(env, name).is_none() {
            return Err(ConfigError::invalid(
                format!("rate_limits.{name}"),
                "names no Rate Limiting binding of the Worker (declare it in wrangler.toml's \
                 [[ratelimits]], with the same period)",
            ));
        }
    }
    Ok(())
}

/// The signature backend of the request path: WebCrypto (Rust as the fallback, which
/// in the Worker's build checks HMAC only and refuses every other signature: the core
/// is built without `rust-crypto`), timed for the log line's `verify_ms`.
struct TimedWebCrypto {
    ms: Cell<Option<f64>>,
}

impl SignatureBackend for TimedWebCrypto {
    async fn verify(&self, check: &SignatureCheck<'_>, message: &[u8], signature: &[u8]) -> bool {
        let t0 = now_ms();
        let ok = Backend::WebCrypto.verify(check, message, signature).await;
        self.ms.set(Some(now_ms() - t0));
        ok
    }
}

impl App {
    /// The compiled rules.
    pub fn gate(&self) -> &Gate {
        self.auth.gate()
    }

    /// The exchange's signing keys, when the configuration has an `exchange` section.
    pub fn signing(&self) -> Option<&SigningKeys> {
        self.signing.as_ref()
    }

    /// Extracts, verifies, classifies and authorizes (the core's pipeline) the token of
    /// `req` (its `method` string as sent, its `url`, its `headers`), with what proves
    /// its sender (a DPoP proof, the client certificate); the error is the denial to
    /// send and an optional `Retry-After`.
    #[allow(clippy::too_many_arguments)]
    pub async fn authenticate(
        self: &Rc<Self>,
        env: &Env,
        ctx: &Context,
        req: &web_sys::Request,
        (method, url, headers): (&str, &str, &web_sys::Headers),
        route: &RouteMatch<'_>,
        log: &mut LogLine,
        started: f64,
    ) -> Result<Verified, (Deny, Option<u64>)> {
        let authorization = headers.get("authorization").ok().flatten();
        // The DPoP header is read only with the DPoP scheme (the only one whose proof the
        // core looks at). Several DPoP headers come joined with ", ", which the core
        // refuses (RFC 9449 §4.3: exactly one).
        let proof = match &authorization {
            Some(a)
                if a.trim_start()
                    .get(..5)
                    .is_some_and(|s| s.eq_ignore_ascii_case("dpop ")) =>
            {
                headers.get("dpop").ok().flatten()
            }
            _ => None,
        };
        // `request.cf` is read only when the core asks (a certificate-bound token):
        // touching `cf` is costly, and nothing else on the request path does.
        let client_cert = || match crate::host::client_certificate(req) {
            None => ClientCertificate::Absent,
            // Presented but not verified (""), or a fingerprint that is not SHA-256 hex.
            Some(fp) => {
                ClientCertificate::from_fingerprint(&fp).unwrap_or(ClientCertificate::Unverified)
            }
        };
        // The Cookie header is read only when a cookie may carry the token.
        let cookie_name = self.settings.edge.cookie.as_deref();
        let cookie_header = match cookie_name {
            Some(_) => headers.get("cookie").ok().flatten(),
            None => None,
        };
        let credentials = Credentials {
            authorization: authorization.as_deref(),
            cookie: cookie_name
                .zip(cookie_header.as_deref())
                .map(|(name, header)| TokenCookie { header, name }),
            dpop: Some(DpopRequest {
                method,
                url,
                proof: proof.as_deref(),
            }),
            client_cert: Some(&client_cert),
        };
        let (io, backend, now) = self.pipeline_parts(env, started);
        let outcome = self
            .auth
            .authenticate(&io, &backend, route, credentials, now)
            .await;
        self.finish(ctx, io, &backend, outcome, log)
    }

    /// Verifies and classifies one token (the core's pipeline, keys through `fetch` and
    /// KV) and checks it against the revocation store when the configuration has a
    /// `revocation` section (as [`App::authenticate`] does through the core: a revoked
    /// token must not be exchanged for a fresh one); the error is the denial to send and
    /// an optional `Retry-After`.
    pub async fn verify_token(
        self: &Rc<Self>,
        env: &Env,
        ctx: &Context,
        token: &str,
        log: &mut LogLine,
        started: f64,
    ) -> Result<Verified, (Deny, Option<u64>)> {
        let (io, backend, now) = self.pipeline_parts(env, started);
        let outcome = match self.auth.verify(&io, &backend, token, now).await {
            Ok(v) => self
                .auth
                .check_revocation(&io, &v.kept, now)
                .await
                .map(|()| v),
            Err(e) => Err(e),
        };
        self.finish(ctx, io, &backend, outcome, log)
    }

    fn pipeline_parts(&self, env: &Env, started: f64) -> (EdgeIo, TimedWebCrypto, u64) {
        let io = EdgeIo {
            env: env.clone(),
            // The one fetch timeout (`edge.fetch_timeout_ms` is its alias).
            timeout_ms: self.timeout_ms(),
        };
        let backend = TimedWebCrypto {
            ms: Cell::new(None),
        };
        (io, backend, unix_seconds(started))
    }

    /// The denial for a pipeline error; a key-set failure carries `Retry-After` (the
    /// cooldown before keys are fetched again).
    pub fn refusal(&self, e: &AuthError) -> (Deny, Option<u64>) {
        let retry =
            matches!(e, AuthError::Keys(_)).then(|| self.gate().config().jwks_cache.cooldown);
        (e.deny(self.gate()), retry)
    }

    /// Records a pipeline outcome in the log line, starts a due key refresh in the
    /// background, and turns an error into the denial to send.
    fn finish(
        self: &Rc<Self>,
        ctx: &Context,
        io: EdgeIo,
        backend: &TimedWebCrypto,
        outcome: Result<Verification, AuthError>,
        log: &mut LogLine,
    ) -> Result<Verified, (Deny, Option<u64>)> {
        // The signature check's time; 0 for a kept verification, none when no check ran.
        log.verify_ms(backend.ms.get().or_else(|| outcome.is_ok().then_some(0.0)));
        let v = outcome.map_err(|e| self.refusal(&e))?;
        log.keys(v.keys);
        if v.refresh {
            let app = self.clone();
            let issuer = v.kept.issuer;
            let now = unix_seconds(now_ms());
            ctx.wait_until(async move {
                app.auth.refresh(&io, issuer, now).await;
            });
        }
        let verified = v.kept.verified;
        let p = &verified.principal;
        log.identity(p, p.client_id.clone());
        Ok(verified)
    }

    /// What the client registry (KV `CLIENTS`) says about `client_id` (its name, its
    /// rate-limit tier), kept in memory for a while, found or not.
    pub async fn client_info(&self, env: &Env, client_id: &str, now: f64) -> Option<ClientInfo> {
        if let Some((info, until)) = self.clients.borrow().get(client_id) {
            if *until > now {
                return info.clone();
            }
        }
        let info = match Kv::bound(env, CLIENTS_KV) {
            Some(kv) => kv
                .get(client_id)
                .await
                .and_then(|t| serde_json::from_str::<ClientInfo>(&t).ok()),
            None => None,
        };
        let mut clients = self.clients.borrow_mut();
        if clients.len() > 10_000 {
            clients.clear();
        }
        clients.insert(client_id.to_string(), (info.clone(), now + CLIENT_TTL));
        info
    }

    /// The fetch timeout, which bounds every call of the request path to a binding.
    pub fn timeout_ms(&self) -> u64 {
        self.gate().config().jwks_cache.fetch_timeout_ms
    }
}
