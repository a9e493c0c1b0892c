//! The result objects handed to JS, as serde structs: the field order is the order of
//! the declarations (and of `npm/index.d.ts`), e.g. `{ ok, principal, claims, header }`.
//! They cross as JSON text parsed with `JSON.parse`, the fastest way to build a plain
//! object tree from wasm.

use std::cell::RefCell;

use serde::Serialize;
use serde_json::{Map, Value};
use wasm_bindgen::JsValue;

use tokengate::Deny;
use tokengate::Verified;
use tokengate::{Actor, Principal};

/// `TokengateError`: why a token was refused.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorOut<'a> {
    /// The stable snake_case code.
    pub code: &'a str,
    /// The lowercase message.
    pub message: &'a str,
    /// The HTTP status.
    pub status: u16,
    /// The `WWW-Authenticate` value, or `null`.
    pub www_authenticate: Option<&'a str>,
    /// A fresh DPoP nonce for the `DPoP-Nonce` header (with `use_dpop_nonce`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dpop_nonce: Option<&'a str>,
}

impl<'a> From<&'a Deny> for ErrorOut<'a> {
    fn from(d: &'a Deny) -> Self {
        ErrorOut {
            code: d.code,
            message: &d.message,
            status: d.status,
            www_authenticate: d.www_authenticate.as_deref(),
            dpop_nonce: d.dpop_nonce.as_deref(),
        }
    }
}

/// `VerifyFailure` (and the failure of `bearerToken`): `{ ok: false, error }`.
#[derive(Debug, Serialize)]
pub struct Failure<'a> {
    /// Always false.
    pub ok: bool,
    /// Why.
    pub error: ErrorOut<'a>,
}

impl<'a> Failure<'a> {
    /// The failure of a denial.
    pub fn new(d: &'a Deny) -> Self {
        Failure {
            ok: false,
            error: d.into(),
        }
    }
}

/// `Actor`: one link of a delegation chain.
#[derive(Debug, Serialize)]
pub struct ActorOut<'a> {
    /// The actor's `sub`.
    pub sub: &'a str,
    /// The actor's `client_id`, when its `act` object has one (what a requirement's
    /// `actors` matches, before `sub`).
    #[serde(rename = "clientId", skip_serializing_if = "Option::is_none")]
    pub client_id: Option<&'a str>,
    /// The prior actor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub act: Option<Box<ActorOut<'a>>>,
}

impl<'a> From<&'a Actor> for ActorOut<'a> {
    fn from(a: &'a Actor) -> Self {
        ActorOut {
            sub: &a.sub,
            client_id: a.client_id.as_deref(),
            act: a.act.as_deref().map(|next| Box::new(next.into())),
        }
    }
}

/// `Principal`: who a token speaks for.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PrincipalOut<'a> {
    /// `machine` or `user`.
    pub kind: &'static str,
    /// The `sub` claim.
    pub subject: &'a str,
    /// `azp`, else `client_id`, or `null`.
    pub client_id: Option<&'a str>,
    /// The user, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<&'a str>,
    /// Granted scopes.
    pub scopes: &'a [String],
    /// Roles.
    pub roles: &'a [String],
    /// The `iss` claim.
    pub issuer: &'a str,
    /// The `aud` claim as a list.
    pub audiences: &'a [String],
    /// The `exp` claim, or `null`.
    pub expires_at: Option<i64>,
    /// The rule that decided the kind.
    pub decided_by: &'static str,
    /// The delegation chain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<ActorOut<'a>>,
    /// How the token is bound to its sender (`dpop`, `mtls`, `dpop_mtls`), its
    /// binding proven.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub binding: Option<&'static str>,
}

impl<'a> From<&'a Principal> for PrincipalOut<'a> {
    fn from(p: &'a Principal) -> Self {
        PrincipalOut {
            kind: p.kind.as_str(),
            subject: &p.subject,
            client_id: p.client_id.as_deref(),
            user_id: p.user_id.as_deref(),
            scopes: &p.scopes,
            roles: &p.roles,
            issuer: &p.issuer,
            audiences: &p.audiences,
            expires_at: p.expires_at,
            decided_by: p.decided_by.as_str(),
            actor: p.actor.as_ref().map(ActorOut::from),
            binding: p.binding.map(|b| b.as_str()),
        }
    }
}

/// `VerifySuccess`: `{ ok: true, principal, claims, header }`.
#[derive(Debug, Serialize)]
pub struct Success<'a> {
    /// Always true.
    pub ok: bool,
    /// Who the token speaks for.
    pub principal: PrincipalOut<'a>,
    /// The claims.
    pub claims: &'a Map<String, Value>,
    /// The JOSE header.
    pub header: &'a Map<String, Value>,
}

impl<'a> From<&'a Verified> for Success<'a> {
    fn from(v: &'a Verified) -> Self {
        Success {
            ok: true,
            principal: (&v.principal).into(),
            claims: &v.token.claims,
            header: &v.token.header,
        }
    }
}

/// `DecodeSuccess`: `{ ok: true, verified: false, form: "jws", header, claims, hint,
/// hintError?, idToken }`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Decoded<'a> {
    /// Always true.
    pub ok: bool,
    /// Always false.
    pub verified: bool,
    /// Always `jws`.
    pub form: &'static str,
    /// The JOSE header.
    pub header: &'a Map<String, Value>,
    /// The claims.
    pub claims: &'a Map<String, Value>,
    /// The classification hint, or `null`.
    pub hint: Option<PrincipalOut<'a>>,
    /// Why there is no hint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint_error: Option<ErrorOut<'a>>,
    /// The signs that the token is an OpenID Connect ID token, or `null`.
    pub id_token: Option<IdTokenOut>,
}

/// `IdTokenHint`: `{ signals, message }`, the signs that a decoded JWS is an ID token.
#[derive(Debug, Serialize)]
pub struct IdTokenOut {
    /// The signals' snake_case names, strongest first.
    pub signals: Vec<&'static str>,
    /// The lowercase warning naming them.
    pub message: String,
}

/// `DecodeFailure`: `{ ok: false, verified: false, form, error, jweHeader? }`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DecodeFailure<'a> {
    /// Always false.
    pub ok: bool,
    /// Always false.
    pub verified: bool,
    /// What the token is, by its shape (`TokenForm::as_str`).
    pub form: &'static str,
    /// Why the token cannot be decoded.
    pub error: ErrorOut<'a>,
    /// The readable protected header of a JWE (`form` is `jwe`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwe_header: Option<Map<String, Value>>,
}

/// The success of `bearerToken`: `{ ok: true, token }`.
#[derive(Debug, Serialize)]
pub struct BearerToken<'a> {
    /// Always true.
    pub ok: bool,
    /// The token, or `null` when the header is absent.
    pub token: Option<&'a str>,
}

/// The JSON text of a result.
pub fn to_json<T: Serialize>(v: &T) -> String {
    // The result types serialize infallibly (string keys, no maps with other keys).
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

/// The largest buffer [`to_js`] keeps between calls (bytes); a larger result's buffer
/// is given back after use.
const KEEP_BUF: usize = 64 * 1024;

thread_local! {
    /// The JSON text of the result being built, kept between calls so that a result
    /// does not grow a fresh `String` (several reallocations and copies) each time.
    static BUF: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(4096));
}

/// A result as a plain JS object.
pub fn to_js<T: Serialize>(v: &T) -> JsValue {
    let parse = |buf: &mut Vec<u8>| {
        buf.clear();
        // The result types serialize infallibly (string keys), and serde_json writes
        // UTF-8; `null` otherwise, as `to_json`.
        let text = match serde_json::to_writer(&mut *buf, v) {
            Ok(()) => std::str::from_utf8(buf).unwrap_or("null"),
            Err(_) => "null",
        };
        js_sys::JSON::parse(text).unwrap_or(JsValue::NULL)
    };
    BUF.with(|b| match b.try_borrow_mut() {
        Ok(mut buf) => {
            let out = parse(&mut buf);
            if buf.capacity() > KEEP_BUF {
                *buf = Vec::with_capacity(4096);
            }
            out
        }
        // Not reached (serializing calls no JS, so no result is built inside another).
        Err(_) => parse(&mut Vec::new()),
    })
}
