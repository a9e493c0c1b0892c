//! `decode`: a token's header and claims without verifying it, with a classification
//! hint.

use wasm_bindgen::prelude::*;

use tokengate::classify;
use tokengate::parse_jws;
use tokengate::{Deny, ErrorCode, TokenError};

use crate::options::{decode_options, from_js};
use crate::results::{to_js, DecodeFailure, Decoded};
use crate::DEFAULT_REALM;

/// `decode(token, options?)`: the header and claims of a token **without verifying
/// it**, with a classification hint (`kind`, `decidedBy`, scopes merged the core's
/// way) under the optional `classify` / `scopeClaims` / `maxTokenBytes` options.
/// Never throws for a bad token: returns `{ ok: false, verified: false, error }`.
#[wasm_bindgen]
pub fn decode(token: JsValue, options: JsValue) -> Result<JsValue, JsValue> {
    let opts = from_js(&options, "decode options").map_err(|e| e.to_js())?;
    let (classify_cfg, max_bytes) = decode_options(&opts).map_err(|e| e.to_js())?;
    let bad = |err: &dyn ErrorCode| {
        let d = Deny::from_error(err, DEFAULT_REALM, None);
        to_js(&DecodeFailure {
            ok: false,
            verified: false,
            error: (&d).into(),
        })
    };
    let Some(token) = token.as_string() else {
        return Ok(bad(&TokenError::Malformed(
            "the token must be a string".into(),
        )));
    };
    let jws = match parse_jws(&token, max_bytes) {
        Ok(j) => j,
        Err(e) => return Ok(bad(&e)),
    };
    let claims = match jws.claims() {
        Ok(c) => c,
        Err(e) => return Ok(bad(&e)),
    };
    let (principal, hint_error) = match classify(&claims, &classify_cfg) {
        Ok(p) => (Some(p), None),
        Err(e) => (None, Some(Deny::from_error(&e, DEFAULT_REALM, None))),
    };
    Ok(to_js(&Decoded {
        ok: true,
        verified: false,
        header: &jws.header,
        claims: &claims,
        hint: principal.as_ref().map(Into::into),
        hint_error: hint_error.as_ref().map(Into::into),
    }))
}
