// Baseline authorizer Worker in plain JS, as one would write it with jose: the JWKS is
// kept in isolate memory, shared between isolates through KV (read once per isolate,
// written after a fetch), and fetched from env.JWKS_URI when neither has it. Each
// request: Bearer token -> jose.jwtVerify (issuer, audience, algorithm allow-list, 60 s
// leeway) -> scope check for /api/* -> forward to env.ORIGIN_URL with identity headers
// (inbound x-auth-* headers are overwritten). /health is public (forwarded as is).
// Bundled with jose by the benchmark (esbuild); not part of tokengate.

import { createLocalJWKSet, jwtVerify, errors } from "jose";

const KV_KEY = "jwks:baseline";
const TTL_SECONDS = 600;
let memory = null; // { keySet, until }

async function keySet(env, ctx) {
  const now = Date.now();
  if (memory && memory.until > now) return memory.keySet;
  let text = await env.JWKS_CACHE.get(KV_KEY);
  if (text == null) {
    const res = await fetch(env.JWKS_URI);
    if (!res.ok) throw new Error(`jwks fetch: ${res.status}`);
    text = await res.text();
    ctx.waitUntil(env.JWKS_CACHE.put(KV_KEY, text, { expirationTtl: TTL_SECONDS }));
  }
  memory = { keySet: createLocalJWKSet(JSON.parse(text)), until: now + TTL_SECONDS * 1000 };
  return memory.keySet;
}

function deny(status, error, description) {
  return new Response(JSON.stringify({ error, error_description: description }), {
    status,
    headers: {
      "content-type": "application/json",
      "www-authenticate": `Bearer realm="baseline", error="${error}"`,
    },
  });
}

export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    if (url.pathname === "/health") return forward(request, url, env, new Headers(request.headers));
    const auth = request.headers.get("authorization") ?? "";
    const m = /^Bearer ([A-Za-z0-9_.-]+)$/i.exec(auth);
    if (!m) return deny(401, "invalid_request", "missing bearer token");
    let payload;
    try {
      const { payload: p } = await jwtVerify(m[1], await keySet(env, ctx), {
        issuer: env.ISSUER,
        audience: env.AUDIENCE,
        algorithms: ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"],
        clockTolerance: 60,
      });
      payload = p;
    } catch (e) {
      if (e instanceof errors.JOSEError) return deny(401, "invalid_token", e.code);
      throw e;
    }
    const scopes = typeof payload.scope === "string" ? payload.scope.split(" ") : [];
    if (url.pathname.startsWith("/api/") && !scopes.includes("read:data")) {
      return deny(403, "insufficient_scope", "read:data required");
    }
    const headers = new Headers(request.headers);
    headers.set("x-auth-subject", String(payload.sub ?? ""));
    headers.set("x-auth-client-id", String(payload.azp ?? payload.client_id ?? ""));
    headers.set("x-auth-scopes", scopes.join(" "));
    return forward(request, url, env, headers);
  },
};

function forward(request, url, env, headers) {
  headers.delete("host");
  return fetch(env.ORIGIN_URL + url.pathname + url.search, {
    method: request.method,
    headers,
    body: request.body,
    redirect: "manual",
  });
}
