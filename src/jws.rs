//! Strict parsing of compact JWS tokens and of JSON without duplicate keys.
//!
//! The size cap is checked before anything else; then the token must be exactly three
//! base64url parts (no padding, no whitespace, canonical trailing bits), the header and
//! payload must be JSON objects with no duplicate key at any depth, and the signature
//! part must not be empty.
//!
//! [`token_form`] says what a string that is not a compact JWS is instead (an encrypted
//! JWE, an opaque token, a pasted `Bearer`, ...), judged by its shape alone; a
//! structural `token_malformed` message names it, never repeating the token's content.

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
    // A structural failure says what the token is instead, when its form tells more
    // (a JWE, an opaque token, a pasted `Bearer`, whitespace, a part too many or few).
    let malformed = |why: &str| {
        TokenError::Malformed(
            token_form(token, max_len)
                .malformed_reason()
                .unwrap_or_else(|| why.to_string()),
        )
    };
    let mut parts = token.splitn(3, '.');
    let (h, p, s) = match (parts.next(), parts.next(), parts.next()) {
        (Some(h), Some(p), Some(s)) => (h, p, s),
        _ => {
            return Err(malformed(
                "expected three dot-separated parts (compact JWS)",
            ))
        }
    };
    if s.contains('.') {
        return Err(malformed(
            "too many dot-separated parts (JWE and JSON serialisations are not accepted)",
        ));
    }
    if h.is_empty() {
        return Err(malformed("header part is empty"));
    }
    if s.is_empty() {
        return Err(malformed(
            "signature part is empty (unsecured tokens are never accepted)",
        ));
    }
    let header_bytes = b64_decode(h).ok_or_else(|| malformed("header is not strict base64url"))?;
    let payload = b64_decode(p).ok_or_else(|| malformed("payload is not strict base64url"))?;
    let signature = b64_decode(s).ok_or_else(|| malformed("signature is not strict base64url"))?;
    let header = parse_object(&header_bytes).map_err(|why| malformed(&format!("header {why}")))?;
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

/// The shape of a string presented as a token, from [`token_form`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenForm {
    /// The empty string.
    Empty,
    /// Larger than the size cap; nothing else is looked at.
    TooLarge,
    /// Three dot-separated parts, the first a base64url JSON object: a compact JWS (a
    /// signed JWT). The strict parser may still refuse it (`alg` none, `crit`, a
    /// payload that is not JSON, ...).
    Jws,
    /// Five dot-separated parts, the first a base64url JSON object with `enc`: a compact
    /// JWE (RFC 7516). Its header is readable; its claims are encrypted for the API.
    Jwe,
    /// Only RFC 6750 token characters, no empty part and no JOSE header: an opaque
    /// (reference) token, which only its issuer can read (e.g. Auth0's access token for
    /// an authorization request that names no `audience`).
    Opaque,
    /// Starts with an authorization scheme (`Bearer ...`, `Authorization: ...`): a
    /// pasted header value rather than the token alone.
    SchemePrefixed,
    /// Contains whitespace or line breaks.
    Whitespace,
    /// A JSON document (e.g. the JWS or JWE JSON serialisation), not a compact token.
    Json,
    /// A JOSE header followed by the wrong number of dot-separated parts (the count;
    /// neither three nor five).
    WrongParts(usize),
    /// None of these: characters outside the token alphabet, a damaged header.
    Other,
}

impl TokenForm {
    /// The snake_case name JS callers see: `empty`, `too_large`, `jws`, `jwe`, `opaque`,
    /// `scheme_prefixed`, `whitespace`, `json`, `wrong_parts` or `other`.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenForm::Empty => "empty",
            TokenForm::TooLarge => "too_large",
            TokenForm::Jws => "jws",
            TokenForm::Jwe => "jwe",
            TokenForm::Opaque => "opaque",
            TokenForm::SchemePrefixed => "scheme_prefixed",
            TokenForm::Whitespace => "whitespace",
            TokenForm::Json => "json",
            TokenForm::WrongParts(_) => "wrong_parts",
            TokenForm::Other => "other",
        }
    }

    /// Why a token of this form is not a compact JWS, in the lowercase words of a
    /// `token_malformed` message (without the token's content), or `None` when the
    /// form itself says nothing more than the parser's own reason (`jws`, `other`,
    /// and the sizes, which have their own errors).
    pub fn malformed_reason(self) -> Option<String> {
        let text = match self {
            TokenForm::Jwe => {
                "it is an encrypted jwe, not a signed jws: its claims are encrypted for the api, and tokengate verifies signed access tokens only"
            }
            TokenForm::Opaque => {
                "it is an opaque token, not a jwt: only its issuer can read it; request a jwt access token (auth0: name the api's audience) or introspect it at the issuer (rfc 7662)"
            }
            TokenForm::SchemePrefixed => {
                "it starts with an authorization scheme (bearer); pass the token alone"
            }
            TokenForm::Whitespace => "it contains whitespace or line breaks",
            TokenForm::Json => {
                "it is a json document, not a compact jws (json serialisations are not accepted)"
            }
            TokenForm::WrongParts(n) => {
                return Some(format!(
                    "a jwt has three dot-separated parts, this has {n}"
                ))
            }
            TokenForm::Empty | TokenForm::TooLarge | TokenForm::Jws | TokenForm::Other => {
                return None
            }
        };
        Some(text.to_string())
    }
}

/// RFC 6750 `b64token`: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_b64token(s: &str) -> bool {
    let body = s.trim_end_matches('=');
    !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

/// Whether `s` starts with `prefix`, ASCII case-insensitively (never splits a char).
pub(crate) fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.as_bytes()
        .get(..prefix.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(prefix.as_bytes()))
}

/// The JOSE header in the first dot-separated part: strict base64url of a JSON object
/// without duplicate keys.
fn header_of(first: &str) -> Option<Claims> {
    parse_object(&b64_decode(first)?).ok()
}

/// What `token` is, judged by its shape: checks `max_len` first, then decodes at most
/// the first dot-separated part (never the payload).
pub fn token_form(token: &str, max_len: usize) -> TokenForm {
    if token.len() > max_len {
        return TokenForm::TooLarge;
    }
    if token.is_empty() {
        return TokenForm::Empty;
    }
    let scheme = starts_with_ignore_case(token, "authorization:")
        || (starts_with_ignore_case(token, "bearer")
            && token.as_bytes().get(6).is_some_and(u8::is_ascii_whitespace));
    if scheme {
        return TokenForm::SchemePrefixed;
    }
    if token.contains(char::is_whitespace) {
        return TokenForm::Whitespace;
    }
    if token.starts_with('{') {
        return TokenForm::Json;
    }
    let parts = token.split('.').count();
    let first = token.split('.').next().unwrap_or_default();
    match header_of(first) {
        Some(h) => match parts {
            3 => TokenForm::Jws,
            5 if h.contains_key("enc") => TokenForm::Jwe,
            n => TokenForm::WrongParts(n),
        },
        // `eyJ` is base64url of `{"`: a JOSE header that does not decode.
        None if first.starts_with("eyJ") => match parts {
            3 | 5 => TokenForm::Other,
            n => TokenForm::WrongParts(n),
        },
        None if is_b64token(token) && token.split('.').all(|p| !p.is_empty()) => TokenForm::Opaque,
        None => TokenForm::Other,
    }
}

/// The protected header of a compact JWE ([`TokenForm::Jwe`]): readable without the
/// decryption key (`alg`, `enc`, `kid`, `cty`, ...). `None` for any other form.
pub fn jwe_header(token: &str, max_len: usize) -> Option<Claims> {
    match token_form(token, max_len) {
        TokenForm::Jwe => header_of(token.split('.').next()?),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;
    use serde_json::json;

    fn seg(v: &Value) -> String {
        b64_encode(v.to_string().as_bytes())
    }

    fn jwe() -> String {
        let h = seg(&json!({"alg": "RSA-OAEP", "enc": "A256GCM", "kid": "k1"}));
        format!("{h}.ZW5jcnlwdGVka2V5.aXZpdml2aXZpdg.Y2lwaGVydGV4dA.dGFndGFndGFn")
    }

    #[test]
    fn forms() {
        let h = seg(&json!({"alg": "RS256"}));
        let p = seg(&json!({"sub": "a"}));
        let cases: Vec<(String, TokenForm)> = vec![
            (String::new(), TokenForm::Empty),
            (format!("{h}.{p}.c2ln"), TokenForm::Jws),
            (format!("{h}.{p}."), TokenForm::Jws),
            (jwe(), TokenForm::Jwe),
            (
                format!("{}.a.b.c.d", seg(&json!({"alg": "dir", "enc": "A128GCM"}))),
                TokenForm::Jwe,
            ),
            (format!("{h}.a.b.c.d"), TokenForm::WrongParts(5)),
            ("vL2QvbUy9dN3ZkWUyB-1Ic1SOzoN_y6L".into(), TokenForm::Opaque),
            ("ya29.a0AfH6SMBx-Qk".into(), TokenForm::Opaque),
            ("abcd.efgh.ijkl".into(), TokenForm::Opaque),
            ("2YotnFZFEjr1zCsicMWpAA==".into(), TokenForm::Opaque),
            (format!("Bearer {h}.{p}.c2ln"), TokenForm::SchemePrefixed),
            (format!("bearer\t{h}.{p}.c2ln"), TokenForm::SchemePrefixed),
            ("Authorization: Bearer x".into(), TokenForm::SchemePrefixed),
            (format!("{h}.{p}\n.c2ln"), TokenForm::Whitespace),
            (format!(" {h}.{p}.c2ln"), TokenForm::Whitespace),
            ("bearer".into(), TokenForm::Opaque),
            (format!("{h}.{p}"), TokenForm::WrongParts(2)),
            (format!("{h}.{p}.c2ln.c2ln"), TokenForm::WrongParts(4)),
            (h.clone(), TokenForm::WrongParts(1)),
            ("eyJhbGciOiJSUzI1NiJ9=.e30.c2ln".into(), TokenForm::Other),
            ("eyJhbGciOi.e30".into(), TokenForm::WrongParts(2)),
            (
                r#"{"payload":"e30","signatures":[]}"#.into(),
                TokenForm::Json,
            ),
            (".e30.c2ln".into(), TokenForm::Other),
            ("..".into(), TokenForm::Other),
            ("tök".into(), TokenForm::Other),
            ("a$b".into(), TokenForm::Other),
        ];
        for (t, want) in cases {
            assert_eq!(token_form(&t, 10_000), want, "{t:?}");
        }
        assert_eq!(token_form(&"a".repeat(20), 19), TokenForm::TooLarge);
        assert_eq!(token_form(&"a".repeat(20), 20), TokenForm::Opaque);
    }

    #[test]
    fn jwe_header_is_readable() {
        let h = jwe_header(&jwe(), 10_000).unwrap();
        assert_eq!(h["alg"], "RSA-OAEP");
        assert_eq!(h["enc"], "A256GCM");
        assert_eq!(h["kid"], "k1");
        assert!(jwe_header(&jwe(), 10).is_none(), "the cap comes first");
        assert!(jwe_header("abc", 10_000).is_none());
    }

    #[test]
    fn reasons_never_echo_the_token() {
        for f in [
            TokenForm::Jwe,
            TokenForm::Opaque,
            TokenForm::SchemePrefixed,
            TokenForm::Whitespace,
            TokenForm::Json,
            TokenForm::WrongParts(4),
        ] {
            let r = f.malformed_reason().unwrap();
            assert_eq!(r, r.to_lowercase(), "{r}");
            assert!(r.is_ascii());
        }
        for f in [
            TokenForm::Jws,
            TokenForm::Other,
            TokenForm::Empty,
            TokenForm::TooLarge,
        ] {
            assert_eq!(f.malformed_reason(), None);
        }
        assert!(TokenForm::Opaque
            .malformed_reason()
            .unwrap()
            .contains("audience"));
        assert!(TokenForm::Opaque
            .malformed_reason()
            .unwrap()
            .contains("rfc 7662"));
    }

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
    fn malformed_messages_say_what_the_token_is() {
        let msg = |t: &str| {
            let e = parse(t, 10_000).unwrap_err();
            assert_eq!(e.code(), "token_malformed", "{t}");
            let m = e.to_string();
            assert!(!m.contains(t), "the message repeats the token: {m}");
            m
        };
        let h = b64_encode(br#"{"alg":"RSA-OAEP","enc":"A256GCM"}"#);
        let jwt = tok(r#"{"alg":"RS256"}"#, "{}");
        assert!(msg(&format!("{h}.a2V5.aXY.Y2lwaGVy.dGFn")).contains("encrypted jwe"));
        assert!(msg("vL2QvbUy9dN3ZkWUyB-1Ic1SOzoN_y6L").contains("opaque token"));
        assert!(msg("abcd.efgh.ijkl").contains("opaque token"));
        assert!(msg(&format!("Bearer {jwt}")).contains("authorization scheme"));
        assert!(msg(&format!("{jwt}\n")).contains("whitespace"));
        assert!(msg(&jwt[..jwt.rfind('.').unwrap()]).contains("this has 2"));
        assert!(msg(&format!("{jwt}.c2ln")).contains("this has 4"));
        assert!(msg(r#"{"payload":"e30"}"#).contains("json document"));
        // Otherwise the parser's own reason.
        assert!(msg("eyJhbGciOiJSUzI1NiJ9=.e30.c2ln").contains("header is not strict base64url"));
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
