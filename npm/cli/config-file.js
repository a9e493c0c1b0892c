// `tokengate check`'s input: the TOKENGATE_CONFIG document of a wrangler file
// (wrangler.toml, wrangler.jsonc, wrangler.json: top-level `vars`, or `env.NAME.vars`)
// or a configuration document itself (config.json), read the way the Worker gets it: a
// string var is the JSON text, a table var is serialised (state.rs, config_source).

import { readFileSync, statSync, existsSync } from "node:fs";
import path from "node:path";
import { CliError, EXIT, usage } from "./args.js";
import { parseToml } from "./toml.js";

/** The files looked for in a directory, in wrangler's order of preference. */
export const WRANGLER_FILES = ["wrangler.json", "wrangler.jsonc", "wrangler.toml"];

const configError = (message) => new CliError(EXIT.CONFIG, message);

/**
 * JSON with comments (`//`, `/* *\/`) and trailing commas, as wrangler.jsonc allows:
 * both are replaced by spaces (newlines kept), so JSON.parse's positions still point
 * into the file. Returns the plain JSON text.
 */
export function stripJsonc(text) {
  let out = "";
  let i = 0;
  const blank = (s) => s.replace(/[^\n]/g, " ");
  while (i < text.length) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"' && text[j] !== "\n") j += text[j] === "\\" ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
    } else if (c === "/" && text[i + 1] === "/") {
      let j = text.indexOf("\n", i);
      if (j === -1) j = text.length;
      out += blank(text.slice(i, j));
      i = j;
    } else if (c === "/" && text[i + 1] === "*") {
      let j = text.indexOf("*/", i + 2);
      j = j === -1 ? text.length : j + 2;
      out += blank(text.slice(i, j));
      i = j;
    } else {
      out += c;
      i++;
    }
  }
  // Trailing commas: a comma followed (past whitespace) by } or ], outside strings.
  let result = "";
  for (let k = 0; k < out.length; k++) {
    const c = out[k];
    if (c === '"') {
      let j = k + 1;
      while (j < out.length && out[j] !== '"' && out[j] !== "\n") j += out[j] === "\\" ? 2 : 1;
      result += out.slice(k, j + 1);
      k = j;
    } else if (c === ",") {
      let j = k + 1;
      while (/\s/.test(out[j] ?? "")) j++;
      result += out[j] === "}" || out[j] === "]" ? " " : c;
    } else result += c;
  }
  return result;
}

/** Where JSON.parse failed, as "line L, column C" (from its "position N"), or "". */
function jsonPosition(text, message) {
  const m = /position (\d+)/.exec(message);
  if (!m) return "";
  const at = Number(m[1]);
  const before = text.slice(0, at);
  return ` (line ${before.split("\n").length}, column ${at - before.lastIndexOf("\n")})`;
}

function parseJson(text, file) {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw configError(`${file}: not valid JSON${jsonPosition(text, e.message)}: ${e.message}`);
  }
}

/** Whether a JSON document is a wrangler file rather than a tokengate configuration. */
function isWranglerDocument(doc) {
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) return false;
  if (Object.hasOwn(doc, "issuers")) return false;
  return ["vars", "env", "main", "name", "compatibility_date", "$schema"].some((k) => Object.hasOwn(doc, k));
}

/**
 * Finds the configuration of `target` (a file, or a directory holding a wrangler
 * file) for environment `env` (or the top level). Returns `{ file, where, json }`:
 * the file read, where in it the document was (`[env.demo.vars] TOKENGATE_CONFIG`,
 * or `the file` for a configuration document), and the document's JSON text. Throws
 * a CliError: usage (64) for an `--env` on a plain configuration document, config (2)
 * for an unreadable file, a parse error or a missing var.
 */
export function readConfigFile(target, env) {
  let file = target;
  let stat;
  try {
    stat = statSync(file);
  } catch (e) {
    throw configError(`cannot read ${file}: ${e.code === "ENOENT" ? "no such file or directory" : e.message}`);
  }
  if (stat.isDirectory()) {
    const found = WRANGLER_FILES.map((f) => path.join(target, f)).find((f) => existsSync(f));
    if (!found) throw configError(`${target}: no ${WRANGLER_FILES.join(", ")} in this directory`);
    file = found;
  }
  let text;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw configError(`cannot read ${file}: ${e.message}`);
  }
  const ext = path.extname(file).toLowerCase();
  let doc;
  if (ext === ".toml") {
    try {
      doc = parseToml(text);
    } catch (e) {
      throw configError(`${file}: not valid TOML: ${e.message}`);
    }
  } else {
    const plain = stripJsonc(text);
    doc = parseJson(plain, file);
    if (!isWranglerDocument(doc)) {
      if (env !== undefined) throw usage("check", `--env applies to wrangler files; ${file} is a configuration document`);
      return { file, where: "the file", json: plain };
    }
  }
  return { file, ...varOf(doc, env, file, ext === ".toml") };
}

/** TOKENGATE_CONFIG of the top-level vars or of env NAME's, as JSON text. */
function varOf(doc, env, file, toml) {
  let vars;
  let where;
  if (env === undefined) {
    vars = doc.vars;
    where = toml ? "[vars]" : '"vars"';
  } else {
    const envs = doc.env !== null && typeof doc.env === "object" ? doc.env : {};
    if (!Object.hasOwn(envs, env)) {
      const names = Object.keys(envs);
      throw configError(
        `${file}: no environment ${JSON.stringify(env)}` +
          (names.length ? ` (it has ${names.map((n) => JSON.stringify(n)).join(", ")})` : " (it has none)"),
      );
    }
    vars = envs[env]?.vars;
    where = toml ? `[env.${env}.vars]` : `"env.${env}.vars"`;
  }
  const source = `${where} TOKENGATE_CONFIG`;
  const value = vars !== null && typeof vars === "object" ? vars.TOKENGATE_CONFIG : undefined;
  if (value === undefined || value === null) {
    const hint = env === undefined && doc.env && typeof doc.env === "object" && Object.keys(doc.env).length
      ? ` (environments do not inherit vars; give --env ${Object.keys(doc.env)[0]} for [env.${Object.keys(doc.env)[0]}.vars])`
      : "";
    throw configError(`${file}: the TOKENGATE_CONFIG var is not set in ${where}${hint}`);
  }
  if (typeof value === "string") return { where: source, json: value };
  if (typeof value === "object") return { where: source, json: JSON.stringify(value) };
  throw configError(`${file}: ${source} is neither a string nor an object`);
}
