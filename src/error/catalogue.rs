//! The error catalogue: one row per stable code, the single source of every code's
//! stage, HTTP status, `error` values and texts.
//!
//! Each error enum maps its variants to a row ([`ErrorCode::info`](super::ErrorCode::info));
//! its code, status and RFC 6750 challenge come from that row. The README's error
//! table, the npm `ErrorCode` union and the decoder page's help texts are checked
//! against (or built from) [`CATALOGUE`].

use serde::Serialize;

/// The stage an error belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Stage {
    /// Reading the request: where the token comes from, the path, `_method`.
    Request,
    /// Verifying the token: parsing, key selection, signature, claims.
    Token,
    /// Proving the sender: DPoP proofs, certificate-bound tokens.
    Sender,
    /// Whether the token was revoked (the revocation store).
    Revocation,
    /// The route's requirement.
    Policy,
    /// Getting the issuer's signing keys.
    Keys,
    /// The configuration.
    Config,
    /// The token endpoint (RFC 8693 token exchange; RFC 6749 §5.2 codes).
    Exchange,
    /// A failure of the edge itself (its signing keys, its runtime).
    Internal,
}

impl Stage {
    /// Every stage, in the order the README lists them.
    pub const ALL: &'static [Stage] = &[
        Stage::Request,
        Stage::Token,
        Stage::Sender,
        Stage::Revocation,
        Stage::Policy,
        Stage::Keys,
        Stage::Config,
        Stage::Internal,
        Stage::Exchange,
    ];

    /// The lowercase name, e.g. `request`.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Request => "request",
            Stage::Token => "token",
            Stage::Sender => "sender",
            Stage::Revocation => "revocation",
            Stage::Policy => "policy",
            Stage::Keys => "keys",
            Stage::Config => "config",
            Stage::Exchange => "exchange",
            Stage::Internal => "internal",
        }
    }
}

/// What `WWW-Authenticate` challenge a denial carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Challenge {
    /// None (5xx, and the token endpoint's 400s: RFC 6749 §5.2 answers in the body).
    None,
    /// `Bearer realm="..."` without an `error` attribute (RFC 6750 §3.1: a request
    /// without authentication; RFC 6749 §5.2: a refused client).
    Bare,
    /// `Bearer realm="...", error="<value>", error_description="..."`, with one of the
    /// RFC 6750 §3.1 values `invalid_request`, `invalid_token`, `insufficient_scope`.
    Error(&'static str),
    /// `DPoP error="<value>", error_description="...", algs="..."` (RFC 9449 §7.1),
    /// next to a bare `Bearer` challenge where bearer tokens are accepted; the value is
    /// `invalid_dpop_proof`, `use_dpop_nonce` or `invalid_token`.
    Dpop(&'static str),
}

impl Challenge {
    /// The RFC 6750 `error` attribute, if the challenge has one.
    pub fn error(self) -> Option<&'static str> {
        match self {
            Challenge::Error(e) | Challenge::Dpop(e) => Some(e),
            Challenge::None | Challenge::Bare => None,
        }
    }
}

/// One row of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeInfo {
    /// The stable snake_case code (`code` in bodies and JS results).
    pub code: &'static str,
    /// The stage the code belongs to.
    pub stage: Stage,
    /// The HTTP status.
    pub status: u16,
    /// The OAuth `error` value of the JSON body (RFC 6750 §3.1, RFC 6749 §5.2, or
    /// `unauthorized` / `temporarily_unavailable` / `server_error`).
    pub error: &'static str,
    /// The `WWW-Authenticate` challenge (its RFC 6750 `error` attribute, if any).
    pub challenge: Challenge,
    /// A one-line lowercase description of when the code is given.
    pub description: &'static str,
    /// A short help text for the decoder page: what it means and what to do.
    pub help: &'static str,
}

const fn row(
    code: &'static str,
    stage: Stage,
    status: u16,
    error: &'static str,
    challenge: Challenge,
    description: &'static str,
    help: &'static str,
) -> CodeInfo {
    CodeInfo {
        code,
        stage,
        status,
        error,
        challenge,
        description,
        help,
    }
}

const fn request(code: &'static str, description: &'static str, help: &'static str) -> CodeInfo {
    row(
        code,
        Stage::Request,
        400,
        "invalid_request",
        Challenge::Error("invalid_request"),
        description,
        help,
    )
}

const fn token(code: &'static str, description: &'static str, help: &'static str) -> CodeInfo {
    row(
        code,
        Stage::Token,
        401,
        "invalid_token",
        Challenge::Error("invalid_token"),
        description,
        help,
    )
}

const fn policy(code: &'static str, description: &'static str, help: &'static str) -> CodeInfo {
    row(
        code,
        Stage::Policy,
        403,
        "insufficient_scope",
        Challenge::Error("insufficient_scope"),
        description,
        help,
    )
}

const fn keys(code: &'static str, description: &'static str, help: &'static str) -> CodeInfo {
    row(
        code,
        Stage::Keys,
        503,
        "temporarily_unavailable",
        Challenge::None,
        description,
        help,
    )
}

const fn exchange(
    code: &'static str,
    status: u16,
    challenge: Challenge,
    description: &'static str,
    help: &'static str,
) -> CodeInfo {
    // RFC 6749 §5.2: the body's `error` is the code itself.
    row(
        code,
        Stage::Exchange,
        status,
        code,
        challenge,
        description,
        help,
    )
}

// --- request ---

/// `token_missing` (401, bare challenge).
pub const TOKEN_MISSING: CodeInfo = row(
    "token_missing",
    Stage::Request,
    401,
    "unauthorized",
    Challenge::Bare,
    "no access token was presented",
    "No token was given.",
);
/// `invalid_request` (400): a malformed `Authorization` header, or two different tokens.
pub const INVALID_REQUEST: CodeInfo = request(
    "invalid_request",
    "the authorization header is not one bearer token, or two different tokens were presented",
    "The Authorization header is not one bearer token, or the header and the cookie carry different tokens.",
);
/// `path_rejected` (400).
pub const PATH_REJECTED: CodeInfo = request(
    "path_rejected",
    "the request path is not in canonical form (dot segments, encoded separators, bad encodings)",
    "The request path is not in canonical form; send the path as the origin spells it.",
);
/// `method_override_rejected` (400).
pub const METHOD_OVERRIDE_REJECTED: CodeInfo = request(
    "method_override_rejected",
    "a _method query parameter names another method than the request's own",
    "A _method query parameter names another method than the request's; drop it.",
);

// --- token ---

/// `token_too_large` (401).
pub const TOKEN_TOO_LARGE: CodeInfo = token(
    "token_too_large",
    "the token is larger than the configured size cap",
    "The token is larger than the verifier's size cap.",
);
/// `token_malformed` (401).
pub const TOKEN_MALFORMED: CodeInfo = token(
    "token_malformed",
    "the token is not a well-formed compact jws",
    "Not a well-formed compact JWS (three strict base64url parts, JSON header and payload without duplicate keys). An encrypted JWE, an opaque token or a pasted Bearer prefix is not one: the message says which.",
);
/// `alg_not_allowed` (401).
pub const ALG_NOT_ALLOWED: CodeInfo = token(
    "alg_not_allowed",
    "the algorithm is not allowed for the key or by the configuration",
    "The algorithm is not allowed for this issuer or does not fit the key (HS* needs a secret, none never works).",
);
/// `key_not_found` (401).
pub const KEY_NOT_FOUND: CodeInfo = token(
    "key_not_found",
    "no usable key of the key set matches the token",
    "No key of the JWKS matches the token's kid (keys rotated? wrong tenant or environment?).",
);
/// `signature_invalid` (401).
pub const SIGNATURE_INVALID: CodeInfo = token(
    "signature_invalid",
    "the signature does not verify",
    "The signature does not match: the token was altered, or signed by a different key.",
);
/// `crit_unsupported` (401).
pub const CRIT_UNSUPPORTED: CodeInfo = token(
    "crit_unsupported",
    "the crit header names an extension tokengate does not implement",
    "The header lists a critical extension tokengate does not implement.",
);
/// `typ_mismatch` (401).
pub const TYP_MISMATCH: CodeInfo = token(
    "typ_mismatch",
    "the typ header is not the required type",
    "The typ header is not the required one (RFC 9068: at+jwt).",
);
/// `token_expired` (401).
pub const TOKEN_EXPIRED: CodeInfo = token(
    "token_expired",
    "exp is in the past (beyond the leeway)",
    "exp has passed (beyond the clock tolerance). Get a new token.",
);
/// `token_not_yet_valid` (401).
pub const TOKEN_NOT_YET_VALID: CodeInfo = token(
    "token_not_yet_valid",
    "nbf is in the future (beyond the leeway)",
    "nbf is in the future: a clock is off, or the token is used too early.",
);
/// `issued_in_future` (401).
pub const ISSUED_IN_FUTURE: CodeInfo = token(
    "issued_in_future",
    "iat is in the future (beyond the leeway)",
    "iat is in the future: the issuer's or this machine's clock is off.",
);
/// `token_too_old` (401).
pub const TOKEN_TOO_OLD: CodeInfo = token(
    "token_too_old",
    "the token is older than the configured maximum age",
    "iat is older than the maximum token age.",
);
/// `issuer_mismatch` (401).
pub const ISSUER_MISMATCH: CodeInfo = token(
    "issuer_mismatch",
    "iss is not a configured issuer",
    "iss is not the configured issuer. Compare them exactly, trailing slash included.",
);
/// `audience_mismatch` (401).
pub const AUDIENCE_MISMATCH: CodeInfo = token(
    "audience_mismatch",
    "aud contains no configured audience",
    "aud contains none of the configured audiences: the token was issued for another API.",
);
/// `claim_missing` (401).
pub const CLAIM_MISSING: CodeInfo = token(
    "claim_missing",
    "a required claim is absent",
    "A required claim is missing.",
);
/// `claim_invalid` (401).
pub const CLAIM_INVALID: CodeInfo = token(
    "claim_invalid",
    "a claim has the wrong type or an invalid value",
    "A claim has the wrong type or value.",
);

// --- sender ---

const fn sender(
    code: &'static str,
    error: &'static str,
    challenge: Challenge,
    description: &'static str,
    help: &'static str,
) -> CodeInfo {
    row(
        code,
        Stage::Sender,
        401,
        error,
        challenge,
        description,
        help,
    )
}

/// `invalid_dpop_proof` (401, DPoP challenge).
pub const INVALID_DPOP_PROOF: CodeInfo = sender(
    "invalid_dpop_proof",
    "invalid_dpop_proof",
    Challenge::Dpop("invalid_dpop_proof"),
    "the dpop proof is missing, malformed, or fails a rule (typ, alg, jwk, htm, htu, iat, ath, signature)",
    "The DPoP proof header is missing or wrong; the description names the rule it breaks.",
);
/// `dpop_proof_replayed` (401, DPoP challenge).
pub const DPOP_PROOF_REPLAYED: CodeInfo = sender(
    "dpop_proof_replayed",
    "invalid_dpop_proof",
    Challenge::Dpop("invalid_dpop_proof"),
    "the dpop proof's jti was already used within its window",
    "Each DPoP proof is accepted once: make a new proof (new jti) for every request.",
);
/// `use_dpop_nonce` (401, DPoP challenge, `DPoP-Nonce` header).
pub const USE_DPOP_NONCE: CodeInfo = sender(
    "use_dpop_nonce",
    "use_dpop_nonce",
    Challenge::Dpop("use_dpop_nonce"),
    "the dpop proof must carry the nonce the answer's dpop-nonce header gives",
    "Retry with a new proof whose nonce is the DPoP-Nonce header of this answer.",
);
/// `dpop_required` (401, DPoP challenge).
pub const DPOP_REQUIRED: CodeInfo = sender(
    "dpop_required",
    "invalid_token",
    Challenge::Dpop("invalid_token"),
    "a dpop-bound token, or a token of an issuer that requires dpop, was presented as a bearer token",
    "Send the token as Authorization: DPoP <token> with a DPoP proof header.",
);
/// `dpop_binding_mismatch` (401, DPoP challenge).
pub const DPOP_BINDING_MISMATCH: CodeInfo = sender(
    "dpop_binding_mismatch",
    "invalid_token",
    Challenge::Dpop("invalid_token"),
    "the dpop proof's key is not the key the token is bound to (cnf.jkt), or the token is not dpop-bound",
    "Sign the proof with the key the token was issued for; a token without cnf.jkt is a bearer token.",
);
/// `mtls_binding_mismatch` (401).
pub const MTLS_BINDING_MISMATCH: CodeInfo = sender(
    "mtls_binding_mismatch",
    "invalid_token",
    Challenge::Error("invalid_token"),
    "a certificate-bound token (cnf x5t#s256) came without its verified client certificate",
    "Call over mutual TLS with the client certificate the token was issued for.",
);
/// `binding_unsupported` (401).
pub const BINDING_UNSUPPORTED: CodeInfo = sender(
    "binding_unsupported",
    "invalid_token",
    Challenge::Error("invalid_token"),
    "the token's cnf claim is malformed or names a confirmation method tokengate does not check",
    "The token is bound in a way tokengate cannot prove (cnf.jwk, jku, kid), so it is refused.",
);
/// `dpop_replay_unavailable` (503).
pub const DPOP_REPLAY_UNAVAILABLE: CodeInfo = row(
    "dpop_replay_unavailable",
    Stage::Sender,
    503,
    "temporarily_unavailable",
    Challenge::None,
    "dpop proofs cannot be checked for replay (the replay store failed or is not bound)",
    "The edge cannot check DPoP proofs for replay right now; retry later.",
);

// --- revocation ---

/// `token_revoked` (401).
pub const TOKEN_REVOKED: CodeInfo = row(
    "token_revoked",
    Stage::Revocation,
    401,
    "invalid_token",
    Challenge::Error("invalid_token"),
    "the token was revoked (by its jti, or its client or subject since it was issued)",
    "The token was revoked: its jti, or its client or user, has a revocation entry issued after it. Get a new token.",
);
/// `revocation_unavailable` (503).
pub const REVOCATION_UNAVAILABLE: CodeInfo = row(
    "revocation_unavailable",
    Stage::Revocation,
    503,
    "temporarily_unavailable",
    Challenge::None,
    "the revocation store could not be read (or is not bound)",
    "The edge cannot check whether the token was revoked right now; retry later.",
);

// --- policy ---

/// `insufficient_scope` (403).
pub const INSUFFICIENT_SCOPE: CodeInfo = policy(
    "insufficient_scope",
    "the token lacks a scope the route requires",
    "The token lacks a scope the route requires.",
);
/// `role_not_allowed` (403).
pub const ROLE_NOT_ALLOWED: CodeInfo = policy(
    "role_not_allowed",
    "the token has none of the roles the route allows",
    "The token has none of the roles the route allows.",
);
/// `kind_not_allowed` (403).
pub const KIND_NOT_ALLOWED: CodeInfo = policy(
    "kind_not_allowed",
    "the route does not allow the token's kind (machine or user)",
    "The route does not allow this kind of token (machine or user).",
);
/// `client_not_allowed` (403).
pub const CLIENT_NOT_ALLOWED: CodeInfo = policy(
    "client_not_allowed",
    "the token's client is not in the route's allowed list",
    "The token's client (azp / client_id) is not allowed on this route.",
);
/// `delegation_required` (403).
pub const DELEGATION_REQUIRED: CodeInfo = policy(
    "delegation_required",
    "the route requires a delegated token (act claim)",
    "The route requires a delegated token (with act).",
);
/// `delegation_forbidden` (403).
pub const DELEGATION_FORBIDDEN: CodeInfo = policy(
    "delegation_forbidden",
    "the route does not accept delegated tokens (act claim)",
    "The route forbids delegated tokens (with act).",
);
/// `denied_by_default` (403).
pub const DENIED_BY_DEFAULT: CodeInfo = policy(
    "denied_by_default",
    "no route matched and the default rule is deny",
    "No route matched and the default is to deny.",
);

/// `sender_constraint_required` (401, DPoP challenge).
pub const SENDER_CONSTRAINT_REQUIRED: CodeInfo = row(
    "sender_constraint_required",
    Stage::Policy,
    401,
    "invalid_token",
    Challenge::Dpop("invalid_token"),
    "the route requires a sender-constrained (dpop or certificate-bound) token",
    "This route takes DPoP-bound or certificate-bound tokens only, not bearer tokens.",
);
/// `claim_not_allowed` (403).
pub const CLAIM_NOT_ALLOWED: CodeInfo = policy(
    "claim_not_allowed",
    "a claim rule of the route failed (the claim is missing, mistyped or not allowed)",
    "A claim the route has a rule on (named in the message) is missing or has a value the route does not allow.",
);
/// `actor_not_allowed` (403).
pub const ACTOR_NOT_ALLOWED: CodeInfo = policy(
    "actor_not_allowed",
    "the delegated token's current actor is not one of the route's actors",
    "The client acting for the user (act) is not one the route allows.",
);
/// `delegation_too_deep` (403).
pub const DELEGATION_TOO_DEEP: CodeInfo = policy(
    "delegation_too_deep",
    "the token's act chain is deeper than the route's max_delegation_depth",
    "The token was exchanged through more actors than the route allows.",
);
/// `rate_limited` (429, no challenge; `Retry-After`).
pub const RATE_LIMITED: CodeInfo = row(
    "rate_limited",
    Stage::Policy,
    429,
    "rate_limited",
    Challenge::None,
    "the client is over the route's rate limit",
    "This client (or user, or organisation) sent too many requests; retry after the Retry-After seconds.",
);
/// `rate_limit_unavailable` (503).
pub const RATE_LIMIT_UNAVAILABLE: CodeInfo = row(
    "rate_limit_unavailable",
    Stage::Policy,
    503,
    "temporarily_unavailable",
    Challenge::None,
    "the route's rate limiter could not be asked (its binding failed or did not answer)",
    "The edge cannot count this request against its rate limit right now; retry later.",
);
// --- keys ---

/// `jwks_unavailable` (503).
pub const JWKS_UNAVAILABLE: CodeInfo = keys(
    "jwks_unavailable",
    "no usable key set can be had (the fetch failed and none is held)",
    "The signing keys could not be had.",
);
/// `jwks_invalid` (503).
pub const JWKS_INVALID: CodeInfo = keys(
    "jwks_invalid",
    "the key set is invalid as a whole (not json, duplicate kids, mixed secret and public keys, too large)",
    "The JWKS is not a valid key set.",
);
/// `jwks_no_usable_key` (503).
pub const JWKS_NO_USABLE_KEY: CodeInfo = keys(
    "jwks_no_usable_key",
    "the key set parsed but has no usable signature key",
    "The JWKS has no key tokengate can use for signatures.",
);

// --- config and internal ---

/// `config_invalid` (500).
pub const CONFIG_INVALID: CodeInfo = row(
    "config_invalid",
    Stage::Config,
    500,
    "server_error",
    Challenge::None,
    "the configuration is invalid (the log line names the field)",
    "The configuration is invalid; the message names the field.",
);
/// `internal_error` (500).
pub const INTERNAL_ERROR: CodeInfo = row(
    "internal_error",
    Stage::Internal,
    500,
    "server_error",
    Challenge::None,
    "the edge failed while handling the request (the log line says how)",
    "The authorizer itself failed; its log line says how.",
);
/// `signing_key_invalid` (500).
pub const SIGNING_KEY_INVALID: CodeInfo = row(
    "signing_key_invalid",
    Stage::Internal,
    500,
    "server_error",
    Challenge::None,
    "the edge's own signing key is invalid or its random source failed",
    "The edge's own signing key is unusable (or its random source failed).",
);

// --- exchange ---

/// The token endpoint's `invalid_request` (400).
pub const EXCHANGE_INVALID_REQUEST: CodeInfo = exchange(
    "invalid_request",
    400,
    Challenge::None,
    "the exchange request is malformed (a missing or repeated parameter, a wrong token type, a body too large)",
    "The token exchange request is malformed; the description names the parameter.",
);
/// `invalid_grant` (400).
pub const INVALID_GRANT: CodeInfo = exchange(
    "invalid_grant",
    400,
    Challenge::None,
    "the subject token cannot be exchanged (invalid, a machine token, or no lifetime left)",
    "The subject token cannot be exchanged: it is invalid, a machine's, or has no lifetime left.",
);
/// `invalid_scope` (400).
pub const INVALID_SCOPE: CodeInfo = exchange(
    "invalid_scope",
    400,
    Challenge::None,
    "a requested scope is not granted to the subject or not allowed for the audience",
    "Ask only for scopes the subject token has and the audience allows.",
);
/// `invalid_target` (400).
pub const INVALID_TARGET: CodeInfo = exchange(
    "invalid_target",
    400,
    Challenge::None,
    "no, several, or a not allowed target audience",
    "Name exactly one allowed audience.",
);
/// `unauthorized_client` (401, bare challenge).
pub const UNAUTHORIZED_CLIENT: CodeInfo = exchange(
    "unauthorized_client",
    401,
    Challenge::Bare,
    "the actor token is invalid or its client may not exchange tokens",
    "The actor token is invalid, or its client is not allowed to exchange tokens.",
);
/// `unsupported_grant_type` (400).
pub const UNSUPPORTED_GRANT_TYPE: CodeInfo = exchange(
    "unsupported_grant_type",
    400,
    Challenge::None,
    "the grant_type is not token exchange",
    "Use grant_type urn:ietf:params:oauth:grant-type:token-exchange.",
);
/// `server_error` (500).
pub const SERVER_ERROR: CodeInfo = exchange(
    "server_error",
    500,
    Challenge::None,
    "the token endpoint failed (its signing keys or random source)",
    "The token endpoint itself failed; its log line says how.",
);

/// Every code, grouped by stage in [`Stage::ALL`] order.
pub const CATALOGUE: &[CodeInfo] = &[
    TOKEN_MISSING,
    INVALID_REQUEST,
    PATH_REJECTED,
    METHOD_OVERRIDE_REJECTED,
    TOKEN_TOO_LARGE,
    TOKEN_MALFORMED,
    ALG_NOT_ALLOWED,
    KEY_NOT_FOUND,
    SIGNATURE_INVALID,
    CRIT_UNSUPPORTED,
    TYP_MISMATCH,
    TOKEN_EXPIRED,
    TOKEN_NOT_YET_VALID,
    ISSUED_IN_FUTURE,
    TOKEN_TOO_OLD,
    ISSUER_MISMATCH,
    AUDIENCE_MISMATCH,
    CLAIM_MISSING,
    CLAIM_INVALID,
    INVALID_DPOP_PROOF,
    DPOP_PROOF_REPLAYED,
    USE_DPOP_NONCE,
    DPOP_REQUIRED,
    DPOP_BINDING_MISMATCH,
    MTLS_BINDING_MISMATCH,
    BINDING_UNSUPPORTED,
    DPOP_REPLAY_UNAVAILABLE,
    TOKEN_REVOKED,
    REVOCATION_UNAVAILABLE,
    INSUFFICIENT_SCOPE,
    ROLE_NOT_ALLOWED,
    KIND_NOT_ALLOWED,
    CLIENT_NOT_ALLOWED,
    DELEGATION_REQUIRED,
    DELEGATION_FORBIDDEN,
    DENIED_BY_DEFAULT,
    SENDER_CONSTRAINT_REQUIRED,
    CLAIM_NOT_ALLOWED,
    ACTOR_NOT_ALLOWED,
    DELEGATION_TOO_DEEP,
    RATE_LIMITED,
    RATE_LIMIT_UNAVAILABLE,
    JWKS_UNAVAILABLE,
    JWKS_INVALID,
    JWKS_NO_USABLE_KEY,
    CONFIG_INVALID,
    INTERNAL_ERROR,
    SIGNING_KEY_INVALID,
    EXCHANGE_INVALID_REQUEST,
    INVALID_GRANT,
    INVALID_SCOPE,
    INVALID_TARGET,
    UNAUTHORIZED_CLIENT,
    UNSUPPORTED_GRANT_TYPE,
    SERVER_ERROR,
];

/// The row of `code` in `stage`.
///
/// Codes are unique within a stage; the token endpoint reuses one RFC 6749 name of
/// the request stage (`invalid_request`), with the same status.
pub fn lookup(stage: Stage, code: &str) -> Option<&'static CodeInfo> {
    CATALOGUE
        .iter()
        .find(|i| i.stage == stage && i.code == code)
}

/// The row of `code` as the authorizer answers it (any stage but the token endpoint,
/// whose codes are in the same table under [`Stage::Exchange`]).
pub fn authorizer_code(code: &str) -> Option<&'static CodeInfo> {
    CATALOGUE
        .iter()
        .find(|i| i.stage != Stage::Exchange && i.code == code)
}

/// The README's `## Errors` table, rendered from the catalogue: one row per stage
/// with its codes (and descriptions) and statuses.
pub fn markdown_table() -> String {
    let mut out =
        String::from("| stage | code | status | `error` | description |\n|---|---|---|---|---|\n");
    for stage in Stage::ALL {
        for info in CATALOGUE.iter().filter(|i| i.stage == *stage) {
            out.push_str(&format!(
                "| {} | `{}` | {} | `{}` | {} |\n",
                stage.as_str(),
                info.code,
                info.status,
                info.error,
                info.description
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SenderError;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_within_a_stage() {
        let mut seen = HashSet::new();
        for i in CATALOGUE {
            assert!(
                seen.insert((i.stage, i.code)),
                "{} twice in {:?}",
                i.code,
                i.stage
            );
        }
    }

    #[test]
    fn a_code_in_two_stages_agrees_on_status_and_error() {
        for a in CATALOGUE {
            for b in CATALOGUE.iter().filter(|b| b.code == a.code) {
                assert_eq!((a.status, a.error), (b.status, b.error), "{}", a.code);
            }
        }
        // Only the RFC 6749 name the token endpoint shares with the request stage.
        let shared: HashSet<_> = CATALOGUE
            .iter()
            .filter(|a| {
                CATALOGUE
                    .iter()
                    .any(|b| b.code == a.code && b.stage != a.stage)
            })
            .map(|a| a.code)
            .collect();
        assert_eq!(shared, HashSet::from(["invalid_request"]));
    }

    #[test]
    fn texts_are_well_formed() {
        for i in CATALOGUE {
            assert!(
                !i.code.is_empty() && i.code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "code {:?}",
                i.code
            );
            assert!(
                i.error.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "error {:?}",
                i.error
            );
            let d = i.description;
            assert!(!d.is_empty() && !d.ends_with('.'), "{}: {d:?}", i.code);
            assert!(
                !d.contains(|c: char| c.is_ascii_uppercase()),
                "{}: {d:?} is not lowercase",
                i.code
            );
            assert!(!d.contains('|') && !d.contains('\n'), "{}: {d:?}", i.code);
            assert!(!i.help.is_empty() && !i.help.contains('\n'), "{}", i.code);
        }
    }

    #[test]
    fn grouped_by_stage_in_order() {
        let order: Vec<usize> = CATALOGUE
            .iter()
            .map(|i| Stage::ALL.iter().position(|s| *s == i.stage).unwrap())
            .collect();
        assert!(order.windows(2).all(|w| w[0] <= w[1]), "{order:?}");
    }

    #[test]
    fn challenges_follow_rfc_6750() {
        for i in CATALOGUE {
            match i.challenge {
                // RFC 6750 §3.1 defines three values, and the body says the same.
                Challenge::Error(e) => {
                    assert!(
                        ["invalid_request", "invalid_token", "insufficient_scope"].contains(&e),
                        "{}",
                        i.code
                    );
                    assert_eq!(e, i.error, "{}", i.code);
                    assert!(matches!(i.status, 400 | 401 | 403), "{}", i.code);
                }
                // RFC 9449 §7.1 adds two values; `invalid_token` is RFC 6750's.
                Challenge::Dpop(e) => {
                    assert!(
                        ["invalid_dpop_proof", "use_dpop_nonce", "invalid_token"].contains(&e),
                        "{}",
                        i.code
                    );
                    assert_eq!(e, i.error, "{}", i.code);
                    assert_eq!(i.status, 401, "{}", i.code);
                }
                Challenge::Bare => assert_eq!(i.status, 401, "{}", i.code),
                // 429 is not about the credentials (RFC 6585 §4: Retry-After).
                Challenge::None => assert!(
                    i.status >= 500 || i.status == 429 || i.stage == Stage::Exchange,
                    "{}: a gate 4xx has a challenge",
                    i.code
                ),
            }
        }
    }

    /// The codes, statuses and body `error` values on the wire before the catalogue
    /// existed: the table must keep them.
    #[test]
    fn wire_values_are_unchanged() {
        let by_stage = |stage: Stage| -> Vec<(&str, u16, &str)> {
            CATALOGUE
                .iter()
                .filter(|i| i.stage == stage)
                .map(|i| (i.code, i.status, i.error))
                .collect()
        };
        assert_eq!(
            by_stage(Stage::Request),
            [
                ("token_missing", 401, "unauthorized"),
                ("invalid_request", 400, "invalid_request"),
                ("path_rejected", 400, "invalid_request"),
                ("method_override_rejected", 400, "invalid_request"),
            ]
        );
        for (stage, status, error, n) in [
            (Stage::Token, 401, "invalid_token", 15),
            (Stage::Policy, 403, "insufficient_scope", 10),
            (Stage::Keys, 503, "temporarily_unavailable", 3),
            (Stage::Config, 500, "server_error", 1),
            (Stage::Internal, 500, "server_error", 2),
        ] {
            // Added after the table: the route's demand for a bound token (401), the
            // rate limit (429).
            let rows: Vec<_> = by_stage(stage)
                .into_iter()
                .filter(|r| {
                    ![
                        "sender_constraint_required",
                        "rate_limited",
                        "rate_limit_unavailable",
                    ]
                    .contains(&r.0)
                })
                .collect();
            assert_eq!(rows.len(), n, "{stage:?}");
            assert!(
                rows.iter().all(|r| (r.1, r.2) == (status, error)),
                "{stage:?}"
            );
        }
        let ex: Vec<_> = by_stage(Stage::Exchange)
            .into_iter()
            .map(|(c, s, e)| {
                assert_eq!(c, e);
                (c, s)
            })
            .collect();
        assert_eq!(
            ex,
            [
                ("invalid_request", 400),
                ("invalid_grant", 400),
                ("invalid_scope", 400),
                ("invalid_target", 400),
                ("unauthorized_client", 401),
                ("unsupported_grant_type", 400),
                ("server_error", 500),
            ]
        );
    }

    /// One value of every variant of every error enum; the exhaustive matches make a
    /// new variant a compile error here until it is listed.
    fn every_variant() -> Vec<(Stage, &'static CodeInfo, String)> {
        use crate::error::{ConfigError, InternalError, JwksError, RequestError, TokenError};
        use crate::exchange::ExchangeError;
        use crate::mint::MintError;
        use crate::policy::PolicyError;
        use crate::RevocationError;
        use crate::{Alg, ErrorCode, Kind};

        fn rows<E: ErrorCode>(
            stage: Stage,
            all: Vec<E>,
            check: fn(&E),
        ) -> Vec<(Stage, &'static CodeInfo, String)> {
            all.iter()
                .map(|e| {
                    check(e);
                    (stage, e.info(), e.to_string())
                })
                .collect()
        }
        let s = || String::from("x");
        let mut out = Vec::new();
        out.extend(rows(
            Stage::Request,
            vec![
                RequestError::TokenMissing,
                RequestError::BadAuthorization(s()),
                RequestError::MultipleTokens,
                RequestError::MethodOverride,
                RequestError::PathRejected,
            ],
            |e| match e {
                RequestError::TokenMissing
                | RequestError::BadAuthorization(_)
                | RequestError::MultipleTokens
                | RequestError::MethodOverride
                | RequestError::PathRejected => {}
            },
        ));
        out.extend(rows(
            Stage::Token,
            vec![
                TokenError::TooLarge { len: 2, max: 1 },
                TokenError::Malformed(s()),
                TokenError::AlgNotAllowed(s()),
                TokenError::KeyNotFound(s()),
                TokenError::SignatureInvalid,
                TokenError::CritUnsupported(s()),
                TokenError::TypMismatch(s()),
                TokenError::Expired,
                TokenError::NotYetValid,
                TokenError::IssuedInFuture,
                TokenError::IssuerMismatch,
                TokenError::AudienceMismatch,
                TokenError::ClaimMissing(s()),
                TokenError::ClaimInvalid(s()),
                TokenError::TooOld,
            ],
            |e| match e {
                TokenError::TooLarge { .. }
                | TokenError::Malformed(_)
                | TokenError::AlgNotAllowed(_)
                | TokenError::KeyNotFound(_)
                | TokenError::SignatureInvalid
                | TokenError::CritUnsupported(_)
                | TokenError::TypMismatch(_)
                | TokenError::Expired
                | TokenError::NotYetValid
                | TokenError::IssuedInFuture
                | TokenError::IssuerMismatch
                | TokenError::AudienceMismatch
                | TokenError::ClaimMissing(_)
                | TokenError::ClaimInvalid(_)
                | TokenError::TooOld => {}
            },
        ));
        out.extend(rows(
            Stage::Policy,
            vec![
                PolicyError::InsufficientScope {
                    required: vec![s()],
                },
                PolicyError::RoleNotAllowed,
                PolicyError::KindNotAllowed(Kind::User),
                PolicyError::ClientNotAllowed,
                PolicyError::DelegationRequired,
                PolicyError::DelegationForbidden,
                PolicyError::DeniedByDefault,
                PolicyError::SenderConstraintRequired,
                PolicyError::ClaimNotAllowed(s()),
                PolicyError::ActorNotAllowed,
                PolicyError::DelegationTooDeep { max: 1 },
                PolicyError::RateLimited { retry_after: 60 },
                PolicyError::RateLimitUnavailable(s()),
            ],
            |e| match e {
                PolicyError::InsufficientScope { .. }
                | PolicyError::RoleNotAllowed
                | PolicyError::KindNotAllowed(_)
                | PolicyError::ClientNotAllowed
                | PolicyError::DelegationRequired
                | PolicyError::DelegationForbidden
                | PolicyError::DeniedByDefault
                | PolicyError::SenderConstraintRequired
                | PolicyError::ClaimNotAllowed(_)
                | PolicyError::ActorNotAllowed
                | PolicyError::DelegationTooDeep { .. }
                | PolicyError::RateLimited { .. }
                | PolicyError::RateLimitUnavailable(_) => {}
            },
        ));
        out.extend(rows(
            Stage::Revocation,
            vec![
                RevocationError::Revoked(crate::RevokedBy::Jti),
                RevocationError::Unavailable(s()),
            ],
            |e| match e {
                RevocationError::Revoked(_) | RevocationError::Unavailable(_) => {}
            },
        ));
        out.extend(rows(
            Stage::Sender,
            vec![
                SenderError::InvalidProof(s()),
                SenderError::Replayed,
                SenderError::UseNonce {
                    nonce: s(),
                    why: s(),
                },
                SenderError::DpopRequired(s()),
                SenderError::BindingMismatch(s()),
                SenderError::MtlsMismatch(s()),
                SenderError::BindingUnsupported(s()),
                SenderError::ReplayUnavailable(s()),
            ],
            |e| match e {
                SenderError::InvalidProof(_)
                | SenderError::Replayed
                | SenderError::UseNonce { .. }
                | SenderError::DpopRequired(_)
                | SenderError::BindingMismatch(_)
                | SenderError::MtlsMismatch(_)
                | SenderError::BindingUnsupported(_)
                | SenderError::ReplayUnavailable(_)
                | SenderError::NonceUnavailable => {}
            },
        ));
        out.extend(rows(
            Stage::Keys,
            vec![
                JwksError::Invalid(s()),
                JwksError::NoUsableKey,
                JwksError::Unavailable(s()),
            ],
            |e| match e {
                JwksError::Invalid(_) | JwksError::NoUsableKey | JwksError::Unavailable(_) => {}
            },
        ));
        out.extend(rows(
            Stage::Config,
            vec![ConfigError::Parse(s()), ConfigError::invalid("f", "w")],
            |e| match e {
                ConfigError::Parse(_) | ConfigError::Invalid { .. } => {}
            },
        ));
        // A missing nonce secret is a configuration error found on a request.
        out.extend(rows(
            Stage::Config,
            vec![SenderError::NonceUnavailable],
            |_| {},
        ));
        out.extend(rows(Stage::Internal, vec![InternalError(s())], |_| {}));
        out.extend(rows(
            Stage::Internal,
            vec![
                MintError::Random(s()),
                MintError::InvalidKey(s()),
                MintError::Unsupported(Alg::RS256),
            ],
            |e| match e {
                MintError::Random(_) | MintError::InvalidKey(_) | MintError::Unsupported(_) => {}
            },
        ));
        out.extend(rows(
            Stage::Exchange,
            vec![
                ExchangeError::InvalidRequest(s()),
                ExchangeError::InvalidGrant(s()),
                ExchangeError::InvalidScope(s()),
                ExchangeError::InvalidTarget(s()),
                ExchangeError::UnauthorizedClient(s()),
                ExchangeError::UnsupportedGrantType(s()),
                ExchangeError::ServerError(s()),
            ],
            |e| match e {
                ExchangeError::InvalidRequest(_)
                | ExchangeError::InvalidGrant(_)
                | ExchangeError::InvalidScope(_)
                | ExchangeError::InvalidTarget(_)
                | ExchangeError::UnauthorizedClient(_)
                | ExchangeError::UnsupportedGrantType(_)
                | ExchangeError::ServerError(_) => {}
            },
        ));
        out
    }

    #[test]
    fn every_variant_has_a_row_of_its_stage_and_every_row_a_variant() {
        let all = every_variant();
        for (stage, info, message) in &all {
            assert_eq!(info.stage, *stage, "{}", info.code);
            assert_eq!(
                lookup(*stage, info.code),
                Some(*info),
                "{} is not in CATALOGUE",
                info.code
            );
            assert!(
                !message.is_empty() && !message.starts_with(|c: char| c.is_ascii_uppercase()),
                "{message:?}"
            );
        }
        for row in CATALOGUE {
            assert!(
                all.iter().any(|(_, info, _)| *info == row),
                "no error gives {} ({:?})",
                row.code,
                row.stage
            );
        }
    }

    #[test]
    fn lookups() {
        assert_eq!(lookup(Stage::Token, "token_expired"), Some(&TOKEN_EXPIRED));
        assert_eq!(lookup(Stage::Token, "token_missing"), None);
        assert_eq!(authorizer_code("invalid_request"), Some(&INVALID_REQUEST));
        assert_eq!(authorizer_code("invalid_grant"), None);
        let t = markdown_table();
        assert_eq!(t.lines().count(), CATALOGUE.len() + 2);
        assert!(t.contains("| token | `token_expired` | 401 | `invalid_token` |"));
    }
}
