#!/usr/bin/env node
// tokengate: the command line of the npm package. Subcommands live in cli/*.js; decode,
// verify and check use the package's own Node entry (node.mjs), loaded only by them.
// Exit codes: 0 success, 1 an invalid or undecodable token, 2 an invalid configuration,
// 64 a usage error (70: a bug in tokengate, reported without a stack unless
// TOKENGATE_DEBUG is set).

import { readFileSync } from "node:fs";
import { CliError, EXIT } from "./cli/args.js";
import { printJson } from "./cli/out.js";

const COMMANDS = {
  decode: ["decode a token without verifying it, and explain it", () => import("./cli/decode.js")],
  verify: ["verify a token against an issuer's keys", () => import("./cli/verify.js")],
  keygen: ["generate (or rotate) the token exchange's signing keys", () => import("./cli/keygen.js")],
  check: ["check a wrangler file's TOKENGATE_CONFIG as the Worker does", () => import("./cli/check.js")],
  revoke: ["revoke tokens: write a revocation entry with wrangler (or print it)", () => import("./cli/revoke.js")],
  init: ["write a Worker project around the prebuilt authorizer", () => import("./cli/init.js")],
};

const version = () => JSON.parse(readFileSync(new URL("./package.json", import.meta.url), "utf8")).version;

const HELP = `Usage: tokengate <command> [options]

Commands:
${Object.entries(COMMANDS).map(([n, [d]]) => `  ${n.padEnd(8)}${d}`).join("\n")}

Run "tokengate <command> --help" for a command's options.

Options:
  -h, --help      this help
  -v, --version   the package's version

Exit status (every command): 0 success, 1 an invalid or undecodable token, 2 an
invalid configuration, 64 a usage error.`;

async function main(argv) {
  const [command, ...rest] = argv;
  if (command === undefined) {
    process.stderr.write(`${HELP}\n`);
    return EXIT.USAGE;
  }
  if (command === "-h" || command === "--help" || command === "help") {
    if (command === "help" && rest[0] && Object.hasOwn(COMMANDS, rest[0])) return run(rest[0], ["--help"]);
    console.log(HELP);
    return EXIT.OK;
  }
  if (command === "-v" || command === "--version") {
    console.log(version());
    return EXIT.OK;
  }
  if (!Object.hasOwn(COMMANDS, command)) {
    const what = command.startsWith("-") ? `unknown option ${command}` : `unknown command ${JSON.stringify(command)}`;
    return report(new CliError(EXIT.USAGE, what, { help: "" }), "", false);
  }
  return run(command, rest);
}

async function run(command, args) {
  const json = args.includes("--json");
  try {
    const mod = await COMMANDS[command][1]();
    return await mod.run(args);
  } catch (e) {
    return report(e, command, json);
  }
}

function report(e, command, json) {
  const prefix = command ? `tokengate ${command}` : "tokengate";
  if (!(e instanceof CliError)) {
    process.stderr.write(`${prefix}: internal error: ${e?.message ?? e}\n`);
    if (process.env.TOKENGATE_DEBUG) process.stderr.write(`${e?.stack ?? ""}\n`);
    return 70;
  }
  if (json && e.json) printJson(e.json);
  process.stderr.write(`${prefix}: ${e.message}\n`);
  if (e.help !== null) {
    process.stderr.write(`Run "tokengate${e.help ? ` ${e.help}` : ""} --help" for usage.\n`);
  }
  return e.exitCode;
}

process.exitCode = await main(process.argv.slice(2));
