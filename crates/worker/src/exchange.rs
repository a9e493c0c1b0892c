//! Edge token exchange (RFC 8693): the JWKS and OIDC metadata of the edge's own
//! issuer, and the token endpoint. The rules live in [`tokengate::exchange`] and the keys
//! in [`signing`](crate::signing); this file only reads the request, verifies the two
//! tokens with the same pipeline, signs and answers.

use serde_json::json;
use worker::{Context, Env, Headers, Method, Request, Response};

use tokengate::ErrorCode;
use tokengate::{plan, response_json, ExchangeError, ExchangeRequest};

use crate::log::LogLine;
use crate::state::App;

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
                "grant_types_supported": [tokengate::GRANT_TYPE],
                "token_endpoint_auth_methods_supported": ["none"],
                "id_token_signing_alg_values_supported": keys.0.iter().map(|k| k.alg().as_str()).collect::<Vec<_>>(),
            })
            .to_string(),
        )),
        _ => None,
    }
}

fn fail(app: &App, err: &ExchangeError, log: &mut LogLine) -> Response {
    log.refused("exchange_deny", err.code(), err.description().to_string());
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
    let subject = match app
        .verify_token(env, ctx, &request.subject_token, log, started)
        .await
    {
        Ok(v) => v,
        Err((deny, _)) => {
            let e = ExchangeError::InvalidGrant(format!("subject_token: {}", deny.message));
            return Ok(fail(app, &e, log));
        }
    };
    let actor = match &request.actor_token {
        Some(t) => match app.verify_token(env, ctx, t, log, started).await {
            Ok(v) => Some(v),
            Err((deny, _)) => {
                let e = ExchangeError::UnauthorizedClient(format!("actor_token: {}", deny.message));
                return Ok(fail(app, &e, log));
            }
        },
        None => None,
    };
    let now = crate::state::unix_seconds(started);
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
    let token = match current.sign(&claims, Some("at+jwt")).await {
        Ok(t) => t,
        Err(e) => return Ok(fail(app, &ExchangeError::ServerError(e), log)),
    };
    log.decided("exchange");
    log.identity(
        &subject.principal,
        actor.as_ref().and_then(|a| a.principal.client_id.clone()),
    );
    Ok(json_response(200, response_json(&token, &claims)))
}
