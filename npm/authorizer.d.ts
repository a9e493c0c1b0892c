// Types of `tokengate/authorizer`: the prebuilt edge authorizer, an ES-module
// Cloudflare Worker. A project re-exports it as its own Worker:
//
//   export { default } from "tokengate/authorizer";
//
// and configures it in wrangler.toml (the `JWKS_CACHE` KV binding, optionally
// `CLIENTS`, the `TOKENGATE_CONFIG` variable; see the package README).

/** The Worker's entry point (a `WorkerEntrypoint` class whose `fetch` authorizes each request). */
declare const authorizer: {
  new (ctx: unknown, env: unknown): { fetch(request: Request): Promise<Response> };
};
export default authorizer;
