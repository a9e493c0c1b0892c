//! The edge's own token-signing keys (for the token exchange): read from the
//! `TOKENGATE_SIGNING_KEYS` secret, or generated and kept in KV in the demo environment.
//!
//! The keys sign through WebCrypto (`crypto.subtle`), not Rust: the Worker's wasm
//! carries no elliptic-curve arithmetic for signing. [`EdgeKey`] reads and writes the
//! same private JWKs as `tokengate::SigningKey` (`kid`, `alg`, `use`, the public
//! members and `d`), so keys made by `cargo run --example keygen` and keys already kept
//! in KV keep working.

use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use serde_json::{json, Map, Value};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::Env;

use tokengate::{b64_decode, b64_encode, Alg, Claims};

use crate::io::{Kv, JWKS_KV};

/// The secret holding the signing keys: `{"keys": [current, previous, ...]}` private JWKs.
pub const SIGNING_KEYS_SECRET: &str = "TOKENGATE_SIGNING_KEYS";
/// Where the demo environment keeps generated signing keys.
const DEMO_KEYS_KV: &str = "demo:edge-signing-keys:v1";

/// The edge's signing keys; the first signs, all are published.
pub struct SigningKeys(pub Vec<EdgeKey>);

impl SigningKeys {
    /// Reads the keys from the `TOKENGATE_SIGNING_KEYS` secret; in the demo
    /// environment, generates and keeps them in KV when the secret is not set.
    pub async fn load(env: &Env, demo: bool) -> Result<SigningKeys, String> {
        if let Ok(secret) = env.secret(SIGNING_KEYS_SECRET) {
            return parse(&secret.to_string()).await;
        }
        if !demo {
            return Err(format!(
                "the {SIGNING_KEYS_SECRET} secret is not set (generate one with `cargo run -q --example keygen`)"
            ));
        }
        let kv = Kv::bound(env, JWKS_KV).ok_or(format!("no kv binding {JWKS_KV}"))?;
        if let Some(text) = kv.get(DEMO_KEYS_KV).await {
            if let Ok(keys) = parse(&text).await {
                return Ok(keys);
            }
        }
        let key = EdgeKey::generate(Alg::ES256).await?;
        let text = json!({ "keys": [key.private_jwk()] }).to_string();
        kv.put(DEMO_KEYS_KV, &text, None).await;
        Ok(SigningKeys(vec![key]))
    }

    /// The public JWKS of every key (current and previous).
    pub fn jwks(&self) -> Value {
        json!({ "keys": self.0.iter().map(EdgeKey::public_jwk).collect::<Vec<_>>() })
    }

    /// Points the configured own issuer at these keys (inline, no network fetch).
    /// ([`tokengate::inline_issuer_jwks`], which `tokengate::check_worker_config` does
    /// with a placeholder key).
    pub fn inject(&self, config: &mut Value, own_issuer: &str) {
        tokengate::inline_issuer_jwks(config, own_issuer, &self.jwks());
    }
}

async fn parse(text: &str) -> Result<SigningKeys, String> {
    let doc: Value =
        serde_json::from_str(text).map_err(|_| format!("{SIGNING_KEYS_SECRET} is not JSON"))?;
    let entries = doc
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| format!("{SIGNING_KEYS_SECRET} has no \"keys\" array"))?;
    if entries.is_empty() {
        return Err(format!("{SIGNING_KEYS_SECRET} has no key"));
    }
    if entries.iter().any(|k| {
        !matches!(
            k.get("alg").and_then(Value::as_str),
            Some("ES256" | "EdDSA") | None
        )
    }) {
        return Err(format!(
            "{SIGNING_KEYS_SECRET}: only ES256 and EdDSA keys sign"
        ));
    }
    let mut keys = Vec::with_capacity(entries.len());
    for k in entries {
        keys.push(EdgeKey::from_private_jwk(k).await?);
    }
    Ok(SigningKeys(keys))
}

/// A private ES256 or EdDSA key imported into WebCrypto (not extractable), with its
/// key id and its private JWK as read or generated.
pub struct EdgeKey {
    /// The key id published in the JWKS and put in token headers.
    pub kid: String,
    alg: Alg,
    /// The private JWK: `kid`, `alg`, `use`, the public members and `d`.
    private: Map<String, Value>,
    /// The imported `CryptoKey` (usage `sign`).
    key: JsValue,
}

impl EdgeKey {
    /// Generates a new key for `alg` (ES256 or EdDSA) with WebCrypto and a random `kid`.
    pub async fn generate(alg: Alg) -> Result<EdgeKey, String> {
        let subtle = subtle()?;
        let usages = Array::of2(&"sign".into(), &"verify".into());
        let pair = call(
            &subtle,
            "generateKey",
            &Array::of3(&key_algorithm(alg)?.into(), &true.into(), &usages),
        )
        .await?;
        let private = Reflect::get(&pair, &"privateKey".into())
            .map_err(|_| "crypto.subtle.generateKey: no private key".to_string())?;
        let exported = call(&subtle, "exportKey", &Array::of2(&"jwk".into(), &private)).await?;
        let text = js_sys::JSON::stringify(&exported)
            .ok()
            .and_then(|s| s.as_string())
            .ok_or("crypto.subtle.exportKey: the JWK is not JSON")?;
        let jwk: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        let kid = tokengate::random_id().map_err(|e| e.to_string())?;
        let mut jwk = jwk.as_object().cloned().unwrap_or_default();
        jwk.insert("kid".into(), kid.into());
        jwk.insert("alg".into(), alg.as_str().into());
        Self::from_private_jwk(&Value::Object(jwk)).await
    }

    /// Reads a private JWK (as `tokengate::SigningKey::private_jwk` writes it):
    /// `kid`, `alg` (ES256 or EdDSA) and the key's members (`x`, `y` for P-256, and
    /// `d`), checked by WebCrypto's import.
    pub async fn from_private_jwk(jwk: &Value) -> Result<EdgeKey, String> {
        let bad = |m: &str| format!("invalid signing key: {m}");
        let (kid, alg) = tokengate::private_jwk_id(jwk).map_err(|e| bad(&e))?;
        let (kty, crv, members): (&str, &str, &[&str]) = match alg {
            Alg::ES256 => ("EC", "P-256", &["x", "y", "d"]),
            Alg::EdDSA => ("OKP", "Ed25519", &["x", "d"]),
            other => return Err(format!("signing with {other} is not supported")),
        };
        let mut private = Map::new();
        private.insert("kty".into(), kty.into());
        private.insert("crv".into(), crv.into());
        for m in members {
            let v = jwk
                .get(*m)
                .and_then(Value::as_str)
                .filter(|v| b64_decode(v).is_some_and(|b| b.len() == 32))
                .ok_or_else(|| bad(&format!("{m} is missing or not 32 bytes of base64url")))?;
            private.insert((*m).into(), v.into());
        }
        // The import checks the members (a point on the curve, `d` matching it).
        let subtle = subtle()?;
        let jwk_js = js_sys::JSON::parse(&Value::Object(private.clone()).to_string())
            .map_err(|_| bad("not a JSON object"))?;
        let key = call(
            &subtle,
            "importKey",
            &Array::of5(
                &"jwk".into(),
                &jwk_js,
                &key_algorithm(alg)?.into(),
                &false.into(),
                &Array::of1(&"sign".into()),
            ),
        )
        .await
        .map_err(|e| bad(&e))?;
        private.insert("kid".into(), kid.clone().into());
        private.insert("alg".into(), alg.as_str().into());
        private.insert("use".into(), "sig".into());
        Ok(EdgeKey {
            kid,
            alg,
            private,
            key,
        })
    }

    /// The algorithm this key signs with.
    pub fn alg(&self) -> Alg {
        self.alg
    }

    /// The public JWK (`kid`, `alg`, `use: sig` and the public members only).
    pub fn public_jwk(&self) -> Value {
        let mut public = self.private.clone();
        public.remove("d");
        Value::Object(public)
    }

    /// The private JWK (the public members plus `d`).
    pub fn private_jwk(&self) -> Value {
        Value::Object(self.private.clone())
    }

    /// Signs `claims` into a compact JWS with header `{alg, kid, typ}` (`typ` omitted
    /// when `None`), as `tokengate::SigningKey::sign` does.
    pub async fn sign(&self, claims: &Claims, typ: Option<&str>) -> Result<String, String> {
        let mut header = Map::new();
        header.insert("alg".into(), self.alg.as_str().into());
        header.insert("kid".into(), self.kid.clone().into());
        if let Some(t) = typ {
            header.insert("typ".into(), t.into());
        }
        let h = b64_encode(Value::Object(header).to_string().as_bytes());
        let p = b64_encode(Value::Object(claims.clone()).to_string().as_bytes());
        let input = format!("{h}.{p}");
        let params = match self.alg {
            Alg::ES256 => object(&[("name", "ECDSA"), ("hash", "SHA-256")]),
            _ => object(&[("name", "Ed25519")]),
        };
        let signature = call(
            &subtle()?,
            "sign",
            &Array::of3(
                &params.into(),
                &self.key,
                &Uint8Array::from(input.as_bytes()).into(),
            ),
        )
        .await?;
        // ECDSA answers the raw `r || s` JWS wants, Ed25519 its 64 bytes.
        let signature = Uint8Array::new(&signature).to_vec();
        if signature.len() != 64 {
            return Err(format!(
                "crypto.subtle.sign: a {}-byte signature",
                signature.len()
            ));
        }
        Ok(format!("{input}.{}", b64_encode(&signature)))
    }
}

/// The WebCrypto key algorithm of an edge key.
fn key_algorithm(alg: Alg) -> Result<Object, String> {
    match alg {
        Alg::ES256 => Ok(object(&[("name", "ECDSA"), ("namedCurve", "P-256")])),
        Alg::EdDSA => Ok(object(&[("name", "Ed25519")])),
        other => Err(format!("signing with {other} is not supported")),
    }
}

fn object(members: &[(&str, &str)]) -> Object {
    let o = Object::new();
    for (k, v) in members {
        let _ = Reflect::set(&o, &(*k).into(), &(*v).into());
    }
    o
}

/// `globalThis.crypto.subtle`.
fn subtle() -> Result<JsValue, String> {
    let crypto = Reflect::get(&js_sys::global(), &"crypto".into())
        .ok()
        .filter(JsValue::is_object)
        .ok_or("no crypto in this runtime")?;
    Reflect::get(&crypto, &"subtle".into())
        .ok()
        .filter(JsValue::is_object)
        .ok_or_else(|| "no crypto.subtle in this runtime".to_string())
}

/// `subtle[method](...args)`, awaited; a throw or a rejection is an error naming the
/// method.
async fn call(subtle: &JsValue, method: &str, args: &Array) -> Result<JsValue, String> {
    let fail = |e: JsValue| {
        let why = e
            .dyn_ref::<js_sys::Error>()
            .map(|e| String::from(e.message()))
            .or_else(|| e.as_string())
            .unwrap_or_else(|| "failed".into());
        format!("crypto.subtle.{method}: {why}")
    };
    let f: Function = Reflect::get(subtle, &method.into())
        .ok()
        .and_then(|f| f.dyn_into().ok())
        .ok_or_else(|| format!("crypto.subtle.{method} is missing"))?;
    let pending = Reflect::apply(&f, subtle, args).map_err(fail)?;
    let promise = pending
        .dyn_into::<Promise>()
        .unwrap_or_else(|v| Promise::resolve(&v));
    JsFuture::from(promise).await.map_err(fail)
}
