//! The edge's header rules for JS: `bearerToken`, `isReservedHeader` and
//! `encodeHeaderValue`.

use js_sys::Array;
use wasm_bindgen::prelude::*;

use tokengate::Deny;

use crate::page::type_error;
use crate::results::{to_js, BearerToken, Failure};
use crate::DEFAULT_REALM;

/// `bearerToken(authorization)`: the token of an `Authorization: Bearer <token>`
/// header value. `{ ok: true, token }` (`token` is `null` when the header is absent)
/// or `{ ok: false, error }` (400 `invalid_request`) for another scheme or a malformed
/// value.
#[wasm_bindgen(js_name = bearerToken)]
pub fn bearer_token(authorization: JsValue) -> JsValue {
    let header = authorization.as_string();
    match tokengate::extract_token(header.as_deref(), None, None) {
        Ok(token) => to_js(&BearerToken { ok: true, token }),
        Err(e) => to_js(&Failure::new(&Deny::from_error(&e, DEFAULT_REALM, None))),
    }
}

/// `isReservedHeader(name, originSecretHeader?)`: whether a forwarder must drop an
/// inbound header: an identity header (`x-tokengate-*`), the origin-secret header or a
/// method-override header, in any case and with `_` read as `-`
/// ([`tokengate::headers::is_reserved_inbound`], the rule the edge applies). Throws a
/// `TypeError` when `name` (or a given `originSecretHeader`) is not a string.
#[wasm_bindgen(js_name = isReservedHeader)]
pub fn is_reserved_header(name: JsValue, origin_secret_header: JsValue) -> Result<bool, JsValue> {
    let name = name
        .as_string()
        .ok_or_else(|| type_error("isReservedHeader: the name must be a string"))?;
    let secret = if origin_secret_header.is_undefined() || origin_secret_header.is_null() {
        tokengate::headers::DEFAULT_ORIGIN_SECRET_HEADER.to_string()
    } else {
        origin_secret_header
            .as_string()
            .ok_or_else(|| type_error("isReservedHeader: originSecretHeader must be a string"))?
    };
    Ok(tokengate::headers::is_reserved_inbound(&name, &secret))
}

/// `encodeHeaderValue(value)`: an identity header value as the edge sends it
/// ([`tokengate::headers::encode_value`]: bytes outside visible ASCII, spaces and `%` as
/// `%XX`); for an array of strings, the encoded elements joined with one space
/// ([`tokengate::headers::encode_list`]). Throws a `TypeError` for anything else.
#[wasm_bindgen(js_name = encodeHeaderValue)]
pub fn encode_header_value(value: JsValue) -> Result<String, JsValue> {
    if let Some(s) = value.as_string() {
        return Ok(tokengate::headers::encode_value(&s).into_owned());
    }
    let bad = || -> JsValue {
        js_sys::TypeError::new("encodeHeaderValue: expected a string or an array of strings").into()
    };
    if !Array::is_array(&value) {
        return Err(bad());
    }
    let items = Array::from(&value)
        .iter()
        .map(|v| v.as_string().ok_or_else(bad))
        .collect::<Result<Vec<String>, JsValue>>()?;
    Ok(tokengate::headers::encode_list(
        items.iter().map(String::as_str),
    ))
}

/// The parts of a JS `Principal` (as `verify`/`authorize` return it) that identity
/// headers carry; read from its JSON text.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct PrincipalHeaders {
    kind: tokengate::Kind,
    subject: String,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
    issuer: String,
    #[serde(default)]
    actor: Option<tokengate::Actor>,
}

/// `identityHeaders(principalJson, clientName?)`: the identity headers the edge sets
/// for a principal, as `[name, value]` pairs in the edge's order
/// ([`tokengate::headers::for_each_identity_header`]). `principalJson` is
/// `JSON.stringify` of a principal; throws a `TypeError` when it is not one.
#[wasm_bindgen(js_name = identityHeaders)]
pub fn identity_headers(principal_json: JsValue, client_name: JsValue) -> Result<Array, JsValue> {
    let json = principal_json
        .as_string()
        .ok_or_else(|| type_error("identityHeaders: expected a principal"))?;
    let p: PrincipalHeaders = serde_json::from_str(&json)
        .map_err(|e| type_error(&format!("identityHeaders: not a principal: {e}")))?;
    let name = client_name.as_string();
    let principal = tokengate::Principal {
        kind: p.kind,
        subject: p.subject,
        client_id: p.client_id,
        user_id: p.user_id,
        scopes: p.scopes,
        roles: Vec::new(),
        issuer: p.issuer,
        audiences: Vec::new(),
        expires_at: None,
        decided_by: tokengate::DecidedBy::Default,
        actor: p.actor,
        binding: None,
    };
    let out = Array::new();
    tokengate::headers::for_each_identity_header(&principal, name.as_deref(), |n, v| {
        out.push(&Array::of2(&JsValue::from_str(n), &JsValue::from_str(v)));
    });
    Ok(out)
}

/// `denialBody(code, message)`: the JSON body the edge answers a refusal with
/// (`{ "error", "error_description", "code" }`, [`Deny::body_json`]): the catalogue's
/// OAuth `error` for `code`, and for a 5xx a fixed description instead of `message`
/// (which belongs in the log). Throws a `TypeError` for a code the catalogue lacks.
#[wasm_bindgen(js_name = denialBody)]
pub fn denial_body(code: JsValue, message: JsValue) -> Result<String, JsValue> {
    let code = code
        .as_string()
        .ok_or_else(|| type_error("denialBody: the code must be a string"))?;
    let info = tokengate::authorizer_code(&code)
        .ok_or_else(|| type_error(&format!("denialBody: unknown error code {code:?}")))?;
    let deny = Deny {
        status: info.status,
        code: info.code,
        error: info.error,
        message: message.as_string().unwrap_or_default(),
        www_authenticate: None,
        dpop_nonce: None,
    };
    Ok(deny.body_json())
}
