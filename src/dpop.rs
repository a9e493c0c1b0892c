//! Sender-constrained tokens: DPoP proofs (RFC 9449) and certificate-bound tokens
//! (RFC 8705), sans-IO.
//!
//! A token's binding is its `cnf` claim ([`binding_of`]): `cnf.jkt` (the RFC 7638
//! thumbprint of the client's DPoP key) or `cnf["x5t#S256"]` (the SHA-256 thumbprint of
//! its TLS client certificate). A bound token is only ever accepted with its binding
//! proven: a DPoP-bound token needs `Authorization: DPoP` and a valid proof; a
//! certificate-bound one the certificate. A `cnf` of any other form (`jwk`, `jku`,
//! `kid`) is refused: tokengate cannot check it, and accepting it as a bearer token
//! would drop the constraint.
//!
//! [`check_proof`] applies every rule of RFC 9449 §4.3 that needs no I/O, in this
//! order: the size cap, the JOSE header (`typ`, an allowed asymmetric `alg` that fits
//! the public `jwk`, no private members), the claims (`jti`, `htm`, `htu` after RFC 3986
//! §6 normalisation, `iat` within the window, `ath`), the token's `cnf.jkt` against the
//! key's thumbprint, then the nonce ([`Nonces`]) when nonces are on. What is left is
//! owed by the caller, in the pipeline ([`Authenticator`](crate::Authenticator)): the
//! proof's signature (through the same signature backend as tokens, with the key the
//! proof carries) and the replay check of its `jti` ([`ProofReplay`]), once per window.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::alg::Alg;
use crate::jwk::{Key, KeySet};
use crate::jws::{self, b64_decode, b64_encode, Jws};
use crate::{Claims, UnixSeconds};

pub use crate::error::SenderError;

/// The largest DPoP proof accepted, in bytes, checked before any parsing.
pub const MAX_PROOF_BYTES: usize = 8 * 1024;
/// The longest `jti` accepted, in bytes.
pub const MAX_JTI_BYTES: usize = 256;
/// The default of [`DpopConfig::proof_max_age`]: how old a proof's `iat` may be, in
/// seconds (the leeway is added).
pub const DEFAULT_PROOF_MAX_AGE: u64 = 300;
/// The longest [`DpopConfig::proof_max_age`] a configuration may set, in seconds.
pub const MAX_PROOF_MAX_AGE: u64 = 3600;
/// The length of one nonce period in seconds: a nonce names the period it was issued
/// in, and is accepted while that period started at most
/// [`DpopConfig::proof_max_age`] seconds ago.
pub const NONCE_PERIOD: u64 = 60;
/// The secret holding the nonce key (a Worker secret; an option in JS): shared by
/// every isolate, so that any of them accepts the nonces of the others.
pub const NONCE_SECRET: &str = "TOKENGATE_DPOP_NONCE_SECRET";
/// The shortest nonce secret accepted, in bytes.
pub const MIN_NONCE_SECRET_BYTES: usize = 32;
/// The private members of a JWK: a proof whose `jwk` has one is refused.
pub const PRIVATE_JWK_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

fn default_proof_max_age() -> u64 {
    DEFAULT_PROOF_MAX_AGE
}

/// Whether an issuer's tokens may, or must, be DPoP-bound (`issuers[].dpop`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DpopMode {
    /// Bearer and DPoP-bound tokens are both accepted (the default); a DPoP-bound
    /// token only with its proof.
    #[default]
    Allowed,
    /// Only DPoP-bound tokens with their proof: bearer tokens are refused
    /// (`dpop_required`).
    Required,
}

/// The top-level `dpop` section: how proofs are checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DpopConfig {
    /// How old a proof may be, from its `iat`, in seconds (default 300, at most 3600);
    /// the leeway is added. Its `jti` is remembered as long.
    #[serde(default = "default_proof_max_age")]
    pub proof_max_age: u64,
    /// Whether proofs must carry a nonce the edge issued (RFC 9449 §9): a proof without
    /// one, or with an expired one, gets `use_dpop_nonce` and a fresh nonce in the
    /// `DPoP-Nonce` header. The key is the secret [`NONCE_SECRET`].
    #[serde(default)]
    pub nonce: bool,
    /// The scheme and authority (and path prefix, if any) clients use to reach the
    /// API, when the edge sits behind another proxy that changes the URL it sees:
    /// `htu` is compared with this base followed by the request's path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_base_url: Option<String>,
    /// The algorithms a proof may use (default: every asymmetric algorithm tokengate
    /// verifies); named in the `algs` of the DPoP challenge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithms: Option<Vec<Alg>>,
}

impl Default for DpopConfig {
    fn default() -> Self {
        DpopConfig {
            proof_max_age: DEFAULT_PROOF_MAX_AGE,
            nonce: false,
            public_base_url: None,
            algorithms: None,
        }
    }
}

impl DpopConfig {
    /// Checks the section; errors name the field under `prefix` (`dpop.`).
    pub fn validate(&self, prefix: &str) -> Result<(), crate::ConfigError> {
        use crate::ConfigError;
        if self.proof_max_age == 0 || self.proof_max_age > MAX_PROOF_MAX_AGE {
            return Err(ConfigError::invalid(
                format!("{prefix}proof_max_age"),
                "must be between 1 and 3600 seconds",
            ));
        }
        if let Some(base) = &self.public_base_url {
            let ok = normalise_htu(base).is_some()
                && !base.contains(['?', '#'])
                && (base.starts_with("https://")
                    || crate::fetch_url::check_fetch_url(base).is_ok());
            if !ok {
                return Err(ConfigError::invalid(
                    format!("{prefix}public_base_url"),
                    "must be an absolute https URL (http only for loopback) without query or fragment",
                ));
            }
        }
        if let Some(algs) = &self.algorithms {
            if algs.is_empty() || algs.iter().any(|a| a.is_hmac()) {
                return Err(ConfigError::invalid(
                    format!("{prefix}algorithms"),
                    "must list at least one algorithm, and only asymmetric ones",
                ));
            }
        }
        Ok(())
    }

    /// The algorithms a proof may use.
    pub fn algorithms(&self) -> Vec<Alg> {
        self.algorithms
            .clone()
            .unwrap_or_else(|| Alg::ASYMMETRIC.to_vec())
    }
}

/// How a token is bound to its sender, from its `cnf` claim.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Binding {
    /// `cnf.jkt`: the base64url SHA-256 thumbprint of the DPoP key (RFC 9449 §6).
    pub jkt: Option<String>,
    /// `cnf["x5t#S256"]`: the SHA-256 of the client certificate's DER (RFC 8705 §3.1),
    /// decoded.
    pub x5t_s256: Option<[u8; 32]>,
}

impl Binding {
    /// Whether the token is bound at all.
    pub fn is_bound(&self) -> bool {
        self.jkt.is_some() || self.x5t_s256.is_some()
    }
}

/// Which bindings a token carries, as [`Principal::binding`](crate::Principal::binding)
/// reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BindingKind {
    /// DPoP (`cnf.jkt`).
    Dpop,
    /// A TLS client certificate (`cnf["x5t#S256"]`).
    Mtls,
    /// Both.
    DpopMtls,
}

impl BindingKind {
    /// The lowercase name: `dpop`, `mtls`, `dpop_mtls`.
    pub fn as_str(self) -> &'static str {
        match self {
            BindingKind::Dpop => "dpop",
            BindingKind::Mtls => "mtls",
            BindingKind::DpopMtls => "dpop_mtls",
        }
    }
}

fn is_thumbprint(s: &str) -> bool {
    s.len() == 43 && b64_decode(s).is_some_and(|b| b.len() == 32)
}

/// Reads a token's binding from its claims: no `cnf` is unbound; a `cnf` that is not
/// an object, a malformed thumbprint, or a confirmation method tokengate cannot check
/// (`jwk`, `jku`, `kid`, ...) is an error (fail closed).
pub fn binding_of(claims: &Claims) -> Result<Binding, SenderError> {
    let Some(cnf) = claims.get("cnf") else {
        return Ok(Binding::default());
    };
    let cnf = cnf
        .as_object()
        .ok_or_else(|| SenderError::BindingUnsupported("cnf is not an object".into()))?;
    let mut out = Binding::default();
    for (name, value) in cnf {
        match (name.as_str(), value) {
            ("jkt", Value::String(s)) if is_thumbprint(s) => out.jkt = Some(s.clone()),
            ("jkt", _) => {
                return Err(SenderError::BindingUnsupported(
                    "cnf.jkt is not a base64url SHA-256 thumbprint".into(),
                ))
            }
            ("x5t#S256", Value::String(s)) if is_thumbprint(s) => {
                let mut d = [0u8; 32];
                d.copy_from_slice(&b64_decode(s).unwrap_or_default());
                out.x5t_s256 = Some(d);
            }
            ("x5t#S256", _) => {
                return Err(SenderError::BindingUnsupported(
                    "cnf[\"x5t#S256\"] is not a base64url SHA-256 thumbprint".into(),
                ))
            }
            (other, _) => {
                return Err(SenderError::BindingUnsupported(format!(
                    "cnf.{other} is a confirmation method tokengate does not check"
                )))
            }
        }
    }
    if !out.is_bound() {
        return Err(SenderError::BindingUnsupported(
            "cnf names no confirmation method".into(),
        ));
    }
    Ok(out)
}

/// The [`BindingKind`] of claims whose `cnf` is well formed, `None` otherwise.
pub fn binding_kind(claims: &Claims) -> Option<BindingKind> {
    let b = binding_of(claims).ok()?;
    match (b.jkt.is_some(), b.x5t_s256.is_some()) {
        (true, true) => Some(BindingKind::DpopMtls),
        (true, false) => Some(BindingKind::Dpop),
        (false, true) => Some(BindingKind::Mtls),
        (false, false) => None,
    }
}

/// The RFC 7638 JWK thumbprint (SHA-256, base64url) of a public key: the required
/// members in lexicographic order, no whitespace. `None` for a key type without one
/// here (anything but `EC`, `RSA`, `OKP`) or a required member that is not a string.
pub fn jwk_thumbprint(jwk: &serde_json::Map<String, Value>) -> Option<String> {
    let members: &[&str] = match jwk.get("kty")?.as_str()? {
        "EC" => &["crv", "kty", "x", "y"],
        "RSA" => &["e", "kty", "n"],
        "OKP" => &["crv", "kty", "x"],
        _ => return None,
    };
    let mut canon = String::from("{");
    for (i, m) in members.iter().enumerate() {
        let v = jwk.get(*m)?.as_str()?;
        if i > 0 {
            canon.push(',');
        }
        canon.push_str(&serde_json::to_string(m).ok()?);
        canon.push(':');
        canon.push_str(&serde_json::to_string(v).ok()?);
    }
    canon.push('}');
    Some(b64_encode(&Sha256::digest(canon.as_bytes())))
}

/// `ath`: base64url(SHA-256(the access token's ASCII)).
pub fn access_token_hash(token: &str) -> String {
    b64_encode(&Sha256::digest(token.as_bytes()))
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// RFC 3986 §6.2.2–6.2.3 normalisation of an `http(s)` URI, without its query and
/// fragment (RFC 9449 §4.3 compares `htu` so): scheme and host lowercased, the default
/// port dropped, percent-escapes of unreserved characters decoded and the others'
/// hex digits uppercased, dot segments removed, an empty path made `/`. `None` for
/// anything else (another scheme, userinfo, a bad port or escape).
pub fn normalise_htu(uri: &str) -> Option<String> {
    let uri = &uri[..uri.find(['?', '#']).unwrap_or(uri.len())];
    let (scheme, rest) = uri.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => "80",
        "https" => "443",
        _ => return None,
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6.split_once(']')?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        (format!("[{}]", h.to_ascii_lowercase()), port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_ascii_lowercase(), Some(p)),
            None => (authority.to_ascii_lowercase(), None),
        }
    };
    if host.is_empty() || host.contains(|c: char| c.is_ascii_whitespace() || c == '%') {
        return None;
    }
    let port = match port {
        None | Some("") => None,
        Some(p) if p.bytes().all(|b| b.is_ascii_digit()) && p.len() <= 5 => {
            let n: u32 = p.parse().ok()?;
            if n > 65535 {
                return None;
            }
            let p = n.to_string();
            (p != default_port).then_some(p)
        }
        Some(_) => return None,
    };
    let path = normalise_escapes(if path.is_empty() { "/" } else { path })?;
    let path = remove_dot_segments(&path);
    let mut out = format!("{scheme}://{host}");
    if let Some(p) = port {
        out.push(':');
        out.push_str(&p);
    }
    out.push_str(&path);
    Some(out)
}

fn normalise_escapes(path: &str) -> Option<String> {
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = path.get(i + 1..i + 3)?;
            let v = u8::from_str_radix(hex, 16).ok()?;
            if v.is_ascii_alphanumeric() || matches!(v, b'-' | b'.' | b'_' | b'~') {
                out.push(v as char);
            } else {
                out.push('%');
                out.push_str(&hex.to_ascii_uppercase());
            }
            i += 3;
        } else if b.is_ascii_graphic() {
            out.push(b as char);
            i += 1;
        } else {
            return None;
        }
    }
    Some(out)
}

/// RFC 3986 §5.2.4 on an absolute path.
fn remove_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let last = segments.len().saturating_sub(1);
    let mut trailing = false;
    for (i, seg) in segments.iter().enumerate() {
        match *seg {
            "." => trailing = i == last,
            ".." => {
                out.pop();
                trailing = i == last;
            }
            s => {
                out.push(s);
                trailing = false;
            }
        }
    }
    let mut p = String::from("/");
    p.push_str(&out.join("/"));
    if trailing && !p.ends_with('/') {
        p.push('/');
    }
    p
}

/// The request a proof must match, as the adapter saw it.
#[derive(Debug, Clone, Copy)]
pub struct DpopRequest<'a> {
    /// The request's method, as sent.
    pub method: &'a str,
    /// The request's absolute URL (query and fragment are ignored); with
    /// [`DpopConfig::public_base_url`] only its path is used.
    pub url: &'a str,
    /// The `DPoP` header's value, as the runtime gives it: several `DPoP` headers come
    /// joined with `,` (which no proof contains), and are refused.
    pub proof: Option<&'a str>,
}

/// The compiled DPoP rules of a configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct DpopRules {
    /// Seconds a proof may be old ([`DpopConfig::proof_max_age`]).
    pub proof_max_age: u64,
    /// The clock-skew leeway ([`Config::leeway`](crate::Config::leeway)).
    pub leeway: u64,
    /// Whether nonces are required.
    pub nonce: bool,
    /// The public base URL, normalised, without a trailing `/`.
    pub public_base_url: Option<String>,
    /// The allowed proof algorithms.
    pub algorithms: Vec<Alg>,
}

impl DpopRules {
    /// The rules of `cfg` (the defaults when `None`) with `leeway`.
    pub fn new(cfg: Option<&DpopConfig>, leeway: u64) -> DpopRules {
        let d = DpopConfig::default();
        let cfg = cfg.unwrap_or(&d);
        DpopRules {
            proof_max_age: cfg.proof_max_age,
            leeway,
            nonce: cfg.nonce,
            public_base_url: cfg
                .public_base_url
                .as_deref()
                .and_then(normalise_htu)
                .map(|b| b.trim_end_matches('/').to_owned()),
            algorithms: cfg.algorithms(),
        }
    }

    /// The `algs` value of the DPoP challenge: the allowed algorithms, space-separated.
    pub fn algs(&self) -> String {
        let names: Vec<&str> = self.algorithms.iter().map(|a| a.as_str()).collect();
        names.join(" ")
    }

    /// The URL `htu` must equal for `req`, normalised.
    pub fn expected_htu(&self, url: &str) -> Option<String> {
        match &self.public_base_url {
            None => normalise_htu(url),
            Some(base) => {
                let after = url.split_once("://").map_or(url, |(_, r)| r);
                let path = &after[after.find('/').unwrap_or(after.len())..];
                let path = if path.is_empty() { "/" } else { path };
                normalise_htu(&format!("{base}{path}"))
            }
        }
    }
}

/// What the replay check of a proof needs: its key's thumbprint (the shard), its
/// `jti`, and until when it must be remembered (after that its `iat` is too old).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofReplay {
    /// The thumbprint of the proof's key (equal to the token's `cnf.jkt`).
    pub jkt: String,
    /// The proof's `jti`.
    pub jti: String,
    /// Unix seconds after which a proof with this `jti` is refused by its `iat` anyway.
    pub expires_at: UnixSeconds,
}

impl ProofReplay {
    /// One store key for both: the thumbprint (always 43 base64url characters) then
    /// `.` and the `jti`; unambiguous whatever the `jti` holds.
    pub fn key(&self) -> String {
        format!("{}.{}", self.jkt, self.jti)
    }

    /// Seconds to remember the `jti` for, from `now`: through the second
    /// [`expires_at`](Self::expires_at) itself, in which the proof is still accepted.
    pub fn ttl(&self, now: UnixSeconds) -> u64 {
        self.expires_at.saturating_sub(now).saturating_add(1)
    }
}

/// A proof that passed every rule but its signature and replay check, which the
/// pipeline owes it.
#[derive(Debug, Clone)]
pub struct PendingProof<'a> {
    /// The decoded proof.
    pub jws: Jws<'a>,
    /// The key its header carries (one key).
    pub keys: KeySet,
    /// The algorithm, chosen from that key and the allowlist, agreeing with the header.
    pub alg: Alg,
    /// What the replay check needs.
    pub replay: ProofReplay,
}

impl PendingProof<'_> {
    /// The proof's key.
    pub fn key(&self) -> &Key {
        &self.keys.keys()[0]
    }
}

fn invalid(why: impl Into<String>) -> SenderError {
    SenderError::InvalidProof(why.into())
}

/// Checks a DPoP proof for `token` against `req` at `now`, every rule but the
/// signature and the replay (see the module docs): `jkt` is the token's `cnf.jkt`,
/// `nonces` the nonce key when [`DpopRules::nonce`] is on.
pub fn check_proof<'a>(
    req: &DpopRequest<'a>,
    token: &str,
    jkt: &str,
    rules: &DpopRules,
    nonces: Option<&Nonces>,
    now: UnixSeconds,
) -> Result<PendingProof<'a>, SenderError> {
    let proof = req
        .proof
        .ok_or_else(|| invalid("the DPoP scheme needs a DPoP header with a proof"))?
        .trim();
    if proof.len() > MAX_PROOF_BYTES {
        return Err(invalid(format!(
            "proof is {} bytes, larger than the {MAX_PROOF_BYTES}-byte limit",
            proof.len()
        )));
    }
    if proof.contains(',') {
        return Err(invalid("exactly one DPoP header is allowed"));
    }
    let jws = jws::parse(proof, MAX_PROOF_BYTES)
        .map_err(|e| invalid(format!("proof is not a compact JWS: {e}")))?;
    // The header: typ, the key, the algorithm.
    match jws.header.get("typ") {
        Some(Value::String(t)) if t.eq_ignore_ascii_case("dpop+jwt") => {}
        Some(_) => return Err(invalid("proof typ is not dpop+jwt")),
        None => return Err(invalid("proof has no typ (dpop+jwt)")),
    }
    let jwk = match jws.header.get("jwk") {
        Some(Value::Object(o)) => o,
        Some(_) => return Err(invalid("proof jwk is not an object")),
        None => return Err(invalid("proof header has no jwk")),
    };
    if let Some(m) = PRIVATE_JWK_MEMBERS.iter().find(|m| jwk.contains_key(**m)) {
        return Err(invalid(format!("proof jwk has the private member {m:?}")));
    }
    let thumbprint = jwk_thumbprint(jwk)
        .ok_or_else(|| invalid("proof jwk is not an EC, RSA or OKP public key"))?;
    let mut only_public = jwk.clone();
    // The JWK's `kid` means nothing here; the selection below must not look for it.
    only_public.remove("kid");
    let keys = KeySet::from_value(&serde_json::json!({ "keys": [Value::Object(only_public)] }))
        .map_err(|e| invalid(format!("proof jwk is not usable: {e}")))?;
    let header_alg = jws.alg().map_err(|e| invalid(e.to_string()))?;
    let (_, alg) = keys
        .select(None, header_alg, &rules.algorithms)
        .map_err(|e| invalid(format!("proof {e}")))?;
    // The claims.
    let claims = jws
        .claims()
        .map_err(|e| invalid(format!("proof payload: {e}")))?;
    let jti = match claims.get("jti") {
        Some(Value::String(s)) if !s.is_empty() && s.len() <= MAX_JTI_BYTES => s.clone(),
        Some(Value::String(_)) => {
            return Err(invalid(format!(
                "proof jti must be 1 to {MAX_JTI_BYTES} bytes"
            )))
        }
        Some(_) => return Err(invalid("proof jti is not a string")),
        None => return Err(invalid("proof has no jti")),
    };
    match claims.get("htm") {
        Some(Value::String(m)) if m == req.method => {}
        Some(Value::String(_)) => return Err(invalid("proof htm is not the request's method")),
        Some(_) => return Err(invalid("proof htm is not a string")),
        None => return Err(invalid("proof has no htm")),
    }
    let want = rules
        .expected_htu(req.url)
        .ok_or_else(|| invalid("the request URL cannot be compared with htu"))?;
    match claims.get("htu") {
        Some(Value::String(u)) if normalise_htu(u).as_deref() == Some(want.as_str()) => {}
        Some(Value::String(_)) => return Err(invalid("proof htu is not the request's URL")),
        Some(_) => return Err(invalid("proof htu is not a string")),
        None => return Err(invalid("proof has no htu")),
    }
    let iat = match claims.get("iat") {
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
            .ok_or_else(|| invalid("proof iat is not a number of seconds"))?,
        Some(_) => return Err(invalid("proof iat is not a number")),
        None => return Err(invalid("proof has no iat")),
    };
    let now_i = i64::try_from(now).unwrap_or(i64::MAX);
    let window = i64::try_from(rules.proof_max_age + rules.leeway).unwrap_or(i64::MAX);
    let leeway = i64::try_from(rules.leeway).unwrap_or(i64::MAX);
    if iat > now_i.saturating_add(leeway) {
        return Err(invalid("proof iat is in the future"));
    }
    if iat < now_i.saturating_sub(window) {
        return Err(invalid("proof is too old (iat)"));
    }
    match claims.get("ath") {
        Some(Value::String(a)) if ct_eq(a.as_bytes(), access_token_hash(token).as_bytes()) => {}
        Some(Value::String(_)) => return Err(invalid("proof ath is not the token's hash")),
        Some(_) => return Err(invalid("proof ath is not a string")),
        None => return Err(invalid("proof has no ath")),
    }
    // The binding: the proof's key must be the token's.
    if !ct_eq(thumbprint.as_bytes(), jkt.as_bytes()) {
        return Err(SenderError::BindingMismatch(
            "the proof's key is not the one the token is bound to (cnf.jkt)".into(),
        ));
    }
    if let Some(nonces) = nonces.filter(|_| rules.nonce) {
        match claims.get("nonce") {
            Some(Value::String(n)) if nonces.accepts(n, now, rules.proof_max_age) => {}
            Some(Value::String(_)) => {
                return Err(SenderError::UseNonce {
                    nonce: nonces.issue(now),
                    why: "the proof's nonce is not valid or has expired".into(),
                })
            }
            Some(_) => return Err(invalid("proof nonce is not a string")),
            None => {
                return Err(SenderError::UseNonce {
                    nonce: nonces.issue(now),
                    why: "the proof must carry a nonce from the DPoP-Nonce header".into(),
                })
            }
        }
    } else if rules.nonce {
        return Err(SenderError::NonceUnavailable);
    }
    let iat_u = u64::try_from(iat.max(0)).unwrap_or(0);
    Ok(PendingProof {
        jws,
        keys,
        alg,
        replay: ProofReplay {
            jkt: thumbprint,
            jti,
            expires_at: iat_u
                .max(now)
                .saturating_add(rules.proof_max_age)
                .saturating_add(rules.leeway),
        },
    })
}

/// Stateless DPoP nonces (RFC 9449 §8–9): a nonce is the period it was issued in
/// ([`NONCE_PERIOD`] seconds each) and an HMAC-SHA-256 of it under the shared secret
/// [`NONCE_SECRET`], so every isolate accepts every other's nonces without shared state.
#[derive(Clone)]
pub struct Nonces {
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for Nonces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Nonces(..)")
    }
}

impl Nonces {
    /// The nonce key from the secret's bytes; `None` when shorter than
    /// [`MIN_NONCE_SECRET_BYTES`].
    pub fn new(secret: &[u8]) -> Option<Nonces> {
        if secret.len() < MIN_NONCE_SECRET_BYTES {
            return None;
        }
        Some(Nonces {
            mac: Hmac::<Sha256>::new_from_slice(secret).ok()?,
        })
    }

    fn tag(&self, period: u64) -> [u8; 16] {
        let mut mac = self.mac.clone();
        mac.update(b"tokengate dpop nonce\0");
        mac.update(&period.to_be_bytes());
        let full = mac.finalize().into_bytes();
        let mut out = [0u8; 16];
        out.copy_from_slice(&full[..16]);
        out
    }

    /// A fresh nonce for `now`.
    pub fn issue(&self, now: UnixSeconds) -> String {
        let period = now / NONCE_PERIOD;
        let mut raw = Vec::with_capacity(24);
        raw.extend_from_slice(&period.to_be_bytes());
        raw.extend_from_slice(&self.tag(period));
        b64_encode(&raw)
    }

    /// Whether `nonce` was issued with this key at most `max_age` seconds (rounded up to
    /// whole periods) before `now`, and not in a period after `now`'s next.
    pub fn accepts(&self, nonce: &str, now: UnixSeconds, max_age: u64) -> bool {
        let Some(raw) = (nonce.len() == 32).then(|| b64_decode(nonce)).flatten() else {
            return false;
        };
        if raw.len() != 24 {
            return false;
        }
        let mut p = [0u8; 8];
        p.copy_from_slice(&raw[..8]);
        let period = u64::from_be_bytes(p);
        let current = now / NONCE_PERIOD;
        let periods = max_age.div_ceil(NONCE_PERIOD);
        if period > current + 1 || current.saturating_sub(period) > periods {
            return false;
        }
        ct_eq(&raw[8..], &self.tag(period))
    }
}

/// The client certificate a request came with, as the adapter learned it (the
/// Worker: `request.cf.tlsClientAuth`; npm: what the caller passes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientCertificate {
    /// None was presented.
    Absent,
    /// One was presented but the TLS terminator did not verify it.
    Unverified,
    /// A verified certificate: the SHA-256 of its DER.
    Verified([u8; 32]),
}

impl ClientCertificate {
    /// From a SHA-256 fingerprint in hex (Cloudflare's `certFingerprintSHA256`, any
    /// case, `:` separators allowed) or base64url (an RFC 8705 `x5t#S256`); `None` when
    /// it is neither.
    pub fn from_fingerprint(s: &str) -> Option<ClientCertificate> {
        let hex: String = s.chars().filter(|c| *c != ':').collect();
        if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            let mut d = [0u8; 32];
            for (i, byte) in d.iter_mut().enumerate() {
                *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
            }
            return Some(ClientCertificate::Verified(d));
        }
        if is_thumbprint(s) {
            let mut d = [0u8; 32];
            d.copy_from_slice(&b64_decode(s)?);
            return Some(ClientCertificate::Verified(d));
        }
        None
    }
}

/// RFC 8705 §3: a certificate-bound token's `x5t#S256` against the request's client
/// certificate, compared in constant time.
pub fn check_certificate(want: &[u8; 32], cert: &ClientCertificate) -> Result<(), SenderError> {
    match cert {
        ClientCertificate::Absent => Err(SenderError::MtlsMismatch(
            "the token is bound to a client certificate and the request presented none".into(),
        )),
        ClientCertificate::Unverified => Err(SenderError::MtlsMismatch(
            "the request's client certificate was not verified".into(),
        )),
        ClientCertificate::Verified(got) if ct_eq(got, want) => Ok(()),
        ClientCertificate::Verified(_) => Err(SenderError::MtlsMismatch(
            "the request's client certificate is not the one the token is bound to".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7638_example_thumbprint() {
        // RFC 7638 §3.1.
        let jwk: serde_json::Map<String, Value> = serde_json::from_str(
            r#"{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}"#,
        )
        .unwrap();
        assert_eq!(
            jwk_thumbprint(&jwk).unwrap(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn htu_normalisation() {
        let n = |s: &str| normalise_htu(s);
        assert_eq!(
            n("HTTPS://API.Example.COM:443/a/./b/../c?x#y").unwrap(),
            "https://api.example.com/a/c"
        );
        assert_eq!(n("http://h:80").unwrap(), "http://h/");
        assert_eq!(
            n("http://h:8080/%7euser/%2f").unwrap(),
            "http://h:8080/~user/%2F"
        );
        assert_eq!(n("https://[::1]:8443/x").unwrap(), "https://[::1]:8443/x");
        assert_eq!(n("https://h/a/.."), Some("https://h/".into()));
        assert_eq!(n("https://h/a/b/."), Some("https://h/a/b/".into()));
        for bad in [
            "ftp://h/",
            "https://u@h/",
            "https://h:99999/",
            "https://h/%zz",
            "h/x",
            "https:///x",
            "https://h/a b",
        ] {
            assert_eq!(n(bad), None, "{bad}");
        }
        // The trailing slash is significant (RFC 3986 does not remove it).
        assert_ne!(n("https://h/a/"), n("https://h/a"));
    }

    #[test]
    fn public_base_url_takes_the_path_only() {
        let cfg = DpopConfig {
            public_base_url: Some("https://API.example.com/v1/".into()),
            ..DpopConfig::default()
        };
        let r = DpopRules::new(Some(&cfg), 60);
        assert_eq!(
            r.expected_htu("http://internal:8787/builds/7?x=1").unwrap(),
            "https://api.example.com/v1/builds/7"
        );
    }

    #[test]
    fn nonces_roundtrip_and_expire() {
        let n = Nonces::new(&[7u8; 32]).unwrap();
        let other = Nonces::new(&[8u8; 32]).unwrap();
        let t = 1_800_000_000;
        let nonce = n.issue(t);
        assert!(n.accepts(&nonce, t, 300));
        assert!(n.accepts(&nonce, t + 299, 300));
        assert!(!n.accepts(&nonce, t + 400, 300));
        assert!(!other.accepts(&nonce, t, 300));
        assert!(!n.accepts(&n.issue(t + 600), t, 300), "a future period");
        let mut tampered = nonce.clone().into_bytes();
        tampered[31] = if tampered[31] == b'A' { b'B' } else { b'A' };
        assert!(!n.accepts(std::str::from_utf8(&tampered).unwrap(), t, 300));
        assert!(Nonces::new(&[1u8; 31]).is_none());
    }

    #[test]
    fn bindings() {
        let c = |j: &str| -> Claims { serde_json::from_str(j).unwrap() };
        let jkt = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";
        assert_eq!(binding_of(&c("{}")).unwrap(), Binding::default());
        let b = binding_of(&c(&format!(r#"{{"cnf":{{"jkt":"{jkt}"}}}}"#))).unwrap();
        assert_eq!(b.jkt.as_deref(), Some(jkt));
        let b = binding_of(&c(&format!(r#"{{"cnf":{{"x5t#S256":"{jkt}"}}}}"#))).unwrap();
        assert!(b.x5t_s256.is_some() && b.jkt.is_none());
        for bad in [
            r#"{"cnf":"x"}"#,
            r#"{"cnf":{}}"#,
            r#"{"cnf":{"jkt":"short"}}"#,
            r#"{"cnf":{"jkt":7}}"#,
            r#"{"cnf":{"jwk":{"kty":"EC"}}}"#,
            r#"{"cnf":{"kid":"k"}}"#,
        ] {
            assert!(
                matches!(binding_of(&c(bad)), Err(SenderError::BindingUnsupported(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn certificate_fingerprints() {
        let hex = "ab".repeat(32);
        let cert = ClientCertificate::from_fingerprint(&hex).unwrap();
        assert_eq!(cert, ClientCertificate::Verified([0xab; 32]));
        assert_eq!(
            ClientCertificate::from_fingerprint(&hex.to_uppercase()),
            Some(cert.clone())
        );
        assert!(check_certificate(&[0xab; 32], &cert).is_ok());
        assert!(check_certificate(&[0xac; 32], &cert).is_err());
        assert!(check_certificate(&[0xab; 32], &ClientCertificate::Absent).is_err());
        assert!(check_certificate(&[0xab; 32], &ClientCertificate::Unverified).is_err());
        assert_eq!(ClientCertificate::from_fingerprint("zz"), None);
    }
}
