// The edge authorizer, prebuilt (no Rust toolchain needed): it verifies each request's
// token against the issuer in wrangler.toml's TOKENGATE_CONFIG, applies the route
// rules and forwards allowed requests to the origin with x-tokengate-* identity headers.
export { default } from "tokengate/authorizer";
