// Types of `tokengate/authorizer`: the prebuilt edge authorizer, an ES-module
// Cloudflare Worker. A project re-exports it as its own Worker:
//
//   export { default, DpopReplay } from "tokengate/authorizer";
//
// and configures it in wrangler.toml (the `JWKS_CACHE` KV binding, optionally
// `CLIENTS`, the `TOKENGATE_CONFIG` variable, the `DPOP_REPLAY` Durable Object binding
// of class `DpopReplay` with its migration; see the package README).

/** The Worker's entry point (a `WorkerEntrypoint` class whose `fetch` authorizes each request). */
declare const authorizer: {
  new (ctx: unknown, env: unknown): { fetch(request: Request): Promise<Response> };
};
export default authorizer;

/**
 * The Durable Object class of the DPoP replay store (bound as `DPOP_REPLAY`, declared
 * with a `new_sqlite_classes` migration): one object per DPoP key records each proof's
 * `jti` until its window closes, so that a proof is accepted once across isolates.
 */
export declare const DpopReplay: {
  new (state: unknown, env: unknown): {
    fetch(request: Request): Promise<Response>;
    alarm(): Promise<Response>;
  };
};
