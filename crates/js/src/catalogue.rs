//! `errorCatalogue()`: the core's error catalogue for JS callers and the decoder page
//! (its help texts), one object per code.

use serde_json::{json, Value};
use wasm_bindgen::prelude::*;

use tokengate::CATALOGUE;

/// The catalogue as JSON: `[{code, stage, status, error, description, help}]`, in the
/// core's order (grouped by stage; the token endpoint's codes last).
pub(crate) fn catalogue_json() -> Value {
    Value::Array(
        CATALOGUE
            .iter()
            .map(|i| {
                json!({
                    "code": i.code,
                    "stage": i.stage.as_str(),
                    "status": i.status,
                    "error": i.error,
                    "description": i.description,
                    "help": i.help,
                })
            })
            .collect(),
    )
}

/// `errorCatalogue()`: every stable error code with its stage, HTTP status, OAuth
/// `error` value, one-line description and help text.
#[wasm_bindgen(js_name = errorCatalogue)]
pub fn error_catalogue() -> JsValue {
    js_sys::JSON::parse(&catalogue_json().to_string()).unwrap_or(JsValue::NULL)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_object_per_row_with_every_field() {
        let Value::Array(rows) = catalogue_json() else {
            panic!("not an array");
        };
        assert_eq!(rows.len(), CATALOGUE.len());
        for (row, info) in rows.iter().zip(CATALOGUE) {
            assert_eq!(row["code"], info.code);
            assert_eq!(row["status"], info.status);
            assert_eq!(row["error"], info.error);
            assert_eq!(row["help"], info.help);
            assert_eq!(row.as_object().map(|o| o.len()), Some(6));
        }
        let expired = rows.iter().find(|r| r["code"] == "token_expired").unwrap();
        assert_eq!(expired["stage"], "token");
        assert_eq!(expired["status"], 401);
        assert_eq!(expired["error"], "invalid_token");
    }
}
