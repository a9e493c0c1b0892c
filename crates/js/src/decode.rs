//! `decode`: a token's header and claims without verifying it, with a classification
//! hint.

use wasm_bindgen::prelude::*;

use tokengate::classify;
use tokengate::parse_jws;
use tokengate::{id_token_signals, id_token_warning, jwe_header, token_form, TokenForm};
use tokengate::{Deny, ErrorCode, TokenError};

use crate::options::{decode_options, from_js};
use crate::results::{to_js, DecodeFailure, Decoded, IdTokenOut};
use crate::DEFAULT_REALM;

/// `decode(token, options?)`: the header and claims of a token **without verifying
/// it**, with a classification hint (`kind`, `decidedBy`, scopes merged the core's
/// way) under the optional `classify` / `scopeClaims` / `maxTokenBytes` options.
/// Every result names the token's `form` (the core's `token_form`): a failure says what
/// the token is instead of a JWS (`jwe`, with its readable `jweHeader`; `opaque`; ...),
/// and a success carries `idToken` when its claims look like an OpenID Connect ID token.
/// Never throws for a bad token: returns `{ ok: false, verified: false, form, error }`.
#[wasm_bindgen]
pub fn decode(token: JsValue, options: JsValue) -> Result<JsValue, JsValue> {
    let opts = from_js(&options, "decode options").map_err(|e| e.to_js())?;
    let (classify_cfg, max_bytes) = decode_options(&opts).map_err(|e| e.to_js())?;
    let bad = |err: &dyn ErrorCode, form: TokenForm, jwe_header| {
        let d = Deny::from_error(err, DEFAULT_REALM, None);
        to_js(&DecodeFailure {
            ok: false,
            verified: false,
            form: form.as_str(),
            error: (&d).into(),
            jwe_header,
        })
    };
    let Some(token) = token.as_string() else {
        return Ok(bad(
            &TokenError::Malformed("the token must be a string".into()),
            TokenForm::Other,
            None,
        ));
    };
    let fail = |e: &TokenError| {
        let form = token_form(&token, max_bytes);
        bad(e, form, jwe_header(&token, max_bytes))
    };
    let jws = match parse_jws(&token, max_bytes) {
        Ok(j) => j,
        Err(e) => return Ok(fail(&e)),
    };
    let claims = match jws.claims() {
        Ok(c) => c,
        Err(e) => return Ok(fail(&e)),
    };
    let (principal, hint_error) = match classify(&claims, &classify_cfg) {
        Ok(p) => (Some(p), None),
        Err(e) => (None, Some(Deny::from_error(&e, DEFAULT_REALM, None))),
    };
    let id_token = id_token_hint(&jws.header, &claims);
    Ok(to_js(&Decoded {
        ok: true,
        verified: false,
        form: TokenForm::Jws.as_str(),
        header: &jws.header,
        claims: &claims,
        hint: principal.as_ref().map(Into::into),
        hint_error: hint_error.as_ref().map(Into::into),
        id_token,
    }))
}

/// The `idToken` of a decoded JWS: the ID-token signals of its header and claims
/// ([`id_token_signals`]) and the warning naming them, or `None` for an access token.
pub(crate) fn id_token_hint(
    header: &tokengate::Claims,
    claims: &tokengate::Claims,
) -> Option<IdTokenOut> {
    let signals = id_token_signals(header, claims);
    id_token_warning(&signals).map(|message| IdTokenOut {
        signals: signals.iter().map(|s| s.as_str()).collect(),
        message,
    })
}
