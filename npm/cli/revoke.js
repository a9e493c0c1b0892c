// `tokengate revoke`: writes a revocation entry into the edge authorizer's REVOKED KV
// namespace with wrangler (`wrangler kv key put`), or prints the command. The key and
// value come from the package's own revocationKey / revocationValue (the core's
// format, which the Worker and the npm verifier read).

import { spawn } from "node:child_process";
import { EXIT, CliError, parseArgs, usage } from "./args.js";
import { printJson } from "./out.js";

export const HELP = `Usage: tokengate revoke --issuer ISS (--jti ID | --client CLIENT_ID | --sub SUB)
                       [--before UNIX] [--binding NAME] [--env NAME] [--local]
                       [--print] [--json]

Revokes tokens without introspection: writes an entry into the edge authorizer's
revocation namespace (the REVOKED KV binding; the npm verifier's revocation.store reads
the same entries) by running

  npx wrangler kv key put --binding=REVOKED --remote '<issuer>|<kind>|<id>' '{"before":<unix seconds>}'

in the current directory (the Worker's project, whose wrangler file declares the
binding). --jti revokes that one token; --client every token of the client (azp /
client_id), --sub every token of the subject, issued (iat) up to --before (default:
now), so that tokens issued later pass. Each entry is scoped to its issuer: give the
exact iss. A verifier sees a new entry after at most its revocation cache_seconds
(default 10), plus Workers KV's own propagation (up to 60 s to other locations).

Options:
  --issuer ISS      the tokens' exact iss (required)
  --jti ID          revoke the token with this jti
  --client ID       revoke the client's tokens issued up to --before
  --sub SUB         revoke the subject's tokens issued up to --before
  --before UNIX     unix seconds (default: now); not with --jti (a jti entry revokes
                    its token whatever the value)
  --binding NAME    the KV binding (default REVOKED)
  --env NAME        the wrangler environment (wrangler's --env)
  --local           write to wrangler dev's local storage instead of --remote
  --print           only print the command (nothing is run); also --dry-run
  --json            print { key, value, command } (with --print: nothing is run)
  -h, --help        this help

Exit status: 0 written (or printed), 2 wrangler failed or could not be run (the
command is printed to run by hand), 64 a usage error.`;

const SPEC = {
  options: {
    issuer: { value: "ISS" },
    jti: { value: "ID" },
    client: { value: "CLIENT_ID" },
    sub: { value: "SUB" },
    before: { value: "UNIX" },
    binding: { value: "NAME" },
    env: { value: "NAME" },
    local: {},
    print: {},
    "dry-run": {},
    json: {},
  },
  positionals: [],
};

/** A word as a POSIX shell reads it: as it is when safe, else single-quoted. */
export function shellQuote(word) {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The wrangler arguments (after `npx wrangler`) that write `key` = `value`. */
export function wranglerArgs(key, value, { binding = "REVOKED", env, local = false } = {}) {
  const args = ["kv", "key", "put", `--binding=${binding}`];
  if (env !== undefined) args.push(`--env=${env}`);
  args.push(local ? "--local" : "--remote", key, value);
  return args;
}

export async function run(argv) {
  const args = parseArgs("revoke", argv, SPEC);
  if (args.help) return console.log(HELP), EXIT.OK;
  const { options } = args;
  if (options.issuer === undefined) throw usage("revoke", "--issuer is required (the tokens' exact iss)");
  const kinds = [["jti", "jti"], ["client", "client"], ["sub", "sub"]].filter(([o]) => options[o] !== undefined);
  if (kinds.length !== 1) {
    throw usage("revoke", kinds.length === 0 ? "give one of --jti, --client or --sub" : "give only one of --jti, --client or --sub");
  }
  const [[option, by]] = kinds;
  if (options.before !== undefined && by === "jti") {
    throw usage("revoke", "--before applies to --client and --sub (a jti entry revokes its token whatever the value)");
  }
  let before = Math.floor(Date.now() / 1000);
  if (options.before !== undefined) {
    if (!/^\d+$/.test(options.before) || !Number.isSafeInteger(Number(options.before))) {
      throw usage("revoke", `option --before must be unix seconds (a whole number), not ${JSON.stringify(options.before)}`);
    }
    before = Number(options.before);
  }
  const binding = options.binding ?? "REVOKED";
  if (!/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(binding)) {
    throw usage("revoke", `option --binding must be a binding name (a JavaScript identifier), not ${JSON.stringify(binding)}`);
  }
  const tg = await import("../node.mjs");
  let key;
  try {
    key = tg.revocationKey(options.issuer, by, options[option]);
  } catch (e) {
    throw usage("revoke", e.message.replace(/^tokengate: revocationKey: /, ""));
  }
  const value = tg.revocationValue(before);
  const wrangler = wranglerArgs(key, value, { binding, env: options.env, local: Boolean(options.local) });
  const command = ["npx", "wrangler", ...wrangler];
  const printed = command.map(shellQuote).join(" ");
  const printOnly = Boolean(options.print || options.dryRun);
  if (printOnly) {
    if (options.json) printJson({ key, value, command });
    else console.log(printed);
    return EXIT.OK;
  }
  const { code, error } = await runWrangler(wrangler, Boolean(options.json));
  if (error !== undefined || code !== 0) {
    const why = error !== undefined ? `could not run npx wrangler: ${error.message}` : `wrangler exited with status ${code}`;
    throw new CliError(EXIT.CONFIG, `${why}; run it by hand:\n  ${printed}`, {
      json: { ok: false, key, value, command, error: why },
    });
  }
  if (options.json) printJson({ ok: true, key, value, command });
  else process.stderr.write(`revoked: ${key} ${value}\n`);
  return EXIT.OK;
}

/**
 * Runs `npx --no wrangler <args>` (never installing wrangler), its output shown (on
 * stderr when stdout carries JSON).
 */
function runWrangler(args, json) {
  return new Promise((resolve) => {
    const windows = process.platform === "win32";
    const child = spawn(windows ? "npx.cmd" : "npx", ["--no", "wrangler", ...args], {
      stdio: ["ignore", json ? 2 : 1, 2],
      shell: windows,
    });
    child.on("error", (error) => resolve({ code: null, error }));
    child.on("close", (code) => resolve({ code }));
  });
}
