// The edge authorizer, prebuilt (no Rust toolchain needed): it verifies each request's
// token against the issuer in wrangler.toml's TOKENGATE_CONFIG, applies the route
// rules and forwards allowed requests to the origin with x-tokengate-* identity headers.
// DpopReplay is the Durable Object class of the DPoP replay store (wrangler.toml's
// DPOP_REPLAY binding).
export { default, DpopReplay } from "tokengate/authorizer";
