//! `revocationKey(issuer, by, id)` and `revocationValue(before)`: the revocation
//! entries the verifier's `revocation.store` and the Worker's `REVOKED` namespace hold,
//! written by the core's own functions (`tokengate revoke` prints them), so that the
//! format has one source.

use wasm_bindgen::prelude::*;

use tokengate::{revocation_key, revocation_value, RevokedBy, MAX_REVOCATION_KEY_BYTES};

fn type_error(m: String) -> JsValue {
    js_sys::TypeError::new(&format!("tokengate: {m}")).into()
}

/// What an entry names, from its JS name.
pub fn revoked_by(by: &str) -> Option<RevokedBy> {
    match by {
        "jti" => Some(RevokedBy::Jti),
        "client" => Some(RevokedBy::Client),
        "sub" => Some(RevokedBy::Subject),
        _ => None,
    }
}

/// The key of an entry, checked: a non-empty issuer and id, and a key the verifier
/// looks up (at most the KV limit, 512 bytes).
pub fn entry_key(issuer: &str, by: &str, id: &str) -> Result<String, String> {
    let kind = revoked_by(by).ok_or_else(|| {
        format!("revocationKey: by must be \"jti\", \"client\" or \"sub\", not {by:?}")
    })?;
    if issuer.is_empty() {
        return Err("revocationKey: the issuer must not be empty".into());
    }
    if id.is_empty() {
        return Err(format!("revocationKey: the {by} must not be empty"));
    }
    let key = revocation_key(issuer, kind, id);
    if key.len() > MAX_REVOCATION_KEY_BYTES {
        return Err(format!(
            "revocationKey: the key is {} bytes, over {MAX_REVOCATION_KEY_BYTES} (Workers KV's limit; such a key is never looked up)",
            key.len()
        ));
    }
    Ok(key)
}

/// `revocationKey(issuer, by, id)`: the store key of an entry,
/// `<issuer>|<jti|client|sub>|<id>`. Throws a `TypeError` for another `by`, an empty
/// issuer or id, or a key over 512 bytes.
#[wasm_bindgen(js_name = revocationKey)]
pub fn revocation_key_js(issuer: JsValue, by: JsValue, id: JsValue) -> Result<String, JsValue> {
    let text = |v: &JsValue, what: &str| {
        v.as_string()
            .ok_or_else(|| type_error(format!("revocationKey: the {what} must be a string")))
    };
    entry_key(
        &text(&issuer, "issuer")?,
        &text(&by, "kind (by)")?,
        &text(&id, "id")?,
    )
    .map_err(type_error)
}

/// `revocationValue(before)`: the value of an entry revoking what was issued up to
/// `before` (unix seconds, a non-negative integer): `{"before":<before>}`.
#[wasm_bindgen(js_name = revocationValue)]
pub fn revocation_value_js(before: JsValue) -> Result<String, JsValue> {
    let n = before.as_f64().filter(|n| {
        n.is_finite() && *n >= 0.0 && n.fract() == 0.0 && *n <= 9_007_199_254_740_991.0
    });
    let n = n.ok_or_else(|| {
        type_error(
            "revocationValue: before must be a non-negative whole number of unix seconds".into(),
        )
    })?;
    Ok(revocation_value(n as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_the_cores_and_checked() {
        assert_eq!(
            entry_key("https://t/", "jti", "j1").unwrap(),
            "https://t/|jti|j1"
        );
        assert_eq!(
            entry_key("https://t/", "client", "app").unwrap(),
            "https://t/|client|app"
        );
        assert_eq!(
            entry_key("https://t/", "sub", "auth0|u1").unwrap(),
            "https://t/|sub|auth0|u1"
        );
        assert!(entry_key("https://t/", "user", "u").is_err());
        assert!(entry_key("", "sub", "u").is_err());
        assert!(entry_key("https://t/", "sub", "").is_err());
        assert!(entry_key("https://t/", "sub", &"u".repeat(600))
            .unwrap_err()
            .contains("512"));
        assert_eq!(revocation_value(1000), "{\"before\":1000}");
    }
}
