// The access check shared by the Node.js route (app/api/proxy), the edge route
// (app/api/edge) and proxy.ts. The same `import ... from "tokengate"` works in all
// three: the package's `exports` map gives Next.js's Node.js bundles an entry with the
// WebAssembly inlined, and its edge bundles an entry that imports the .wasm as a
// precompiled module. No next.config is needed.
//
// The rule: machines (client-credentials tokens) may do everything; users need the
// `read:builds` permission to read and `update:builds` to write.
//
// Configuration (environment variables, read on first use, so `next build` does not
// need them):
//   TOKENGATE_ISSUER    e.g. https://tenant.auth0.com/
//   TOKENGATE_AUDIENCE  e.g. https://api.example.com
//   TOKENGATE_JWKS_URI  optional; default: OIDC discovery from the issuer
//   UPSTREAM_URL        where allowed requests are forwarded, e.g. http://127.0.0.1:4000

import {
  createVerifier,
  forwardHeaders,
  protect,
  type Principal,
  type Requirement,
  type Verifier,
} from "tokengate";

let verifier: Verifier | undefined;

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`the ${name} environment variable is not set`);
  return value;
}

/** One verifier per server instance: it caches the issuer's keys (JWKS) in memory. */
export function getVerifier(): Verifier {
  if (!verifier) {
    const jwksUri = process.env.TOKENGATE_JWKS_URI;
    verifier = createVerifier({
      issuer: env("TOKENGATE_ISSUER"),
      audience: env("TOKENGATE_AUDIENCE"),
      ...(jwksUri ? { jwksUri } : {}),
    });
  }
  return verifier;
}

const WRITE_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** What a request needs: machines bypass the scope check, users need the permission. */
export function requirementFor(request: Request): Requirement {
  return {
    scopesAll: [WRITE_METHODS.has(request.method.toUpperCase()) ? "update:builds" : "read:builds"],
    machinesBypassScopes: true,
  };
}

/**
 * Wraps a handler with the access check: tokengate's `protect` verifies the bearer
 * token and applies `requirementFor`, answers refused requests as the edge authorizer
 * does (401/403 with the RFC 6750 challenge and `{ error, error_description, code }`,
 * 400 for a malformed header, 503 when the issuer's keys are unavailable) and calls
 * `handler(request, principal, context)` for allowed ones.
 *
 * With @auth0/nextjs-auth0 (v4) the token would come from the user's session instead
 * of the Authorization header:
 *
 *   import { auth0 } from "@/lib/auth0";          // new Auth0Client({...})
 *   const { token } = await auth0.getAccessToken(); // the session's access token
 *   const result = await getVerifier().authorize(token, requirementFor(request));
 *
 * (configure the Auth0 application with `authorizationParameters: { audience }` so
 * that the access token is a JWT for your API, not an opaque token).
 */
export function guard<Req extends Request, Rest extends unknown[]>(
  handler: (request: Req, principal: Principal, ...rest: Rest) => Response | Promise<Response>,
) {
  return protect(getVerifier, requirementFor, handler);
}

/**
 * The request's query string. In the edge runtime Next.js appends the dynamic route
 * parameters to `request.url` (`?page=2&path=builds&path=42` for
 * /api/edge/builds/42?page=2); `routeParam` names the catch-all parameter whose
 * trailing entries are dropped again.
 */
function querySearch(request: Request, path: string[], routeParam?: string): string {
  const url = new URL(request.url);
  if (!routeParam) return url.search;
  const entries = [...url.searchParams];
  const tail = entries.slice(entries.length - path.length);
  if (path.length > 0 && tail.every(([k, v], i) => k === routeParam && v === path[i])) {
    const kept = new URLSearchParams(entries.slice(0, entries.length - path.length));
    const s = kept.toString();
    return s ? `?${s}` : "";
  }
  return url.search;
}

/** Forwards an allowed request to UPSTREAM_URL + path (with the query string). */
export async function forward(
  request: Request,
  path: string[],
  principal: Principal,
  routeParam?: string,
): Promise<Response> {
  const base = env("UPSTREAM_URL").replace(/\/+$/, "");
  const search = querySearch(request, path, routeParam);
  const target = `${base}/${path.map(encodeURIComponent).join("/")}${search}`;
  const hasBody = !["GET", "HEAD"].includes(request.method);
  const upstream = await fetch(target, {
    method: request.method,
    // The client's headers minus spoofable identity headers and method overrides (in
    // every spelling an upstream may read them), plus the caller's identity.
    headers: forwardHeaders(request.headers, principal),
    body: hasBody ? await request.arrayBuffer() : undefined,
    redirect: "manual",
    cache: "no-store",
  });
  const headers = new Headers();
  const type = upstream.headers.get("content-type");
  if (type) headers.set("content-type", type);
  return new Response(await upstream.arrayBuffer(), { status: upstream.status, headers });
}
