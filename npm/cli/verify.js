// `tokengate verify`: a token verified with the package's own verifier.

import { readFileSync } from "node:fs";
import { EXIT, CliError, parseArgs, numberOption, usage } from "./args.js";
import { colours, painter, printJson, readToken, rows, isoTime } from "./out.js";
import { relative } from "../explain.js";
import { policyRequirement, requirementUsage } from "./decode.js";

export const HELP = `Usage: tokengate verify <token | -> --issuer URL --audience AUD [options]

Verifies a JWT access token as createVerifier() does (signature against the issuer's
keys, issuer, audience, times), classifies it and prints the principal. "-" reads the
token from stdin. Keys come from --jwks FILE (nothing is fetched), --jwks-uri URL, or
else OIDC discovery from the issuer.

Options:
  --issuer URL           the exact iss (required)
  --audience AUD         an accepted aud (required; repeat for several)
  --jwks-uri URL         the JWKS URL (https, or http on loopback)
  --jwks FILE            a JWKS file ({"keys": [...]}), used inline
  --require-scope S      a scope the token must grant (repeatable; all are required),
                         checked by the verifier's authorize() (403 insufficient_scope)
  --claims JSON          claim rules the token must meet, as the Worker's
                         require.claims: '{"org_id": {"any_of": ["org_A"]}}'
                         (403 claim_not_allowed)
  --actor ID             an allowed current actor of a delegated token (repeatable;
                         403 actor_not_allowed, delegation_required)
  --max-delegation-depth N
                         the most nested act objects (403 delegation_too_deep)
  --required-typ TYP     a required typ header, e.g. at+jwt
  --clock-tolerance S    seconds of clock skew for exp/nbf/iat (default 60)
  --json                 print the result as JSON: { ok: true, principal, claims,
                         header } or { ok: false, error: { code, message, status,
                         wwwAuthenticate } }
  -h, --help             this help

Exit status: 0 valid (and every required scope and rule met), 1 refused (the error code
and message are printed; also when keys cannot be fetched), 2 an invalid option or
JWKS file, 64 a usage error.`;

const SPEC = {
  options: {
    issuer: { value: "URL" },
    audience: { value: "AUD", multiple: true },
    "jwks-uri": { value: "URL" },
    jwks: { value: "FILE" },
    "require-scope": { value: "SCOPE", multiple: true },
    "required-typ": { value: "TYP" },
    claims: { value: "JSON" },
    actor: { value: "ID", multiple: true },
    "max-delegation-depth": { value: "N" },
    "clock-tolerance": { value: "SECONDS" },
    json: {},
  },
  positionals: ["token"],
};

function readJwks(file) {
  let text;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new CliError(EXIT.CONFIG, `cannot read the JWKS file ${file}: ${e.code === "ENOENT" ? "no such file" : e.message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new CliError(EXIT.CONFIG, `the JWKS file ${file} is not JSON: ${e.message}`);
  }
}

export async function run(argv) {
  const args = parseArgs("verify", argv, SPEC);
  if (args.help) return console.log(HELP), EXIT.OK;
  const { options: o, positionals } = args;
  if (!o.issuer) throw usage("verify", "missing option --issuer URL");
  if (!o.audience) throw usage("verify", "missing option --audience AUD");
  if (o.jwks && o.jwksUri) throw usage("verify", "give --jwks or --jwks-uri, not both");
  const rules = policyRequirement("verify", o);
  const requirement = o.requireScope || rules ? { ...(o.requireScope ? { scopesAll: o.requireScope } : {}), ...rules } : null;
  const token = readToken("verify", positionals[0]);
  const options = {
    issuer: o.issuer,
    audience: o.audience.length === 1 ? o.audience[0] : o.audience,
    ...(o.jwksUri ? { jwksUri: o.jwksUri } : {}),
    ...(o.jwks ? { jwks: readJwks(o.jwks) } : {}),
    ...(o.requiredTyp ? { requiredTyp: o.requiredTyp } : {}),
    ...(o.clockTolerance !== undefined
      ? { clockTolerance: numberOption("verify", o.clockTolerance, "clock-tolerance") }
      : {}),
  };
  const tg = await import("../node.mjs");
  let verifier;
  try {
    verifier = tg.createVerifier(options);
  } catch (e) {
    // createVerifier names the option: `tokengate: invalid option "jwks": ...`.
    throw new CliError(EXIT.CONFIG, e.message.replace(/^tokengate: /, ""));
  }
  let r;
  try {
    r = requirement ? await verifier.authorize(token, requirement) : await verifier.verify(token);
  } catch (e) {
    throw requirementUsage("verify", e);
  }
  if (!r.ok) {
    throw new CliError(EXIT.TOKEN, `${r.error.code}: ${r.error.message}`, { json: r });
  }
  if (o.json) {
    printJson(r);
    return EXIT.OK;
  }
  const paint = painter(colours());
  const p = r.principal;
  const now = Date.now() / 1000;
  const none = paint("dim", "none");
  console.log(`${paint("green", "valid")}: a ${paint("bold", p.kind)} token (decided by ${p.decidedBy})`);
  console.log(rows([
    ["subject", p.subject],
    ["client", p.clientId ?? none],
    ["user", p.userId ?? none],
    ["scopes", p.scopes.length ? p.scopes.join(" ") : none],
    ["roles", p.roles.length ? p.roles.join(" ") : undefined],
    ["issuer", p.issuer],
    ["audience", p.audiences.join(" ")],
    ["expires", p.expiresAt === null ? paint("yellow", "never") : `${isoTime(p.expiresAt)} (${relative(p.expiresAt, now)})`],
    ["actor", p.actor ? actorChain(p.actor) : undefined],
    ["required", o.requireScope ? `${o.requireScope.join(" ")}: granted` : undefined],
    ["rules", rules ? `${[...Object.keys(rules.claims ?? {}), ...(rules.actors ? ["actors"] : []), ...(rules.maxDelegationDepth !== undefined ? ["max delegation depth"] : [])].join(", ")}: met` : undefined],
  ], paint));
  return EXIT.OK;
}

function actorChain(actor) {
  const subs = [];
  for (let a = actor; a; a = a.act) subs.push(a.sub);
  return subs.join(" <- ");
}
