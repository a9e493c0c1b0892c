//! Edge token exchange (RFC 8693): the Worker's own signing keys, its JWKS and OIDC
//! metadata, and the token endpoint. The rules live in [`tokengate::exchange`]; this file
//! only reads the request, verifies the two tokens with the same gate, signs and answers.

use serde_json::{json, Value};
use worker::{Context, Env, Headers, Method, Request, Response};

use tokengate::alg::Alg;
use tokengate::exchange::{plan, response_json, ExchangeError, ExchangeRequest};
use tokengate::mint::SigningKey;
use tokengate::ErrorCode;

use super::app::{verify_token, App, LogLine};
use super::io::JWKS_KV;

/// The secret holding the signing keys: `{"keys": [current, previous, ...]}` private JWKs.
pub const SIGNING_KEYS_SECRET: &str = "TOKENGATE_SIGNING_KEYS";
/// Where the demo environment keeps generated signing keys.
const DEMO_KEYS_KV: &str = "demo:edge-signing-keys:v1";

/// The edge's signing keys; the first signs, all are published.
pub struct SigningKeys(pub Vec<SigningKey>);

impl SigningKeys {
    /// Reads the keys from the `TOKENGATE_SIGNING_KEYS` secret; in the demo
    /// environment, generates and keeps them in KV when the secret is not set.
    pub async fn load(env: &Env, demo: bool) -> Result<SigningKeys, String> {
        if let Ok(secret) = env.secret(SIGNING_KEYS_SECRET) {
            return parse(&secret.to_string());
        }
        if !demo {
            return Err(format!(
                "the {SIGNING_KEYS_SECRET} secret is not set (generate one with `cargo run -q --example keygen`)"
            ));
        }
        let kv = env.kv(JWKS_KV).map_err(|e| e.to_string())?;
        if let Ok(Some(text)) = kv.get(DEMO_KEYS_KV).text().await {
            if let Ok(keys) = parse(&text) {
                return Ok(keys);
            }
        }
        let key = SigningKey::generate(Alg::ES256).map_err(|e| e.to_string())?;
        let text = json!({ "keys": [key.private_jwk()] }).to_string();
        if let Ok(put) = kv.put(DEMO_KEYS_KV, text) {
            let _ = put.execute().await;
        }
        Ok(SigningKeys(vec![key]))
    }

    /// The public JWKS of every key (current and previous).
    pub fn jwks(&self) -> Value {
        tokengate::mint::public_jwks(&self.0)
    }

    /// Points the configured own issuer at these keys (inline, no network fetch).
    pub fn inject(&self, config: &mut Value, own_issuer: &str) {
        if let Some(issuers) = config.get_mut("issuers").and_then(Value::as_array_mut) {
            for iss in issuers {
                if iss.get("issuer").and_then(Value::as_str) == Some(own_issuer) {
                    if let Some(o) = iss.as_object_mut() {
                        o.remove("jwks_uri");
                        o.insert("jwks".into(), self.jwks());
                    }
                }
            }
        }
    }
}

fn parse(text: &str) -> Result<SigningKeys, String> {
    let doc: Value =
        serde_json::from_str(text).map_err(|_| format!("{SIGNING_KEYS_SECRET} is not JSON"))?;
    let keys = doc
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| format!("{SIGNING_KEYS_SECRET} has no \"keys\" array"))?
        .iter()
        .map(|k| SigningKey::from_private_jwk(k).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    if keys.is_empty() {
        return Err(format!("{SIGNING_KEYS_SECRET} has no key"));
    }
    if keys
        .iter()
        .any(|k| !matches!(k.alg(), Alg::ES256 | Alg::EdDSA))
    {
        return Err(format!(
            "{SIGNING_KEYS_SECRET}: only ES256 and EdDSA keys sign"
        ));
    }
    Ok(SigningKeys(keys))
}

fn json_response(status: u16, body: String) -> Response {
    let headers = Headers::new();
    let _ = headers.set("content-type", "application/json");
    let _ = headers.set("cache-control", "no-store");
    let _ = headers.set("pragma", "no-cache");
    Response::builder()
        .with_status(status)
        .with_headers(headers)
        .fixed(body.into_bytes())
}

/// Serves `/.well-known/jwks.json` and `/.well-known/openid-configuration` for the
/// edge's own issuer, when the path is one of them.
pub fn metadata(app: &App, path: &str) -> Option<Response> {
    let (ex, keys) = (app.gate().config().exchange.as_ref()?, app.signing()?);
    let base = ex.issuer.trim_end_matches('/');
    match path {
        "/.well-known/jwks.json" => Some(json_response(200, keys.jwks().to_string())),
        "/.well-known/openid-configuration" => Some(json_response(
            200,
            json!({
                "issuer": ex.issuer,
                "jwks_uri": format!("{base}/.well-known/jwks.json"),
                "token_endpoint": format!("{base}{}", ex.path),
                "grant_types_supported": [tokengate::exchange::GRANT_TYPE],
                "token_endpoint_auth_methods_supported": ["none"],
                "id_token_signing_alg_values_supported": keys.0.iter().map(|k| k.alg().as_str()).collect::<Vec<_>>(),
            })
            .to_string(),
        )),
        _ => None,
    }
}

fn fail(app: &App, err: &ExchangeError, log: &mut LogLine) -> Response {
    log.decision = "exchange_deny";
    log.code = Some(err.code());
    log.message = Some(err.description().to_string());
    let resp = json_response(err.status(), err.body_json());
    // The challenge (a refused client's bare `Bearer realm=...`) and its realm come
    // from the catalogue and the configuration, through the gate's denial.
    match app.gate().deny(err, None).www_authenticate {
        Some(challenge) => {
            let headers = Headers::new();
            for (k, v) in resp.headers().entries() {
                let _ = headers.append(&k, &v);
            }
            let _ = headers.set("www-authenticate", &challenge);
            resp.with_headers(headers)
        }
        None => resp,
    }
}

/// The token endpoint: `POST {exchange.path}`, form-encoded.
pub async fn token_endpoint(
    app: &std::rc::Rc<App>,
    env: &Env,
    ctx: &Context,
    mut req: Request,
    log: &mut LogLine,
    started: f64,
) -> worker::Result<Response> {
    let Some(ex) = app.gate().config().exchange.as_ref() else {
        return Ok(fail(
            app,
            &ExchangeError::ServerError("exchange is not configured".into()),
            log,
        ));
    };
    let Some(keys) = app.signing() else {
        return Ok(fail(
            app,
            &ExchangeError::ServerError("no signing key".into()),
            log,
        ));
    };
    if req.method() != Method::Post {
        return Ok(fail(
            app,
            &ExchangeError::InvalidRequest("use POST".into()),
            log,
        ));
    }
    let ctype = req.headers().get("content-type")?.unwrap_or_default();
    if !ctype
        .to_ascii_lowercase()
        .starts_with("application/x-www-form-urlencoded")
    {
        return Ok(fail(
            app,
            &ExchangeError::InvalidRequest(
                "the body must be application/x-www-form-urlencoded".into(),
            ),
            log,
        ));
    }
    // Size cap before reading: a declared length over the cap is refused unread.
    let declared = req
        .headers()
        .get("content-length")?
        .and_then(|l| l.trim().parse::<usize>().ok());
    if declared.is_none_or(|l| l > ex.max_request_bytes) {
        return Ok(fail(
            app,
            &ExchangeError::InvalidRequest(format!(
                "the request body must declare a content-length of at most {} bytes",
                ex.max_request_bytes
            )),
            log,
        ));
    }
    let body = req.bytes().await?;
    let request = match ExchangeRequest::parse_form(&body, ex.max_request_bytes) {
        Ok(r) => r,
        Err(e) => return Ok(fail(app, &e, log)),
    };
    let subject = match verify_token(app, env, ctx, &request.subject_token, log, started).await {
        Ok(v) => v,
        Err((deny, _)) => {
            let e = ExchangeError::InvalidGrant(format!("subject_token: {}", deny.message));
            return Ok(fail(app, &e, log));
        }
    };
    let actor = match &request.actor_token {
        Some(t) => match verify_token(app, env, ctx, t, log, started).await {
            Ok(v) => Some(v),
            Err((deny, _)) => {
                let e = ExchangeError::UnauthorizedClient(format!("actor_token: {}", deny.message));
                return Ok(fail(app, &e, log));
            }
        },
        None => None,
    };
    let now = (started / 1000.0) as i64;
    let claims = match plan(&request, &subject, actor.as_ref(), ex, now) {
        Ok(c) => c,
        Err(e) => return Ok(fail(app, &e, log)),
    };
    let Some(current) = keys.0.first() else {
        return Ok(fail(
            app,
            &ExchangeError::ServerError("no signing key".into()),
            log,
        ));
    };
    let token = current.sign(&claims, Some("at+jwt"));
    log.decision = "exchange";
    log.kind = Some(subject.principal.kind.as_str());
    log.subject = Some(subject.principal.subject.clone());
    log.client = actor.as_ref().and_then(|a| a.principal.client_id.clone());
    Ok(json_response(200, response_json(&token, &claims)))
}
