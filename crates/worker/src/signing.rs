//! The edge's own token-signing keys (for the token exchange): read from the
//! `TOKENGATE_SIGNING_KEYS` secret, or generated and kept in KV in the demo environment.

use serde_json::{json, Value};
use worker::Env;

use tokengate::Alg;
use tokengate::SigningKey;

use crate::io::JWKS_KV;

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
        tokengate::public_jwks(&self.0)
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
