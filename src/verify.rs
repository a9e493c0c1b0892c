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
use crate::UnixSeconds;
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
    now: UnixSeconds,
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
        check_typ(jws.header.get("typ"), required)?;
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
    now: UnixSeconds,
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

/// A `typ` value in the form compared by the `requiredTyp` rule: lowercase, with an
/// `application/` prefix dropped when the rest has no `/` (RFC 7515 §4.1.9: the
/// prefix may be omitted), so `application/AT+JWT` is `at+jwt`.
pub fn normalise_typ(t: &str) -> String {
    let t = t.to_ascii_lowercase();
    match t.strip_prefix("application/") {
        Some(rest) if !rest.contains('/') => rest.to_string(),
        _ => t,
    }
}

/// The `requiredTyp` rule: the header's `typ` value (`None` when absent) must be a
/// string equal to `required` once both are normalised ([`normalise_typ`]); otherwise
/// `typ_mismatch`, saying why.
pub fn check_typ(typ: Option<&Value>, required: &str) -> Result<(), TokenError> {
    match typ {
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

/// The time claims of a token (`exp`, `nbf`, `iat`, unix seconds), read the way
/// [`validate_claims`] reads them.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TimeClaims {
    /// `exp`, when present.
    pub exp: Option<f64>,
    /// `nbf`, when present.
    pub nbf: Option<f64>,
    /// `iat`, when present.
    pub iat: Option<f64>,
}

impl TimeClaims {
    /// Reads `exp`, `nbf` and `iat`: each absent or a finite JSON number, else
    /// `claim_invalid`.
    pub fn read(claims: &Claims) -> Result<Self, TokenError> {
        Ok(TimeClaims {
            exp: time_claim(claims, "exp")?,
            nbf: time_claim(claims, "nbf")?,
            iat: time_claim(claims, "iat")?,
        })
    }

    /// The time checks of [`validate_claims`] at `now`, each with `leeway` seconds of
    /// tolerance, in its order: `token_expired` once `now >= exp + leeway`,
    /// `claim_missing` without `exp` when `require_exp`, `token_not_yet_valid` while
    /// `nbf > now + leeway`, `issued_in_future` while `iat > now + leeway`.
    pub fn check(
        &self,
        require_exp: bool,
        leeway: u64,
        now: UnixSeconds,
    ) -> Result<(), TokenError> {
        let now = now as f64;
        let leeway = leeway as f64;
        match self.exp {
            Some(exp) if now >= exp + leeway => return Err(TokenError::Expired),
            Some(_) => {}
            None if require_exp => return Err(TokenError::ClaimMissing("exp".into())),
            None => {}
        }
        if let Some(nbf) = self.nbf {
            if nbf > now + leeway {
                return Err(TokenError::NotYetValid);
            }
        }
        if let Some(iat) = self.iat {
            if iat > now + leeway {
                return Err(TokenError::IssuedInFuture);
            }
        }
        Ok(())
    }
}

/// Where a token's time claims put it at a given time, when claim validation
/// accepts them ([`time_state`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeState {
    /// Before `exp`, with `nbf` and `iat` not beyond the tolerance.
    Valid,
    /// At or past `exp` but still inside the clock tolerance: accepted until
    /// `exp + leeway`.
    Grace,
    /// No `exp`: valid in time, but refused unless the issuer's `requireExp` is false
    /// (`claim_missing`).
    NoExp,
}

/// What claim validation says of a token's times at `now` with `leeway` seconds of
/// tolerance (the checks of [`TimeClaims::check`], with `exp` not required): the
/// [`TimeState`] when they pass, else the error a verifier answers
/// (`claim_invalid`, `token_expired`, `token_not_yet_valid`, `issued_in_future`).
/// `maxTokenAge` is not considered.
pub fn time_state(claims: &Claims, leeway: u64, now: UnixSeconds) -> Result<TimeState, TokenError> {
    let t = TimeClaims::read(claims)?;
    t.check(false, leeway, now)?;
    Ok(match t.exp {
        None => TimeState::NoExp,
        Some(exp) if now as f64 >= exp => TimeState::Grace,
        Some(_) => TimeState::Valid,
    })
}

/// The claims [`validate_claims`] reads, besides an issuer's
/// [`IssuerRules::required_claims`] (whose presence it checks): what a kept
/// verification must hold for [`Gate::revalidate`](crate::Gate::revalidate) to redo
/// exactly the checks of the first verification.
pub const VALIDATED_CLAIMS: [&str; 6] = ["iss", "sub", "aud", "exp", "nbf", "iat"];

/// The claims a kept verification holds besides those [`validate_claims`] reads: `act`,
/// which the token exchange copies into the token it mints
/// ([`plan`](crate::plan)), and `cnf`, whose binding every request must prove again
/// (a DPoP proof, a client certificate).
pub const KEPT_EXTRA_CLAIMS: [&str; 2] = ["act", "cnf"];

impl Verified {
    /// This verification as a token cache keeps it: the claims that reusing it reads
    /// ([`VALIDATED_CLAIMS`], the issuer's `required_claims`, [`KEPT_EXTRA_CLAIMS`])
    /// and no others, no protected header, the [`Principal`](crate::Principal),
    /// algorithm, `kid` and issuer index as they are. [`validate_claims`] gives the same
    /// answer on both at any time (it reads nothing else), and classification is not
    /// redone on a hit, so a reuse checks what the first verification checked.
    ///
    /// `also` names further claims to keep: those the gateway rules read (claim rules,
    /// claim headers, rate-limit keys, `jti` for revocation), as
    /// [`Gate::kept_claims`](crate::Gate::kept_claims) lists them.
    pub fn for_reuse(mut self, rules: &IssuerRules, also: &[String]) -> Verified {
        retain_for_reuse(&mut self.token.claims, rules, also);
        self.token.header = Claims::new();
        self.principal.shrink_to_fit();
        self
    }
}

/// Drops every claim but those [`validate_claims`] reads with `rules`,
/// [`KEPT_EXTRA_CLAIMS`] and `also`.
fn retain_for_reuse(claims: &mut Claims, rules: &IssuerRules, also: &[String]) {
    claims.retain(|name, _| {
        VALIDATED_CLAIMS.contains(&name.as_str())
            || KEPT_EXTRA_CLAIMS.contains(&name.as_str())
            || rules.required_claims.iter().any(|r| r == name)
            || also.iter().any(|r| r == name)
    });
}

/// Validates the registered claims of verified-signature `claims` against `rules`.
pub fn validate_claims(
    claims: &Claims,
    rules: &IssuerRules,
    leeway: u64,
    now: UnixSeconds,
) -> Result<(), TokenError> {
    let times = TimeClaims::read(claims)?;
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
    times.check(rules.require_exp, leeway, now)?;
    if let Some(max_age) = rules.max_age {
        let iat = times
            .iat
            .ok_or_else(|| TokenError::ClaimMissing("iat".into()))?;
        if now as f64 - iat > max_age as f64 + leeway as f64 {
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
    fn the_claims_kept_for_reuse_validate_as_all_of_them() {
        let mut strict = rules();
        strict.max_age = Some(100);
        strict.required_claims = vec!["tenant".into(), "jti".into()];
        let variants = [
            serde_json::json!({"iss":"https://iss/","aud":"api","exp":1000,"iat":900,"nbf":900,"jti":"j","tenant":"t","x":[1,2]}),
            serde_json::json!({"iss":"https://iss/","aud":["other","api"],"exp":1000,"sub":"s","tenant":null,"act":{"sub":"a"}}),
            serde_json::json!({"iss":"https://iss/","aud":["other"],"exp":1000,"jti":"j","tenant":"t"}),
            serde_json::json!({"iss":"https://iss/","aud":[1],"exp":1000.5,"iat":"900","big":"b".repeat(500)}),
            serde_json::json!({"iss":"https://other/","aud":"api","exp":1000,"nbf":990}),
            serde_json::json!({"iss":"https://iss/","aud":"api","sub":7,"jti":"j","tenant":"t"}),
            serde_json::json!({"aud":"api","exp":1000,"iat":1200}),
        ];
        for v in variants {
            let full = claims(v);
            for r in [rules(), strict.clone()] {
                let mut kept = full.clone();
                retain_for_reuse(&mut kept, &r, &[]);
                assert!(kept.keys().all(|k| VALIDATED_CLAIMS.contains(&k.as_str())
                    || KEPT_EXTRA_CLAIMS.contains(&k.as_str())
                    || r.required_claims.contains(k)));
                for now in [
                    0, 850, 899, 900, 950, 990, 1000, 1059, 1060, 1140, 1300, 5000,
                ] {
                    let a = validate_claims(&full, &r, 60, now);
                    let b = validate_claims(&kept, &r, 60, now);
                    assert_eq!(a, b, "{full:?} at {now}");
                }
            }
        }
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
        // The prefix is dropped only from a bare subtype.
        assert_eq!(
            normalise_typ("application/x/at+jwt"),
            "application/x/at+jwt"
        );
    }

    #[test]
    fn typ_rule() {
        use crate::ErrorCode;
        let s = |t: &str| Value::String(t.into());
        assert!(check_typ(Some(&s("at+JWT")), "application/at+jwt").is_ok());
        assert!(check_typ(Some(&s("application/at+jwt")), "at+jwt").is_ok());
        let e = check_typ(Some(&s("JWT")), "at+jwt").unwrap_err();
        assert_eq!(e.code(), "typ_mismatch");
        assert!(
            e.to_string()
                .contains(r#"typ is "JWT", "at+jwt" is required"#),
            "{e}"
        );
        let e = check_typ(None, "at+jwt").unwrap_err();
        assert!(e.to_string().contains("typ is missing"), "{e}");
        let e = check_typ(Some(&Value::from(1)), "at+jwt").unwrap_err();
        assert!(e.to_string().contains("not a string"), "{e}");
        assert!(check_typ(Some(&s("application/x/at+jwt")), "at+jwt").is_err());
    }

    #[test]
    fn time_states_follow_claim_validation() {
        use crate::ErrorCode;
        let c = claims(serde_json::json!({"exp": 1000, "nbf": 900, "iat": 900}));
        let st = |c: &Claims, leeway, now| time_state(c, leeway, now).map_err(|e| e.code());
        assert_eq!(st(&c, 60, 950), Ok(TimeState::Valid));
        assert_eq!(st(&c, 60, 999), Ok(TimeState::Valid));
        assert_eq!(st(&c, 60, 1000), Ok(TimeState::Grace));
        assert_eq!(st(&c, 60, 1059), Ok(TimeState::Grace));
        assert_eq!(st(&c, 60, 1060), Err("token_expired"));
        assert_eq!(st(&c, 0, 1000), Err("token_expired"));
        assert_eq!(st(&c, 60, 840), Ok(TimeState::Valid));
        assert_eq!(st(&c, 60, 839), Err("token_not_yet_valid"));
        let c2 = claims(serde_json::json!({"exp": 1000, "iat": 900}));
        assert_eq!(st(&c2, 60, 839), Err("issued_in_future"));
        assert_eq!(st(&c2, 0, 899), Err("issued_in_future"));
        let none = claims(serde_json::json!({"iat": 900}));
        assert_eq!(st(&none, 60, 5_000), Ok(TimeState::NoExp));
        let bad = claims(serde_json::json!({"exp": "1000"}));
        assert_eq!(st(&bad, 60, 950), Err("claim_invalid"));
        // The same tolerance and boundaries as validate_claims, for every state.
        let r = rules();
        let full = |t: &Claims| {
            let mut t = t.clone();
            t.insert("iss".into(), "https://iss/".into());
            t.insert("aud".into(), "api".into());
            t
        };
        for now in [830, 839, 840, 950, 999, 1000, 1059, 1060, 2000] {
            for leeway in [0, 60] {
                let v = validate_claims(&full(&c), &r, leeway, now).map_err(|e| e.code());
                let t = time_state(&c, leeway, now)
                    .map(|_| ())
                    .map_err(|e| e.code());
                assert_eq!(v, t, "now {now} leeway {leeway}");
            }
        }
    }

    #[test]
    fn time_checks_keep_their_order() {
        use crate::ErrorCode;
        let t = TimeClaims {
            exp: None,
            nbf: Some(2000.0),
            iat: None,
        };
        assert_eq!(t.check(true, 60, 1000).unwrap_err().code(), "claim_missing");
        assert_eq!(
            t.check(false, 60, 1000).unwrap_err().code(),
            "token_not_yet_valid"
        );
        let r = rules();
        let c = claims(serde_json::json!({"iss": "https://other/", "aud": "api", "exp": "x"}));
        assert_eq!(
            validate_claims(&c, &r, 60, 0).unwrap_err().code(),
            "claim_invalid",
            "a malformed time claim is reported before the issuer"
        );
    }
}
