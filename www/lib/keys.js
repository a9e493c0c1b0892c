// JWKS input and the only network requests this page makes: a JWKS fetch or an
// OIDC discovery, each started by a button press.

const LOOPBACK = new Set(["127.0.0.1", "localhost"]);

/**
 * Checks a URL the way tokengate checks jwksUri: https, or http on a loopback host.
 * Returns a URL object or throws an Error with a readable message.
 */
export function checkUrl(text, what = "URL") {
  let url;
  try {
    url = new URL(String(text).trim());
  } catch {
    throw new Error(`the ${what} is not a valid absolute URL`);
  }
  if (url.protocol === "https:") return url;
  if (url.protocol === "http:" && LOOPBACK.has(url.hostname)) return url;
  throw new Error(`the ${what} must be https (http only on 127.0.0.1 or localhost), as tokengate requires`);
}

async function getJson(url) {
  let resp;
  try {
    resp = await fetch(url, {
      method: "GET",
      headers: { accept: "application/json" },
      credentials: "omit",
      referrerPolicy: "no-referrer",
      cache: "no-store",
      mode: "cors",
      signal: AbortSignal.timeout(10000),
    });
  } catch (e) {
    const why = e?.name === "TimeoutError" ? "timed out after 10 s" : "network error, or the server does not allow cross-origin requests (CORS)";
    throw new Error(`fetching ${url.href} failed: ${why}. You can paste the JSON instead.`);
  }
  if (!resp.ok) throw new Error(`fetching ${url.href} answered HTTP ${resp.status}`);
  const text = await resp.text();
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`${url.href} did not answer JSON`);
  }
}

/** Fetches a JWKS; returns { jwks, url }. */
export async function fetchJwks(urlText) {
  const url = checkUrl(urlText, "JWKS URL");
  const jwks = await getJson(url);
  if (!jwks || !Array.isArray(jwks.keys)) throw new Error(`${url.href} answered JSON without a "keys" array`);
  return { jwks, url: url.href };
}

/** OIDC discovery from the issuer, then the JWKS; returns { jwks, url, discovery }. */
export async function discoverJwks(issuerText) {
  const issuer = String(issuerText).trim();
  if (!issuer) throw new Error("enter the issuer first (or use the token's)");
  const base = checkUrl(issuer, "issuer");
  const discovery = new URL(base.href.replace(/\/+$/, "") + "/.well-known/openid-configuration");
  const doc = await getJson(discovery);
  if (!doc || typeof doc.jwks_uri !== "string") throw new Error(`${discovery.href} has no jwks_uri`);
  const { jwks, url } = await fetchJwks(doc.jwks_uri);
  return { jwks, url, discovery: discovery.href };
}

/** Parses the JWKS text area: a JWKS, or a single JWK (wrapped). Throws on bad JSON. */
export function parseJwks(text) {
  const t = String(text).trim();
  if (!t) return null;
  let v;
  try {
    v = JSON.parse(t);
  } catch (e) {
    throw new Error(`the JWKS is not valid JSON (${e.message})`);
  }
  if (v && typeof v === "object" && !Array.isArray(v) && typeof v.kty === "string") return { keys: [v] };
  if (Array.isArray(v)) return { keys: v };
  return v;
}

/** "2 keys (RSA kid abc, EC kid def)". */
export function describeJwks(jwks) {
  const keys = Array.isArray(jwks?.keys) ? jwks.keys : [];
  const each = keys.slice(0, 4).map((k) => `${k.kty ?? "?"}${k.kid ? ` kid ${k.kid}` : ""}`);
  return `${keys.length} key${keys.length === 1 ? "" : "s"}${each.length ? ` (${each.join(", ")}${keys.length > 4 ? ", …" : ""})` : ""}`;
}
