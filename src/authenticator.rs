//! The one verification pipeline: extract, verify (keys from memory, then the shared
//! store, then a fetch), classify and authorize.
//!
//! An [`Authenticator`] is built once from a [`Config`] and kept for the life of the
//! process (an isolate, a verifier). It owns the [`Gate`] (the compiled rules), the
//! [`KeyProvider`] (the JWKS cache and its single-flight I/O) and the verified-token
//! cache. An adapter gives it two things, both traits so that the pipeline stays sans-IO:
//!
//! * the key I/O ([`KeyIo`]): `fetch`, the shared store, timers, secrets;
//! * the signature backend ([`SignatureBackend`]): WebCrypto or a host function in
//!   the Worker and the npm package, [`RustBackend`] natively.
//!
//! The adapters then only translate: request parts in, a [`Verification`] or an
//! [`AuthError`] out.
//!
//! # Reusing a verification
//!
//! A success is kept as a [`Kept`] (the verified token, its issuer and the generation of
//! the key set that verified it). Whoever keeps it (this authenticator's token cache,
//! keyed by the token's SHA-256, or the npm package's results kept by token string)
//! reuses it only under one rule, [`Authenticator::recheck`]: the issuer's key set is
//! still of that generation and usable without any I/O, and every time claim holds at
//! the current time. When the key set is due a refresh the full path runs (it starts the
//! refresh), and a kept result of the generation it then uses is still reused.
//!
//! The token cache keeps a success as [`Verified::for_reuse`] makes it: the claims the
//! reuse rule reads (`iss`, `sub`, `aud`, `exp`, `nbf`, `iat`, the issuer's
//! `required_claims`) and `act`, the principal, no protected header. With the cache on,
//! [`Authenticator::verify`] returns that form on a miss too, so that a caller sees the
//! same claims whether the token was kept or not; with it off (capacity 0, the npm
//! package) the whole token.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::alg::verify_signature;
use crate::config::Config;
use crate::dpop::{
    binding_of, check_certificate, check_proof, ClientCertificate, DpopRequest, Nonces,
    NONCE_SECRET,
};
use crate::gate::{extract_presented, AuthError, Decision, Gate, Scheme, SignatureCheck, Verified};
use crate::keys::{KeyIo, KeyOutcome, KeyProvider};
use crate::policy::RouteMatch;
use crate::revocation::{lookup_keys, revokes, RevocationCache, RevocationError};
use crate::token_cache::{TokenCache, TokenKey};
use crate::{ConfigError, DpopMode, RequestError, SenderError, TokenError};

/// Checks a signature owed by the pipeline: `signature` over `message` with
/// `check.key` under `check.alg` (chosen from the key, never from the token).
pub trait SignatureBackend {
    /// Whether the signature is valid. A backend that cannot do a check (no host
    /// crypto, a key the host will not import) falls back to [`verify_signature`].
    fn verify(
        &self,
        check: &SignatureCheck<'_>,
        message: &[u8],
        signature: &[u8],
    ) -> impl Future<Output = bool>;
}

/// The portable Rust backend (the reference; synchronous, so a verification with
/// keys in memory completes on its first poll).
#[derive(Debug, Clone, Copy, Default)]
pub struct RustBackend;

impl SignatureBackend for RustBackend {
    async fn verify(&self, check: &SignatureCheck<'_>, message: &[u8], signature: &[u8]) -> bool {
        verify_signature(check.alg, &check.key.material, message, signature)
    }
}

/// A verification kept for reuse; see the module docs (`src/authenticator.rs`).
#[derive(Debug, Clone, PartialEq)]
pub struct Kept {
    /// The verified, classified token; from an [`Authenticator`] with its token cache
    /// on, in the form the cache keeps ([`Verified::for_reuse`]: the checked claims and
    /// `act`, no header).
    pub verified: Verified,
    /// The configured issuer (index) it was verified against.
    pub issuer: usize,
    /// The generation of the key set that verified it.
    pub generation: u64,
}

/// A successful verification and what it cost.
#[derive(Debug, Clone)]
pub struct Verification {
    /// The verification, as kept.
    pub kept: Kept,
    /// Where the keys came from. A reused verification reports
    /// [`KeyOutcome::Memory`]: the key set it was made with is the one in memory, fresh.
    pub keys: KeyOutcome,
    /// Whether the adapter should call [`Authenticator::refresh`] for
    /// [`Verification::kept`]'s issuer in the background.
    pub refresh: bool,
}

impl Verification {
    /// The verified token and its principal.
    pub fn verified(&self) -> &Verified {
        &self.kept.verified
    }
}

/// Where a request's token may come from: the `Authorization` header and, when the
/// adapter takes tokens from a cookie, that cookie. [`extract_presented`] reads them
/// (two different tokens are an error). With them, what proves the sender of a bound
/// token: the request a DPoP proof must match, and the client certificate.
#[derive(Clone, Copy, Default)]
pub struct Credentials<'a> {
    /// The `Authorization` header value.
    pub authorization: Option<&'a str>,
    /// The cookie that may carry the token, when the adapter has one (the Worker's
    /// `edge.cookie`); `None` reads the `Authorization` header only.
    pub cookie: Option<TokenCookie<'a>>,
    /// The request a DPoP proof must match (method, URL, `DPoP` header); `None`: the
    /// adapter takes no DPoP proofs, and a DPoP presentation is refused.
    pub dpop: Option<DpopRequest<'a>>,
    /// The request's client certificate, asked for only when the token is
    /// certificate-bound (reading it may cost the adapter something); `None`: no
    /// certificate.
    pub client_cert: Option<&'a dyn Fn() -> ClientCertificate>,
}

impl std::fmt::Debug for Credentials<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("authorization", &self.authorization.map(|_| "(present)"))
            .field("cookie", &self.cookie.map(|c| c.name))
            .field("dpop", &self.dpop.map(|d| (d.method, d.url)))
            .field("client_cert", &self.client_cert.is_some())
            .finish()
    }
}

/// A cookie that may carry the token: the request's `Cookie` header and the cookie's
/// name. Which cookie (if any) is the adapter's setting; how it is read, and what two
/// tokens in one request mean, is the pipeline's.
#[derive(Debug, Clone, Copy)]
pub struct TokenCookie<'a> {
    /// The `Cookie` header value.
    pub header: &'a str,
    /// The name of the cookie that carries the token.
    pub name: &'a str,
}

/// The pipeline; see the module docs (`src/authenticator.rs`).
#[derive(Debug)]
pub struct Authenticator {
    gate: Gate,
    keys: KeyProvider,
    /// Boxed: the hash table's slots (and their spare half) then hold a pointer, not a
    /// `Kept`.
    cache: RefCell<TokenCache<Box<Kept>>>,
    /// The DPoP nonce key, read from the secret once (secrets are fixed for the life of
    /// the process).
    nonces: std::cell::OnceCell<Option<Nonces>>,
    /// Revocation store answers, kept for `revocation.cache_seconds`.
    revoked: RefCell<RevocationCache>,
}

impl Authenticator {
    /// Validates the configuration and builds the pipeline, with a token cache of
    /// `token_cache_size` entries.
    pub fn new(config: Config) -> Result<Authenticator, ConfigError> {
        let capacity = config.token_cache_size;
        Authenticator::with_cache(config, capacity)
    }

    /// As [`Authenticator::new`] with a token cache of `capacity` entries; 0 disables
    /// it (the token is then not hashed: for callers that keep results themselves, such
    /// as the npm package).
    pub fn with_cache(config: Config, capacity: usize) -> Result<Authenticator, ConfigError> {
        let keys = KeyProvider::new(&config);
        let gate = Gate::new(config)?;
        Ok(Authenticator {
            gate,
            keys,
            cache: RefCell::new(TokenCache::new(capacity)),
            nonces: std::cell::OnceCell::new(),
            revoked: RefCell::new(RevocationCache::new()),
        })
    }

    /// The compiled rules.
    pub fn gate(&self) -> &Gate {
        &self.gate
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        self.gate.config()
    }

    /// The key provider (for inspection: [`KeyProvider::state`]).
    pub fn key_provider(&self) -> &KeyProvider {
        &self.keys
    }

    /// The number of verifications in the token cache.
    pub fn cached(&self) -> usize {
        self.cache.borrow().len()
    }

    /// Finds the route rule for a request (the path without query string).
    pub fn route(&self, method: &str, path: &str) -> RouteMatch<'_> {
        self.gate.route(method, path)
    }

    /// Whether a kept verification may be reused at `now` (unix seconds): its key-set
    /// generation is still the issuer's and usable without I/O, and its time claims
    /// hold. `Ok(false)`: the key set changed or is due a refresh (verify again);
    /// `Err`: a time claim no longer holds (the token expired, for one).
    pub fn recheck(&self, kept: &Kept, now: u64) -> Result<bool, TokenError> {
        if !self.keys.is_current(kept.issuer, kept.generation, now) {
            return Ok(false);
        }
        self.gate
            .revalidate(kept.issuer, &kept.verified, now)
            .map(|()| true)
    }

    /// Starts a background refresh of an issuer's keys (after
    /// [`Verification::refresh`]); nothing when one is in flight.
    pub async fn refresh<I: KeyIo>(&self, io: &I, issuer: usize, now: u64) {
        self.keys.refresh(io, issuer, now).await;
    }

    /// Verifies and classifies a token at `now` (unix seconds): size cap, a kept
    /// verification ([`Authenticator::recheck`]), else parse and issuer, keys (memory,
    /// store, fetch), the signature through `backend`, the claims; a success is cached.
    pub async fn verify<I: KeyIo, S: SignatureBackend>(
        &self,
        io: &I,
        backend: &S,
        token: &str,
        now: u64,
    ) -> Result<Verification, AuthError> {
        // A token over the size cap is never hashed (peek refuses it below).
        let cache_key =
            if self.cache.borrow().capacity() == 0 || token.len() > self.config().max_token_bytes {
                None
            } else {
                Some(TokenKey::from_token(token))
            };
        if let Some(key) = &cache_key {
            let hit = self.cache.borrow_mut().lookup(key, now);
            if let Some(kept) = hit.map(|k| *k) {
                if self.recheck(&kept, now)? {
                    return Ok(Verification {
                        kept,
                        keys: KeyOutcome::Memory,
                        refresh: false,
                    });
                }
            }
        }
        let unverified = self.gate.peek(token)?;
        let issuer = unverified.issuer_index;
        let keys = self.keys.keys(io, issuer, unverified.kid(), now).await?;
        let outcome = keys.outcome;
        let refresh = keys.refresh;
        // A verification kept with the generation the provider serves now (a refresh is
        // due, or the keys are served stale) is reused too: the same rule.
        if let Some(key) = &cache_key {
            let hit = self.cache.borrow_mut().get(key, keys.generation, now);
            if let Some(kept) = hit.map(|k| *k) {
                self.gate.revalidate(issuer, &kept.verified, now)?;
                return Ok(Verification {
                    kept,
                    keys: outcome,
                    refresh,
                });
            }
        }
        let check = self.gate.select_key(&unverified, &keys.set)?;
        let ok = backend
            .verify(
                &check,
                unverified.jws.signing_input.as_bytes(),
                &unverified.jws.signature,
            )
            .await;
        let mut verified = self.gate.complete(&unverified, &check, ok, now)?;
        // With the cache on, what the caller gets is what the cache keeps, on a miss as
        // on a hit: the same claims either way.
        if cache_key.is_some() {
            verified = self
                .gate
                .for_reuse(issuer, verified)
                .ok_or(TokenError::IssuerMismatch)?;
        }
        let kept = Kept {
            verified,
            issuer,
            generation: keys.generation,
        };
        if let (Some(key), Some(exp)) = (cache_key, kept.verified.principal.expires_at) {
            let until = u64::try_from(exp)
                .unwrap_or(0)
                .saturating_add(self.config().leeway);
            self.cache.borrow_mut().insert(
                key,
                Box::new(kept.clone()),
                until,
                keys.generation,
                now,
            );
        }
        Ok(Verification {
            kept,
            keys: outcome,
            refresh,
        })
    }

    /// The whole check of a request that needs a token (the route is not public): the
    /// path checks, the token from `credentials`, [`Authenticator::verify`], then the
    /// route's requirement.
    pub async fn authenticate<I: KeyIo, S: SignatureBackend>(
        &self,
        io: &I,
        backend: &S,
        route: &RouteMatch<'_>,
        credentials: Credentials<'_>,
        now: u64,
    ) -> Result<Verification, AuthError> {
        if route.rejected {
            return Err(RequestError::PathRejected.into());
        }
        let (token, scheme) = extract_presented(
            credentials.authorization,
            credentials.cookie.map(|c| c.header),
            credentials.cookie.map(|c| c.name),
        )?
        .ok_or(RequestError::TokenMissing)?;
        let verification = self.verify(io, backend, token, now).await?;
        self.prove_sender(
            io,
            backend,
            &verification.kept,
            token,
            scheme,
            &credentials,
            now,
        )
        .await?;
        self.check_revocation(io, &verification.kept, now).await?;
        self.gate.authorize(route, &verification.kept.verified)?;
        Ok(verification)
    }

    /// The revocation check of a verified token (see `src/revocation.rs`), when the
    /// configuration has a `revocation` section: its `jti`, client and subject entries,
    /// from the per-process cache while younger than `revocation.cache_seconds`, else
    /// from the store through `io`. [`Authenticator::authenticate`] runs it on every
    /// request, token-cache hits included; adapters that keep verifications themselves
    /// run it on a kept one.
    pub async fn check_revocation<I: KeyIo>(
        &self,
        io: &I,
        kept: &Kept,
        now: u64,
    ) -> Result<(), AuthError> {
        let Some(cfg) = &self.config().revocation else {
            return Ok(());
        };
        let verified = &kept.verified;
        let keys = lookup_keys(&verified.principal, &verified.token.claims);
        let iat = verified.token.claims.get("iat").and_then(|v| v.as_f64());
        let mut missing: Vec<usize> = Vec::new();
        {
            let cache = self.revoked.borrow();
            for (i, (by, key)) in keys.iter().enumerate() {
                match cache.get(key, now, cfg.cache_seconds) {
                    Some(Some(value)) if revokes(*by, value, iat) => {
                        return Err(RevocationError::Revoked(*by).into())
                    }
                    Some(_) => {}
                    None => missing.push(i),
                }
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        let ask: Vec<String> = missing.iter().map(|&i| keys[i].1.clone()).collect();
        let answers = io
            .revocation_entries(&ask)
            .await
            .map_err(RevocationError::Unavailable)?;
        if answers.len() != ask.len() {
            return Err(RevocationError::Unavailable(format!(
                "the store answered {} keys of {}",
                answers.len(),
                ask.len()
            ))
            .into());
        }
        let mut revoked = None;
        let mut cache = self.revoked.borrow_mut();
        for (&i, value) in missing.iter().zip(answers) {
            let (by, key) = &keys[i];
            if revoked.is_none() && value.as_deref().is_some_and(|v| revokes(*by, v, iat)) {
                revoked = Some(*by);
            }
            cache.put(key.clone(), value, now);
        }
        match revoked {
            Some(by) => Err(RevocationError::Revoked(by).into()),
            None => Ok(()),
        }
    }

    /// The sender check of a verified token (see `src/dpop.rs`): a DPoP-bound token
    /// only with the DPoP scheme and a valid, unreplayed proof; a bearer token only from
    /// an issuer that allows them; a certificate-bound token only with its certificate.
    /// [`Authenticator::authenticate`] runs it after [`Authenticator::verify`];
    /// adapters that keep verifications themselves (the npm package) run it on a kept
    /// verification, with the request's own credentials.
    #[allow(clippy::too_many_arguments)]
    pub async fn prove_sender<I: KeyIo, S: SignatureBackend>(
        &self,
        io: &I,
        backend: &S,
        kept: &Kept,
        token: &str,
        scheme: Scheme,
        credentials: &Credentials<'_>,
        now: u64,
    ) -> Result<(), AuthError> {
        let claims = &kept.verified.token.claims;
        let binding = binding_of(claims)?;
        let mode = self
            .config()
            .issuers
            .get(kept.issuer)
            .map_or(DpopMode::Required, |i| i.dpop);
        match (scheme, binding.jkt.as_deref()) {
            (Scheme::Bearer, Some(_)) => return Err(SenderError::DpopRequired(
                "the token is dpop-bound (cnf.jkt): present it as Authorization: DPoP with a proof"
                    .into(),
            )
            .into()),
            (Scheme::Bearer, None) if mode == DpopMode::Required => {
                return Err(SenderError::DpopRequired(
                    "this token's issuer requires dpop-bound tokens".into(),
                )
                .into())
            }
            (Scheme::Bearer, None) => {}
            (Scheme::Dpop, None) => {
                return Err(SenderError::BindingMismatch(
                    "the token is not dpop-bound (no cnf.jkt): present it as a bearer token".into(),
                )
                .into())
            }
            (Scheme::Dpop, Some(jkt)) => {
                let request = credentials.dpop.ok_or_else(|| {
                    SenderError::InvalidProof("this adapter does not take dpop proofs".into())
                })?;
                let rules = self.gate.dpop_rules();
                let nonces = if rules.nonce {
                    self.nonces
                        .get_or_init(|| {
                            io.secret(NONCE_SECRET)
                                .and_then(|s| Nonces::new(s.as_bytes()))
                        })
                        .as_ref()
                } else {
                    None
                };
                let pending = check_proof(&request, token, jkt, rules, nonces, now)?;
                let check = SignatureCheck {
                    key: pending.key(),
                    alg: pending.alg,
                };
                let message = pending.jws.signing_input.as_bytes();
                if !backend
                    .verify(&check, message, &pending.jws.signature)
                    .await
                {
                    return Err(SenderError::InvalidProof(
                        "the proof's signature does not verify".into(),
                    )
                    .into());
                }
                match io.claim_proof(&pending.replay, now).await {
                    Ok(true) => {}
                    Ok(false) => return Err(SenderError::Replayed.into()),
                    Err(why) => return Err(SenderError::ReplayUnavailable(why).into()),
                }
            }
        }
        if let Some(want) = &binding.x5t_s256 {
            let cert = credentials
                .client_cert
                .map_or(ClientCertificate::Absent, |read| read());
            check_certificate(want, &cert)?;
        }
        Ok(())
    }
}

impl Authenticator {
    /// The whole decision for a request, for adapters that forward or refuse and do
    /// nothing else in between: the route (a public route needs no token), then
    /// [`Authenticator::authenticate`].
    pub async fn decide<I: KeyIo, S: SignatureBackend>(
        &self,
        io: &I,
        backend: &S,
        method: &str,
        path: &str,
        credentials: Credentials<'_>,
        now: u64,
    ) -> Decision {
        let route = self.route(method, path);
        if route.public && !route.rejected {
            return Decision::Public;
        }
        match self
            .authenticate(io, backend, &route, credentials, now)
            .await
        {
            Ok(v) => Decision::Allow(Box::new(v.kept.verified)),
            Err(e) => Decision::Deny(e.deny(&self.gate)),
        }
    }
}

/// Polls a future once with a waker that does nothing: `Ok` with its output when it
/// completed without waiting (keys in memory and a synchronous signature backend),
/// otherwise `Err` with the future, for an executor to poll again with a real waker.
pub fn poll_once<F: Future>(mut fut: Pin<Box<F>>) -> Result<F::Output, Pin<Box<F>>> {
    let mut cx = Context::from_waker(futures_util::task::noop_waker_ref());
    match fut.as_mut().poll(&mut cx) {
        Poll::Ready(v) => Ok(v),
        Poll::Pending => Err(fut),
    }
}
