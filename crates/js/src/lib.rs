//! The JS bindings behind the `tokengate` npm package: a thin translation layer over
//! the sans-IO core, in small modules:
//!
//! * [`options`]: the one option schema (serde structs with the JS names) of
//!   `createVerifier`, `authorize`'s requirement and `decode`, translated into the
//!   core's [`Config`](tokengate::Config); a bad option throws a `TypeError`
//!   naming it, e.g. `tokengate: invalid option "issuers[1].jwksUri": ...`.
//! * [`results`]: the result objects (`{ ok: true, principal, claims, header }`,
//!   `{ ok: false, error: { code, message, status, wwwAuthenticate } }`, ...) as serde
//!   structs. Bad tokens never throw; only invalid options, an invalid requirement or a
//!   misbehaving `currentDate` do.
//! * [`io`]: [`JsIo`], the key provider's I/O (global `fetch`, the user `cache`), the
//!   DPoP replay store (`replayStore`, in memory by default) and the revocation store
//!   (`revocation.store`).
//! * [`verifier`]: `createVerifier` and [`Verifier`] (the pipeline, and the successes
//!   kept for the JS wrapper `npm/api.js`).
//! * [`catalogue`]: `errorCatalogue`, the core's error catalogue (codes, statuses,
//!   descriptions, the page's help texts).
//! * [`decode`](mod@decode): `decode`, a token read without verifying it.
//! * [`headers`]: `bearerToken`, `isReservedHeader`, `encodeHeaderValue`.
//! * [`page`]: the core's rules for token inspectors such as the decoder page
//!   (`checkFetchUrl`, `jwksUriFromDiscovery`, `timeState`, `checkTyp`, `algorithms`,
//!   `policyCheck`).
//! * [`check`]: `checkWorkerConfig`, an edge-authorizer configuration document checked
//!   as the Worker reads it (the core's `check_worker_config`; `tokengate check`).
//! * [`revocation`](mod@revocation): `revocationKey`, `revocationValue`, the entries
//!   of a revocation store (the core's format; `tokengate revoke`).
//! * [`internal`]: the hooks `__setHostVerify` and `__verifySignature`, not part of
//!   the package's API.
//!
//! The hand-written wrappers and TypeScript types of the package live in `npm/`; the
//! option interfaces of `npm/index.d.ts` are checked against [`options`] by the tests.

pub mod catalogue;
pub mod check;
pub mod decode;
pub mod headers;
pub mod internal;
pub mod io;
pub mod options;
pub mod page;
pub mod results;
pub mod revocation;
pub mod verifier;

pub use catalogue::error_catalogue;
pub use check::check_worker_config_js;
pub use decode::decode;
pub use headers::{bearer_token, encode_header_value, is_reserved_header};
pub use internal::{set_host_verify, verify_signature_internal};
pub use io::JsIo;
pub use revocation::{revocation_key_js, revocation_value_js};
pub use verifier::{create_verifier, Verifier};

/// The realm used where no verifier configuration is at hand (`decode`, `bearerToken`).
pub const DEFAULT_REALM: &str = "tokengate";
