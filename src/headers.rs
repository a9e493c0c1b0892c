//! What crosses the edge in HTTP headers and the query string: the identity header
//! names, which inbound headers a forwarder must drop, the `_method` override check,
//! and the encoding of identity header values.
//!
//! # Inbound headers
//!
//! Origins do not all read header names the way the edge does: CGI-style servers
//! (Rack/Puma, WSGI, PHP) turn `X_Tokengate_Kind` and `X-Tokengate-Kind` into the same
//! `HTTP_X_TOKENGATE_KIND`. So a header is compared by its [`normalize_name`] (ASCII
//! lowercase, `_` read as `-`), and [`is_reserved_inbound`] names every inbound header
//! a forwarder drops on every path: identity headers (`x-tokengate-*`), the
//! origin-secret header and the method-override headers ([`METHOD_OVERRIDE_HEADERS`]),
//! which would let Rails, Laravel or Symfony run a `DELETE` that was authorized as a
//! `POST`.
//!
//! # Identity header values
//!
//! A claim may hold anything JSON can: control characters, non-ASCII text, spaces.
//! [`encode_value`] percent-encodes every byte of the UTF-8 text outside visible ASCII
//! (`0x21..=0x7E`), the space and `%` itself, as `%XX`; [`encode_list`] joins encoded
//! elements with one space. The encoding is lossless (`decodeURIComponent` in JS,
//! `urllib.parse.unquote` in Python give the value back) and leaves typical values
//! (`auth0|abc`, `abc@clients`, `https://tenant/`) unchanged:
//!
//! ```
//! use tokengate::headers::{encode_list, encode_value};
//! assert_eq!(encode_value("auth0|abc"), "auth0|abc");
//! assert_eq!(encode_value("a b\n%é"), "a%20b%0A%25%C3%A9");
//! assert_eq!(encode_list(["read:builds", "x y"]), "read:builds x%20y");
//! ```

use std::borrow::Cow;

use crate::RequestError;

/// The prefix of every identity header; an inbound header whose normalised name starts
/// with it is always dropped.
pub const IDENTITY_PREFIX: &str = "x-tokengate-";
/// `machine` or `user`.
pub const KIND: &str = "x-tokengate-kind";
/// The `sub` claim.
pub const SUBJECT: &str = "x-tokengate-subject";
/// The client the token was issued to.
pub const CLIENT_ID: &str = "x-tokengate-client-id";
/// The client's name from the client registry.
pub const CLIENT_NAME: &str = "x-tokengate-client-name";
/// The granted scopes, space-separated.
pub const SCOPES: &str = "x-tokengate-scopes";
/// The `iss` claim.
pub const ISSUER: &str = "x-tokengate-issuer";
/// The user a token speaks for.
pub const USER_ID: &str = "x-tokengate-user-id";
/// The actor chain of a delegated token, space-separated, current actor first.
pub const ACTOR: &str = "x-tokengate-actor";
/// Every identity header the edge sets.
pub const IDENTITY_HEADERS: [&str; 8] = [
    KIND,
    SUBJECT,
    CLIENT_ID,
    CLIENT_NAME,
    SCOPES,
    ISSUER,
    USER_ID,
    ACTOR,
];
/// The header carrying the origin shared secret unless `edge.origin_secret_header`
/// names another.
pub const DEFAULT_ORIGIN_SECRET_HEADER: &str = "x-tokengate-secret";
/// Headers that make Rails, Laravel, Symfony (and others) run another method than the
/// request's own; never forwarded.
pub const METHOD_OVERRIDE_HEADERS: [&str; 3] = [
    "x-http-method-override",
    "x-method-override",
    "x-http-method",
];
/// The query (and form) parameter those frameworks read as the method.
pub const METHOD_PARAM: &str = "_method";

/// Whether `s` is an RFC 9110 §5.6.2 token: the syntax of method and header names.
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// A header name as an origin may read it: ASCII lowercase, with `_` read as `-`.
pub fn normalize_name(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            '_' => '-',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

/// Whether an inbound header must not reach the origin: its normalised name starts
/// with `x-tokengate-`, equals the normalised `origin_secret_header` (the configured
/// name, or [`DEFAULT_ORIGIN_SECRET_HEADER`]), or is a method-override header.
pub fn is_reserved_inbound(name: &str, origin_secret_header: &str) -> bool {
    is_reserved_inbound_with(name, origin_secret_header, &[])
}

/// [`is_reserved_inbound`], with the names of the configured claim headers
/// (`edge.claim_headers`) reserved as well: an inbound header that an origin would read
/// as one of them is dropped, so a client cannot supply a claim header's value.
pub fn is_reserved_inbound_with(
    name: &str,
    origin_secret_header: &str,
    claim_headers: &[String],
) -> bool {
    // Byte by byte, as `normalize_name` would compare them, without allocating: this
    // runs for every inbound header of every forwarded request.
    let n = name.as_bytes();
    n.get(..IDENTITY_PREFIX.len())
        .is_some_and(|head| same_normalized(head, IDENTITY_PREFIX.as_bytes()))
        || METHOD_OVERRIDE_HEADERS
            .iter()
            .any(|h| same_normalized(n, h.as_bytes()))
        || same_normalized(n, origin_secret_header.as_bytes())
        || claim_headers
            .iter()
            .any(|h| same_normalized(n, h.as_bytes()))
}

/// Headers a claim header may not be named as (normalised): hop-by-hop headers
/// (RFC 9110 §7.6.1), those the edge reads or sets for the request itself, and the
/// method overrides; identity headers and the origin-secret header are checked apart.
pub const CLAIM_HEADER_FORBIDDEN: [&str; 17] = [
    "authorization",
    "proxy-authorization",
    "proxy-authenticate",
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
    "content-type",
    "cookie",
    "dpop",
    "forwarded",
    "x-forwarded-for",
    "cf-connecting-ip",
];

/// [`is_reserved_inbound`] as the source of a JavaScript regular expression, for the
/// `i` (ASCII case-insensitive) flag: a name it matches is exactly a name
/// `is_reserved_inbound(name, origin_secret_header)` reserves (checked against it by
/// this module's tests, with the `regex` crate's same syntax). The Worker drops the
/// inbound headers it matches while copying them for the origin, in one pass on the JS
/// side, instead of handing every name to wasm and back.
///
/// Letters and digits stand for themselves, `-` and `_` for `[-_]`, any other byte for
/// its `\xHH` escape; the identity prefix matches any name it begins.
pub fn reserved_inbound_pattern(origin_secret_header: &str) -> String {
    reserved_inbound_pattern_with(origin_secret_header, &[])
}

/// [`reserved_inbound_pattern`] for [`is_reserved_inbound_with`]: the claim header
/// names reserved too.
pub fn reserved_inbound_pattern_with(
    origin_secret_header: &str,
    claim_headers: &[String],
) -> String {
    fn push_name(out: &mut String, name: &str) {
        for b in name.bytes() {
            match b {
                b'-' | b'_' => out.push_str("[-_]"),
                b if b.is_ascii_alphanumeric() => out.push(char::from(b)),
                b => {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    out.push_str("\\x");
                    out.push(char::from(HEX[usize::from(b >> 4)]));
                    out.push(char::from(HEX[usize::from(b & 0x0f)]));
                }
            }
        }
    }
    let mut out = String::from("^(?:");
    push_name(&mut out, IDENTITY_PREFIX);
    out.push_str("|(?:");
    for (i, name) in METHOD_OVERRIDE_HEADERS
        .iter()
        .copied()
        .chain([origin_secret_header])
        .chain(claim_headers.iter().map(String::as_str))
        .enumerate()
    {
        if i > 0 {
            out.push('|');
        }
        push_name(&mut out, name);
    }
    out.push_str(")$)");
    out
}

/// Whether two names are equal once normalised (ASCII lowercase, `_` read as `-`).
fn same_normalized(a: &[u8], b: &[u8]) -> bool {
    let norm = |c: u8| {
        if c == b'_' {
            b'-'
        } else {
            c.to_ascii_lowercase()
        }
    };
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| norm(*x) == norm(*y))
}

/// Whether a byte goes into an identity header value as it is.
fn is_plain(b: u8) -> bool {
    (0x21..=0x7e).contains(&b) && b != b'%'
}

fn push_encoded(out: &mut String, value: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in value.as_bytes() {
        if is_plain(b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
}

/// One identity header value: every UTF-8 byte outside `0x21..=0x7E`, and `%`, as
/// `%XX` (upper-case hex). Borrowed when nothing needs encoding.
pub fn encode_value(value: &str) -> Cow<'_, str> {
    if value.bytes().all(is_plain) {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 8);
    push_encoded(&mut out, value);
    Cow::Owned(out)
}

/// A list-valued identity header (`scopes`, `actor`): each element encoded as by
/// [`encode_value`] (so an element's own spaces become `%20`), joined with one space.
pub fn encode_list<'a, I>(items: I) -> String
where
    I: IntoIterator<Item = &'a str>,
{
    let mut out = String::new();
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        push_encoded(&mut out, item);
    }
    out
}

/// Calls `f(name, value)` for each identity header a forwarder sets for `principal`, in
/// the order the edge sends them, values already encoded ([`encode_value`],
/// [`encode_list`]): [`KIND`], [`SUBJECT`], [`CLIENT_ID`] and [`CLIENT_NAME`] (when the
/// token names a client; the name when the caller found one in its client registry),
/// [`SCOPES`] (always, empty when none were granted), [`ISSUER`], [`USER_ID`] (when
/// there is one) and [`ACTOR`] (a delegated token's chain). The edge authorizer and the
/// npm package's forwarding helpers both set exactly these.
///
/// ```
/// use tokengate::headers::{for_each_identity_header, KIND, SCOPES};
/// # use tokengate::{DecidedBy, Kind, Principal};
/// # let principal = Principal { kind: Kind::Machine, subject: "svc@clients".into(),
/// #     client_id: Some("svc".into()), user_id: None, scopes: vec!["read:builds".into()],
/// #     roles: vec![], issuer: "https://tenant/".into(), audiences: vec![],
/// #     expires_at: None, decided_by: DecidedBy::Gty, actor: None, binding: None };
/// let mut headers = Vec::new();
/// for_each_identity_header(&principal, None, |name, value| headers.push((name, value.to_owned())));
/// assert_eq!(headers[0], (KIND, "machine".to_owned()));
/// assert!(headers.contains(&(SCOPES, "read:builds".to_owned())));
/// ```
pub fn for_each_identity_header(
    principal: &crate::Principal,
    client_name: Option<&str>,
    mut f: impl FnMut(&'static str, &str),
) {
    let p = principal;
    f(KIND, p.kind.as_str());
    f(SUBJECT, &encode_value(&p.subject));
    if let Some(c) = &p.client_id {
        f(CLIENT_ID, &encode_value(c));
        if let Some(name) = client_name {
            f(CLIENT_NAME, &encode_value(name));
        }
    }
    f(SCOPES, &encode_list(p.scopes.iter().map(String::as_str)));
    f(ISSUER, &encode_value(&p.issuer));
    if let Some(u) = &p.user_id {
        f(USER_ID, &encode_value(u));
    }
    if let Some(actor) = &p.actor {
        f(ACTOR, &encode_list(actor.chain()));
    }
}

/// Percent-decodes a query-string component (`+` is a space, as in forms); a `%` not
/// followed by two hex digits stays as it is.
fn decode_component(s: &str) -> Cow<'_, str> {
    if !s.contains(['%', '+']) {
        return Cow::Borrowed(s);
    }
    let out = crate::percent::decode_form(s.as_bytes(), false).unwrap_or_default();
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// Whether a query parameter name is read as `_method` by some framework: compared
/// percent-decoded, in any case, with leading spaces dropped and ` ` and `.` read as
/// `_` (as PHP does), and with any `[...]` suffix (PHP arrays) cut off.
fn is_method_param(raw_name: &str) -> bool {
    let name = decode_component(raw_name);
    let name = name.trim_start_matches(' ');
    let base = name.split('[').next().unwrap_or("");
    base.len() == METHOD_PARAM.len()
        && base
            .chars()
            .map(|c| match c {
                ' ' | '.' => '_',
                c => c.to_ascii_lowercase(),
            })
            .eq(METHOD_PARAM.chars())
}

/// Checks the `_method` parameters of a request's query string (without the `?`):
/// each must name the request's own `method` (case-insensitively), else the request is
/// refused with [`RequestError::MethodOverride`]. Origins that honour `_method` would
/// otherwise run another method than the one the route was authorized for.
pub fn check_method_param(method: &str, query: &str) -> Result<(), RequestError> {
    for pair in query.split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if is_method_param(name) && !decode_component(value).eq_ignore_ascii_case(method) {
            return Err(RequestError::MethodOverride);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_normalised() {
        assert_eq!(normalize_name("X_Tokengate_Kind"), "x-tokengate-kind");
        assert_eq!(normalize_name("x-TOKENGATE-subject"), "x-tokengate-subject");
        assert_eq!(normalize_name("Content-Type"), "content-type");
    }

    #[test]
    fn reserved_inbound_headers_in_every_spelling() {
        let secret = DEFAULT_ORIGIN_SECRET_HEADER;
        for name in IDENTITY_HEADERS {
            assert!(is_reserved_inbound(name, secret), "{name}");
            assert!(
                is_reserved_inbound(&name.replace('-', "_"), secret),
                "{name}"
            );
            assert!(
                is_reserved_inbound(&name.to_ascii_uppercase(), secret),
                "{name}"
            );
        }
        for name in [
            "X_Tokengate_Kind",
            "x-TOKENGATE-subject",
            "X_TOKENGATE_SECRET",
            "x-tokengate-anything-new",
            "x_tokengate-mixed_Spelling",
            "X-HTTP-Method-Override",
            "x_http_method_override",
            "X-Method-Override",
            "X_HTTP_METHOD",
        ] {
            assert!(is_reserved_inbound(name, secret), "{name}");
        }
        for name in [
            "x-tokengate",
            "xtokengate-kind",
            "authorization",
            "x-custom",
            "x-http-method-overrides",
            "x-origin-key",
        ] {
            assert!(!is_reserved_inbound(name, secret), "{name}");
        }
    }

    #[test]
    fn claim_headers_are_reserved_in_every_spelling_by_both_forms() {
        let claim = vec!["x-org-id".to_string(), "x-tenant.name".to_string()];
        let re = regex::Regex::new(&format!(
            "(?i-u){}",
            reserved_inbound_pattern_with(DEFAULT_ORIGIN_SECRET_HEADER, &claim)
        ))
        .unwrap();
        for name in [
            "x-org-id",
            "X-Org-Id",
            "x_org_id",
            "X_ORG-ID",
            "x-tenant.name",
            "X_TENANT.NAME",
        ] {
            assert!(
                is_reserved_inbound_with(name, DEFAULT_ORIGIN_SECRET_HEADER, &claim),
                "{name}"
            );
            assert!(re.is_match(name), "{name}");
            assert!(
                !is_reserved_inbound(name, DEFAULT_ORIGIN_SECRET_HEADER),
                "{name}"
            );
        }
        for name in [
            "x-org-idx",
            "x-org",
            "org-id",
            "x-tenant-name",
            "x-tenantxname",
        ] {
            assert!(
                !is_reserved_inbound_with(name, DEFAULT_ORIGIN_SECRET_HEADER, &claim),
                "{name}"
            );
            assert!(!re.is_match(name), "{name}");
        }
    }

    #[test]
    fn the_byte_comparison_agrees_with_normalize_name() {
        let names = [
            "x-tokengate-kind",
            "X_TOKENGATE_",
            "x-tokengate",
            "x_tokengatE-é",
            "é-tokengate-kind",
            "X-HTTP-METHOD",
            "x_http_method_",
            "x-origin-key",
            "",
            "_",
        ];
        for name in names {
            let n = normalize_name(name);
            let want = n.starts_with(IDENTITY_PREFIX)
                || METHOD_OVERRIDE_HEADERS.contains(&n.as_str())
                || n == normalize_name("X_Origin-Key");
            assert_eq!(is_reserved_inbound(name, "X_Origin-Key"), want, "{name}");
        }
    }

    /// `reserved_inbound_pattern` with the `i` flag, in the `regex` crate (whose syntax
    /// for what the pattern uses — `^ $ (?: | ) [-_] \xHH`, ASCII letters — is the JS one).
    fn pattern_reserves(name: &str, secret: &str) -> bool {
        let re = regex::Regex::new(&format!("(?i-u){}", reserved_inbound_pattern(secret)))
            .expect("the pattern compiles");
        re.is_match(name)
    }

    #[test]
    fn the_js_pattern_agrees_with_is_reserved_inbound() {
        let secrets = [
            DEFAULT_ORIGIN_SECRET_HEADER,
            "X_Origin-Key",
            "x.secret+1",
            "x$(a)|b*",
            "k",
        ];
        let mut names: Vec<String> = [
            "x-tokengate-kind",
            "X_TOKENGATE_",
            "x-tokengate",
            "xtokengate-kind",
            "x-tokengatekind",
            "ax-tokengate-kind",
            "X-HTTP-METHOD",
            "x_http_method_",
            "x-http-method-overrides",
            "x-http-method-override",
            "X_Method_Override",
            "x-origin-key",
            "x_origin_KEY",
            "x-origin-keyx",
            "x.secret+1",
            "x.secret+11",
            "xasecret+1",
            "x$(a)|b*",
            "x$(a)",
            "b*",
            "k",
            "K",
            "kk",
            "authorization",
            "",
            "_",
            "-",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        names.extend(IDENTITY_HEADERS.iter().map(|s| s.to_ascii_uppercase()));
        for secret in secrets {
            for name in &names {
                assert_eq!(
                    pattern_reserves(name, secret),
                    is_reserved_inbound(name, secret),
                    "{name:?} with secret {secret:?}: {}",
                    reserved_inbound_pattern(secret)
                );
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn the_js_pattern_agrees_on_any_token_name(
            name in "[A-Za-z0-9!#$%&'*+.^_`|~-]{0,30}|(x|X)[-_](tokengate|TOKENGATE|http|method)[-_][A-Za-z_-]{0,20}",
            secret in "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,20}",
        ) {
            proptest::prop_assert_eq!(
                pattern_reserves(&name, &secret),
                is_reserved_inbound(&name, &secret)
            );
            proptest::prop_assert_eq!(
                pattern_reserves(&name, DEFAULT_ORIGIN_SECRET_HEADER),
                is_reserved_inbound(&name, DEFAULT_ORIGIN_SECRET_HEADER)
            );
            // A name reserved as the secret is the secret in another spelling.
            let respelled = secret.to_ascii_uppercase().replace('-', "_");
            proptest::prop_assert!(pattern_reserves(&respelled, &secret));
        }
    }

    #[test]
    fn a_configured_origin_secret_header_is_reserved_in_every_spelling() {
        for name in [
            "x-origin-key",
            "X_Origin_Key",
            "X-ORIGIN-KEY",
            "x_origin-key",
        ] {
            assert!(is_reserved_inbound(name, "X-Origin-Key"), "{name}");
        }
        assert!(!is_reserved_inbound("x-origin-keys", "x-origin-key"));
        // The default one stays reserved through the identity prefix.
        assert!(is_reserved_inbound("x_tokengate_secret", "x-origin-key"));
    }

    #[test]
    fn typical_values_are_unchanged() {
        for v in [
            "auth0|abc",
            "abc@clients",
            "https://tenant/",
            "machine",
            "read:builds",
            "",
        ] {
            assert!(matches!(encode_value(v), Cow::Borrowed(_)), "{v}");
        }
    }

    #[test]
    fn values_are_percent_encoded_losslessly() {
        assert_eq!(encode_value("a\nb"), "a%0Ab");
        assert_eq!(encode_value("a\r\n x"), "a%0D%0A%20x");
        assert_eq!(encode_value("100%"), "100%25");
        assert_eq!(encode_value("é"), "%C3%A9");
        assert_eq!(encode_value("\u{0}\u{7f}\t"), "%00%7F%09");
        assert_eq!(encode_value("Build service"), "Build%20service");
        assert_eq!(encode_value("😀"), "%F0%9F%98%80");
        // Decoding gives the value back.
        for v in ["a\nb", "100%", "é x", "%41", "\u{1}\u{7f}~!"] {
            let enc = encode_value(v);
            assert_eq!(decode_component(&enc.replace('+', "%2B")), v);
            assert!(enc.bytes().all(|b| (0x21..=0x7e).contains(&b)));
        }
    }

    #[test]
    fn list_elements_cannot_merge() {
        assert_eq!(
            encode_list(["read:builds", "update:builds"]),
            "read:builds update:builds"
        );
        assert_eq!(encode_list(["a b", "c"]), "a%20b c");
        assert_eq!(encode_list(Vec::<&str>::new()), "");
        assert_eq!(encode_list(["x\ny"]), "x%0Ay");
    }

    #[test]
    fn method_param_naming_another_method_is_refused() {
        let refused = |m: &str, q: &str| check_method_param(m, q).is_err();
        assert!(refused("POST", "_method=DELETE"));
        assert!(refused("POST", "a=1&_method=delete&b=2"));
        assert!(refused("GET", "_METHOD=PUT"));
        assert!(refused("POST", "%5Fmethod=DELETE"));
        assert!(refused("POST", "_method=%44ELETE"));
        assert!(refused("POST", "_method[]=DELETE"));
        assert!(refused("POST", ".method=DELETE"));
        assert!(refused("POST", "+_method=DELETE"));
        assert!(refused("POST", "_method=POST&_method=DELETE"));
        assert!(refused("POST", "_method="));
        assert!(refused("POST", "_method"));
        assert!(refused("POST", "_method=+POST"));
        assert_eq!(
            check_method_param("POST", "_method=DELETE"),
            Err(RequestError::MethodOverride)
        );
    }

    #[test]
    fn method_param_naming_the_own_method_is_allowed() {
        let ok = |m: &str, q: &str| check_method_param(m, q).is_ok();
        assert!(ok("POST", "_method=post"));
        assert!(ok("POST", "_method=POST"));
        assert!(ok("DELETE", "_method=DeLeTe&x=1"));
        assert!(ok("POST", ""));
        assert!(ok("POST", "method=DELETE&x_method=DELETE&_methods=DELETE"));
        assert!(ok("POST", "a=_method%3DDELETE"));
        assert!(ok("GET", "%zz=1&%=2&_method=GET"));
    }

    #[test]
    fn components_decode() {
        assert_eq!(decode_component("a%20b+c"), "a b c");
        assert_eq!(decode_component("%zz%4"), "%zz%4");
        assert_eq!(decode_component("%"), "%");
        assert_eq!(decode_component("%C3%A9"), "é");
    }
}
