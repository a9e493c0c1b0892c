// `tokengate keygen`: the edge's token-exchange signing keys (the Worker's
// TOKENGATE_SIGNING_KEYS secret), in exactly the format of `cargo run --example
// keygen` (examples/keygen.rs): {"keys":[private JWK, ...]} on one line, members in
// sorted order (serde_json's), each key {alg, crv, d, kid, kty, use, x[, y]} with a
// random 16-byte base64url kid.

import { generateKeyPairSync, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { EXIT, CliError, parseArgs, usage } from "./args.js";

export const HELP = `Usage: tokengate keygen [--alg ES256|EdDSA] [--rotate keys.json]

Generates the signing key of the edge authorizer's token exchange (the
TOKENGATE_SIGNING_KEYS secret), in the format of \`cargo run --example keygen\`:
{"keys": [private JWK, ...]} on one line. The first key signs; every key is published
in the Worker's /.well-known/jwks.json.

Options:
  --alg ES256|EdDSA    the algorithm of the new key (default ES256)
  --rotate FILE        rotate an existing key set: the new key first (it signs from
                       then on), then FILE's current (first) key, kept so that tokens
                       it signed still verify; FILE's older keys are dropped. The same
                       as \`cargo run --example keygen -- ALG FILE\`.
  -h, --help           this help

Store it:  tokengate keygen > keys.json
           npx wrangler secret put TOKENGATE_SIGNING_KEYS < keys.json

Exit status: 0 written, 2 the --rotate file is not a key set, 64 a usage error.`;

const SPEC = { options: { alg: { value: "ES256|EdDSA" }, rotate: { value: "FILE" } }, positionals: [] };

/** A JSON value with every object's members in sorted order (as serde_json writes them). */
export function sorted(value) {
  if (Array.isArray(value)) return value.map(sorted);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sorted(value[k])]));
  }
  return value;
}

/** A new private JWK as tokengate's SigningKey::private_jwk writes it. */
export function generateKey(alg) {
  const pair = alg === "ES256"
    ? generateKeyPairSync("ec", { namedCurve: "P-256" })
    : generateKeyPairSync("ed25519");
  const jwk = pair.privateKey.export({ format: "jwk" });
  const members = alg === "ES256" ? ["kty", "crv", "x", "y", "d"] : ["kty", "crv", "x", "d"];
  const key = Object.fromEntries(members.map((m) => [m, jwk[m]]));
  return sorted({ ...key, kid: randomBytes(16).toString("base64url"), alg, use: "sig" });
}

function previousKeys(file) {
  let text;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new CliError(EXIT.CONFIG, `${file} is not a key set (${e.code === "ENOENT" ? "no such file" : e.message})`);
  }
  let doc;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new CliError(EXIT.CONFIG, `${file} is not a key set (${e.message})`);
  }
  if (!Array.isArray(doc?.keys)) throw new CliError(EXIT.CONFIG, `${file} is not a key set (no "keys" array)`);
  return doc.keys;
}

export async function run(argv) {
  const args = parseArgs("keygen", argv, SPEC);
  if (args.help) return console.log(HELP), EXIT.OK;
  const alg = args.options.alg ?? "ES256";
  if (alg !== "ES256" && alg !== "EdDSA") {
    throw usage("keygen", `unsupported algorithm ${JSON.stringify(alg)} (use ES256 or EdDSA)`);
  }
  // Read the old set first: a bad file writes nothing.
  const old = args.options.rotate !== undefined ? previousKeys(args.options.rotate) : [];
  const keys = [generateKey(alg), ...old.slice(0, 1)];
  process.stdout.write(`${JSON.stringify(sorted({ keys }))}\n`);
  return EXIT.OK;
}
