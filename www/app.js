// The token decoder page. Everything runs here: the token is decoded, classified and
// verified by tokengate's WebAssembly core (the browser build of the npm package,
// copied to ./tokengate/ by scripts/build-www.sh). The only network requests are the
// page's own assets and a JWKS / discovery fetch the user asks for.

import { cleanInput, lenientDecode, b64urlEncodeJson, b64urlBytes } from "./lib/jwt.js";
import { renderJson } from "./lib/json.js";
import { explainHeader, explainClaim } from "./lib/claims.js";
import { lint, binding } from "./lib/lints.js";
import {
  numClaim, localTime, relative, timeState, STATE_TEXT, stateSentence, drawTimeline, fmtDuration,
} from "./lib/time.js";
import { fetchJwks, discoverJwks, parseJwks, describeJwks } from "./lib/keys.js";
import { examplesAvailable, makeExample } from "./lib/example.js";
import { coreReady as loadCore } from "./lib/core.js";
import { claimRules, policyLines } from "./tokengate/explain.js";

const $ = (id) => document.getElementById(id);

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}
const code = (text) => h("code", {}, text);

// ---------------------------------------------------------------------------------
// The core (wasm), loaded once.
// ---------------------------------------------------------------------------------

let tg = null;
const coreReady = loadCore.then(
  (m) => {
    tg = m;
    $("wasm-state").textContent = "core loaded";
    $("wasm-state").dataset.state = "ready";
    return m;
  },
  (e) => {
    $("wasm-state").textContent = `the WebAssembly core failed to load: ${e?.message ?? e}`;
    $("wasm-state").dataset.state = "failed";
    throw e;
  },
);

// ---------------------------------------------------------------------------------
// State.
// ---------------------------------------------------------------------------------

const state = {
  token: "",
  lenient: null,
  strict: null,
  timeState: null,
  verifyGen: 0,
};

function leeway() {
  const v = Number($("v-leeway").value);
  return Number.isFinite(v) && v >= 0 ? Math.min(Math.floor(v), 3600) : 60;
}

function words(id) {
  return $(id).value.split(/[\s,]+/).filter(Boolean);
}

function classifyOptions() {
  const classify = {};
  const m2m = $("v-m2m-claim").value.trim();
  const uid = $("v-user-id-claim").value.trim();
  const roles = $("v-roles-claim").value.trim();
  if (m2m) classify.m2mClaim = m2m;
  if (uid) classify.userIdClaim = uid;
  if (roles) classify.rolesClaim = roles;
  const scopeClaims = ["scope", "scp", "permissions"].filter((c) => $(`v-sc-${c}`).checked);
  return { classify, scopeClaims };
}

function decodeOptions() {
  const { classify, scopeClaims } = classifyOptions();
  const opts = { scopeClaims };
  if (Object.keys(classify).length) opts.classify = classify;
  return opts;
}

// ---------------------------------------------------------------------------------
// Decoding and rendering.
// ---------------------------------------------------------------------------------

function setStatus(el, text, level = "") {
  el.textContent = text;
  el.dataset.level = level;
}

function update() {
  const { token, notes } = cleanInput($("token-input").value);
  const changed = token !== state.token;
  state.token = token;
  if (changed) resetVerify();
  const status = $("token-status");
  if (!token) {
    state.lenient = state.strict = null;
    $("results").hidden = true;
    $("empty-state").hidden = false;
    $("token-parts").hidden = true;
    $("fill-from-token").disabled = true;
    setStatus(status, "");
    renderFormExplain(null);
    updateButtons();
    return;
  }
  const lenient = lenientDecode(token);
  let strict = null;
  let optionError = null;
  if (tg) {
    try {
      strict = tg.decode(token, decodeOptions());
    } catch (e) {
      optionError = e?.message ?? String(e);
      try {
        strict = tg.decode(token);
      } catch {
        strict = null;
      }
    }
  }
  state.lenient = lenient;
  state.strict = strict;
  renderParts(lenient);

  if (!lenient.ok) {
    $("results").hidden = true;
    $("empty-state").hidden = true;
    const form = formOf(strict, lenient);
    if (FORM_STATUS[form]) {
      // A JWE or an opaque token: said plainly, with the fix, instead of the raw error.
      setStatus(status, FORM_STATUS[form], "warn");
      renderFormExplain(form, strict, lenient);
    } else {
      const why = strict && !strict.ok ? ` tokengate: ${strict.error.code} (${strict.error.message}).` : "";
      setStatus(status, `Cannot decode: ${lenient.error}${why}`, "error");
      renderFormExplain(null);
    }
    $("fill-from-token").disabled = true;
    updateButtons();
    return;
  }

  const removed = notes.length ? ` Removed ${notes.join(", ")}.` : "";
  const sig = lenient.signatureLength ? `${lenient.signatureLength}-byte signature` : "no signature";
  setStatus(status, `Decoded locally (not verified): ${Object.keys(lenient.payload).length} claims, ${sig}.${removed}`, "ok");
  if (optionError) setStatus(status, `${status.textContent} Classification options ignored: ${optionError}`, "warn");

  $("empty-state").hidden = true;
  $("results").hidden = false;
  $("fill-from-token").disabled = false;
  renderFormExplain(strict?.ok && strict.idToken ? "id_token" : null, strict, lenient);
  renderStrict(strict);
  const classified = classifyClaims(lenient, strict);
  renderWho(lenient.payload, classified.result, classified.fallback);
  renderScopes(lenient.payload, classified.result);
  renderBinding(lenient.payload);
  renderJsonCards(lenient.header, lenient.payload);
  state.timeState = null;
  tick();
  updateButtons();
}

/**
 * The core's classification of the claims. When the core refuses the token itself
 * (alg none, crit, a non-canonical encoding), its claims are classified on their own,
 * put under a neutral header, so the page can still say what they would mean.
 */
function classifyClaims(lenient, strict) {
  if (!tg || !strict || strict.ok || !lenient.ok) return { result: strict, fallback: false };
  const header = b64urlEncodeJson({ alg: "RS256" });
  for (const payload of [lenient.parts[1], b64urlEncodeJson(lenient.payload)]) {
    try {
      const r = tg.decode(`${header}.${payload}.AAAA`, decodeOptions());
      if (r.ok) return { result: r, fallback: true };
    } catch {
      // Invalid classification options: reported with the main decode.
    }
  }
  return { result: strict, fallback: false };
}

// ---------------------------------------------------------------------------------
// Tokens that are not signed JWTs (the core's `form` of decode()), and ID tokens.
// ---------------------------------------------------------------------------------

/** The status line for the forms the explanation panel covers. */
const FORM_STATUS = {
  jwe: "Not a signed JWT: an encrypted token (JWE). Its header is readable; its claims are encrypted.",
  opaque: "Not a JWT: an opaque access token, which only its issuer can read.",
};

/** The core's form of a token it cannot decode (the page's own guess without the core). */
function formOf(strict, lenient) {
  if (strict && !strict.ok) return strict.form;
  if (!strict && lenient.parts?.length === 5) return "jwe";
  return null;
}

/** The JOSE header of a JWE read by the page (only when the core is not loaded). */
function lenientHeader(part) {
  try {
    const v = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(b64urlBytes(part) ?? new Uint8Array()));
    return v && typeof v === "object" && !Array.isArray(v) ? v : null;
  } catch {
    return null;
  }
}

const SIGNAL_TEXT = {
  nonce: "nonce: echoes the client's sign-in request",
  at_hash: "at_hash: the hash of the access token issued with it",
  c_hash: "c_hash: the hash of the authorization code",
  aud_is_client: "aud names the client, and there are no scopes",
  auth_time: "auth_time: when the user signed in",
  typ_not_at_jwt: "typ is not at+jwt",
};

/**
 * The explanation panel: `form` is "jwe", "opaque", "id_token" (a warning on a decoded
 * token), or null to hide it.
 */
function renderFormExplain(form, strict, lenient) {
  const box = $("form-explain");
  if (!form) {
    box.hidden = true;
    box.replaceChildren();
    delete box.dataset.form;
    return;
  }
  box.hidden = false;
  box.dataset.form = form;
  box.dataset.level = form === "id_token" ? "warn" : "error";
  const title = (text) => h("h2", { id: "form-explain-title" }, text);
  const fix = (...items) => h("ul", { class: "fix", id: "form-fix" }, items.map((i) => h("li", {}, i)));
  if (form === "jwe") {
    const header = strict?.jweHeader ?? lenientHeader(lenient.parts[0]) ?? {};
    const facts = h("dl", { class: "facts", id: "jwe-header" });
    for (const [k, label] of [["alg", "Key management (alg)"], ["enc", "Content encryption (enc)"], ["kid", "Key id (kid)"], ["cty", "Content type (cty)"]]) {
      const v = header[k];
      kv(facts, label, v === undefined ? h("span", { class: "muted" }, "none") : code(typeof v === "string" ? v : JSON.stringify(v)), { dataset: { param: k } });
    }
    const pre = h("pre", { class: "json", tabindex: "0", "aria-label": "JWE header JSON" });
    renderJson(pre, header);
    box.replaceChildren(
      title("An encrypted token (JWE), not a signed JWT"),
      h("p", {}, "It has five parts (header . encrypted key . iv . ciphertext . tag). Its header is readable; its claims are encrypted for the API and can only be read with the API's decryption key. tokengate verifies signed (JWS) access tokens only."),
      facts, pre,
      h("p", { class: "label" }, "How to get a signed access token"),
      fix(["Auth0 issues JWE access tokens when the API has ", h("strong", {}, "JSON Web Encryption"), " enabled (Applications → APIs → your API → Settings). Turn it off to get signed JWTs."],
        ["Or decrypt the token in the API first", header.cty === "JWT" ? " (its cty is JWT: a signed token is inside)" : "", "; that needs the API's private key, which this page never asks for."]),
      strict?.error ? h("p", { class: "help" }, "tokengate: ", h("code", { class: "errcode" }, strict.error.code)) : null,
    );
    return;
  }
  if (form === "opaque") {
    box.replaceChildren(
      title("An opaque access token, not a JWT"),
      h("p", {}, "It has no JSON header to decode: it is a reference that only the issuer that minted it can read, so an API cannot verify it by itself."),
      h("p", { class: "label" }, "How to get a JWT access token"),
      fix(["Auth0 returns a short opaque access token when the authorization request names no API. Request the token with the ", code("audience"), " parameter set to your API's identifier (e.g. ", code("audience=https://api.example.com"), ")."],
        ["Or introspect it at the issuer's introspection endpoint (RFC 7662), from the API with its own client credentials."]),
      strict?.error ? h("p", { class: "help" }, "tokengate: ", h("code", { class: "errcode" }, strict.error.code)) : null,
    );
    return;
  }
  const signals = strict.idToken.signals;
  box.replaceChildren(
    title("This looks like an ID token, not an access token"),
    h("ul", { class: "chips", id: "id-token-signals", "aria-label": "ID token signals" },
      signals.map((s) => h("li", { class: "chip", dataset: { signal: s } }, h("span", { class: "chip-name" }, SIGNAL_TEXT[s] ?? s)))),
    h("p", {}, "APIs must receive access tokens. An ID token tells the client who signed in: its audience is the client, not your API, so a verifier configured with the API's audience refuses it (",
      code("audience_mismatch"), ")."),
    h("p", { class: "label" }, "Fix"),
    fix(["Send the access token of the same response (", code("access_token"), ", not ", code("id_token"), ")."],
      ["Auth0: request it with the ", code("audience"), " parameter of your API, so that the access token is a JWT for the API."]),
  );
}

function renderParts(lenient) {
  const el = $("token-parts");
  const parts = lenient.parts;
  if (parts?.length === 5) {
    // A JWE: header . encrypted key . iv . ciphertext . tag.
    el.hidden = false;
    const names = ["header", "encrypted key", "iv", "ciphertext", "tag"];
    el.replaceChildren(...names.flatMap((n, i) => [i ? " . " : "",
      h("span", { class: `part ${i ? "part-s" : "part-h"}` }, `${n} · ${parts[i].length} chars`)]));
    return;
  }
  if (!parts || parts.length !== 3) {
    el.hidden = true;
    return;
  }
  el.hidden = false;
  const sigText = lenient.signatureLength === null ? "signature (not base64url)" :
    lenient.signatureLength ? `signature · ${lenient.signatureLength} bytes` : "signature · empty";
  el.replaceChildren(
    h("span", { class: "part part-h" }, `header · ${parts[0].length} chars`), " . ",
    h("span", { class: "part part-p" }, `payload · ${parts[1].length} chars`), " . ",
    h("span", { class: "part part-s" }, sigText),
  );
}

function renderStrict(strict) {
  const box = $("strict-error");
  if (!strict) {
    box.hidden = false;
    box.replaceChildren(h("p", {}, "tokengate's core is not loaded: classification and verification are unavailable."));
    return;
  }
  if (strict.ok) {
    box.hidden = true;
    box.replaceChildren();
    return;
  }
  box.hidden = false;
  box.dataset.code = strict.error.code;
  box.replaceChildren(
    h("p", {}, h("strong", {}, "tokengate refuses this token before looking at any key: "),
      h("code", { class: "errcode" }, strict.error.code), " — ", strict.error.message, "."),
    h("p", { class: "help" }, "What is shown below is a lenient decoding, for reading only."),
  );
}

const RULES = [
  ["m2m_claim", "M2M claim"],
  ["gty", "gty = client-credentials"],
  ["sub_is_client_id", "sub = client id"],
  ["sub_at_clients", "sub@clients"],
];

/** Short names for the summary ("decided by sub@clients"). */
const RULE_SHORT = {
  m2m_claim: "M2M claim",
  gty: "gty",
  sub_is_client_id: "sub = client id",
  sub_at_clients: "sub@clients",
  default: "default",
};

function ruleReason(rule, claims, fired) {
  const m2m = $("v-m2m-claim").value.trim();
  const clientId = [claims.azp, claims.client_id].find((v) => typeof v === "string" && v) ?? null;
  const sub = typeof claims.sub === "string" ? claims.sub : "";
  switch (rule) {
    case "m2m_claim":
      if (fired) return `${m2m} is ${JSON.stringify(claims[m2m])}`;
      return m2m ? `${m2m} is absent` : "skipped: no M2M claim configured";
    case "gty":
      if (fired) return `gty is ${JSON.stringify(claims.gty)} (client-credentials grant)`;
      return claims.gty === undefined ? "no gty claim" : `gty is ${JSON.stringify(claims.gty)}`;
    case "sub_is_client_id":
      if (fired) return `sub equals the client id (${clientId}), as for RFC 9068 client-credentials tokens`;
      return clientId ? `sub is not the client id ${clientId}` : "no azp or client_id";
    case "sub_at_clients":
      if (fired) return `sub is "<client id>@clients" (Auth0 machine subject)`;
      return "sub is not <client id>@clients";
    default:
      return "no machine rule fired, so it is a user token";
  }
}

function kv(dl, name, value, attrs = {}) {
  dl.append(h("dt", {}, name), h("dd", attrs, value));
}

function renderWho(claims, strict, fallback = false) {
  const body = $("who-body");
  const badge = $("kind-badge");
  const decided = $("decided-by");
  const hint = strict?.ok ? strict.hint : null;
  if (!hint) {
    const err = strict?.ok ? strict.hintError : strict?.error;
    badge.textContent = "unknown";
    badge.dataset.kind = "unknown";
    decided.textContent = "—";
    decided.dataset.rule = "";
    body.replaceChildren(
      h("p", { class: "who-none" }, "Cannot classify this token",
        err ? [": ", h("code", { class: "errcode" }, err.code), " — ", err.message, "."] : "."),
    );
    return;
  }
  const kind = hint.kind;
  badge.textContent = kind === "machine" ? "Machine" : "User";
  badge.dataset.kind = kind;
  const short = RULE_SHORT[hint.decidedBy] ?? hint.decidedBy;
  decided.replaceChildren(short);
  if (short !== hint.decidedBy) decided.append(h("span", { class: "rule-code" }, ` ${hint.decidedBy}`));
  decided.dataset.rule = hint.decidedBy;

  const firedIndex = RULES.findIndex(([r]) => r === hint.decidedBy);
  const rules = h("ol", { class: "rules", "aria-label": "Classification rules, tried in order" });
  RULES.forEach(([rule, label], i) => {
    let st, reason;
    if (i === firedIndex) {
      st = "fired";
      reason = ruleReason(rule, claims, true);
    } else if (firedIndex !== -1 && i > firedIndex) {
      st = "skipped";
      reason = "not tried: an earlier rule decided";
    } else {
      st = "no";
      reason = ruleReason(rule, claims, false);
    }
    const mark = st === "fired" ? "✓" : st === "no" ? "✗" : "–";
    rules.append(h("li", { class: `rule rule-${st}`, dataset: { rule, state: st } },
      h("span", { class: "mark", "aria-hidden": "true" }, mark),
      h("code", {}, rule), h("span", { class: "rule-label" }, ` ${label}: `), h("span", {}, reason),
      h("span", { class: "visually-hidden" }, st === "fired" ? " (decided)" : st === "no" ? " (did not fire)" : " (not tried)")));
  });
  if (hint.decidedBy === "default") {
    rules.append(h("li", { class: "rule rule-fired", dataset: { rule: "default", state: "fired" } },
      h("span", { class: "mark", "aria-hidden": "true" }, "✓"), h("code", {}, "default"), " ",
      ruleReason("default", claims, true)));
  }

  const sentence = h("p", { class: "who-sentence", id: "who-sentence" },
    h("strong", {}, kind === "machine" ? "A machine token" : "A user token"),
    " — decided by ", h("code", {}, hint.decidedBy), ": ",
    ruleReason(hint.decidedBy, claims, true), ".");

  const dl = h("dl", { class: "facts" });
  kv(dl, "Client id", hint.clientId ? code(hint.clientId) : h("span", { class: "muted" }, "none (no azp or client_id)"), { id: "who-client" });
  kv(dl, "User id", hint.userId ? code(hint.userId) : h("span", { class: "muted" },
    kind === "machine" ? "none: a machine acts for itself (set a user id claim to read one)" : "none"), { id: "who-user" });
  kv(dl, "Subject", code(hint.subject));
  kv(dl, "Issuer", code(hint.issuer));
  kv(dl, "Audiences", hint.audiences.length ? h("span", {}, hint.audiences.map((a, i) => [i ? ", " : "", code(a)])) : h("span", { class: "muted" }, "none"));
  if (hint.actor) {
    const chain = [];
    for (let a = hint.actor; a; a = a.act) chain.push(a.sub);
    kv(dl, "Acting for it", h("span", {}, chain.map((s, i) => [i ? " ← " : "", code(s)])));
  }
  const note = fallback
    ? h("p", { class: "help fallback-note", id: "who-fallback" }, "tokengate refuses the token itself (see above); this is how it classifies the claims alone.")
    : null;
  body.replaceChildren(...[note, sentence, dl, h("p", { class: "label rules-label" }, "Rules, tried in order; the first that fires decides"), rules].filter(Boolean));
}

function renderScopes(claims, strict) {
  const body = $("scopes-body");
  const hint = strict?.ok ? strict.hint : null;
  const sources = ["scope", "scp", "permissions"].filter((c) => $(`v-sc-${c}`).checked);
  const from = (s) => {
    const out = [];
    for (const c of ["scope", "scp", "permissions"]) {
      const v = claims[c];
      const list = typeof v === "string" ? v.split(/\s+/) : Array.isArray(v) ? v : [];
      if (list.includes(s)) out.push(c);
    }
    return out;
  };
  if (!hint) {
    body.replaceChildren(h("p", { class: "muted" }, "Scopes are read once the token can be classified."));
    return;
  }
  const chips = h("ul", { class: "chips", id: "scope-chips", "aria-label": "Granted scopes" });
  for (const s of hint.scopes) {
    const src = from(s);
    chips.append(h("li", { class: "chip", dataset: { scope: s }, title: `from ${src.join(", ")}` },
      h("span", { class: "chip-name" }, s),
      h("span", { class: "chip-src" }, h("span", { class: "visually-hidden" }, " from "), src.join(" + "))));
  }
  const present = ["scope", "scp", "permissions"].filter((c) => claims[c] !== undefined);
  const ignored = present.filter((c) => !sources.includes(c));
  const note = h("p", { class: "help" },
    hint.scopes.length
      ? `${hint.scopes.length} scope${hint.scopes.length === 1 ? "" : "s"}, merged from ${sources.map((s) => s).join(", then ") || "nothing"} in that order, duplicates dropped — the set a route's scopes_all / scopes_any is checked against.`
      : `No scopes in ${sources.join(", ") || "any configured claim"}.`,
    ignored.length ? ` Not read (unticked in Verifier options): ${ignored.join(", ")}.` : "");
  const parts = [hint.scopes.length ? chips : h("p", { class: "muted", id: "scope-chips-empty" }, "No scopes or permissions."), note];

  const rolesClaim = $("v-roles-claim").value.trim();
  if (rolesClaim) {
    const roles = h("ul", { class: "chips roles", id: "role-chips", "aria-label": "Roles" });
    for (const r of hint.roles) roles.append(h("li", { class: "chip role" }, h("span", { class: "chip-name" }, r)));
    parts.push(h("p", { class: "label" }, "Roles from ", code(rolesClaim)),
      hint.roles.length ? roles : h("p", { class: "muted" }, "No roles."));
  } else {
    const candidate = Object.keys(claims).find((k) => /(^|[/:.])roles$/i.test(k) && k !== "roles") ??
      (claims.roles !== undefined ? "roles" : null);
    if (candidate) {
      const btn = h("button", { type: "button", class: "btn small ghost", id: "use-roles-claim" }, `Read roles from ${candidate}`);
      btn.addEventListener("click", () => {
        $("v-roles-claim").value = candidate;
        update();
      });
      parts.push(h("p", { class: "help" }, "Roles are read only from a configured roles claim. ", btn));
    }
  }
  body.replaceChildren(...parts);
}

/** The binding's kind in a few words. */
const BINDING_TITLE = {
  dpop: "DPoP-bound (RFC 9449): a proof of the client's key goes with every request",
  mtls: "Certificate-bound (RFC 8705): only over mutual TLS with the client's certificate",
  "dpop+mtls": "DPoP- and certificate-bound (RFC 9449 and RFC 8705)",
  unsupported: "Bound in a form tokengate does not accept: it refuses the token",
  malformed: "A malformed cnf: tokengate refuses the token",
};

/** The sender binding panel (the cnf claim): hidden when the token has none. */
function renderBinding(claims) {
  const box = $("binding");
  const b = binding(claims);
  box.hidden = !b;
  if (!b) {
    $("binding-body").replaceChildren();
    delete box.dataset.kind;
    return;
  }
  box.dataset.kind = b.kind;
  const dl = h("dl", { class: "facts", id: "binding-facts" });
  if (b.jkt) kv(dl, h("span", {}, code("jkt"), " DPoP key thumbprint"), code(b.jkt), { id: "binding-jkt" });
  if (b.x5tS256) {
    kv(dl, h("span", {}, code("x5t#S256"), " certificate thumbprint"), code(b.x5tS256), { id: "binding-x5t" });
    kv(dl, "In hex", code(b.x5tS256Hex), { id: "binding-hex" });
  }
  $("binding-body").replaceChildren(...[
    h("p", { class: "binding-sentence", id: "binding-sentence" }, h("strong", {}, BINDING_TITLE[b.kind])),
    dl.childElementCount ? dl : null,
    b.needs.length ? h("p", { class: "label" }, "A request with it needs") : null,
    b.needs.length ? h("ul", { class: "fix", id: "binding-needs" }, b.needs.map((n) => h("li", {}, n))) : null,
    b.warnings.length ? h("ul", { class: "lints", id: "binding-warnings" }, b.warnings.map((w) => h("li", { class: "lint lint-warn" },
      h("span", { class: "lint-level" }, "warning"), h("span", { class: "lint-text" }, w)))) : null,
  ].filter(Boolean));
}

function renderJsonCards(header, claims) {
  const timeComment = (v) => (typeof v === "number" && Number.isFinite(v) ? localTime(v) : undefined);
  renderJson($("header-json"), header);
  renderJson($("payload-json"), claims, {
    exp: timeComment(claims.exp), nbf: timeComment(claims.nbf), iat: timeComment(claims.iat),
    auth_time: timeComment(claims.auth_time),
  });
  const { classify } = classifyOptions();
  const fill = (dl, obj, explain) => {
    dl.replaceChildren();
    for (const [k, v] of Object.entries(obj)) {
      const { text, kind } = explain(k, v);
      dl.append(
        h("dt", { dataset: { claim: k, kind } }, code(k),
          kind === "namespaced" ? h("span", { class: "tag tag-ns" }, "namespaced") :
          kind === "custom" ? h("span", { class: "tag" }, "custom") : null),
        h("dd", { dataset: { claim: k } }, text));
    }
  };
  fill($("header-explain"), header, (k) => explainHeader(k));
  fill($("payload-explain"), claims, (k, v) => explainClaim(k, v, classify));
}

function renderLints(header, claims, now) {
  const { findings, passed } = lint(header, claims, { now, leeway: leeway(), requiredTyp: $("v-typ").value });
  const order = { error: 0, warn: 1, info: 2 };
  findings.sort((a, b) => order[a.level] - order[b.level]);
  const list = $("lint-list");
  list.replaceChildren(...findings.map((f) => h("li", { class: `lint lint-${f.level}`, dataset: { lint: f.id, level: f.level } },
    h("span", { class: "lint-level" }, f.level === "warn" ? "warning" : f.level),
    h("span", { class: "lint-text" }, h("strong", {}, f.title), h("span", { class: "lint-detail" }, f.detail)))));
  if (!findings.length) list.append(h("li", { class: "lint lint-none" }, "No findings."));
  $("lint-passed").replaceChildren(...passed.map((p) => h("li", { class: "lint lint-ok", dataset: { lint: p.id } },
    h("span", { class: "lint-level" }, "ok"), h("span", { class: "lint-text" }, p.title))));
  $("lint-passed-summary").textContent = `${passed.length} check${passed.length === 1 ? "" : "s"} passed`;
  $("lint-passed-wrap").hidden = passed.length === 0;
  const errors = findings.filter((f) => f.level === "error").length;
  const warns = findings.filter((f) => f.level === "warn").length;
  const badge = $("lint-badge");
  badge.dataset.level = errors ? "error" : warns ? "warn" : "ok";
  badge.textContent = errors || warns
    ? [errors && `${errors} error${errors > 1 ? "s" : ""}`, warns && `${warns} warning${warns > 1 ? "s" : ""}`].filter(Boolean).join(", ")
    : "no problems";
}

function renderTimeTable(claims, now) {
  const body = $("time-body");
  const rows = [["iat", "Issued"], ["nbf", "Valid from"], ["exp", "Expires"], ["auth_time", "User signed in"]]
    .filter(([c]) => numClaim(claims, c) !== null);
  const st = timeState(claims, now, leeway());
  let table = body.querySelector("table");
  if (!table || table.dataset.rows !== rows.map((r) => r[0]).join()) {
    table = h("table", { class: "times", dataset: { rows: rows.map((r) => r[0]).join() } },
      h("caption", { class: "visually-hidden" }, "Time claims in local time"),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Claim"), h("th", { scope: "col" }, "Local time"), h("th", { scope: "col" }, "Relative"))),
      h("tbody", {}, rows.map(([c, label]) => h("tr", { dataset: { claim: c } },
        h("th", { scope: "row" }, code(c), h("span", { class: "muted" }, ` ${label}`)),
        h("td", { class: "abs" }),
        h("td", { class: "rel" })))));
    const sentence = h("p", { class: "time-sentence", id: "time-sentence" });
    body.replaceChildren(sentence, table);
  }
  for (const tr of table.querySelectorAll("tbody tr")) {
    const c = tr.dataset.claim;
    const t = numClaim(claims, c);
    tr.querySelector(".abs").textContent = localTime(t);
    const rel = relative(t, now);
    tr.querySelector(".rel").textContent = c === "exp" ? (t > now ? `expires ${rel}` : `expired ${rel}`) : rel;
  }
  const sentence = $("time-sentence");
  sentence.textContent = stateSentence(claims, now, leeway());
  sentence.dataset.state = st;
  return st;
}

function tick() {
  if (!state.lenient?.ok) return;
  const claims = state.lenient.payload;
  const now = Date.now() / 1000;
  const st = renderTimeTable(claims, now);
  const desc = drawTimeline($("timeline"), claims, now, leeway());
  $("timeline-desc").textContent = desc;
  const exp = numClaim(claims, "exp");
  const start = numClaim(claims, "nbf") ?? numClaim(claims, "iat");
  $("timeline-caption").textContent = exp !== null && start !== null
    ? `Lifetime ${fmtDuration(exp - start)}, then the ${leeway()} s clock tolerance after exp (amber).`
    : exp === null ? "No exp: the window never closes." : "No iat or nbf: the start is unknown.";
  const badge = $("time-badge");
  badge.dataset.state = st;
  badge.textContent = st === "valid" || st === "expiring" ? `${STATE_TEXT[st]} · ${relative(exp, now)}` :
    st === "expired" ? `expired ${relative(exp, now)}` : STATE_TEXT[st];
  // Lints depend on the time state only through these transitions.
  if (st !== state.timeState) {
    state.timeState = st;
    renderLints(state.lenient.header, claims, now);
  }
}

setInterval(tick, 1000);

// ---------------------------------------------------------------------------------
// Verify and authorize.
// ---------------------------------------------------------------------------------

// Help texts per error code, from the core's catalogue (`errorCatalogue()`), read once
// the core is loaded; the token endpoint's codes (stage "exchange") are not shown here.
let errorHelp = null;
function helpFor(code) {
  if (!errorHelp && tg) {
    errorHelp = new Map();
    for (const row of tg.errorCatalogue()) {
      if (row.stage !== "exchange" && !errorHelp.has(row.code)) errorHelp.set(row.code, row.help);
    }
  }
  return errorHelp?.get(code);
}

function resetVerify() {
  state.verifyGen++;
  $("policy-check").replaceChildren();
  for (const id of ["verify-result", "authorize-result"]) {
    $(id).replaceChildren();
    delete $(id).dataset.outcome;
    delete $(id).dataset.code;
  }
  const badge = $("verify-badge");
  badge.dataset.state = "unchecked";
  badge.textContent = "not verified";
}

function updateButtons() {
  const ready = Boolean(tg && state.token);
  $("verify-btn").disabled = !ready;
  $("authorize-btn").disabled = !ready;
}

function buildVerifier() {
  const issuer = $("v-issuer").value.trim();
  const audience = words("v-audience");
  let jwks;
  try {
    jwks = parseJwks($("v-jwks").value);
  } catch (e) {
    return { error: { kind: "input", message: e.message } };
  }
  if (!jwks) {
    return { error: { kind: "input", message: "Paste a JWKS, or fetch one with the buttons above: this page fetches nothing on its own." } };
  }
  const { classify, scopeClaims } = classifyOptions();
  const options = {
    issuer,
    audience: audience.length > 1 ? audience : audience[0] ?? "",
    jwks,
    clockTolerance: leeway(),
    scopeClaims,
    tokenCacheSize: 0,
  };
  const algs = words("v-algorithms");
  if (algs.length) options.algorithms = algs;
  const typ = $("v-typ").value.trim();
  if (typ) options.requiredTyp = typ;
  if (Object.keys(classify).length) options.classify = classify;
  try {
    return { verifier: tg.createVerifier(options) };
  } catch (e) {
    return { error: { kind: "option", message: e?.message ?? String(e) } };
  }
}

function renderOutcome(box, result, { action }) {
  box.replaceChildren();
  if (result.error && !("ok" in result)) {
    box.dataset.outcome = "input";
    delete box.dataset.code;
    box.append(h("p", { class: "outcome-title" }, result.error.kind === "option" ? "Invalid verifier option" : "Cannot verify yet"),
      h("p", {}, result.error.message));
    return;
  }
  if (result.ok) {
    box.dataset.outcome = "ok";
    delete box.dataset.code;
    const p = result.principal;
    const scopes = p.scopes.length ? p.scopes.join(" ") : "none";
    box.append(
      h("p", { class: "outcome-title" }, action === "authorize" ? "Allowed" : "Verified: an edge with these settings accepts it"),
      h("p", {}, `Signature, issuer, audience and times check out. A ${p.kind} token (decided by `, code(p.decidedBy), ")",
        p.clientId ? [", client ", code(p.clientId)] : "", p.userId ? [", user ", code(p.userId)] : "", "."),
      h("p", { class: "muted" }, "Scopes: ", scopes, p.roles.length ? ` · roles: ${p.roles.join(" ")}` : "",
        p.expiresAt ? ` · expires ${relative(p.expiresAt, Date.now() / 1000)}` : ""),
    );
    return;
  }
  const e = result.error;
  box.dataset.outcome = "error";
  box.dataset.code = e.code;
  box.append(
    h("p", { class: "outcome-title" }, action === "authorize" && e.status === 403 ? "Denied by the route policy" : "Refused"),
    h("p", { class: "code-line" }, h("code", { class: "errcode", id: `${action}-code` }, e.code), " ", h("span", {}, e.message)),
    helpFor(e.code) ? h("p", {}, helpFor(e.code)) : null,
    h("p", { class: "muted mono" }, `HTTP ${e.status}`, e.wwwAuthenticate ? ` · WWW-Authenticate: ${e.wwwAuthenticate}` : ""),
  );
}

function setVerifyBadge(result) {
  const badge = $("verify-badge");
  if (result.ok) {
    badge.dataset.state = "ok";
    badge.textContent = "verified";
  } else if (result.error?.code) {
    badge.dataset.state = "error";
    badge.textContent = `refused: ${result.error.code}`;
  }
}

async function runVerify() {
  await coreReady;
  const gen = state.verifyGen;
  const box = $("verify-result");
  const built = buildVerifier();
  if (built.error) return renderOutcome(box, built, { action: "verify" });
  box.dataset.outcome = "pending";
  box.replaceChildren(h("p", {}, "Verifying…"));
  const result = await built.verifier.verify(state.token);
  if (gen !== state.verifyGen) return;
  renderOutcome(box, result, { action: "verify" });
  setVerifyBadge(result);
}

function requirement() {
  const req = {};
  const kinds = ["machine", "user"].filter((k) => $(`p-kind-${k}`).checked);
  if (kinds.length === 1) req.kinds = kinds;
  else if (kinds.length === 0) req.kinds = [];
  const list = (id, key) => {
    const w = words(id);
    if (w.length) req[key] = w;
  };
  list("p-scopes-all", "scopesAll");
  list("p-scopes-any", "scopesAny");
  list("p-roles-any", "rolesAny");
  list("p-clients", "clients");
  if ($("p-delegation").value) req.delegation = $("p-delegation").value;
  if ($("p-bypass").checked) req.machinesBypassScopes = true;
  const rules = $("p-claims").value.trim();
  if (rules) {
    let parsed;
    try {
      parsed = JSON.parse(rules);
    } catch (e) {
      throw new TypeError(`Claim rules: not JSON (${e.message}).`);
    }
    req.claims = claimRules(parsed);
  }
  list("p-actors", "actors");
  const depth = $("p-max-depth").value.trim();
  if (depth) {
    if (!/^\d+$/.test(depth)) throw new TypeError("Max delegation depth: a whole number of nested act objects.");
    req.maxDelegationDepth = Number(depth);
  }
  return req;
}

/**
 * The policy check of the decoded token (verified or not): each claim rule of the
 * route with pass or fail, the token's delegation depth against the maximum, its actor
 * against the allowed ones, by the core's rules (policyCheck). The values shown are the
 * token's own.
 */
function renderPolicyCheck(req) {
  const box = $("policy-check");
  box.replaceChildren();
  const claims = state.lenient?.ok ? state.lenient.payload : null;
  if (!tg || !claims || typeof claims !== "object" || Array.isArray(claims)) return;
  let check;
  try {
    check = tg.policyCheck(req, claims);
  } catch {
    return; // The authorize result names the invalid rule.
  }
  const mark = (pass) => (pass === null ? "–" : pass ? "pass" : "fail");
  box.append(
    h("p", { class: "policy-check-title" }, "Policy check of the decoded token ",
      h("span", { class: "muted" }, "(claim and delegation rules, from the claims alone)")),
    h("ul", { class: "policy-lines" }, policyLines(check).map((l) =>
      h("li", { dataset: { id: l.id, pass: String(l.pass) } },
        h("span", { class: "policy-mark" }, mark(l.pass)), " ",
        code(l.label), " ", l.rule, h("span", { class: "muted" }, ` · token: ${l.token}`)))),
  );
}

async function runAuthorize() {
  await coreReady;
  const gen = state.verifyGen;
  const box = $("authorize-result");
  let req;
  try {
    req = requirement();
  } catch (e) {
    $("policy-check").replaceChildren();
    return renderOutcome(box, { error: { kind: "option", message: e?.message ?? String(e) } }, { action: "authorize" });
  }
  // From the decoded claims, whether or not the token can be verified here.
  renderPolicyCheck(req);
  const built = buildVerifier();
  if (built.error) return renderOutcome(box, built, { action: "authorize" });
  box.dataset.outcome = "pending";
  box.replaceChildren(h("p", {}, "Checking…"));
  let result;
  try {
    result = await built.verifier.authorize(state.token, req);
  } catch (e) {
    result = { error: { kind: "option", message: e?.message ?? String(e) } };
  }
  if (gen !== state.verifyGen) return;
  renderOutcome(box, result, { action: "authorize" });
  if (result.error?.code === "insufficient_scope") {
    const granted = new Set(classifyClaims(state.lenient, state.strict).result?.hint?.scopes ?? []);
    const missing = words("p-scopes-all").filter((s) => !granted.has(s));
    const any = words("p-scopes-any");
    const parts = [];
    if (missing.length) parts.push(["Missing (all of): ", missing.map((s, i) => [i ? " " : "", code(s)])]);
    if (any.length && !any.some((s) => granted.has(s))) parts.push(["None of (any of): ", any.map((s, i) => [i ? " " : "", code(s)])]);
    if (parts.length) box.append(h("p", { id: "authorize-missing" }, parts.map((p, i) => [i ? " · " : "", p])));
  }
}

// ---------------------------------------------------------------------------------
// JWKS fetch (only on request).
// ---------------------------------------------------------------------------------

async function withJwksStatus(work) {
  const status = $("jwks-status");
  const buttons = [$("fetch-jwks"), $("discover-jwks")];
  buttons.forEach((b) => (b.disabled = true));
  setStatus(status, "Fetching…", "pending");
  try {
    const r = await work();
    $("v-jwks").value = JSON.stringify(r.jwks, null, 2);
    $("v-jwks-url").value = r.url;
    const at = new Date().toLocaleTimeString();
    setStatus(status, `Fetched ${describeJwks(r.jwks)} from ${r.url}${r.discovery ? ` (found through ${r.discovery})` : ""} at ${at}.`, "ok");
    resetVerify();
  } catch (e) {
    setStatus(status, e.message.charAt(0).toUpperCase() + e.message.slice(1), "error");
  } finally {
    buttons.forEach((b) => (b.disabled = false));
  }
}

// ---------------------------------------------------------------------------------
// Wiring.
// ---------------------------------------------------------------------------------

const input = $("token-input");
input.addEventListener("input", update);

$("clear-token").addEventListener("click", () => {
  input.value = "";
  update();
  input.focus();
});

const drop = $("drop-zone");
drop.addEventListener("dragover", (e) => {
  e.preventDefault();
  drop.classList.add("dragging");
});
drop.addEventListener("dragleave", () => drop.classList.remove("dragging"));
drop.addEventListener("drop", async (e) => {
  e.preventDefault();
  drop.classList.remove("dragging");
  const dt = e.dataTransfer;
  let text = "";
  if (dt?.files?.length) {
    const f = dt.files[0];
    if (f.size > 65536) {
      setStatus($("token-status"), `${f.name} is ${f.size} bytes: too large to be a token.`, "error");
      return;
    }
    text = await f.text();
  } else {
    text = dt?.getData("text/plain") ?? "";
  }
  input.value = text;
  update();
});

$("fill-from-token").addEventListener("click", () => {
  const c = state.lenient?.payload;
  if (!c) return;
  if (typeof c.iss === "string") $("v-issuer").value = c.iss;
  const aud = typeof c.aud === "string" ? [c.aud] : Array.isArray(c.aud) ? c.aud.filter((a) => typeof a === "string") : [];
  if (aud.length) $("v-audience").value = aud.join(" ");
  resetVerify();
});

$("fetch-jwks").addEventListener("click", () =>
  withJwksStatus(() => fetchJwks($("v-jwks-url").value)));
$("discover-jwks").addEventListener("click", () =>
  withJwksStatus(() => {
    const iss = $("v-issuer").value.trim() || (typeof state.lenient?.payload?.iss === "string" ? state.lenient.payload.iss : "");
    return discoverJwks(iss);
  }));

$("verify-form").addEventListener("submit", (e) => {
  e.preventDefault();
  runVerify();
});
$("authorize-btn").addEventListener("click", runAuthorize);

// Settings that change the decoded view.
for (const id of ["v-m2m-claim", "v-user-id-claim", "v-roles-claim", "v-sc-scope", "v-sc-scp", "v-sc-permissions", "v-leeway", "v-typ"]) {
  $(id).addEventListener("change", () => {
    resetVerify();
    update();
  });
}
for (const id of ["v-issuer", "v-audience", "v-jwks", "v-algorithms"]) {
  $(id).addEventListener("input", resetVerify);
}

if (examplesAvailable()) {
  for (const kind of ["machine", "user"]) {
    const btn = $(`example-${kind}`);
    btn.hidden = false;
    btn.addEventListener("click", async () => {
      const ex = await makeExample(kind);
      input.value = ex.token;
      $("v-issuer").value = ex.issuer;
      $("v-audience").value = ex.audience;
      $("v-jwks").value = JSON.stringify(ex.jwks, null, 2);
      setStatus($("jwks-status"), `The example's key set (${describeJwks(ex.jwks)}), made in this page.`, "ok");
      update();
    });
  }
}

coreReady.then(() => {
  if (input.value) update();
  updateButtons();
  document.documentElement.dataset.ready = "true";
}, () => {
  document.documentElement.dataset.ready = "failed";
});
