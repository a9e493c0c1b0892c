// `tokengate/explain`: what a token inspector says about a decoded token, shared by the
// decoder page (www/lib/lints.js and www/lib/time.js re-export it) and the CLI
// (`tokengate decode`). Pure and DOM-free; the core's rules (algorithms, typ, time
// state) are asked of the package module `tg` passed in (any entry point: the page
// passes the browser build, the CLI node.mjs), so this file imports nothing. Where `tg`
// is null (the core not loaded yet), the answers that need it are left out or
// "unknown".

/** A finite number claim, or null. */
export function numClaim(claims, name) {
  const v = claims?.[name];
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

/** "45 s", "4 min", "2 h 5 min", "3 days". */
export function fmtDuration(seconds) {
  const s = Math.abs(Math.round(seconds));
  if (s < 120) return `${s} s`;
  const min = Math.floor(s / 60);
  if (s < 600) return s % 60 ? `${min} min ${s % 60} s` : `${min} min`;
  if (min < 120) return `${min} min`;
  const h = Math.floor(min / 60);
  if (h < 48) {
    const m = min % 60;
    return m ? `${h} h ${m} min` : `${h} h`;
  }
  const d = Math.floor(h / 24);
  if (d < 730) return `${d} days`;
  return `${Math.floor(d / 365)} years`;
}

/** "in 4 min" / "4 min ago" / "now". */
export function relative(ts, now) {
  const diff = ts - now;
  if (Math.abs(diff) < 1) return "now";
  return diff > 0 ? `in ${fmtDuration(diff)}` : `${fmtDuration(diff)} ago`;
}

/** Under this many seconds left, a valid token "expires soon" (an inspector's own warning). */
export const EXPIRING_SECONDS = 300;

/**
 * The core's verdict on the token's times at `now` with `leeway` seconds of
 * tolerance: { state, error } where state is "valid", "grace" (past exp, within the
 * tolerance), "no-exp", "expired", "not-yet-valid", "issued-in-future" or "invalid" (a
 * time claim that is not a number), and error the { code, message } a verifier answers;
 * "valid" becomes "expiring" under 5 minutes left. "unknown" without the core (`tg`
 * null).
 */
export function timeVerdict(tg, claims, now, leeway = 60) {
  if (!tg) return { state: "unknown", error: null };
  const v = tg.timeState(claims ?? {}, now, leeway);
  if (v.state === "valid" && numClaim(claims, "exp") - now < EXPIRING_SECONDS) return { ...v, state: "expiring" };
  return v;
}

/** The state of timeVerdict alone. */
export function timeState(tg, claims, now, leeway = 60) {
  return timeVerdict(tg, claims, now, leeway).state;
}

/** A few words for each state of timeVerdict. */
export const STATE_TEXT = {
  expired: "expired",
  "not-yet-valid": "not yet valid",
  "issued-in-future": "issued in the future",
  expiring: "expires soon",
  grace: "expired (in tolerance)",
  valid: "valid now",
  "no-exp": "never expires",
  invalid: "invalid time claim",
  unknown: "unknown (core not loaded)",
};

/** The one-line sentence for the state. */
export function stateSentence(tg, claims, now, leeway = 60) {
  const exp = numClaim(claims, "exp");
  const nbf = numClaim(claims, "nbf");
  const iat = numClaim(claims, "iat");
  const { state, error } = timeVerdict(tg, claims, now, leeway);
  switch (state) {
    case "expired":
      return `Expired ${fmtDuration(now - exp)} ago: a verifier answers ${error.code}.`;
    case "not-yet-valid":
      return `Not valid for another ${fmtDuration(nbf - now)} (nbf): a verifier answers ${error.code}.`;
    case "issued-in-future":
      return `Issued ${fmtDuration(iat - now)} in the future (iat): a clock is off; a verifier answers ${error.code}.`;
    case "invalid":
      return `${error.message[0].toUpperCase()}${error.message.slice(1)}: a verifier answers ${error.code}.`;
    case "grace":
      return `Expired ${fmtDuration(now - exp)} ago, still inside the ${leeway} s clock tolerance: accepted for ${fmtDuration(exp + leeway - now)} more.`;
    case "expiring":
      return `Expires in ${fmtDuration(exp - now)}: about to be refused.`;
    case "valid":
      return `Expires in ${fmtDuration(exp - now)}.`;
    case "no-exp":
      return "No exp: the token never expires. tokengate refuses it by default (claim_missing).";
    case "unknown":
      return "tokengate's core is not loaded: the time state is unknown.";
    default:
      return "";
  }
}

// Sender binding (the cnf claim, RFC 7800): DPoP (RFC 9449, cnf.jkt) and mutual-TLS
// client certificates (RFC 8705, cnf["x5t#S256"]), both a base64url SHA-256 thumbprint.

const B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/**
 * The 32 bytes of a SHA-256 thumbprint in strict base64url (no padding, canonical
 * trailing bits: the core's decoding), as { bytes }, or { problem }: what is wrong.
 */
function thumbprint(v) {
  if (typeof v !== "string") return { problem: `it is ${kindOf(v)}, not a string` };
  if (v.length !== 43) return { problem: `it is ${v.length} characters long` };
  const bytes = [];
  let acc = 0, bits = 0;
  for (const c of v) {
    const i = B64URL.indexOf(c);
    if (i < 0) return { problem: `it has ${JSON.stringify(c)}, which is not a base64url character` };
    acc = (acc << 6) | i;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes.push((acc >> bits) & 0xff);
    }
  }
  if (acc & ((1 << bits) - 1)) return { problem: "it is not canonical base64url: its last character leaves bits set" };
  return { bytes };
}

function kindOf(v) {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  return typeof v === "object" ? "an object" : `a ${typeof v}`;
}

/** RFC 7800's proof-of-possession members, which tokengate does not accept. */
const POP_7800 = ["jwk", "jwe", "jku", "kid"];

const DPOP_NEEDS = (jkt) =>
  `DPoP-bound: send it as "Authorization: DPoP <token>" with a DPoP proof header signed by the private key whose RFC 7638 SHA-256 thumbprint is ${jkt}; the proof's htm/htu must be the request's method and URL, ath the token's hash, and each proof is accepted once. A Bearer use of this token is refused.`;
const MTLS_NEEDS = (x5t, hex) =>
  `certificate-bound: the request must come over mutual TLS with the client certificate whose SHA-256 thumbprint (base64url) is ${x5t}; in hex: ${hex}`;

/**
 * The token's sender binding (its cnf claim): null without one, else { kind, jkt?,
 * x5tS256?, x5tS256Hex?, needs, warnings } where kind is "dpop" (cnf.jkt, RFC 9449),
 * "mtls" (cnf["x5t#S256"], RFC 8705), "dpop+mtls", "unsupported" (another member, e.g.
 * RFC 7800's jwk, jku or kid) or "malformed" (cnf not an object, empty, or a thumbprint
 * that is not 43 characters of strict base64url). The last two the core refuses
 * (binding_unsupported: it fails closed). needs says what a request with the token
 * needs, one sentence per binding (none when malformed or unsupported), warnings what
 * is wrong or unusual (the cnf lint). jkt and x5tS256 are the well-formed thumbprints;
 * x5tS256Hex is the certificate's in lowercase hex, as Cloudflare's
 * request.cf.tlsClientAuth.certFingerprintSHA256 shows it.
 */
export function binding(claims) {
  const cnf = claims?.cnf;
  if (cnf === undefined) return null;
  if (cnf === null || typeof cnf !== "object" || Array.isArray(cnf)) {
    return { kind: "malformed", needs: [], warnings: [`cnf is ${kindOf(cnf)}, not a JSON object (RFC 7800): it names no key, and tokengate refuses the token (binding_unsupported).`] };
  }
  const members = Object.keys(cnf);
  if (!members.length) return { kind: "malformed", needs: [], warnings: ["cnf is an empty object: it names no key, and tokengate refuses the token (binding_unsupported)."] };
  const out = { kind: "" };
  const warnings = [];
  let broken = false;
  const dpop = Object.hasOwn(cnf, "jkt") ? thumbprint(cnf.jkt) : null;
  const mtls = Object.hasOwn(cnf, "x5t#S256") ? thumbprint(cnf["x5t#S256"]) : null;
  if (dpop?.bytes) out.jkt = cnf.jkt;
  else if (dpop) {
    broken = true;
    warnings.push(`cnf.jkt is not a 43-character base64url SHA-256 thumbprint (${dpop.problem}): no DPoP key matches it, and tokengate refuses the token (binding_unsupported).`);
  }
  if (mtls?.bytes) {
    out.x5tS256 = cnf["x5t#S256"];
    out.x5tS256Hex = mtls.bytes.map((b) => b.toString(16).padStart(2, "0")).join("");
  } else if (mtls) {
    broken = true;
    warnings.push(`cnf["x5t#S256"] is not a 43-character base64url SHA-256 thumbprint (${mtls.problem}): no client certificate matches it, and tokengate refuses the token (binding_unsupported).`);
  }
  const pop = members.filter((m) => POP_7800.includes(m));
  const other = members.filter((m) => m !== "jkt" && m !== "x5t#S256" && !POP_7800.includes(m));
  const names = [...pop.map((m) => `cnf.${m} (RFC 7800 proof of possession)`), ...other.map((m) => `cnf.${m}`)];
  if (names.length) {
    warnings.push(`${names.join(", ")}: ${names.length > 1 ? "confirmation methods" : "a confirmation method"} tokengate does not accept: it checks only DPoP (cnf.jkt) and mutual-TLS (cnf["x5t#S256"]) bindings, and refuses the token (binding_unsupported).`);
  }
  out.needs = [];
  out.warnings = warnings;
  if (broken) out.kind = "malformed";
  else if (names.length) out.kind = "unsupported";
  else if (out.jkt && out.x5tS256) {
    out.kind = "dpop+mtls";
    warnings.unshift(`Bound twice (cnf.jkt and cnf["x5t#S256"]): every request needs both a DPoP proof and the mutual-TLS client certificate.`);
  } else if (out.jkt) out.kind = "dpop";
  else out.kind = "mtls";
  if (out.kind === "dpop" || out.kind === "mtls" || out.kind === "dpop+mtls") {
    if (out.jkt) out.needs.push(DPOP_NEEDS(out.jkt));
    if (out.x5tS256) out.needs.push(MTLS_NEEDS(out.x5tS256, out.x5tS256Hex));
  }
  return out;
}

/** Lint titles of a binding with warnings, by kind. */
const BINDING_TITLE = {
  malformed: "cnf is malformed: the token's sender binding cannot be met",
  unsupported: "cnf binds the token in a form tokengate does not accept",
  "dpop+mtls": "Bound to both a DPoP key and a client certificate",
};

/** The core's algorithms by name ({ name, symmetric, allowedByDefault }), per module. */
const algsOf = new WeakMap();
function algorithms(tg) {
  let algs = algsOf.get(tg);
  if (!algs) {
    algs = new Map(tg.algorithms().map((a) => [a.name, a]));
    algsOf.set(tg, algs);
  }
  return algs;
}

/**
 * Lints: what a reviewer of an access token would point out, each tied to what
 * tokengate does with it (the error code a verifier answers, where there is one).
 * Returns { findings, passed }: lists of { id, level: "error"|"warn"|"info", title,
 * detail } and { id, title } for the checks that passed. `now` (unix seconds) adds the
 * time findings; `leeway` is the clock tolerance (default 60), `requiredTyp` a typ
 * the verifier requires. Without the core (`tg` null) the algorithm-support and typ
 * checks and the time state are left out.
 */
export function lint(tg, header, claims, { now, leeway = 60, requiredTyp = "" } = {}) {
  const findings = [];
  const passed = [];
  const add = (id, level, title, detail) => findings.push({ id, level, title, detail });
  const ok = (id, title) => passed.push({ id, title });
  header = header ?? {};
  claims = claims ?? {};

  // alg (the algorithms and which are symmetric: the core's list)
  const alg = header.alg;
  const info = tg && typeof alg === "string" ? algorithms(tg).get(alg) : undefined;
  if (typeof alg !== "string") {
    add("alg-missing", "error", "No alg in the header", "A JWS must name its algorithm: token_malformed.");
  } else if (alg.toLowerCase() === "none") {
    add("alg-none", "error", "alg is none: the token is unsigned",
      "Anyone can write such a token. tokengate never accepts it (alg_not_allowed), whatever the configuration.");
  } else if (!tg) {
    // Without the core, nothing can say what tokengate supports.
  } else if (info?.symmetric) {
    add("alg-hs", "warn", `alg is ${alg}: a shared secret (symmetric)`,
      `Whoever can verify the token can also mint one. tokengate accepts ${alg} only from an issuer configured with a secret; against a JWKS it answers alg_not_allowed.`);
  } else if (!info) {
    const names = [...algorithms(tg).values()];
    const asym = names.filter((a) => !a.symmetric).map((a) => a.name).join(", ");
    const sym = names.filter((a) => a.symmetric).map((a) => a.name).join(", ");
    add("alg-unsupported", "error", `alg ${alg} is not supported`,
      `tokengate verifies ${asym} (and ${sym} with a secret): alg_not_allowed.`);
  } else {
    ok("alg", `alg ${alg} is asymmetric and supported`);
  }

  // crit / b64
  if (header.crit !== undefined) {
    const names = Array.isArray(header.crit) ? header.crit : [header.crit];
    add("crit", "error", `crit lists ${names.map((n) => JSON.stringify(n)).join(", ")}`,
      "tokengate implements no critical header extension, so it refuses the token (crit_unsupported).");
  } else if (header.b64 !== undefined) {
    add("crit", "error", "b64 header (RFC 7797 unencoded payload)", "tokengate refuses it (crit_unsupported).");
  } else {
    ok("crit", "No unknown critical header extension (crit)");
  }

  // typ (RFC 9068; the comparison is the core's requiredTyp rule)
  const req = requiredTyp.trim();
  if (tg) {
    const isAt = tg.checkTyp(header.typ, "at+jwt").ok;
    const required = req ? tg.checkTyp(header.typ, req) : null;
    const what = header.typ === undefined ? "No typ header" : `typ is ${JSON.stringify(header.typ)}`;
    if (required && !required.ok) {
      add("typ", "error", `${what}, not ${req}`,
        `This verifier requires typ ${JSON.stringify(req)}: ${required.error.code} (${required.error.message}).`);
    } else if (isAt) {
      ok("typ", `typ is ${header.typ} (RFC 9068 access token)`);
    } else if (required) {
      ok("typ", `typ is ${header.typ}, as required`);
    } else {
      add("typ", "info", `${what}, not at+jwt (RFC 9068)`,
        "RFC 9068 access tokens carry typ at+jwt, which keeps ID tokens from being replayed as access tokens. Accepted unless requiredTyp is set (then typ_mismatch).");
    }
  }

  // kid
  if (typeof header.kid === "string" && header.kid) ok("kid", "kid names the signing key");
  else add("kid", "info", "No kid header",
    "tokengate then uses the only key of the set that fits the algorithm; with two or more it answers key_not_found.");

  // exp
  const exp = numClaim(claims, "exp");
  const iat = numClaim(claims, "iat");
  const nbf = numClaim(claims, "nbf");
  if (claims.exp === undefined) {
    add("exp-missing", "error", "No exp: the token never expires",
      "A leaked token works forever. tokengate requires exp by default (claim_missing).");
  } else if (exp === null) {
    add("exp-invalid", "error", "exp is not a number", "Time claims are unix seconds: claim_invalid.");
  } else {
    ok("exp", "exp is present");
  }

  // lifetime
  const start = iat ?? nbf;
  if (exp !== null && start !== null) {
    const life = exp - start;
    if (life > 86400) {
      add("lifetime", "warn", `Lifetime is ${fmtDuration(life)}, over 24 h`,
        `From ${iat !== null ? "iat" : "nbf"} to exp. A leaked token stays usable that long; access tokens usually live minutes to hours.`);
    } else if (life <= 0) {
      add("lifetime", "error", "exp is not after iat/nbf", "The token was never valid.");
    } else {
      ok("lifetime", `Lifetime ${fmtDuration(life)} (24 h or less)`);
    }
  }

  // time state (the core's verdict)
  if (now !== undefined) {
    const { state: st, error } = timeVerdict(tg, claims, now, leeway);
    if (st === "expired") add("expired", "error", `Expired ${fmtDuration(now - exp)} ago`, `A verifier answers ${error.code}.`);
    else if (st === "not-yet-valid") add("nbf-future", "error", "Not valid yet (nbf in the future)", `A verifier answers ${error.code}.`);
    else if (st === "issued-in-future") add("iat-future", "warn", "Issued in the future (iat)", `A clock is off. A verifier answers ${error.code}.`);
    else if (st === "grace") add("expired", "warn", "Past exp, inside the clock tolerance", `Accepted for ${fmtDuration(exp + leeway - now)} more, then token_expired.`);
    else if (st === "expiring") add("expiring", "warn", `Expires in ${fmtDuration(exp - now)}`, "Refresh it before sending more requests.");
    else if (st === "valid") ok("time", "Valid now");
    else if (st === "invalid" && !(claims.exp !== undefined && exp === null)) {
      add("time-invalid", "error", "A time claim is not a number", `${error.message}: a verifier answers ${error.code}.`);
    }
  }

  // aud
  if (claims.aud === undefined || claims.aud === null) {
    add("aud-missing", "error", "No aud: the token names no audience",
      "Any API of the issuer would accept it. tokengate requires an audience (claim_missing).");
  } else if (typeof claims.aud === "string" || (Array.isArray(claims.aud) && claims.aud.every((a) => typeof a === "string"))) {
    ok("aud", "aud names the API(s)");
  } else {
    add("aud-invalid", "error", "aud is not a string or an array of strings", "claim_invalid.");
  }

  // iss / sub
  if (typeof claims.iss !== "string") {
    add("iss", "error", claims.iss === undefined ? "No iss claim" : "iss is not a string",
      claims.iss === undefined ? "tokengate cannot pick an issuer: claim_missing." : "claim_invalid.");
  }
  if (claims.sub === undefined) add("sub", "error", "No sub claim", "tokengate cannot classify the token: claim_missing.");

  // @clients without gty
  const sub = typeof claims.sub === "string" ? claims.sub : "";
  const own = [claims.azp, claims.client_id].some((c) => typeof c === "string" && c !== "" && sub === `${c}@clients`);
  if (/.@clients$/.test(sub) && !own) {
    add("clients-not-own", "warn", "sub ends in @clients but not with the token's own client id",
      "tokengate's sub_at_clients rule fires only on <azp or client_id>@clients, so this is classified as a user unless another rule fires: a user can shape such a sub.");
  } else if (/.@clients$/.test(sub)) {
    if (claims.gty === undefined) {
      add("clients-no-gty", "warn", `sub ends in @clients but there is no gty`,
        "Auth0 client-credentials tokens carry gty client-credentials. This one is classified as a machine only by the sub@clients rule: check where it came from.");
    } else if (claims.gty !== "client-credentials" && claims.gty !== "client_credentials") {
      add("clients-no-gty", "warn", `sub ends in @clients but gty is ${JSON.stringify(claims.gty)}`,
        "A machine subject with another grant type is unusual.");
    } else {
      ok("clients-gty", "sub@clients comes with gty client-credentials");
    }
  }

  // cnf: the sender binding (DPoP, mTLS)
  const bound = binding(claims);
  if (bound?.warnings.length) add("cnf", "warn", BINDING_TITLE[bound.kind], bound.warnings.join(" "));
  else if (bound) ok("cnf", bound.kind === "dpop" ? "cnf binds the token to a DPoP key (RFC 9449)" : "cnf binds the token to a client certificate (RFC 8705)");

  // ID token look-alike: the core's signals (idTokenHint, decode()'s idToken).
  const idToken = tg && typeof tg.idTokenHint === "function" ? tg.idTokenHint(header, claims) : null;
  if (idToken) {
    add("id-token", "warn", `Looks like an ID token (${idToken.signals.join(", ")})`,
      "ID tokens are for the client, not for APIs: their audience is the client, so a verifier answers audience_mismatch. Send the access token instead.");
  }

  return { findings, passed };
}

// ---------------------------------------------------------------------------------
// The policy check: a route's claim rules and delegation rules, rule by rule.
// ---------------------------------------------------------------------------------

/** The claim-rule operators of the Worker's configuration, by the package's names. */
const RULE_OPERATORS = { equals: "equals", any_of: "anyOf", anyOf: "anyOf", includes: "includes", present: "present" };

/**
 * A requirement's `claims` from claim rules as a user writes them: a JSON object of
 * claim names (or JSON pointers) to rules, with the operators of the Worker's
 * configuration (`any_of`) or of the package (`anyOf`). Other operator names are kept,
 * so that policyCheck / authorize name them. Throws a TypeError when `rules` is not an
 * object of objects.
 */
export function claimRules(rules) {
  const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
  if (!isObject(rules)) throw new TypeError("claim rules must be a JSON object of claim names to rules, e.g. {\"org_id\": {\"any_of\": [\"org_A\"]}}");
  const out = {};
  for (const [name, rule] of Object.entries(rules)) {
    if (!isObject(rule)) throw new TypeError(`the rule of claim ${JSON.stringify(name)} must be an object ({ equals, any_of, includes, present })`);
    out[name] = Object.fromEntries(Object.entries(rule).map(([op, v]) => [RULE_OPERATORS[op] ?? op, v]));
  }
  return out;
}

/** A claim rule in words: `any of "org_A", "org_B" and present`. */
export function ruleText(rule) {
  const list = (xs) => xs.map((x) => JSON.stringify(x)).join(", ");
  const parts = [];
  if (Object.hasOwn(rule, "equals")) parts.push(`equals ${JSON.stringify(rule.equals)}`);
  if (rule.anyOf) parts.push(`any of ${list(rule.anyOf)}`);
  if (rule.includes) parts.push(`includes ${list(rule.includes)}`);
  if (rule.present === true) parts.push("present");
  if (rule.present === false) parts.push("absent");
  return parts.join(" and ");
}

/**
 * The lines of a policy check (`tg.policyCheck(requirement, claims)`): one per claim
 * rule, then the delegation depth (always: the token's depth, against the maximum when
 * there is one) and the current actor (when the token is delegated or `actors` is
 * set). Each { id, label, pass (true, false, or null: nothing to check), rule, token }:
 * `rule` what the route requires in words, `token` what the token has (its own
 * values).
 */
export function policyLines(check) {
  const lines = check.claims.map((c) => ({
    id: `claim:${c.name}`,
    label: c.name,
    pass: c.pass,
    rule: ruleText(c.rule),
    token: c.present ? JSON.stringify(c.value) : "absent",
  }));
  const d = check.delegation;
  const depth = d.error
    ? `unreadable act claim: ${d.error}`
    : d.depth === 0
      ? "not delegated (0)"
      : `${d.depth} nested act${d.depth === 1 ? "" : "s"} (${d.chain.join(" <- ")})`;
  lines.push({
    id: "delegation-depth",
    label: "delegation depth",
    pass: d.depthPass,
    rule: d.maxDepth === null ? "no maximum (max_delegation_depth)" : `at most ${d.maxDepth}`,
    token: depth,
  });
  if (d.actors !== null || d.actor !== null) {
    lines.push({
      id: "actor",
      label: "actor",
      pass: d.actorPass,
      rule: d.actors === null ? "any actor (actors)" : `one of ${d.actors.join(", ")}`,
      token: d.actor ?? "none: the token is not delegated",
    });
  }
  return lines;
}
