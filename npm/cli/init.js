// `tokengate init`: a no-Rust Worker project around the package's prebuilt
// authorizer (`tokengate/authorizer`), from the template files shipped in the package
// (template/), with this package's version and the project's name filled in.

import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { EXIT, CliError, parseArgs, usage } from "./args.js";
import { colours, painter } from "./out.js";

export const HELP = `Usage: tokengate init [dir] [--name NAME]

Writes a Cloudflare Worker project that runs tokengate's prebuilt edge authorizer
(no Rust needed) into dir (default: the current directory; created if missing):

  package.json    tokengate and wrangler, scripts dev (wrangler dev) and deploy
  src/index.js    export { default, DpopReplay } from "tokengate/authorizer";
  wrangler.toml   KV for the key cache, and TOKENGATE_CONFIG: an example for an Auth0
                  issuer (/health public, machines may do everything, users need
                  update:builds for writes) forwarding to an origin
  .gitignore, README.md

It never overwrites: when any of these files exists, it writes nothing.

Options:
  --name NAME   the Worker's name (default: the directory's name)
  -h, --help    this help

Exit status: 0 written, 2 the files cannot be written, 64 a usage error (including a
file that already exists).`;

const SPEC = { options: { name: { value: "NAME" } }, positionals: ["dir"], optional: 1 };

/** Template file -> project file. */
const FILES = [
  ["package.json", "package.json"],
  ["src/index.js", "src/index.js"],
  ["wrangler.toml", "wrangler.toml"],
  ["gitignore", ".gitignore"],
  ["README.md", "README.md"],
];

/** A Worker name from a directory name: lowercase letters, digits and dashes. */
function workerName(dir) {
  const n = path.basename(path.resolve(dir)).toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^-+|-+$/g, "");
  return n.slice(0, 63) || "tokengate-edge";
}

export async function run(argv) {
  const args = parseArgs("init", argv, SPEC);
  if (args.help) return console.log(HELP), EXIT.OK;
  const dir = args.positionals[0] ?? ".";
  const name = args.options.name ?? workerName(dir);
  if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(name)) {
    throw usage("init", `--name ${JSON.stringify(name)}: a Worker name is lowercase letters, digits and dashes`);
  }
  if (existsSync(dir) && !statIsDir(dir)) throw usage("init", `${dir} exists and is not a directory`);
  const existing = FILES.map(([, to]) => path.join(dir, to)).filter((f) => existsSync(f));
  if (existing.length) {
    throw usage("init", `${existing.join(", ")} already exist${existing.length === 1 ? "s" : ""}: nothing written (init never overwrites)`);
  }
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
  const fill = (text) => text.replaceAll("__TOKENGATE_VERSION__", pkg.version).replaceAll("__NAME__", name);
  const files = FILES.map(([from, to]) => [path.join(dir, to), fill(readFileSync(new URL(`../template/${from}`, import.meta.url), "utf8"))]);
  try {
    for (const [to, text] of files) {
      mkdirSync(path.dirname(to), { recursive: true });
      writeFileSync(to, text, { flag: "wx" });
    }
  } catch (e) {
    throw new CliError(EXIT.CONFIG, `cannot write into ${dir}: ${e.message}`);
  }
  const paint = painter(colours());
  const cd = path.resolve(dir) === process.cwd() ? [] : [`cd ${dir}`];
  console.log(`${paint("green", "created")} ${name} in ${dir}: ${FILES.map(([, to]) => to).join(", ")}`);
  console.log("\nNext:");
  for (const c of [...cd, "npm install", "npx wrangler dev"]) console.log(`  ${c}`);
  console.log(`\nThen edit TOKENGATE_CONFIG in wrangler.toml (your issuer, audience, origin and routes),\ncheck it with \`npx tokengate check wrangler.toml\`, and see README.md for deploying.`);
  return EXIT.OK;
}

function statIsDir(p) {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}
