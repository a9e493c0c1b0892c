// One-line explanations of header parameters and claims, in the terms tokengate
// uses (src/verify.rs, src/classify.rs).

import { binding } from "./lints.js";

const HEADER = {
  alg: "Signature algorithm. tokengate picks the algorithm from the key, never trusts this alone; none is never accepted.",
  typ: "Media type of the token. RFC 9068 access tokens use at+jwt; checked only when requiredTyp is set.",
  kid: "Key id: which key of the issuer's JWKS signed the token.",
  cty: "Content type of the payload (used for nested tokens).",
  crit: "Header extensions the verifier must understand; tokengate implements none, so any entry is refused.",
  jku: "URL of a JWKS. Ignored: keys come only from the configured issuer.",
  jwk: "An embedded public key. Ignored: a token cannot bring its own key.",
  x5u: "URL of an X.509 chain. Ignored: keys come only from the configured issuer.",
  x5c: "An embedded X.509 chain. Ignored: a token cannot bring its own key.",
  x5t: "SHA-1 thumbprint of the signing certificate.",
  "x5t#S256": "SHA-256 thumbprint of the signing certificate.",
  b64: "RFC 7797 unencoded payload flag; tokengate refuses it.",
  enc: "Content encryption (JWE only).",
  zip: "Compression (JWE only).",
};

const CLAIMS = {
  iss: "Issuer: who minted the token. Must equal the configured issuer exactly (trailing slash included).",
  sub: "Subject: the user id, or for client-credentials tokens the client (Auth0: <client id>@clients).",
  aud: "Audience: the API(s) the token is for. One of them must be a configured audience.",
  exp: "Expiry time (unix seconds). Rejected once now ≥ exp + clock tolerance.",
  nbf: "Not before (unix seconds). Rejected while nbf > now + clock tolerance.",
  iat: "Issued at (unix seconds). A time in the future (beyond the tolerance) is rejected.",
  jti: "Token id: unique per token, lets an API detect replays or revoke one token.",
  azp: "Authorized party: the client (application) the token was issued to. tokengate's client id.",
  client_id: "The client the token was issued to (RFC 9068, RFC 8693). Used as client id when azp is absent.",
  gty: "Grant type (Auth0). client-credentials marks a machine-to-machine token.",
  scope: "Granted scopes, space-separated (RFC 8693, RFC 9068).",
  scp: "Granted scopes as a string or an array (Azure AD, Okta).",
  permissions: "Granted permissions, an array (Auth0 RBAC). Merged with the scopes.",
  act: "Actor (RFC 8693 delegation): who is acting on behalf of the subject.",
  may_act: "Who may act on behalf of the subject (RFC 8693).",
  auth_time: "When the user authenticated (unix seconds).",
  acr: "Authentication context class reference: how strongly the user authenticated.",
  amr: "Authentication methods used (pwd, mfa, otp, …).",
  sid: "Session id at the identity provider.",
  nonce: "OpenID Connect nonce: belongs in ID tokens, not access tokens.",
  at_hash: "Access-token hash: belongs in ID tokens, not access tokens.",
  cnf: "Confirmation (RFC 7800): the key the token is bound to: jkt a DPoP key (RFC 9449), x5t#S256 a mutual-TLS client certificate (RFC 8705). See Sender binding.",
  roles: "Roles (common, not registered). Read as roles only when configured as the roles claim.",
  groups: "Groups the user belongs to (common, not registered).",
  entitlements: "Entitlements (RFC 9068 §2.2.3.1).",
  email: "The user's e-mail address (personal data).",
  email_verified: "Whether the identity provider verified the e-mail address.",
  name: "The user's full name (personal data).",
  org_id: "Organization id (Auth0 Organizations).",
  org_name: "Organization name (Auth0 Organizations).",
  tid: "Tenant id (Azure AD).",
  oid: "Object id of the user or service principal (Azure AD).",
  appid: "Client id (Azure AD v1 tokens).",
  ver: "Token format version (Azure AD, Okta).",
  cid: "Client id (Okta).",
  uid: "User id (Okta).",
};

/** The cnf explanation by binding kind (explain.js's binding()). */
const CNF_TEXT = {
  dpop: "the token is bound to a DPoP key; jkt is the key's RFC 7638 SHA-256 thumbprint (RFC 9449)",
  mtls: "the token is bound to a mutual-TLS client certificate; x5t#S256 is its SHA-256 thumbprint (RFC 8705)",
  "dpop+mtls": "the token is bound to a DPoP key (jkt, RFC 9449) and to a mutual-TLS client certificate (x5t#S256, RFC 8705)",
  unsupported: "the token is bound to a key in a form tokengate does not accept (it checks only jkt and x5t#S256)",
  malformed: "meant to bind the token to a key, but malformed",
};

/** Whether a claim name is namespaced (collision-resistant, RFC 7519 §4.2). */
export function isNamespaced(name) {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(name) || /^urn:/i.test(name) ||
    /^[a-z0-9-]+(\.[a-z0-9-]+)+\//i.test(name);
}

function namespaceOf(name) {
  const m = name.match(/^([a-z][a-z0-9+.-]*:\/\/[^/]+\/?)|^(urn:[^:]+:[^:]+:?)|^([a-z0-9.-]+\/)/i);
  return m ? m[0] : name;
}

/** { text, kind: "registered" | "common" | "namespaced" | "custom" } for a header parameter. */
export function explainHeader(name) {
  if (Object.hasOwn(HEADER, name)) return { text: HEADER[name], kind: "registered" };
  if (isNamespaced(name)) return { text: `Namespaced custom header parameter (${namespaceOf(name)}).`, kind: "namespaced" };
  return { text: "Custom header parameter: not used by tokengate.", kind: "custom" };
}

const REGISTERED = new Set(["iss", "sub", "aud", "exp", "nbf", "iat", "jti"]);

/** { text, kind } for a payload claim. */
export function explainClaim(name, value, ctx = {}) {
  if (ctx.rolesClaim && name === ctx.rolesClaim) {
    return { text: "Roles: configured as the roles claim, so tokengate reads roles from it.", kind: isNamespaced(name) ? "namespaced" : "common" };
  }
  if (ctx.m2mClaim && name === ctx.m2mClaim) {
    return { text: "The configured M2M claim: true means machine, false means user (rule m2m_claim).", kind: isNamespaced(name) ? "namespaced" : "common" };
  }
  if (ctx.userIdClaim && name === ctx.userIdClaim) {
    return { text: "The configured user id claim: for machine tokens, the user the machine acts for.", kind: isNamespaced(name) ? "namespaced" : "common" };
  }
  if (Object.hasOwn(CLAIMS, name)) {
    let text = CLAIMS[name];
    if (name === "gty" && value !== "client-credentials") text = `Grant type (Auth0): ${JSON.stringify(value)}; only client-credentials marks a machine token.`;
    if (name === "cnf") text = `Confirmation (RFC 7800): ${CNF_TEXT[binding({ cnf: value }).kind]}. See Sender binding.`;
    return { text, kind: REGISTERED.has(name) ? "registered" : "common" };
  }
  if (isNamespaced(name)) {
    return { text: `Namespaced custom claim (namespace ${namespaceOf(name)}): set by the issuer, e.g. an Auth0 Action.`, kind: "namespaced" };
  }
  return { text: "Custom claim, not namespaced: may collide with a future registered name.", kind: "custom" };
}
