// `tokengate check`: a wrangler file's TOKENGATE_CONFIG checked by the Worker's own
// code (checkWorkerConfig: the core's check_worker_config, which the Worker runs on
// its configuration too).

import { EXIT, CliError, parseArgs } from "./args.js";
import { colours, painter, printJson } from "./out.js";
import { readConfigFile } from "./config-file.js";

export const HELP = `Usage: tokengate check <wrangler.toml | wrangler.jsonc | wrangler.json | config.json | dir> [--env NAME] [--json]

Checks the edge authorizer's configuration the way the Worker reads it: the
TOKENGATE_CONFIG var of the wrangler file's top-level [vars] (or of [env.NAME.vars]
with --env; environments do not inherit vars), or a configuration document itself
(a .json file with "issuers"). A directory means its wrangler.json, wrangler.jsonc or
wrangler.toml. The check runs the Worker's code without I/O and without secrets: an
"exchange" section is checked as if TOKENGATE_SIGNING_KEYS were set, and shared secrets
are only named.

Options:
  --env NAME   the [env.NAME.vars] of a wrangler file
  --json       print JSON: { ok: true, file, where, summary: { issuers, routes,
               origin, exchangeIssuer, secrets } } or { ok: false, file, where,
               error: { code, message, field } }
  -h, --help   this help

Exit status: 0 valid (a one-line summary is printed), 2 invalid or unreadable (the
error names the field, e.g. issuers[0].jwks_uri), 64 a usage error.`;

const SPEC = { options: { env: { value: "NAME" }, json: {} }, positionals: ["file"] };

const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

export async function run(argv) {
  const args = parseArgs("check", argv, SPEC);
  if (args.help) return console.log(HELP), EXIT.OK;
  const { options, positionals } = args;
  let found;
  try {
    found = readConfigFile(positionals[0], options.env);
  } catch (e) {
    if (e instanceof CliError && e.exitCode === EXIT.CONFIG) {
      e.json = { ok: false, file: positionals[0], where: null, error: { code: "config_invalid", message: e.message, field: null } };
    }
    throw e;
  }
  const { file, where, json } = found;
  const tg = await import("../node.mjs");
  const r = tg.checkWorkerConfig(json);
  const paint = painter(colours());
  if (!r.ok) {
    const message = `${file}: ${where}: ${r.error.message}` +
      (r.error.field ? `\n  field: ${r.error.field}` : "");
    const error = { code: r.error.code, message: r.error.message, field: r.error.field };
    throw new CliError(EXIT.CONFIG, message, { json: { ok: false, file, where, error } });
  }
  if (options.json) {
    printJson({ ok: true, file, where, summary: r.summary });
    return EXIT.OK;
  }
  const s = r.summary;
  const parts = [
    `${plural(s.issuers.length, "issuer")} (${s.issuers.join(", ")})`,
    plural(s.routes, "route"),
  ];
  if (s.origin) parts.push(`origin ${s.origin}`);
  if (s.exchangeIssuer) parts.push(`token exchange as ${s.exchangeIssuer} (signing keys assumed)`);
  if (s.secrets.length) parts.push(`secrets not checked: ${s.secrets.join(", ")}`);
  console.log(`${paint("green", "ok")}: ${file} ${where}: ${parts.join(", ")}`);
  return EXIT.OK;
}
