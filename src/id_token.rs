//! Whether a JWS's claims look like an OpenID Connect ID token rather than an access
//! token ([`id_token_signals`]): pure and panic-free on any claims. The decoder
//! (`decode` of the JS bindings) warns with it; the verifier refuses such a token on
//! its audience anyway.

use serde_json::Value;

use crate::jws::starts_with_ignore_case;
use crate::verify::normalise_typ;
use crate::Claims;

/// A sign that a JWS is an OpenID Connect ID token rather than an access token, from
/// [`id_token_signals`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdTokenSignal {
    /// A `nonce` claim: it echoes the client's authentication request (OIDC Core §2).
    Nonce,
    /// An `at_hash` claim: the hash of the access token issued alongside.
    AtHash,
    /// A `c_hash` claim: the hash of the authorization code issued alongside.
    CHash,
    /// `aud` is one value naming the client: equal to `azp`, or not a URL; and no
    /// claim of an access token (`scope`, `scp`, `permissions`, `roles`, `client_id`,
    /// `cid`, `appid`, `gty`) is present.
    AudIsClient,
    /// An `auth_time` claim (only listed with one of the signals above).
    AuthTime,
    /// The `typ` header is not `at+jwt` (always listed with the others: a token typed
    /// `at+jwt`, RFC 9068, is an access token and has no signals).
    TypNotAtJwt,
}

impl IdTokenSignal {
    /// The snake_case name JS callers see: `nonce`, `at_hash`, `c_hash`,
    /// `aud_is_client`, `auth_time` or `typ_not_at_jwt`.
    pub fn as_str(self) -> &'static str {
        match self {
            IdTokenSignal::Nonce => "nonce",
            IdTokenSignal::AtHash => "at_hash",
            IdTokenSignal::CHash => "c_hash",
            IdTokenSignal::AudIsClient => "aud_is_client",
            IdTokenSignal::AuthTime => "auth_time",
            IdTokenSignal::TypNotAtJwt => "typ_not_at_jwt",
        }
    }

    /// A few lowercase words saying what was seen, e.g. `aud names the client`.
    pub fn describe(self) -> &'static str {
        match self {
            IdTokenSignal::Nonce => "nonce is present",
            IdTokenSignal::AtHash => "at_hash is present",
            IdTokenSignal::CHash => "c_hash is present",
            IdTokenSignal::AudIsClient => "aud names the client and there are no scopes",
            IdTokenSignal::AuthTime => "auth_time is present",
            IdTokenSignal::TypNotAtJwt => "typ is not at+jwt",
        }
    }
}

/// Claims only access tokens carry; any of them rules out [`IdTokenSignal::AudIsClient`].
const ACCESS_TOKEN_CLAIMS: &[&str] = &[
    "scope",
    "scp",
    "permissions",
    "roles",
    "client_id",
    "cid",
    "appid",
    "gty",
];

/// The signs that a JWS (its decoded `header` and `claims`) is an OpenID Connect ID
/// token used as an access token, strongest first; empty when it does not look like
/// one. At least one of `nonce`, `at_hash`, `c_hash` or an audience naming the client
/// is needed, and a token typed `at+jwt` never has signals. An API must receive access
/// tokens: an ID token's audience is the client, so a verifier configured with the
/// API's audience refuses it (`audience_mismatch`).
pub fn id_token_signals(header: &Claims, claims: &Claims) -> Vec<IdTokenSignal> {
    let typ_is_at =
        matches!(header.get("typ"), Some(Value::String(t)) if normalise_typ(t) == "at+jwt");
    if typ_is_at {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (name, signal) in [
        ("nonce", IdTokenSignal::Nonce),
        ("at_hash", IdTokenSignal::AtHash),
        ("c_hash", IdTokenSignal::CHash),
    ] {
        if claims.contains_key(name) {
            out.push(signal);
        }
    }
    if aud_is_client(claims) {
        out.push(IdTokenSignal::AudIsClient);
    }
    if out.is_empty() {
        return out;
    }
    if claims.contains_key("auth_time") {
        out.push(IdTokenSignal::AuthTime);
    }
    out.push(IdTokenSignal::TypNotAtJwt);
    out
}

/// `aud` is one value naming the client (equal to `azp`, or not a URL) and no access
/// token claim is present.
fn aud_is_client(claims: &Claims) -> bool {
    if ACCESS_TOKEN_CLAIMS.iter().any(|c| claims.contains_key(*c)) {
        return false;
    }
    let aud = match claims.get("aud") {
        Some(Value::String(s)) => s.as_str(),
        Some(Value::Array(a)) if a.len() == 1 => match &a[0] {
            Value::String(s) => s.as_str(),
            _ => return false,
        },
        _ => return false,
    };
    if aud.is_empty() {
        return false;
    }
    let is_url = aud.contains("://") || starts_with_ignore_case(aud, "urn:");
    let is_azp = matches!(claims.get("azp"), Some(Value::String(a)) if a == aud);
    is_azp || !is_url
}

/// The warning for a JWS with ID-token `signals` (from [`id_token_signals`]), or `None`
/// when there are none. Lowercase; names the signals, never a claim's value.
pub fn id_token_warning(signals: &[IdTokenSignal]) -> Option<String> {
    if signals.is_empty() {
        return None;
    }
    let seen: Vec<&str> = signals.iter().map(|s| s.describe()).collect();
    Some(format!(
        "this looks like an openid connect id token ({}), not an access token: apis must receive access tokens; an id token's audience is the client, not the api, so a verifier configured with the api's audience refuses it (audience_mismatch)",
        seen.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Claims {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn id_token_signals_are_seen() {
        use IdTokenSignal::*;
        let jwt = obj(json!({"alg": "RS256", "typ": "JWT"}));
        // An Auth0 ID token: aud is the client id, nonce, no scope.
        let id = obj(json!({
            "iss": "https://t.auth0.com/", "sub": "auth0|u", "aud": "Web4ppCl1ent",
            "nonce": "n", "auth_time": 1, "sid": "s", "at_hash": "h"
        }));
        assert_eq!(
            id_token_signals(&jwt, &id),
            vec![Nonce, AtHash, AudIsClient, AuthTime, TypNotAtJwt]
        );
        let w = id_token_warning(&id_token_signals(&jwt, &id)).unwrap();
        assert!(
            w.contains("audience_mismatch") && w.contains("nonce is present"),
            "{w}"
        );
        assert!(!w.contains("Web4ppCl1ent"));
        // aud equal to azp, without scopes, with a URL-shaped client id.
        let azp = obj(json!({"aud": ["https://client.example"], "azp": "https://client.example"}));
        assert_eq!(id_token_signals(&jwt, &azp), vec![AudIsClient, TypNotAtJwt]);
        // typ at+jwt: an access token, whatever else.
        let at = obj(json!({"alg": "RS256", "typ": "application/AT+JWT"}));
        assert!(id_token_signals(&at, &id).is_empty());
        // Access tokens: an API audience, scopes, a machine grant.
        for c in [
            json!({"aud": "https://api.example.com", "azp": "c", "scope": "openid read"}),
            json!({"aud": ["https://api.example.com", "https://t/userinfo"], "azp": "c"}),
            json!({"aud": "my-api", "scope": "read"}),
            json!({"aud": "my-api", "gty": "client-credentials"}),
            json!({"aud": "00000003-0000-0000-c000-000000000000", "roles": ["r"]}),
            json!({"aud": "urn:my:api"}),
            json!({"aud": "api://x"}),
            json!({"aud": ["a", "b"]}),
            json!({"aud": [1]}),
            json!({"aud": ""}),
            json!({"auth_time": 1}),
            json!({}),
        ] {
            assert!(id_token_signals(&jwt, &obj(c.clone())).is_empty(), "{c}");
        }
        assert_eq!(id_token_warning(&[]), None);
        // nonce alone is enough, with an API audience.
        let n = obj(json!({"aud": "https://api.example.com", "scope": "a", "nonce": "x"}));
        assert_eq!(
            id_token_signals(&obj(json!({})), &n),
            vec![Nonce, TypNotAtJwt]
        );
    }
}
