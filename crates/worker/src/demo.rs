//! The local demo: a built-in issuer that mints machine and user tokens, and a built-in
//! echo origin. Only active when the `TOKENGATE_DEMO` var is `"1"` (the `demo`
//! environment of wrangler.toml); never in a default deployment.
//!
//! The demo serves only on a loopback host ([`require_loopback`]): a Worker deployed
//! with `wrangler deploy --env demo` answers every request with a 500
//! `config_invalid` and never builds the demo (no demo key, no generated signing key).

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use worker::{Env, Headers, Response};

use tokengate::Alg;
use tokengate::ConfigError;

use crate::io::{Kv, JWKS_KV};
use crate::signing::EdgeKey;

/// The demo issuer's `iss`.
pub const DEMO_ISSUER: &str = "https://demo.tokengate.invalid/";
/// The KV key of the demo issuer's private key.
const KEY_KV: &str = "demo:signing-key:v1";

/// Refuses demo mode unless the request is local: its URL's host must be a loopback
/// host (`localhost`, `*.localhost`, `127.0.0.0/8`, `[::1]`: the same rule as for
/// `http` key URLs, [`check_fetch_url`](tokengate::check_fetch_url)), and the
/// client address the runtime reports (`cf-connecting-ip`), when there is one, must be
/// a loopback address. `wrangler dev` on 127.0.0.1 passes; a deployed Worker never
/// does: Cloudflare routes to it by its public hostname and sets `cf-connecting-ip` to
/// the caller's address.
pub fn require_loopback(url: &str, client_ip: Option<&str>) -> Result<(), ConfigError> {
    let local_host = url
        .split_once("://")
        .is_some_and(|(_, rest)| tokengate::check_fetch_url(&format!("http://{rest}")).is_ok());
    let local_client = client_ip.is_none_or(|ip| {
        ip.trim()
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.to_canonical().is_loopback())
    });
    if local_host && local_client {
        return Ok(());
    }
    Err(ConfigError::invalid(
        "TOKENGATE_DEMO",
        "the demo (an open token mint) answers only on a loopback host under wrangler dev; \
         never deploy --env demo",
    ))
}

/// The demo issuer: one ES256 key, generated with WebCrypto on first use and kept in
/// KV so every isolate of the local Worker signs with the same key.
pub struct Demo {
    key: EdgeKey,
}

impl Demo {
    /// Loads the demo key from KV, or generates and stores it.
    pub async fn load(env: &Env) -> Result<Demo, String> {
        let kv = Kv::bound(env, JWKS_KV).ok_or(format!("no kv binding {JWKS_KV}"))?;
        if let Some(text) = kv.get(KEY_KV).await {
            if let Ok(v) = serde_json::from_str::<Value>(&text) {
                if let Ok(key) = EdgeKey::from_private_jwk(&v).await {
                    return Ok(Demo { key });
                }
            }
        }
        let key = EdgeKey::generate(Alg::ES256).await?;
        let text = key.private_jwk().to_string();
        kv.put(KEY_KV, &text, None).await;
        Ok(Demo { key })
    }

    /// The demo issuer's public JWKS.
    pub fn jwks(&self) -> Value {
        json!({ "keys": [self.key.public_jwk()] })
    }

    /// Rewrites a configuration so that issuers named [`DEMO_ISSUER`] use the demo key
    /// inline (no network fetch).
    pub fn inject(&self, config: &mut Value) {
        tokengate::inline_issuer_jwks(config, DEMO_ISSUER, &self.jwks());
    }

    /// `GET /__demo/token?kind=machine|user&scope=...&permissions=...&client_id=...&sub=...&aud=...&ttl=...`;
    /// `format=raw` answers with the bare token (text/plain) instead of JSON.
    pub async fn mint(
        &self,
        query: &str,
        default_audience: &str,
        now: tokengate::UnixSeconds,
    ) -> Response {
        let Some(q) = query_pairs(query) else {
            return demo_error("the query string is not valid percent-encoded utf-8");
        };
        let get = |k: &str| q.get(k).and_then(Value::as_str);
        let kind = get("kind").unwrap_or("machine");
        let ttl = match get("ttl").map(str::parse::<u64>) {
            None => 3600,
            Some(Ok(t)) if (1..=86_400).contains(&t) => t,
            Some(_) => return demo_error("ttl must be between 1 and 86400 seconds"),
        };
        let aud = get("aud").unwrap_or(default_audience);
        let scope = get("scope").unwrap_or("read:builds");
        let mut claims = json!({
            "iss": DEMO_ISSUER, "aud": aud, "iat": now, "exp": now + ttl, "scope": scope,
        });
        match kind {
            "machine" => {
                let client = get("client_id").unwrap_or("demo-build-service");
                claims["sub"] = format!("{client}@clients").into();
                claims["azp"] = client.into();
                claims["gty"] = "client-credentials".into();
            }
            "user" => {
                let client = get("client_id").unwrap_or("demo-spa");
                claims["sub"] = get("sub").unwrap_or("auth0|demo-user").into();
                claims["azp"] = client.into();
                let perms: Vec<&str> = get("permissions")
                    .unwrap_or("")
                    .split([' ', ','])
                    .filter(|s| !s.is_empty())
                    .collect();
                claims["permissions"] = json!(perms);
            }
            _ => return demo_error("kind must be machine or user"),
        }
        let Some(obj) = claims.as_object() else {
            return demo_error("internal error");
        };
        let token = match self.key.sign(obj, Some("at+jwt")).await {
            Ok(t) => t,
            Err(e) => {
                return json_response(
                    500,
                    &json!({"error": "server_error", "error_description": e}),
                )
            }
        };
        if get("format") == Some("raw") {
            return Response::builder()
                .with_status(200)
                .with_header("content-type", "text/plain")
                .and_then(|b| b.with_header("cache-control", "no-store"))
                .map(|b| b.fixed(token.into_bytes()))
                .unwrap_or_else(|_| demo_error("internal error"));
        }
        json_response(
            200,
            &json!({
                "access_token": token, "token_type": "Bearer", "expires_in": ttl,
                "claims": claims,
                "note": "demo issuer: for local use only",
            }),
        )
    }
}

/// The query string's `name=value` pairs (`application/x-www-form-urlencoded`: `+` is a
/// space, then percent-decoding), the last of a repeated name winning; `None` when a
/// part is not valid percent-encoded UTF-8. Decoded by the runtime's
/// `decodeURIComponent`, so that the Worker's wasm carries no URL parser.
fn query_pairs(query: &str) -> Option<Map<String, Value>> {
    let decode = |s: &str| -> Option<String> {
        js_sys::decode_uri_component(&s.replace('+', " "))
            .ok()
            .map(String::from)
    };
    let mut q = Map::new();
    for part in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        q.insert(decode(k)?, Value::String(decode(v)?));
    }
    Some(q)
}

fn demo_error(msg: &str) -> Response {
    json_response(
        400,
        &json!({"error": "invalid_request", "error_description": msg}),
    )
}

/// A JSON response with a status.
pub fn json_response(status: u16, body: &Value) -> Response {
    let headers = Headers::new();
    let _ = headers.set("content-type", "application/json");
    let _ = headers.set("cache-control", "no-store");
    Response::builder()
        .with_status(status)
        .with_headers(headers)
        .fixed(body.to_string().into_bytes())
}

/// The built-in echo origin: answers with what it received (method, path, query,
/// headers, body size and SHA-256).
pub fn echo(method: &str, path_and_query: &str, headers: &Headers, body: &[u8]) -> Response {
    let mut h = Map::new();
    for (k, v) in headers.entries() {
        // Never echo a whole token back: keep the scheme and a short prefix.
        let v = if k.eq_ignore_ascii_case("authorization") && v.len() > 24 {
            format!(
                "{}... ({} bytes, redacted by the demo echo)",
                &v[..v.floor_char_boundary(19)],
                v.len()
            )
        } else {
            v
        };
        h.insert(k, Value::String(v));
    }
    let digest = Sha256::digest(body);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    json_response(
        200,
        &json!({
            "echo": true,
            "method": method,
            "url": path_and_query,
            "headers": h,
            "body_bytes": body.len(),
            "body_sha256": hex,
        }),
    )
}
