//! Token verification: issuer selection, key and algorithm selection, signature, claims.
//!
//! Verification happens in two steps so that adapters can fetch keys in between:
//! [`peek`] parses the token (size cap first) and finds its configured issuer, then
//! [`verify`] checks it against that issuer's [`KeySet`] at a given time.

use serde_json::Value;

use crate::alg::{verify_signature, Alg};
use crate::classify::Principal;
use crate::jwk::KeySet;
use crate::jws::{self, Jws};
use crate::{Claims, TokenError};

/// A verified, classified token: what the token cache holds, and what the token
/// exchange ([`crate::exchange::plan`]) takes as its subject and actor.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    /// The verified token (header, claims, algorithm, key id).
    pub token: VerifiedToken,
    /// Its classification.
    pub principal: Principal,
}

/// The verification rules for one trusted issuer.
#[derive(Debug, Clone, PartialEq)]
pub struct IssuerRules {
    /// The exact `iss` value.
    pub issuer: String,
    /// Accepted audiences: `aud` must contain at least one.
    pub audiences: Vec<String>,
    /// Allowed algorithms (intersected with what each key allows).
    pub algorithms: Vec<Alg>,
    /// Required `typ` header, compared case-insensitively, with `at+jwt` and
    /// `application/at+jwt` treated as the same (RFC 9068).
    pub required_typ: Option<String>,
    /// Whether `exp` is required (default true).
    pub require_exp: bool,
    /// Maximum token age in seconds, from `iat` (then required).
    pub max_age: Option<u64>,
    /// Claims that must be present.
    pub required_claims: Vec<String>,
}

impl IssuerRules {
    /// Rules for `issuer` and `audiences` with the defaults: asymmetric algorithms,
    /// `exp` required, no `typ` requirement, no maximum age.
    pub fn new(issuer: impl Into<String>, audiences: Vec<String>) -> Self {
        IssuerRules {
            issuer: issuer.into(),
            audiences,
            algorithms: Alg::ASYMMETRIC.to_vec(),
            required_typ: None,
            require_exp: true,
            max_age: None,
            required_claims: Vec::new(),
        }
    }
}

/// A parsed token whose issuer is trusted, not yet verified.
#[derive(Debug, Clone)]
pub struct Unverified<'a> {
    /// The decoded JWS.
    pub jws: Jws<'a>,
    /// The decoded claims (untrusted until [`verify`] succeeds).
    pub claims: Claims,
    /// Which configured issuer the token names (an index into the issuer list).
    pub issuer_index: usize,
}

impl Unverified<'_> {
    /// The header's `kid`, if any.
    pub fn kid(&self) -> Option<&str> {
        self.jws.kid().ok().flatten()
    }
}

/// A token whose signature and claims have been verified.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedToken {
    /// The protected header.
    pub header: Claims,
    /// The claims.
    pub claims: Claims,
    /// The algorithm it was verified with (chosen from the key).
    pub alg: Alg,
    /// The `kid` of the key that verified it, if the key has one.
    pub kid: Option<String>,
    /// Which configured issuer it was verified against.
    pub issuer_index: usize,
}

/// Parses `token` (after checking `max_bytes`) and finds its issuer among `issuers`.
///
/// Fails with `issuer_mismatch` when `iss` names no configured issuer, before any key
/// is needed.
pub fn peek<'a>(
    token: &'a str,
    issuers: &[IssuerRules],
    max_bytes: usize,
) -> Result<Unverified<'a>, TokenError> {
    let jws = jws::parse(token, max_bytes)?;
    let claims = jws.claims()?;
    let iss = match claims.get("iss") {
        Some(Value::String(s)) => s.as_str(),
        Some(_) => return Err(TokenError::ClaimInvalid("iss is not a string".into())),
        None => return Err(TokenError::ClaimMissing("iss".into())),
    };
    let issuer_index = issuers
        .iter()
        .position(|i| i.issuer == iss)
        .ok_or(TokenError::IssuerMismatch)?;
    Ok(Unverified {
        jws,
        claims,
        issuer_index,
    })
}

/// Verifies a peeked token: `typ`, key and algorithm, signature, then claims at `now`
/// (unix seconds) with `leeway` seconds of clock skew.
pub fn verify(
    token: &Unverified<'_>,
    keys: &KeySet,
    rules: &IssuerRules,
    leeway: u64,
    now: i64,
) -> Result<VerifiedToken, TokenError> {
    let (key, alg) = select_key(token, keys, rules)?;
    if !verify_signature(
        alg,
        &key.material,
        token.jws.signing_input.as_bytes(),
        &token.jws.signature,
    ) {
        return Err(TokenError::SignatureInvalid);
    }
    finish(token, key, alg, rules, leeway, now)
}

/// The first half of [`verify`] for hosts that check signatures themselves (e.g.
/// through WebCrypto): the `typ` rule, then the key and the algorithm (chosen from the
/// key, intersected with the allowlist, agreeing with the header).
pub fn select_key<'k>(
    token: &Unverified<'_>,
    keys: &'k KeySet,
    rules: &IssuerRules,
) -> Result<(&'k crate::jwk::Key, Alg), TokenError> {
    let jws = &token.jws;
    if let Some(required) = &rules.required_typ {
        check_typ(jws, required)?;
    }
    keys.select(jws.kid()?, jws.alg()?, &rules.algorithms)
}

/// The second half of [`verify`], after the signature verified with `key` and `alg`:
/// the claims at `now`.
pub fn finish(
    token: &Unverified<'_>,
    key: &crate::jwk::Key,
    alg: Alg,
    rules: &IssuerRules,
    leeway: u64,
    now: i64,
) -> Result<VerifiedToken, TokenError> {
    validate_claims(&token.claims, rules, leeway, now)?;
    Ok(VerifiedToken {
        header: token.jws.header.clone(),
        claims: token.claims.clone(),
        alg,
        kid: key.kid.clone(),
        issuer_index: token.issuer_index,
    })
}

/// Selects the key and algorithm for `jws` and checks its signature.
fn check_signature<'k>(
    jws: &Jws<'_>,
    keys: &'k KeySet,
    allowed: &[Alg],
) -> Result<(&'k crate::jwk::Key, Alg), TokenError> {
    let (key, alg) = keys.select(jws.kid()?, jws.alg()?, allowed)?;
    if !verify_signature(
        alg,
        &key.material,
        jws.signing_input.as_bytes(),
        &jws.signature,
    ) {
        return Err(TokenError::SignatureInvalid);
    }
    Ok((key, alg))
}

/// Verifies a compact JWS at the parse-and-signature layer only (no claims; the payload
/// need not be JSON). Used for generic JWS and by the Wycheproof JWS vectors.
pub fn verify_jws<'a>(
    token: &'a str,
    keys: &KeySet,
    allowed: &[Alg],
    max_bytes: usize,
) -> Result<(Jws<'a>, Alg), TokenError> {
    let jws = jws::parse(token, max_bytes)?;
    let (_, alg) = check_signature(&jws, keys, allowed)?;
    Ok((jws, alg))
}

fn normalise_typ(t: &str) -> String {
    let t = t.to_ascii_lowercase();
    match t.strip_prefix("application/") {
        Some(rest) if !rest.contains('/') => rest.to_string(),
        _ => t,
    }
}

fn check_typ(jws: &Jws<'_>, required: &str) -> Result<(), TokenError> {
    match jws.header.get("typ") {
        Some(Value::String(t)) if normalise_typ(t) == normalise_typ(required) => Ok(()),
        Some(Value::String(t)) => Err(TokenError::TypMismatch(format!(
            "typ is {t:?}, {required:?} is required"
        ))),
        Some(_) => Err(TokenError::TypMismatch("typ is not a string".into())),
        None => Err(TokenError::TypMismatch(format!(
            "typ is missing, {required:?} is required"
        ))),
    }
}

fn time_claim(claims: &Claims, name: &str) -> Result<Option<f64>, TokenError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_f64()
            .filter(|f| f.is_finite())
            .map(Some)
            .ok_or_else(|| TokenError::ClaimInvalid(format!("{name} is not a finite number"))),
        Some(_) => Err(TokenError::ClaimInvalid(format!("{name} must be a number"))),
    }
}

/// Validates the registered claims of verified-signature `claims` against `rules`.
pub fn validate_claims(
    claims: &Claims,
    rules: &IssuerRules,
    leeway: u64,
    now: i64,
) -> Result<(), TokenError> {
    let now = now as f64;
    let leeway = leeway as f64;
    let exp = time_claim(claims, "exp")?;
    let nbf = time_claim(claims, "nbf")?;
    let iat = time_claim(claims, "iat")?;
    match claims.get("iss") {
        Some(Value::String(s)) if *s == rules.issuer => {}
        Some(Value::String(_)) => return Err(TokenError::IssuerMismatch),
        Some(_) => return Err(TokenError::ClaimInvalid("iss is not a string".into())),
        None => return Err(TokenError::ClaimMissing("iss".into())),
    }
    match claims.get("sub") {
        None | Some(Value::String(_)) => {}
        Some(_) => return Err(TokenError::ClaimInvalid("sub is not a string".into())),
    }
    match exp {
        Some(exp) if now >= exp + leeway => return Err(TokenError::Expired),
        Some(_) => {}
        None if rules.require_exp => return Err(TokenError::ClaimMissing("exp".into())),
        None => {}
    }
    if let Some(nbf) = nbf {
        if nbf > now + leeway {
            return Err(TokenError::NotYetValid);
        }
    }
    if let Some(iat) = iat {
        if iat > now + leeway {
            return Err(TokenError::IssuedInFuture);
        }
    }
    if let Some(max_age) = rules.max_age {
        let iat = iat.ok_or_else(|| TokenError::ClaimMissing("iat".into()))?;
        if now - iat > max_age as f64 + leeway {
            return Err(TokenError::TooOld);
        }
    }
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_str()
                    .ok_or_else(|| TokenError::ClaimInvalid("aud contains a non-string".into()))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(TokenError::ClaimInvalid(
                "aud is not a string or array".into(),
            ))
        }
        None => return Err(TokenError::ClaimMissing("aud".into())),
    };
    if !audiences
        .iter()
        .any(|a| rules.audiences.iter().any(|want| want == a))
    {
        return Err(TokenError::AudienceMismatch);
    }
    for name in &rules.required_claims {
        match claims.get(name) {
            None | Some(Value::Null) => return Err(TokenError::ClaimMissing(name.clone())),
            Some(_) => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> IssuerRules {
        IssuerRules::new("https://iss/", vec!["api".into()])
    }

    fn claims(v: serde_json::Value) -> Claims {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn claim_rules() {
        use crate::ErrorCode;
        let r = rules();
        let ok =
            serde_json::json!({"iss":"https://iss/","aud":"api","exp":1000,"iat":900,"nbf":900});
        assert!(validate_claims(&claims(ok.clone()), &r, 60, 950).is_ok());
        let code = |v: serde_json::Value, now| {
            validate_claims(&claims(v), &r, 60, now).unwrap_err().code()
        };
        assert_eq!(code(ok.clone(), 1060), "token_expired");
        assert!(validate_claims(&claims(ok.clone()), &r, 60, 1059).is_ok());
        assert_eq!(code(ok.clone(), 839), "token_not_yet_valid");
        let mut v = ok.clone();
        v["nbf"] = 0.into();
        assert_eq!(code(v, 839), "issued_in_future");
        let mut v = ok.clone();
        v["exp"] = "1000".into();
        assert_eq!(code(v, 950), "claim_invalid");
        let mut v = ok.clone();
        v.as_object_mut().unwrap().remove("exp");
        assert_eq!(code(v, 950), "claim_missing");
        let mut v = ok.clone();
        v["aud"] = serde_json::json!(["x", "api"]);
        assert!(validate_claims(&claims(v), &r, 60, 950).is_ok());
        let mut v = ok.clone();
        v["aud"] = serde_json::json!(["x"]);
        assert_eq!(code(v, 950), "audience_mismatch");
        let mut v = ok.clone();
        v["iss"] = "https://other/".into();
        assert_eq!(code(v, 950), "issuer_mismatch");
        let mut v = ok;
        v["sub"] = 5.into();
        assert_eq!(code(v, 950), "claim_invalid");
    }

    #[test]
    fn typ_comparison() {
        assert_eq!(normalise_typ("application/AT+JWT"), "at+jwt");
        assert_eq!(normalise_typ("at+jwt"), "at+jwt");
        assert_ne!(normalise_typ("JWT"), "at+jwt");
    }
}
