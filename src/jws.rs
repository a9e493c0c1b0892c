//! Strict parsing of compact JWS tokens and of JSON without duplicate keys.
//!
//! The size cap is checked before anything else; then the token must be exactly three
//! base64url parts (no padding, no whitespace, canonical trailing bits), the header and
//! payload must be JSON objects with no duplicate key at any depth, and the signature
//! part must not be empty.

use std::fmt;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::{Claims, TokenError};

/// The default cap on the size of a token, in bytes (16 KiB).
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Header parameters tokengate understands. Anything listed in `crit` is rejected,
/// since tokengate implements no JWS extension (this includes `b64`, RFC 7797).
const UNDERSTOOD_CRIT: &[&str] = &[];

/// Strict base64url: URL-safe alphabet, no padding, canonical trailing bits.
pub(crate) const B64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(false),
);

/// Decodes strict base64url (the JWS/JWK encoding), returning `None` on any deviation.
pub fn b64_decode(s: &str) -> Option<Vec<u8>> {
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return None;
    }
    B64.decode(s).ok()
}

/// Encodes bytes as base64url without padding.
pub fn b64_encode(bytes: &[u8]) -> String {
    B64.encode(bytes)
}

/// A compact JWS split and decoded, not yet verified.
#[derive(Debug, Clone)]
pub struct Jws<'a> {
    /// The decoded protected header (a JSON object).
    pub header: Claims,
    /// `BASE64URL(header) || '.' || BASE64URL(payload)`: the bytes the signature covers.
    pub signing_input: &'a str,
    /// The decoded payload bytes (not necessarily JSON at this layer).
    pub payload: Vec<u8>,
    /// The decoded signature bytes (never empty).
    pub signature: Vec<u8>,
}

impl Jws<'_> {
    /// The header's `alg` value.
    pub fn alg(&self) -> Result<&str, TokenError> {
        match self.header.get("alg") {
            Some(Value::String(s)) => Ok(s),
            Some(_) => Err(TokenError::Malformed("header alg is not a string".into())),
            None => Err(TokenError::Malformed("header has no alg".into())),
        }
    }

    /// The header's `kid` value, if any.
    pub fn kid(&self) -> Result<Option<&str>, TokenError> {
        match self.header.get("kid") {
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(TokenError::Malformed("header kid is not a string".into())),
            None => Ok(None),
        }
    }

    /// Parses the payload as a JSON object without duplicate keys.
    pub fn claims(&self) -> Result<Claims, TokenError> {
        parse_object(&self.payload).map_err(|why| TokenError::Malformed(format!("payload {why}")))
    }
}

/// Splits and decodes a compact JWS, enforcing `max_len` before any other work, and
/// applies the header rules that do not depend on configuration (`crit`, `b64`).
pub fn parse(token: &str, max_len: usize) -> Result<Jws<'_>, TokenError> {
    if token.len() > max_len {
        return Err(TokenError::TooLarge {
            len: token.len(),
            max: max_len,
        });
    }
    if token.is_empty() {
        return Err(TokenError::Malformed("token is empty".into()));
    }
    let mut parts = token.splitn(3, '.');
    let (h, p, s) = match (parts.next(), parts.next(), parts.next()) {
        (Some(h), Some(p), Some(s)) => (h, p, s),
        _ => {
            return Err(TokenError::Malformed(
                "expected three dot-separated parts (compact JWS)".into(),
            ))
        }
    };
    if s.contains('.') {
        return Err(TokenError::Malformed(
            "too many dot-separated parts (JWE and JSON serialisations are not accepted)".into(),
        ));
    }
    if h.is_empty() {
        return Err(TokenError::Malformed("header part is empty".into()));
    }
    if s.is_empty() {
        return Err(TokenError::Malformed(
            "signature part is empty (unsecured tokens are never accepted)".into(),
        ));
    }
    let header_bytes = b64_decode(h)
        .ok_or_else(|| TokenError::Malformed("header is not strict base64url".into()))?;
    let payload = b64_decode(p)
        .ok_or_else(|| TokenError::Malformed("payload is not strict base64url".into()))?;
    let signature = b64_decode(s)
        .ok_or_else(|| TokenError::Malformed("signature is not strict base64url".into()))?;
    let header = parse_object(&header_bytes)
        .map_err(|why| TokenError::Malformed(format!("header {why}")))?;
    check_header(&header)?;
    Ok(Jws {
        header,
        signing_input: &token[..h.len() + 1 + p.len()],
        payload,
        signature,
    })
}

fn check_header(header: &Claims) -> Result<(), TokenError> {
    match header.get("alg") {
        Some(Value::String(alg)) if alg.eq_ignore_ascii_case("none") => {
            return Err(TokenError::AlgNotAllowed(
                "alg none is never accepted".into(),
            ))
        }
        Some(Value::String(_)) => {}
        Some(_) => return Err(TokenError::Malformed("header alg is not a string".into())),
        None => return Err(TokenError::Malformed("header has no alg".into())),
    }
    if let Some(crit) = header.get("crit") {
        let names = match crit {
            Value::Array(a) if !a.is_empty() => a,
            _ => {
                return Err(TokenError::Malformed(
                    "header crit must be a non-empty array of names".into(),
                ))
            }
        };
        for name in names {
            let name = name.as_str().ok_or_else(|| {
                TokenError::Malformed("header crit must contain only strings".into())
            })?;
            if !UNDERSTOOD_CRIT.contains(&name) {
                return Err(TokenError::CritUnsupported(name.to_string()));
            }
        }
    }
    // RFC 7797: b64 only has meaning when listed in crit, and we implement neither.
    if header.contains_key("b64") {
        return Err(TokenError::CritUnsupported("b64".into()));
    }
    match header.get("kid") {
        None | Some(Value::String(_)) => {}
        Some(_) => return Err(TokenError::Malformed("header kid is not a string".into())),
    }
    Ok(())
}

/// Parses bytes as a JSON object, rejecting duplicate keys at any depth.
pub fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, String> {
    match parse_json(bytes)? {
        Value::Object(map) => Ok(map),
        _ => Err("is not a JSON object".into()),
    }
}

/// Parses bytes as JSON, rejecting duplicate object keys at any depth.
pub fn parse_json(bytes: &[u8]) -> Result<Value, String> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = NoDup
        .deserialize(&mut de)
        .map_err(|e| format!("is not valid JSON ({})", short(&e)))?;
    de.end()
        .map_err(|e| format!("has trailing data ({})", short(&e)))?;
    Ok(value)
}

fn short(e: &serde_json::Error) -> String {
    let s = e.to_string();
    let mut s = s.chars().take(120).collect::<String>();
    s.make_ascii_lowercase();
    s
}

/// A `DeserializeSeed` that builds a `serde_json::Value` and fails on duplicate keys.
struct NoDup;

impl<'de> DeserializeSeed<'de> for NoDup {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(NoDupVisitor)
    }
}

struct NoDupVisitor;

impl<'de> Visitor<'de> for NoDupVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any json value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        NoDup.deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(NoDup)? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            // The map itself tells a duplicate (no second set of the keys to hash).
            if out.contains_key(&key) {
                return Err(de::Error::custom(format_args!("duplicate key {key:?}")));
            }
            let v = map.next_value_seed(NoDup)?;
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    fn tok(h: &str, p: &str) -> String {
        format!(
            "{}.{}.c2ln",
            b64_encode(h.as_bytes()),
            b64_encode(p.as_bytes())
        )
    }

    #[test]
    fn parses_a_well_formed_token() {
        let t = tok(r#"{"alg":"RS256","kid":"k"}"#, r#"{"sub":"a"}"#);
        let jws = parse(&t, 1000).unwrap();
        assert_eq!(jws.alg().unwrap(), "RS256");
        assert_eq!(jws.kid().unwrap(), Some("k"));
        assert_eq!(jws.claims().unwrap()["sub"], "a");
        assert_eq!(jws.signature, b"sig");
    }

    #[test]
    fn size_cap_comes_first() {
        let t = "x".repeat(2000);
        assert_eq!(
            parse(&t, 1000).unwrap_err(),
            TokenError::TooLarge {
                len: 2000,
                max: 1000
            }
        );
    }

    #[test]
    fn rejects_structure_errors() {
        for t in ["", "a", "a.b", "a.b.c.d", "..", ".e30.c2ln", "e30.e30."] {
            assert_eq!(parse(t, 1000).unwrap_err().code(), "token_malformed", "{t}");
        }
        let dots = ".".repeat(100_000);
        assert_eq!(parse(&dots, 200_000).unwrap_err().code(), "token_malformed");
    }

    #[test]
    fn rejects_padding_whitespace_and_noncanonical_bits() {
        let h = b64_encode(br#"{"alg":"RS256"}"#);
        let p = b64_encode(br#"{"a":1}"#);
        assert!(parse(&format!("{h}.{p}.c2ln"), 1000).is_ok());
        assert!(parse(&format!("{h}=.{p}.c2ln"), 1000).is_err());
        assert!(parse(&format!("{h}.{p}.cw"), 1000).is_ok());
        assert!(
            parse(&format!("{h}.{p}.cx"), 1000).is_err(),
            "non-canonical"
        );
        assert!(parse(&format!("{h}.{p} .c2ln"), 1000).is_err());
        assert!(parse(&format!("{h}.{p}.c2l+"), 1000).is_err());
        assert!(parse(&format!("{h}.{p}.c2l\n"), 1000).is_err());
    }

    #[test]
    fn duplicate_keys_are_rejected_at_any_depth() {
        assert!(parse_object(br#"{"a":1,"a":2}"#).is_err());
        assert!(parse_object(br#"{"a":{"b":1,"b":1}}"#).is_err());
        assert!(parse_object(br#"{"a":[{"b":1,"b":1}]}"#).is_err());
        assert!(parse_object(br#"{"a":{"b":1},"b":{"b":2}}"#).is_ok());
        assert!(parse_object(br#"{"a":1} x"#).is_err());
        assert!(parse_object(br#"[1]"#).is_err());
    }

    #[test]
    fn header_rules() {
        let err = |h: &str| parse(&tok(h, "{}"), 1000).unwrap_err().code();
        assert_eq!(err(r#"{"alg":"none"}"#), "alg_not_allowed");
        assert_eq!(err(r#"{"alg":"NoNe"}"#), "alg_not_allowed");
        assert_eq!(err(r#"{"typ":"JWT"}"#), "token_malformed");
        assert_eq!(err(r#"{"alg":1}"#), "token_malformed");
        assert_eq!(err(r#"{"alg":"RS256","crit":["exp"]}"#), "crit_unsupported");
        assert_eq!(
            err(r#"{"alg":"RS256","b64":false,"crit":["b64"]}"#),
            "crit_unsupported"
        );
        assert_eq!(err(r#"{"alg":"RS256","b64":true}"#), "crit_unsupported");
        assert_eq!(err(r#"{"alg":"RS256","crit":[]}"#), "token_malformed");
        assert_eq!(err(r#"{"alg":"RS256","kid":5}"#), "token_malformed");
        assert_eq!(err(r#"{"alg":"RS256","alg":"RS256"}"#), "token_malformed");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(parse_json(deep.as_bytes()).is_err());
    }
}
