// JWKS input and the only network requests this page makes: a JWKS fetch or an
// OIDC discovery, each started by a button press.

import { requireCore } from "./core.js";

/**
 * Checks a URL with tokengate's own rule for jwksUri (the core's checkFetchUrl: https,
 * or http on a loopback host), both as written and as the browser parsed it (what is
 * fetched). Returns a URL object or throws an Error with a readable message.
 */
export function checkUrl(text, what = "URL") {
  const raw = String(text).trim();
  const tg = requireCore();
  const refuse = (rule) => {
    if (!rule.ok) throw new Error(`the ${what} is refused, as tokengate refuses it: ${rule.message}`);
  };
  refuse(tg.checkFetchUrl(raw));
  let url;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`the ${what} is not a valid absolute URL`);
  }
  // The browser may read a URL differently (a backslash ends the host for it): the rule
  // must hold for what is fetched too.
  refuse(tg.checkFetchUrl(url.href));
  return url;
}

async function getText(url) {
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
  return resp.text();
}

/** Fetches a JWKS; returns { jwks, url }. */
export async function fetchJwks(urlText) {
  const url = checkUrl(urlText, "JWKS URL");
  const text = await getText(url);
  let jwks;
  try {
    jwks = JSON.parse(text);
  } catch {
    throw new Error(`${url.href} did not answer JSON`);
  }
  if (!jwks || !Array.isArray(jwks.keys)) throw new Error(`${url.href} answered JSON without a "keys" array`);
  return { jwks, url: url.href };
}

/**
 * OIDC discovery from the issuer, then the JWKS, as tokengate does it: the discovery
 * URL and the document's checks (its issuer must be exactly this issuer, its jwks_uri
 * must pass the URL rule) come from the core. Returns { jwks, url, discovery }.
 */
export async function discoverJwks(issuerText) {
  const issuer = String(issuerText).trim();
  if (!issuer) throw new Error("enter the issuer first (or use the token's)");
  const tg = requireCore();
  const where = tg.discoveryUrl(issuer);
  if (!where.ok) throw new Error(`the issuer is refused: ${where.message}`);
  const discovery = checkUrl(where.url, "discovery URL");
  const doc = tg.jwksUriFromDiscovery(await getText(discovery), issuer);
  if (!doc.ok) throw new Error(`${doc.message} (${discovery.href}); tokengate would not use it`);
  const { jwks, url } = await fetchJwks(doc.jwksUri);
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
