//! Classification of verified claims into a [`Principal`]: machine or user, with its
//! client, scopes, roles and delegation chain.
//!
//! [`classify`] runs on claims whose signature and time/issuer/audience checks have
//! already passed. It decides whether the token was issued to a machine (a
//! client-credentials grant, an M2M application) or to a user, by trying the
//! configured [`ClassifyRule`]s in order; the first rule that fires decides. When none
//! fires the token is a user token ([`DecidedBy::Default`]).
//!
//! | rule | fires when | decides |
//! |------|------------|---------|
//! | [`ClassifyRule::M2mClaim`] | the configured boolean claim is present | `true`: machine, `false`: user |
//! | [`ClassifyRule::Gty`] | `gty` is `"client-credentials"` (Auth0) | machine |
//! | [`ClassifyRule::SubIsClientId`] | `sub` equals the client id (RFC 9068 §2.2) | machine |
//! | [`ClassifyRule::SubAtClients`] | `sub` is `"<id>@clients"` (Auth0) | machine |
//!
//! The client id is `azp` when it is a non-empty string, else `client_id` when it is
//! a non-empty string. Optional claims that are `null` are treated as absent; optional
//! claims of the wrong type are a [`TokenError::ClaimInvalid`] naming the claim.
//!
//! ```
//! use serde_json::json;
//! use tokengate::{classify, ClassifyConfig, DecidedBy, Kind};
//!
//! let claims = json!({
//!     "iss": "https://tenant.auth0.com/", "sub": "abc@clients", "azp": "abc",
//!     "aud": "https://api.example.com", "gty": "client-credentials",
//!     "scope": "read:builds update:builds", "exp": 1700000000
//! });
//! let p = classify(claims.as_object().unwrap(), &ClassifyConfig::default()).unwrap();
//! assert_eq!(p.kind, Kind::Machine);
//! assert_eq!(p.decided_by, DecidedBy::Gty);
//! assert_eq!(p.scopes, ["read:builds", "update:builds"]);
//! ```

use std::collections::HashSet;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Claims, ConfigError, TokenError};

/// How deep an RFC 8693 `act` chain may nest before the token is rejected.
pub const MAX_ACTOR_DEPTH: usize = 32;

/// Whether a token was issued to a machine (a client acting for itself) or a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A machine: an M2M / client-credentials token.
    Machine,
    /// A user: a token issued to a client on behalf of a person.
    User,
}

impl Kind {
    /// The lowercase name: `machine` or `user`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Machine => "machine",
            Kind::User => "user",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which rule decided a principal's [`Kind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecidedBy {
    /// The configured boolean M2M claim (`true` or `false`).
    M2mClaim,
    /// `gty` is `client-credentials`.
    Gty,
    /// `sub` equals the client id (`azp` or `client_id`).
    SubIsClientId,
    /// `sub` ends with `@clients`.
    SubAtClients,
    /// No rule fired: a user.
    Default,
}

impl DecidedBy {
    /// The snake_case name, as serialized: `m2m_claim`, `gty`, `sub_is_client_id`,
    /// `sub_at_clients` or `default`.
    pub fn as_str(self) -> &'static str {
        match self {
            DecidedBy::M2mClaim => "m2m_claim",
            DecidedBy::Gty => "gty",
            DecidedBy::SubIsClientId => "sub_is_client_id",
            DecidedBy::SubAtClients => "sub_at_clients",
            DecidedBy::Default => "default",
        }
    }
}

impl fmt::Display for DecidedBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A claim that scopes are read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScopeSource {
    /// `scope`: a space-separated string (RFC 8693 §4.2, RFC 9068 §2.2.3).
    Scope,
    /// `scp`: a space-separated string or an array of strings (Azure AD, Okta).
    Scp,
    /// `permissions`: an array of strings (Auth0 RBAC).
    Permissions,
}

impl ScopeSource {
    /// The claim name.
    pub fn claim(self) -> &'static str {
        match self {
            ScopeSource::Scope => "scope",
            ScopeSource::Scp => "scp",
            ScopeSource::Permissions => "permissions",
        }
    }
}

/// A rule that can decide that a token belongs to a machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClassifyRule {
    /// The configured boolean claim ([`ClassifyConfig::m2m_claim`]): `true` decides
    /// machine, `false` decides user; skipped when not configured or absent.
    M2mClaim,
    /// `gty` is the string `client-credentials`.
    Gty,
    /// The client id is known and equals `sub`.
    SubIsClientId,
    /// `sub` is `<non-empty>@clients`.
    SubAtClients,
}

fn default_rules() -> Vec<ClassifyRule> {
    vec![
        ClassifyRule::M2mClaim,
        ClassifyRule::Gty,
        ClassifyRule::SubIsClientId,
        ClassifyRule::SubAtClients,
    ]
}

fn default_scope_claims() -> Vec<ScopeSource> {
    vec![
        ScopeSource::Scope,
        ScopeSource::Scp,
        ScopeSource::Permissions,
    ]
}

/// How to classify tokens and where to read scopes and roles from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassifyConfig {
    /// The rules tried in order; the first that fires decides. Default: all four, in
    /// the order `m2m_claim`, `gty`, `sub_is_client_id`, `sub_at_clients`.
    #[serde(default = "default_rules")]
    pub rules: Vec<ClassifyRule>,
    /// The name of a boolean claim asserting machine (`true`) or user (`false`), e.g.
    /// `https://example.com/is_m2m`. The rule is skipped when this is `None` or the
    /// claim is absent; a non-boolean value is an error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub m2m_claim: Option<String>,
    /// For machine tokens: the claim carrying the user the machine acts for, e.g.
    /// `https://example.com/user_id`. Used when it is a non-empty string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id_claim: Option<String>,
    /// The claim carrying roles, e.g. `https://example.com/roles`: an array of strings
    /// or a space-separated string. No roles are read when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles_claim: Option<String>,
    /// The claims scopes are read from and merged, in this order. Default: `scope`,
    /// `scp`, `permissions`.
    #[serde(default = "default_scope_claims")]
    pub scope_claims: Vec<ScopeSource>,
}

impl Default for ClassifyConfig {
    fn default() -> Self {
        ClassifyConfig {
            rules: default_rules(),
            m2m_claim: None,
            user_id_claim: None,
            roles_claim: None,
            scope_claims: default_scope_claims(),
        }
    }
}

impl ClassifyConfig {
    /// Checks the configured claim names (they must not be empty); field names in the
    /// error are relative to this struct, prefixed with `prefix` (e.g. `classify.`).
    pub fn validate(&self, prefix: &str) -> Result<(), ConfigError> {
        let named = [
            ("m2m_claim", &self.m2m_claim),
            ("user_id_claim", &self.user_id_claim),
            ("roles_claim", &self.roles_claim),
        ];
        for (field, value) in named {
            if value.as_deref() == Some("") {
                return Err(ConfigError::invalid(
                    format!("{prefix}{field}"),
                    "must not be empty (omit it instead)",
                ));
            }
        }
        // `rules` containing `m2m_claim` without an `m2m_claim` name is fine: the rule is
        // skipped, so the default rule list works without one.
        Ok(())
    }
}

/// One link of an RFC 8693 §4.1 `act` (actor) chain: who is acting, and for whom
/// that actor in turn acts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// The actor's `sub`.
    pub sub: String,
    /// The actor's `client_id`, when its `act` object has one (RFC 8693 §4.1 allows
    /// any claim there; Auth0 and many exchanges name the acting client with it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The prior actor, if the chain continues.
    #[serde(default)]
    pub act: Option<Box<Actor>>,
}

impl Actor {
    /// The subjects of the chain, outermost (current actor) first.
    pub fn chain(&self) -> Vec<&str> {
        let mut out = vec![self.sub.as_str()];
        let mut next = self.act.as_deref();
        while let Some(a) = next {
            out.push(a.sub.as_str());
            next = a.act.as_deref();
        }
        out
    }

    /// The current actor's id, as route `actors` rules compare it: its `client_id`,
    /// else its `sub`.
    pub fn id(&self) -> &str {
        self.client_id.as_deref().unwrap_or(&self.sub)
    }

    /// The number of nested `act` objects (1 for a token with one actor).
    pub fn depth(&self) -> usize {
        let mut n = 1;
        let mut next = self.act.as_deref();
        while let Some(a) = next {
            n += 1;
            next = a.act.as_deref();
        }
        n
    }
}

/// Who a verified token speaks for, as tokengate understood it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Principal {
    /// Machine or user.
    pub kind: Kind,
    /// The `sub` claim.
    pub subject: String,
    /// The client the token was issued to: `azp`, else `client_id`.
    pub client_id: Option<String>,
    /// The user: `sub` for users; for machines the configured
    /// [`ClassifyConfig::user_id_claim`], if present.
    pub user_id: Option<String>,
    /// Granted scopes, merged from the configured sources, first occurrence kept.
    pub scopes: Vec<String>,
    /// Roles from the configured [`ClassifyConfig::roles_claim`].
    pub roles: Vec<String>,
    /// The `iss` claim.
    pub issuer: String,
    /// The `aud` claim as a list (empty when absent).
    pub audiences: Vec<String>,
    /// The `exp` claim in unix seconds, when it is a finite number.
    pub expires_at: Option<i64>,
    /// Which rule decided the kind.
    pub decided_by: DecidedBy,
    /// The RFC 8693 `act` chain of a delegated token.
    pub actor: Option<Actor>,
    /// How the token is bound to its sender (its `cnf`), if it is: every request with
    /// it proved that binding (a DPoP proof, the client certificate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding: Option<crate::dpop::BindingKind>,
}

impl Principal {
    /// Gives back the spare capacity of its lists and strings (what a long-lived copy,
    /// such as a token cache entry, should not hold on to).
    pub fn shrink_to_fit(&mut self) {
        self.subject.shrink_to_fit();
        self.issuer.shrink_to_fit();
        for s in [&mut self.client_id, &mut self.user_id]
            .into_iter()
            .flatten()
        {
            s.shrink_to_fit();
        }
        for list in [&mut self.scopes, &mut self.roles, &mut self.audiences] {
            list.iter_mut().for_each(String::shrink_to_fit);
            list.shrink_to_fit();
        }
    }

    /// Whether this is a machine principal.
    pub fn is_machine(&self) -> bool {
        self.kind == Kind::Machine
    }

    /// Whether the exact scope was granted.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// Whether the exact role was granted.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

/// Classifies verified claims into a [`Principal`].
///
/// Errors: `sub` or `iss` missing ([`TokenError::ClaimMissing`]); `sub` or `iss` not a
/// string, `sub` empty, a scope/role/`aud` claim of the wrong type, the M2M claim not a
/// boolean, or a malformed `act` ([`TokenError::ClaimInvalid`]).
pub fn classify(claims: &Claims, cfg: &ClassifyConfig) -> Result<Principal, TokenError> {
    let subject = match claims.get("sub") {
        None | Some(Value::Null) => return Err(TokenError::ClaimMissing("sub".into())),
        Some(Value::String(s)) if s.is_empty() => {
            return Err(TokenError::ClaimInvalid("sub is empty".into()))
        }
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(TokenError::ClaimInvalid("sub is not a string".into())),
    };
    let issuer = match claims.get("iss") {
        None | Some(Value::Null) => return Err(TokenError::ClaimMissing("iss".into())),
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(TokenError::ClaimInvalid("iss is not a string".into())),
    };
    let client_id = non_empty_str(claims, "azp")
        .or_else(|| non_empty_str(claims, "client_id"))
        .map(str::to_owned);

    let (kind, decided_by) = decide_kind(claims, cfg, &subject, client_id.as_deref())?;

    let user_id = match kind {
        Kind::User => Some(subject.clone()),
        Kind::Machine => cfg
            .user_id_claim
            .as_deref()
            .and_then(|name| non_empty_str(claims, name))
            .map(str::to_owned),
    };

    let mut scopes = Merged::default();
    for source in &cfg.scope_claims {
        let name = source.claim();
        match source {
            ScopeSource::Scope => read_list(claims, name, true, false, &mut scopes)?,
            ScopeSource::Scp => read_list(claims, name, true, true, &mut scopes)?,
            ScopeSource::Permissions => read_list(claims, name, false, true, &mut scopes)?,
        }
        // Every merged scope is an RFC 6749 scope token, so that the space-joined list
        // the origin receives splits back into the same scopes: an array entry such as
        // "read:builds update:builds" cannot pass for two scopes.
        if scopes.items.iter().any(|s| !is_scope_token(s)) {
            return Err(TokenError::ClaimInvalid(format!(
                "{name} has an entry that is not a valid scope token (spaces, quotes, \
                 backslashes and non-ascii characters are not allowed)"
            )));
        }
    }

    let mut roles = Merged::default();
    if let Some(name) = cfg.roles_claim.as_deref() {
        read_list(claims, name, true, true, &mut roles)?;
    }

    let audiences = match claims.get("aud") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| TokenError::ClaimInvalid("aud contains a non-string".into()))?,
        Some(_) => {
            return Err(TokenError::ClaimInvalid(
                "aud is not a string or array".into(),
            ))
        }
    };

    let expires_at = claims.get("exp").and_then(number_to_i64);
    let actor = parse_act(claims.get("act"))?;

    Ok(Principal {
        kind,
        subject,
        client_id,
        user_id,
        scopes: scopes.items,
        roles: roles.items,
        issuer,
        audiences,
        expires_at,
        decided_by,
        actor,
        binding: crate::dpop::binding_kind(claims),
    })
}

fn decide_kind(
    claims: &Claims,
    cfg: &ClassifyConfig,
    subject: &str,
    client_id: Option<&str>,
) -> Result<(Kind, DecidedBy), TokenError> {
    for rule in &cfg.rules {
        match rule {
            ClassifyRule::M2mClaim => {
                let Some(name) = cfg.m2m_claim.as_deref() else {
                    continue;
                };
                match claims.get(name) {
                    None | Some(Value::Null) => {}
                    Some(Value::Bool(true)) => return Ok((Kind::Machine, DecidedBy::M2mClaim)),
                    Some(Value::Bool(false)) => return Ok((Kind::User, DecidedBy::M2mClaim)),
                    Some(_) => {
                        return Err(TokenError::ClaimInvalid(format!("{name} is not a boolean")))
                    }
                }
            }
            ClassifyRule::Gty => {
                if matches!(
                    claims.get("gty").and_then(Value::as_str),
                    Some("client-credentials" | "client_credentials")
                ) {
                    return Ok((Kind::Machine, DecidedBy::Gty));
                }
            }
            ClassifyRule::SubIsClientId => {
                if client_id == Some(subject) {
                    return Ok((Kind::Machine, DecidedBy::SubIsClientId));
                }
            }
            ClassifyRule::SubAtClients => {
                // Only `<the token's own client id>@clients`: a user whose identifier
                // merely ends in `@clients` (custom database and enterprise connections
                // let users shape it) stays a user.
                let own = |id: &str| !id.is_empty() && subject.strip_suffix("@clients") == Some(id);
                if ["azp", "client_id"]
                    .iter()
                    .any(|c| non_empty_str(claims, c).is_some_and(own))
                {
                    return Ok((Kind::Machine, DecidedBy::SubAtClients));
                }
            }
        }
    }
    Ok((Kind::User, DecidedBy::Default))
}

fn non_empty_str<'a>(claims: &'a Claims, name: &str) -> Option<&'a str> {
    claims
        .get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// An ordered list without duplicates.
#[derive(Default)]
struct Merged {
    items: Vec<String>,
    seen: HashSet<String>,
}

impl Merged {
    fn push(&mut self, item: &str) {
        if !item.is_empty() && !self.seen.contains(item) {
            self.seen.insert(item.to_owned());
            self.items.push(item.to_owned());
        }
    }
}

/// Reads a list claim: a space-separated string (when `string_ok`) and/or an array of
/// strings (when `array_ok`). Absent or `null` adds nothing.
fn read_list(
    claims: &Claims,
    name: &str,
    string_ok: bool,
    array_ok: bool,
    out: &mut Merged,
) -> Result<(), TokenError> {
    let shape = match (string_ok, array_ok) {
        (true, false) => "a space-separated string",
        (false, true) => "an array of strings",
        _ => "a space-separated string or an array of strings",
    };
    let invalid = || TokenError::ClaimInvalid(format!("{name} must be {shape}"));
    match claims.get(name) {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(s)) if string_ok => {
            for item in s.split_ascii_whitespace() {
                out.push(item);
            }
            Ok(())
        }
        Some(Value::Array(items)) if array_ok => {
            for item in items {
                out.push(item.as_str().ok_or_else(invalid)?);
            }
            Ok(())
        }
        Some(_) => Err(invalid()),
    }
}

/// An integer, or a finite float floored; anything else is `None`.
fn number_to_i64(v: &Value) -> Option<i64> {
    let n = v.as_number()?;
    if let Some(i) = n.as_i64() {
        return Some(i);
    }
    if n.as_u64().is_some() {
        // Larger than i64::MAX.
        return Some(i64::MAX);
    }
    let f = n.as_f64()?;
    // `as` saturates for finite floats out of range.
    f.is_finite().then(|| f.floor() as i64)
}

/// Parses an RFC 8693 `act` claim: absent or `null` is no actor; otherwise an object
/// with a non-empty string `sub`, optionally a `client_id` and a nested `act` (at
/// most [`MAX_ACTOR_DEPTH`] deep). What [`classify`] reads as [`Principal::actor`].
pub fn parse_act(act: Option<&Value>) -> Result<Option<Actor>, TokenError> {
    let mut subs: Vec<(String, Option<String>)> = Vec::new();
    let mut next = act;
    while let Some(v) = next {
        let obj = match v {
            Value::Null => break,
            Value::Object(obj) => obj,
            _ => return Err(TokenError::ClaimInvalid("act is not an object".into())),
        };
        if subs.len() >= MAX_ACTOR_DEPTH {
            return Err(TokenError::ClaimInvalid("act is nested too deeply".into()));
        }
        let client_id = match obj.get("client_id") {
            None | Some(Value::Null) => None,
            Some(Value::String(c)) if !c.is_empty() => Some(c.clone()),
            Some(_) => {
                return Err(TokenError::ClaimInvalid(
                    "act.client_id is not a non-empty string".into(),
                ))
            }
        };
        match obj.get("sub") {
            Some(Value::String(s)) if !s.is_empty() => subs.push((s.clone(), client_id)),
            _ => return Err(TokenError::ClaimInvalid("act has no string sub".into())),
        }
        next = obj.get("act");
    }
    let mut actor: Option<Actor> = None;
    while let Some((sub, client_id)) = subs.pop() {
        actor = Some(Actor {
            sub,
            client_id,
            act: actor.map(Box::new),
        });
    }
    Ok(actor)
}

/// Whether `s` is an RFC 6749 §3.3 scope token (the syntax of every scope the
/// configuration names and every granted scope the claims carry).
pub(crate) fn is_scope_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Claims {
        match v {
            Value::Object(m) => m,
            _ => Claims::new(),
        }
    }

    fn run(v: Value) -> Result<Principal, TokenError> {
        classify(&claims(v), &ClassifyConfig::default())
    }

    fn auth0_m2m() -> Value {
        json!({
            "iss": "https://tenant.auth0.com/",
            "sub": "abc@clients",
            "aud": "https://api.example.com",
            "azp": "abc",
            "gty": "client-credentials",
            "scope": "read:builds update:builds",
            "iat": 1_700_000_000,
            "exp": 1_700_086_400
        })
    }

    #[test]
    fn auth0_m2m_is_machine_by_gty() {
        let p = run(auth0_m2m()).unwrap();
        assert_eq!(p.kind, Kind::Machine);
        assert_eq!(p.decided_by, DecidedBy::Gty);
        assert_eq!(p.client_id.as_deref(), Some("abc"));
        assert_eq!(p.user_id, None);
        assert_eq!(p.scopes, ["read:builds", "update:builds"]);
        assert_eq!(p.audiences, ["https://api.example.com"]);
        assert_eq!(p.expires_at, Some(1_700_086_400));
        assert_eq!(p.actor, None);
    }

    #[test]
    fn fallbacks_without_gty() {
        let mut v = auth0_m2m();
        v.as_object_mut().unwrap().remove("gty");
        v["sub"] = json!("abc");
        let p = run(v.clone()).unwrap();
        assert_eq!(
            (p.kind, p.decided_by),
            (Kind::Machine, DecidedBy::SubIsClientId)
        );

        v["sub"] = json!("abc@clients");
        let p = run(v.clone()).unwrap();
        assert_eq!(
            (p.kind, p.decided_by),
            (Kind::Machine, DecidedBy::SubAtClients)
        );
        // Without a client id, "@clients" decides nothing.
        v.as_object_mut().unwrap().remove("azp");
        let p = run(v.clone()).unwrap();
        assert_eq!((p.kind, p.decided_by), (Kind::User, DecidedBy::Default));

        v["sub"] = json!("@clients");
        let p = run(v).unwrap();
        assert_eq!((p.kind, p.decided_by), (Kind::User, DecidedBy::Default));
    }

    #[test]
    fn client_id_falls_back_from_azp() {
        let p = run(json!({"iss": "i", "sub": "c1", "client_id": "c1"})).unwrap();
        assert_eq!(p.client_id.as_deref(), Some("c1"));
        assert_eq!(p.decided_by, DecidedBy::SubIsClientId);
        let p = run(json!({"iss": "i", "sub": "c1", "azp": 5, "client_id": "c2"})).unwrap();
        assert_eq!(p.client_id.as_deref(), Some("c2"));
        assert_eq!(p.kind, Kind::User);
        let p = run(json!({"iss": "i", "sub": "c1", "azp": "", "client_id": "c1"})).unwrap();
        assert_eq!(p.client_id.as_deref(), Some("c1"));
    }

    #[test]
    fn user_token_merges_scopes() {
        let p = run(json!({
            "iss": "https://tenant.auth0.com/",
            "sub": "auth0|123",
            "azp": "spa",
            "aud": ["https://api.example.com", "https://tenant.auth0.com/userinfo"],
            "scope": "openid profile read:builds",
            "permissions": ["update:builds", "read:builds"]
        }))
        .unwrap();
        assert_eq!((p.kind, p.decided_by), (Kind::User, DecidedBy::Default));
        assert_eq!(p.user_id.as_deref(), Some("auth0|123"));
        assert_eq!(
            p.scopes,
            ["openid", "profile", "read:builds", "update:builds"]
        );
        assert_eq!(p.audiences.len(), 2);
    }

    #[test]
    fn m2m_claim_overrides_and_errors() {
        let cfg = ClassifyConfig {
            m2m_claim: Some("https://example.com/is_m2m".into()),
            user_id_claim: Some("https://example.com/user_id".into()),
            ..ClassifyConfig::default()
        };
        let mut v = auth0_m2m();
        v["https://example.com/is_m2m"] = json!(false);
        let p = classify(&claims(v.clone()), &cfg).unwrap();
        assert_eq!((p.kind, p.decided_by), (Kind::User, DecidedBy::M2mClaim));
        assert_eq!(p.user_id.as_deref(), Some("abc@clients"));

        v["https://example.com/is_m2m"] = json!(true);
        v["https://example.com/user_id"] = json!("auth0|9");
        let p = classify(&claims(v.clone()), &cfg).unwrap();
        assert_eq!((p.kind, p.decided_by), (Kind::Machine, DecidedBy::M2mClaim));
        assert_eq!(p.user_id.as_deref(), Some("auth0|9"));

        v["https://example.com/user_id"] = json!("");
        assert_eq!(classify(&claims(v.clone()), &cfg).unwrap().user_id, None);

        v["https://example.com/is_m2m"] = json!("true");
        let err = classify(&claims(v), &cfg).unwrap_err();
        assert_eq!(
            err,
            TokenError::ClaimInvalid("https://example.com/is_m2m is not a boolean".into())
        );
    }

    #[test]
    fn scp_and_roles_shapes() {
        let cfg = ClassifyConfig {
            roles_claim: Some("roles".into()),
            ..ClassifyConfig::default()
        };
        let p = classify(
            &claims(json!({"iss": "i", "sub": "u", "scp": ["a", "b", "a"], "roles": "x  y"})),
            &cfg,
        )
        .unwrap();
        assert_eq!(p.scopes, ["a", "b"]);
        assert_eq!(p.roles, ["x", "y"]);
        let p = classify(
            &claims(json!({"iss": "i", "sub": "u", "scp": "a\tb", "roles": ["r"]})),
            &cfg,
        )
        .unwrap();
        assert_eq!(p.scopes, ["a", "b"]);
        assert_eq!(p.roles, ["r"]);
    }

    #[test]
    fn bad_types() {
        let cases = [
            (json!({"iss": "i"}), TokenError::ClaimMissing("sub".into())),
            (json!({"sub": "u"}), TokenError::ClaimMissing("iss".into())),
            (
                json!({"iss": "i", "sub": 1}),
                TokenError::ClaimInvalid("sub is not a string".into()),
            ),
            (
                json!({"iss": "i", "sub": ""}),
                TokenError::ClaimInvalid("sub is empty".into()),
            ),
            (
                json!({"iss": 1, "sub": "u"}),
                TokenError::ClaimInvalid("iss is not a string".into()),
            ),
            (
                json!({"iss": "i", "sub": "u", "scope": ["a"]}),
                TokenError::ClaimInvalid("scope must be a space-separated string".into()),
            ),
            (
                json!({"iss": "i", "sub": "u", "scp": 3}),
                TokenError::ClaimInvalid(
                    "scp must be a space-separated string or an array of strings".into(),
                ),
            ),
            (
                json!({"iss": "i", "sub": "u", "permissions": "a b"}),
                TokenError::ClaimInvalid("permissions must be an array of strings".into()),
            ),
            (
                json!({"iss": "i", "sub": "u", "permissions": ["a", 1]}),
                TokenError::ClaimInvalid("permissions must be an array of strings".into()),
            ),
            (
                json!({"iss": "i", "sub": "u", "aud": 1}),
                TokenError::ClaimInvalid("aud is not a string or array".into()),
            ),
            (
                json!({"iss": "i", "sub": "u", "aud": ["a", null]}),
                TokenError::ClaimInvalid("aud contains a non-string".into()),
            ),
        ];
        for (v, want) in cases {
            assert_eq!(run(v.clone()).unwrap_err(), want, "{v}");
        }
    }

    #[test]
    fn exp_shapes() {
        let exp = |e: Value| {
            run(json!({"iss": "i", "sub": "u", "exp": e}))
                .unwrap()
                .expires_at
        };
        assert_eq!(exp(json!(10)), Some(10));
        assert_eq!(exp(json!(10.9)), Some(10));
        assert_eq!(exp(json!(-1.5)), Some(-2));
        assert_eq!(exp(json!(u64::MAX)), Some(i64::MAX));
        assert_eq!(exp(json!(1e300)), Some(i64::MAX));
        assert_eq!(exp(json!("10")), None);
        assert_eq!(exp(Value::Null), None);
    }

    #[test]
    fn act_chain() {
        let p =
            run(json!({"iss": "i", "sub": "u", "act": {"sub": "svc-a", "act": {"sub": "svc-b"}}}))
                .unwrap();
        let a = p.actor.unwrap();
        assert_eq!(a.chain(), ["svc-a", "svc-b"]);
        for bad in [
            json!("x"),
            json!({}),
            json!({"sub": 1}),
            json!({"sub": "a", "act": 3}),
        ] {
            assert!(matches!(
                run(json!({"iss": "i", "sub": "u", "act": bad})),
                Err(TokenError::ClaimInvalid(_))
            ));
        }
        let mut deep = json!({"sub": "last"});
        for i in 0..MAX_ACTOR_DEPTH {
            deep = json!({"sub": format!("a{i}"), "act": deep});
        }
        assert_eq!(
            run(json!({"iss": "i", "sub": "u", "act": deep})).unwrap_err(),
            TokenError::ClaimInvalid("act is nested too deeply".into())
        );
    }

    #[test]
    fn names_and_serde() {
        assert_eq!(Kind::Machine.to_string(), "machine");
        assert_eq!(serde_json::to_value(Kind::User).unwrap(), json!("user"));
        for d in [
            DecidedBy::M2mClaim,
            DecidedBy::Gty,
            DecidedBy::SubIsClientId,
            DecidedBy::SubAtClients,
            DecidedBy::Default,
        ] {
            assert_eq!(serde_json::to_value(d).unwrap(), json!(d.as_str()));
        }
        let cfg: ClassifyConfig = serde_json::from_value(json!({})).unwrap();
        assert_eq!(cfg, ClassifyConfig::default());
        assert!(serde_json::from_value::<ClassifyConfig>(json!({"role_claim": "r"})).is_err());
        assert!(ClassifyConfig {
            roles_claim: Some(String::new()),
            ..ClassifyConfig::default()
        }
        .validate("classify.")
        .is_err());
    }
}
