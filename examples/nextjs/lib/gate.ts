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
  bearerToken,
  createVerifier,
  encodeHeaderValue,
  isReservedHeader,
  type Principal,
  type Requirement,
  type TokengateError,
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
export function requirementFor(method: string): Requirement {
  return {
    scopesAll: [WRITE_METHODS.has(method.toUpperCase()) ? "update:builds" : "read:builds"],
    machinesBypassScopes: true,
  };
}

/**
 * The identity headers the upstream receives. Values are percent-encoded the way the
 * edge authorizer encodes them (a claim may hold newlines or non-ASCII text, which a
 * header cannot carry); the upstream decodes them with decodeURIComponent.
 */
export function identityHeaders(p: Principal): Record<string, string> {
  return {
    "x-tokengate-kind": p.kind,
    "x-tokengate-subject": encodeHeaderValue(p.subject),
    "x-tokengate-client-id": encodeHeaderValue(p.clientId ?? ""),
    "x-tokengate-scopes": encodeHeaderValue(p.scopes),
  };
}

/** The RFC 6750 answer to a refused request. */
export function denyResponse(error: TokengateError): Response {
  const headers = new Headers({ "content-type": "application/json", "cache-control": "no-store" });
  if (error.wwwAuthenticate) headers.set("www-authenticate", error.wwwAuthenticate);
  // A 5xx message can carry fetch errors and URLs: clients learn the decision, the
  // server log gets the detail.
  if (error.status >= 500) console.error(`tokengate: ${error.code}: ${error.message}`);
  const message = error.status >= 500 ? "the authorizer could not decide; retry later" : error.message;
  return new Response(JSON.stringify({ error: error.code, message }), {
    status: error.status,
    headers,
  });
}

export type Check = { ok: true; principal: Principal } | { ok: false; response: Response };

/**
 * Verifies the request's bearer token and applies the rule for its method.
 *
 * With @auth0/nextjs-auth0 (v4) the token would come from the user's session instead
 * of the Authorization header:
 *
 *   import { auth0 } from "@/lib/auth0";          // new Auth0Client({...})
 *   const { token } = await auth0.getAccessToken(); // the session's access token
 *   const result = await getVerifier().authorize(token, requirementFor(request.method));
 *
 * (configure the Auth0 application with `authorizationParameters: { audience }` so
 * that the access token is a JWT for your API, not an opaque token).
 */
export async function check(request: Request): Promise<Check> {
  const bearer = bearerToken(request.headers.get("authorization"));
  if (!bearer.ok) return { ok: false, response: denyResponse(bearer.error) };
  const result = await getVerifier().authorize(bearer.token, requirementFor(request.method));
  if (!result.ok) return { ok: false, response: denyResponse(result.error) };
  return { ok: true, principal: result.principal };
}

/**
 * Request headers for the upstream: the client's, minus spoofable identity headers and
 * method overrides in every spelling an upstream may read them (`X_Tokengate_Kind` is
 * `X-Tokengate-Kind` to CGI-style servers): tokengate's `isReservedHeader` rule.
 */
export function upstreamHeaders(incoming: Headers, principal: Principal): Headers {
  const headers = new Headers();
  incoming.forEach((value, name) => {
    const n = name.toLowerCase();
    if (isReservedHeader(n) || n === "host" || n === "connection" || n === "content-length") return;
    headers.set(name, value);
  });
  for (const [name, value] of Object.entries(identityHeaders(principal))) headers.set(name, value);
  return headers;
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
    headers: upstreamHeaders(request.headers, principal),
    body: hasBody ? await request.arrayBuffer() : undefined,
    redirect: "manual",
    cache: "no-store",
  });
  const headers = new Headers();
  const type = upstream.headers.get("content-type");
  if (type) headers.set("content-type", type);
  return new Response(await upstream.arrayBuffer(), { status: upstream.status, headers });
}
