//! `checkWorkerConfig(json)`: a whole edge-authorizer configuration document (the
//! Worker's `TOKENGATE_CONFIG` JSON text) checked the way the Worker reads it, by the
//! core's [`check_worker_config`] (no I/O, no secrets: an `exchange` section is checked
//! as if the signing keys were present). `tokengate check` asks this.

use serde_json::{json, Value};
use wasm_bindgen::prelude::*;

use tokengate::{check_worker_config, ConfigError, ErrorCode};

/// `{ ok: true, summary: { issuers, routes, origin, exchangeIssuer, secrets } }`, or
/// `{ ok: false, error: { code: "config_invalid", message, field } }` (`field` is the
/// path of the bad field, e.g. `issuers[0].jwks_uri`, or null when the document is not
/// JSON or does not match the schema).
pub(crate) fn check_value(json: &str) -> Value {
    match check_worker_config(json) {
        Ok(s) => json!({
            "ok": true,
            "summary": {
                "issuers": s.issuers,
                "routes": s.routes,
                "origin": s.origin,
                "exchangeIssuer": s.exchange_issuer,
                "secrets": s.secrets,
            },
        }),
        Err(e) => {
            let field = match &e {
                ConfigError::Invalid { field, .. } => Some(field.clone()),
                _ => None,
            };
            json!({
                "ok": false,
                "error": { "code": e.code(), "message": e.to_string(), "field": field },
            })
        }
    }
}

/// `checkWorkerConfig(json)`: checks an edge-authorizer configuration document (JSON
/// text) as the Worker reads it: `{ ok: true, summary: { issuers, routes, origin,
/// exchangeIssuer, secrets } }`, or `{ ok: false, error: { code: "config_invalid",
/// message, field } }` (`field` null when the text is not JSON or does not match the
/// schema). Throws a `TypeError` when `json` is not a string.
#[wasm_bindgen(js_name = checkWorkerConfig)]
pub fn check_worker_config_js(json: JsValue) -> Result<JsValue, JsValue> {
    let text = json.as_string().ok_or_else(|| {
        JsValue::from(js_sys::TypeError::new(
            "checkWorkerConfig: the configuration must be a string (JSON text)",
        ))
    })?;
    Ok(js_sys::JSON::parse(&check_value(&text).to_string()).unwrap_or(JsValue::NULL))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_with_a_summary_or_the_field() {
        let ok = check_value(
            r#"{"issuers":[{"issuer":"https://t.example.com/","audiences":["api"]}],
                "origin":"https://o.example.com","routes":[{"path":"/health","public":true}]}"#,
        );
        assert_eq!(
            ok,
            json!({"ok": true, "summary": {"issuers": ["https://t.example.com/"], "routes": 1,
                   "origin": "https://o.example.com", "exchangeIssuer": null, "secrets": []}})
        );
        let bad = check_value(
            r#"{"issuers":[{"issuer":"https://t.example.com/","audiences":["api"]}],"edge":{"log":"loud"}}"#,
        );
        assert_eq!(bad["ok"], false);
        assert_eq!(bad["error"]["code"], "config_invalid");
        assert_eq!(bad["error"]["field"], "edge.log");
        assert!(bad["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("invalid configuration: edge.log: "));
        let parse = check_value("{");
        assert_eq!(parse["error"]["field"], Value::Null);
        assert_eq!(parse["error"]["code"], "config_invalid");
    }
}
