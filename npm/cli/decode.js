// `tokengate decode`: what the decoder page explains, in a terminal.

import { EXIT, CliError, parseArgs, numberOption, usage } from "./args.js";
import { colours, painter, printJson, readToken, rows, isoTime } from "./out.js";
import { binding, claimRules, lint, numClaim, policyLines, relative, timeVerdict, stateSentence, STATE_TEXT } from "../explain.js";

export const HELP = `Usage: tokengate decode <token | -> [options]

Decodes a JWT access token WITHOUT verifying it (no signature, issuer, audience or
time check) and explains it as the decoder page does: its kind (machine or user) and
the rule that decided it, client, user, merged scopes, issuer and audience, its sender
binding (cnf: DPoP or mTLS) and what a request with it needs, its times relative to
now, and lints. "-" reads the token from stdin.

Options:
  --json               print JSON instead of text:
                       { ok, verified: false, form: "jws", header, claims, hint, hintError,
                         idToken: { signals, message } | null,
                         binding: { kind, jkt?, x5tS256?, x5tS256Hex?, needs, warnings } | null,
                         times: { now, leeway, iat, nbf, exp, state, sentence, error },
                         lints: [{ id, level, title, detail }], passed: [{ id, title }] }
                       (iat/nbf/exp: { value, iso, relative } or null)
  --leeway SECONDS     clock tolerance for the time state (default 60)
  --now SECONDS        judge the times at this unix time (default: the clock)
  -h, --help           this help

Policy check (a route's claim and delegation rules, rule by rule, by the core's rules;
with any of these, the text has a "policy" section and --json a "policy" member:
{ pass, claims: [{ name, rule, pass, present, value }], delegation: { depth, chain,
actor, maxDepth, depthPass, actors, actorPass, error } }):
  --claims JSON        the route's claim rules, as the Worker's require.claims:
                       '{"org_id": {"any_of": ["org_A", "org_B"]}}' (anyOf also
                       accepted; equals, includes, present; a name starting with / is
                       a JSON pointer)
  --actor ID           an allowed current actor (actors; repeatable)
  --max-delegation-depth N
                       the most nested act objects allowed (max_delegation_depth)

A token that is not a signed JWT is named in the error: an encrypted JWE (its header
is in --json's jweHeader), an opaque token (Auth0 issues one when the authorization
request names no audience), a wrong number of parts (a pasted "Bearer " prefix is
dropped first); with
--json: { ok: false, verified: false, form, error: { code, message }, jweHeader? }.
An ID token sent as an access token decodes, with an "id-token" lint.

Exit status: 0 the token decodes (whatever the lints and the policy check say), 1 it
does not (the error code and message are printed), 64 a usage error (also an invalid
--claims rule).`;

const SPEC = {
  options: {
    json: {},
    leeway: { value: "SECONDS" },
    now: { value: "SECONDS" },
    claims: { value: "JSON" },
    actor: { value: "ID", multiple: true },
    "max-delegation-depth": { value: "N" },
  },
  positionals: ["token"],
};

/**
 * The requirement of the policy options (`--claims`, `--actor`,
 * `--max-delegation-depth`) of `command`, or null when none is given. Usage errors
 * for JSON that does not parse; the verifier checks the rules themselves.
 */
export function policyRequirement(command, options) {
  const req = {};
  if (options.claims !== undefined) {
    let parsed;
    try {
      parsed = JSON.parse(options.claims);
    } catch (e) {
      throw usage(command, `option --claims must be JSON: ${e.message}`);
    }
    try {
      req.claims = claimRules(parsed);
    } catch (e) {
      throw usage(command, `option --claims: ${e.message}`);
    }
  }
  if (options.actor !== undefined) req.actors = options.actor;
  if (options.maxDelegationDepth !== undefined) {
    if (!/^\d+$/.test(options.maxDelegationDepth)) {
      throw usage(command, `option --max-delegation-depth must be a whole number, not ${JSON.stringify(options.maxDelegationDepth)}`);
    }
    req.maxDelegationDepth = Number(options.maxDelegationDepth);
  }
  return Object.keys(req).length ? req : null;
}

/** A requirement the verifier refuses (a TypeError naming it), as a usage error. */
export function requirementUsage(command, e) {
  if (e instanceof TypeError && /^tokengate: invalid requirement/.test(e.message)) {
    return usage(command, e.message.replace(/^tokengate: /, ""));
  }
  return e;
}

/** { value, iso, relative } of a time claim, or null. */
function timeOf(claims, name, now) {
  const v = numClaim(claims, name);
  return v === null ? null : { value: v, iso: isoTime(v), relative: relative(v, now) };
}

export async function run(argv) {
  const args = parseArgs("decode", argv, SPEC);
  if (args.help) return console.log(HELP), EXIT.OK;
  const { options, positionals } = args;
  const leeway = numberOption("decode", options.leeway, "leeway", 60);
  if (leeway > 3600) throw new CliError(EXIT.USAGE, "option --leeway must be at most 3600 seconds", { help: "decode" });
  const now = numberOption("decode", options.now, "now", Math.floor(Date.now() / 1000));
  const requirement = policyRequirement("decode", options);
  const token = readToken("decode", positionals[0]);
  const tg = await import("../node.mjs");
  if (requirement) {
    // An invalid rule is refused before the token is read (as authorize refuses it).
    try {
      tg.policyCheck(requirement, {});
    } catch (e) {
      throw requirementUsage("decode", e);
    }
  }
  const d = tg.decode(token);
  if (!d.ok) {
    const error = { code: d.error.code, message: d.error.message };
    // What the token is when it is not a signed JWT (jwe, opaque, ...) and a JWE's
    // readable header: decode()'s own fields.
    const json = { ok: false, verified: false, form: d.form ?? null, error };
    if (d.jweHeader) json.jweHeader = d.jweHeader;
    throw new CliError(EXIT.TOKEN, `${error.code}: ${error.message}`, { json });
  }
  const verdict = timeVerdict(tg, d.claims, now, leeway);
  const times = {
    now,
    leeway,
    iat: timeOf(d.claims, "iat", now),
    nbf: timeOf(d.claims, "nbf", now),
    exp: timeOf(d.claims, "exp", now),
    state: verdict.state,
    sentence: stateSentence(tg, d.claims, now, leeway),
    error: verdict.error,
  };
  const { findings, passed } = lint(tg, d.header, d.claims, { now, leeway });
  const bound = binding(d.claims);
  const policy = requirement ? tg.policyCheck(requirement, d.claims) : null;
  if (options.json) {
    printJson({
      ok: true,
      verified: false,
      form: d.form,
      header: d.header,
      claims: d.claims,
      hint: d.hint,
      hintError: d.hintError ? { code: d.hintError.code, message: d.hintError.message } : null,
      idToken: d.idToken ?? null,
      binding: bound,
      times,
      lints: findings,
      passed,
      ...(policy ? { policy } : {}),
    });
    return EXIT.OK;
  }
  console.log(text(d, bound, times, findings, passed, policy, painter(colours())));
  return EXIT.OK;
}

/** The policy section: each rule with pass/fail, what it requires and what the token has. */
function policyText(policy, paint) {
  const out = [];
  const verdict = policy.pass ? paint("green", "allowed") : paint("red", "denied");
  out.push(paint("bold", "policy") + paint("dim", " (claim and delegation rules; not verified) ") + verdict);
  const mark = (pass) => (pass === null ? paint("dim", "  -  ") : pass ? paint("green", "pass ") : paint("red", "FAIL "));
  const lines = policyLines(policy);
  const width = Math.max(...lines.map((l) => l.label.length));
  for (const l of lines) {
    out.push(`  ${mark(l.pass)} ${l.label.padEnd(width)}  ${l.rule}${paint("dim", `; token: ${l.token}`)}`);
  }
  return out.join("\n");
}

const LEVEL = { error: ["red", "error"], warn: ["yellow", "warn "], info: ["blue", "info "] };
const STATE_STYLE = {
  valid: "green", "no-exp": "yellow", expiring: "yellow", grace: "yellow",
  expired: "red", "not-yet-valid": "red", "issued-in-future": "red", invalid: "red",
};

/** The binding's kind in words. */
const BINDING_TEXT = {
  dpop: "DPoP (RFC 9449)",
  mtls: "mutual-TLS client certificate (RFC 8705)",
  "dpop+mtls": "DPoP (RFC 9449) and mutual-TLS client certificate (RFC 8705)",
  unsupported: "a form tokengate does not accept",
  malformed: "malformed",
};

function text(d, bound, times, findings, passed, policy, paint) {
  const out = [];
  const h = d.hint;
  const none = paint("dim", "none");
  const list = (xs) => (xs.length ? xs.join(" ") : none);
  out.push(paint("yellow", "not verified: decode checks no signature, issuer, audience or time"));
  out.push("");
  const header = [
    ["alg", String(d.header.alg)],
    ["kid", typeof d.header.kid === "string" ? d.header.kid : none],
    ["typ", d.header.typ !== undefined ? String(d.header.typ) : none],
  ];
  if (h) {
    out.push(rows([
      ["kind", `${paint("bold", h.kind)} (decided by ${h.decidedBy})`],
      ["client", h.clientId ?? paint("dim", "none (no azp or client_id)")],
      ["user", h.userId ?? none],
      ["subject", h.subject],
      ["scopes", list(h.scopes)],
      ["roles", h.roles.length ? h.roles.join(" ") : undefined],
      ["issuer", h.issuer],
      ["audience", list(h.audiences)],
      ["actor", h.actor ? `${chain(h.actor)}  ${paint("dim", `(delegation depth ${depth(h.actor)})`)}` : undefined],
      ...header,
    ], paint));
  } else {
    const e = d.hintError;
    out.push(rows([
      ["kind", paint("red", `cannot classify${e ? `: ${e.code}: ${e.message}` : ""}`)],
      ["issuer", typeof d.claims.iss === "string" ? d.claims.iss : none],
      ...header,
    ], paint));
  }
  out.push("");
  if (bound) {
    const ok = bound.kind === "dpop" || bound.kind === "mtls" || bound.kind === "dpop+mtls";
    out.push(paint("bold", "binding") + paint("dim", " (cnf: sender-constrained)"));
    out.push(rows([
      ["kind", paint(ok ? "cyan" : "yellow", BINDING_TEXT[bound.kind])],
      ["jkt", bound.jkt],
      ["x5t#S256", bound.x5tS256],
      ["hex", bound.x5tS256Hex],
      ...bound.needs.map((n) => ["needs", n]),
      ...bound.warnings.map((w) => ["warn", paint("yellow", w)]),
    ], paint, "  "));
    out.push("");
  }
  if (policy) {
    out.push(policyText(policy, paint));
    out.push("");
  }
  const when = (t, what) => (t ? `${t.iso}  ${paint("dim", `(${what} ${t.relative})`)}` : undefined);
  out.push(paint("bold", "times") + paint("dim", ` (now ${isoTime(times.now)}, ${times.leeway} s tolerance)`));
  out.push(rows([
    ["iat", when(times.iat, "issued")],
    ["nbf", when(times.nbf, "valid from")],
    ["exp", times.exp ? when(times.exp, times.exp.value > times.now ? "expires" : "expired") : paint("yellow", "none: never expires")],
    ["state", `${paint(STATE_STYLE[times.state] ?? "dim", STATE_TEXT[times.state] ?? times.state)}: ${times.sentence}`],
  ], paint, "  "));
  out.push("");
  out.push(paint("bold", "lints") + paint("dim", ` (${findings.length} finding${findings.length === 1 ? "" : "s"}, ${passed.length} passed)`));
  for (const f of findings) {
    const [style, label] = LEVEL[f.level];
    out.push(`  ${paint(style, label)}  ${f.title} ${paint("dim", `[${f.id}]`)}`);
    out.push(`         ${paint("dim", f.detail)}`);
  }
  if (!findings.length) out.push(`  ${paint("green", "none")}`);
  return out.join("\n");
}

function depth(actor) {
  let n = 0;
  for (let a = actor; a; a = a.act) n++;
  return n;
}

function chain(actor) {
  const subs = [];
  for (let a = actor; a; a = a.act) subs.push(a.sub);
  return subs.join(" <- ");
}
