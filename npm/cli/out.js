// The CLI's output: colour only on a TTY (and never with NO_COLOR set), key/value
// lines, the token argument (or stdin with `-`).

import { readFileSync } from "node:fs";
import { CliError, EXIT } from "./args.js";

/** Whether `stream` gets ANSI colours: a TTY, and NO_COLOR unset or empty. */
export function colours(stream = process.stdout) {
  return Boolean(stream.isTTY) && !process.env.NO_COLOR;
}

const CODES = { bold: 1, dim: 2, red: 31, green: 32, yellow: 33, blue: 34, cyan: 36 };

/** A painter: paint("red", text) colours text when `on`, else returns it as is. */
export function painter(on) {
  return (style, text) => (on ? `\x1b[${CODES[style]}m${text}\x1b[0m` : String(text));
}

/** Lines of `label  value`, labels padded to one width. */
export function rows(pairs, paint = painter(false), indent = "") {
  const shown = pairs.filter(([, v]) => v !== undefined);
  const width = Math.max(0, ...shown.map(([k]) => k.length));
  return shown.map(([k, v]) => `${indent}${paint("dim", k.padEnd(width))}  ${v}`).join("\n");
}

/** Prints a JSON value on one line per value (two-space indented). */
export function printJson(value) {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/**
 * The token of a command: the argument, or stdin's text when it is `-`; surrounding
 * whitespace and a `Bearer ` prefix are removed.
 */
export function readToken(command, arg) {
  let text = arg;
  if (arg === "-") {
    try {
      text = readFileSync(0, "utf8");
    } catch (e) {
      throw new CliError(EXIT.USAGE, `cannot read the token from stdin: ${e.message}`, { help: command });
    }
  }
  text = text.trim().replace(/^bearer\s+/i, "").trim();
  if (!text) throw new CliError(EXIT.USAGE, arg === "-" ? "stdin holds no token" : "the token is empty", { help: command });
  return text;
}

/** An ISO 8601 date of unix seconds (UTC), or "out of range". */
export function isoTime(seconds) {
  const d = new Date(seconds * 1000);
  return Number.isNaN(d.getTime()) ? "out of range" : d.toISOString().replace(/\.000Z$/, "Z");
}
