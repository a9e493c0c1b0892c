// The CLI's argument parsing and its errors: a small parser (no dependency) whose
// errors are one line each, with a hint to --help.

/** Exit codes of every subcommand. */
export const EXIT = Object.freeze({ OK: 0, TOKEN: 1, CONFIG: 2, USAGE: 64 });

/** An error the CLI reports in one line and exits with (`code`, one of EXIT). */
export class CliError extends Error {
  constructor(code, message, { help = null, json = null } = {}) {
    super(message);
    this.exitCode = code;
    /** The command whose --help the message points to (usage errors). */
    this.help = help;
    /** What --json prints instead of the text, when the command was asked for JSON. */
    this.json = json;
  }
}

/** A usage error (exit 64) of `command`, with a hint to its --help. */
export function usage(command, message) {
  return new CliError(EXIT.USAGE, message, { help: command });
}

/**
 * Parses `argv` for `command` by `spec`: `{ options: { name: { value?: "NAME",
 * multiple? } }, positionals: ["token"], optional?: number }` (how many trailing
 * positionals may be left out). Options are `--name value`, `--name=value` or, for
 * flags (no `value`), `--name`; `-h` is `--help`; `--` ends the options; a lone `-`
 * is a positional (stdin). Returns `{ options, positionals }` with option values under
 * their camelCase names (arrays for `multiple`), or `{ help: true }`. Throws a usage
 * CliError for unknown options, missing values and wrong positional counts.
 */
export function parseArgs(command, argv, spec) {
  const options = {};
  const positionals = [];
  const defs = spec.options ?? {};
  let rest = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (rest || arg === "-" || !arg.startsWith("-")) {
      positionals.push(arg);
      continue;
    }
    if (arg === "--") {
      rest = true;
      continue;
    }
    if (arg === "-h" || arg === "--help") return { help: true };
    if (!arg.startsWith("--")) throw usage(command, `unknown option ${arg}`);
    const eq = arg.indexOf("=");
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    const def = Object.hasOwn(defs, name) ? defs[name] : undefined;
    if (!def) throw usage(command, `unknown option --${name}`);
    let value;
    if (def.value) {
      if (eq !== -1) value = arg.slice(eq + 1);
      else if (i + 1 < argv.length && (argv[i + 1] === "-" || !argv[i + 1].startsWith("--"))) value = argv[++i];
      else throw usage(command, `option --${name} needs a value (${def.value})`);
      if (value === "") throw usage(command, `option --${name} needs a value (${def.value})`);
    } else {
      if (eq !== -1) throw usage(command, `option --${name} takes no value`);
      value = true;
    }
    const key = name.replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    if (def.multiple) (options[key] ??= []).push(value);
    else if (Object.hasOwn(options, key)) throw usage(command, `option --${name} is given twice`);
    else options[key] = value;
  }
  const names = spec.positionals ?? [];
  const min = names.length - (spec.optional ?? 0);
  if (positionals.length < min) {
    throw usage(command, `missing argument <${names[positionals.length]}>`);
  }
  if (positionals.length > names.length) {
    throw usage(command, `unexpected argument ${JSON.stringify(positionals[names.length])}`);
  }
  return { options, positionals };
}

/** A non-negative number option (`what` names it in the error), or `fallback`. */
export function numberOption(command, value, what, fallback) {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || !Number.isFinite(n)) {
    throw usage(command, `option --${what} must be a non-negative number, not ${JSON.stringify(value)}`);
  }
  return n;
}
