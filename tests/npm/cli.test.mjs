// The `tokengate` command line (npm/cli.js), run from the installed tarball as users
// run it: every subcommand on good and bad input, its exit codes (0 success, 1 a bad
// token, 2 a bad configuration, 64 a usage error), --json shapes, --help, unknown
// options and missing arguments (one line and a hint, never a stack), stdin `-`,
// keygen's format against the Rust side's (tests/vectors/cli-keygen, read by
// tests/cli_keygen.rs), check against the repository's wrangler.toml and the TOML
// parser's edge cases, and init's project (which check accepts).

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { createHash, createPrivateKey } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { AUDIENCE, ROOT, b64url, makeKey, machineClaims, userClaims, sign, jwksOf, startIssuer, now } from "./lib/harness.mjs";
import * as explain from "tokengate/explain";

const require = createRequire(import.meta.url);
const PKG_DIR = path.dirname(require.resolve("tokengate/package.json"));
const pkg = JSON.parse(readFileSync(path.join(PKG_DIR, "package.json"), "utf8"));
const CLI = path.join(PKG_DIR, "cli.js");
const BIN = path.join(path.dirname(PKG_DIR), ".bin", "tokengate");
const TARBALL = process.env.TOKENGATE_TARBALL ?? path.join(ROOT, "target/npm/tokengate.tgz");
const ISS = "https://tenant.example.com/";

const tmp = mkdtempSync(path.join(os.tmpdir(), "tokengate-cli-"));
process.on("exit", () => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const tmpDir = () => {
  const d = path.join(tmp, `d${n++}`);
  mkdirSync(d);
  return d;
};
const tmpFile = (name, text) => {
  const f = path.join(tmpDir(), name);
  writeFileSync(f, text);
  return f;
};

/** Runs the CLI (asynchronously: a test's own server must keep answering). */
function tg(args, { input, cwd, env = {}, bin = false } = {}) {
  return new Promise((resolve, reject) => {
    const [cmd, argv] = bin ? [BIN, args] : [process.execPath, [CLI, ...args]];
    const child = spawn(cmd, argv, { cwd, env: { ...process.env, NO_COLOR: "1", ...env } });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, out, err }));
    child.stdin.end(input ?? "");
  });
}

/** A usage or configuration error: short, no stack trace. */
function assertCleanError(r, code, pattern) {
  assert.equal(r.code, code, `exit ${r.code}: ${r.err}${r.out}`);
  assert.match(r.err, pattern);
  assert.doesNotMatch(r.err, /^\s+at /m, "no stack trace");
  assert.ok(r.err.trim().split("\n").length <= 3, r.err);
}

const jsonOf = (r) => JSON.parse(r.out);

// ---------------------------------------------------------------------------------
// The package: bin, executable, help.

test("the bin is installed, executable in the tarball, and runs", async () => {
  assert.deepEqual(pkg.bin, { tokengate: "./cli.js" });
  const listing = execFileSync("tar", ["-tvzf", TARBALL], { encoding: "utf8" });
  const line = listing.split("\n").find((l) => / package\/cli\.js$/.test(l));
  assert.ok(line, "cli.js is in the tarball");
  assert.match(line, /^-rwxr-xr-x/, line);
  assert.ok(statSync(CLI).mode & 0o111, "cli.js is executable once installed");
  assert.match(readFileSync(CLI, "utf8"), /^#!\/usr\/bin\/env node\n/);
  const r = await tg(["--version"], { bin: true });
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out.trim(), pkg.version);
});

test("top-level help, no command, unknown commands and options", async () => {
  const h = await tg(["--help"]);
  assert.equal(h.code, 0);
  for (const c of ["decode", "verify", "keygen", "check", "revoke", "init"]) assert.match(h.out, new RegExp(`^  ${c} `, "m"));
  assert.match(h.out, /64 a usage error/);
  assert.equal((await tg(["help", "decode"])).code, 0);
  const none = await tg([]);
  assert.equal(none.code, 64);
  assert.match(none.err, /Usage: tokengate <command>/);
  assertCleanError(await tg(["frob"]), 64, /^tokengate: unknown command "frob"\nRun "tokengate --help" for usage\.\n$/);
  assertCleanError(await tg(["--frob"]), 64, /unknown option --frob/);
});

for (const cmd of ["decode", "verify", "keygen", "check", "revoke", "init"]) {
  test(`${cmd}: --help, unknown options`, async () => {
    for (const flag of ["--help", "-h"]) {
      const r = await tg([cmd, flag]);
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, new RegExp(`^Usage: tokengate ${cmd}`));
      assert.match(r.out, /Exit status/);
    }
    assertCleanError(await tg([cmd, "--frob"]), 64,
      new RegExp(`^tokengate ${cmd}: unknown option --frob\\nRun "tokengate ${cmd} --help" for usage\\.\\n$`));
    assertCleanError(await tg([cmd, "--frob=1"]), 64, /unknown option --frob/);
  });
}

// ---------------------------------------------------------------------------------
// decode

test("decode: a machine token, as text and as JSON", async () => {
  const key = makeKey("ES256");
  const t = now();
  const token = sign(key, machineClaims(ISS, { iat: t - 60, exp: t + 240, scope: "read:builds update:builds" }));
  const r = await tg(["decode", token, "--now", String(t)]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /not verified/);
  assert.match(r.out, /kind\s+machine \(decided by gty\)/);
  assert.match(r.out, /client\s+ci-bot/);
  assert.match(r.out, /scopes\s+read:builds update:builds/);
  assert.match(r.out, new RegExp(`issuer\\s+${ISS}`));
  assert.match(r.out, new RegExp(`audience\\s+${AUDIENCE}`));
  assert.match(r.out, /expires in 4 min/);
  assert.match(r.out, /issued 60 s ago/);
  assert.match(r.out, /\[expiring\]/);
  assert.doesNotMatch(r.out, /\x1b\[/, "no colour off a TTY");

  const j = await tg(["decode", token, "--json", "--now", String(t)]);
  assert.equal(j.code, 0, j.err);
  const d = jsonOf(j);
  assert.deepEqual(Object.keys(d), ["ok", "verified", "form", "header", "claims", "hint", "hintError", "idToken", "binding", "times", "lints", "passed"]);
  assert.equal(d.form, "jws");
  assert.equal(d.idToken, null);
  assert.equal(d.binding, null);
  assert.doesNotMatch(r.out, /binding/);
  assert.equal(d.ok, true);
  assert.equal(d.verified, false);
  assert.equal(d.header.kid, key.kid);
  assert.equal(d.hint.kind, "machine");
  assert.equal(d.hint.decidedBy, "gty");
  assert.equal(d.hint.clientId, "ci-bot");
  assert.deepEqual(d.hint.scopes, ["read:builds", "update:builds"]);
  assert.equal(d.hintError, null);
  assert.deepEqual(Object.keys(d.times), ["now", "leeway", "iat", "nbf", "exp", "state", "sentence", "error"]);
  assert.deepEqual(d.times.exp, { value: t + 240, iso: new Date((t + 240) * 1000).toISOString().replace(".000Z", "Z"), relative: "in 4 min" });
  assert.equal(d.times.nbf, null);
  assert.equal(d.times.state, "expiring");
  assert.equal(d.times.leeway, 60);
  for (const l of d.lints) assert.deepEqual(Object.keys(l), ["id", "level", "title", "detail"]);
  assert.deepEqual(d.lints.map((l) => l.id), ["typ", "expiring"]);
  assert.ok(d.passed.some((p) => p.id === "alg"));
});

test("decode: an expired user token from stdin; lints of a bad token", async () => {
  const key = makeKey("RS256");
  const t = now();
  const token = sign(key, userClaims(ISS, { iat: t - 3 * 3600, exp: t - 2 * 3600 }));
  const r = await tg(["decode", "-"], { input: `Bearer ${token}\n` });
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /kind\s+user \(decided by default\)/);
  assert.match(r.out, /user\s+auth0\|user-1/);
  assert.match(r.out, /scopes\s+openid profile read:builds/);
  assert.match(r.out, /expired 2 h ago/);
  assert.match(r.out, /token_expired/);
  const d = jsonOf(await tg(["decode", "-", "--json"], { input: token }));
  assert.equal(d.times.state, "expired");
  assert.equal(d.times.error.code, "token_expired");
  assert.equal(d.times.exp.relative, "2 h ago");
  assert.ok(d.lints.some((l) => l.id === "expired" && l.level === "error"));

  // A shared secret, no exp, no aud, a foreign @clients subject, an ID token: the
  // page's lints.
  const bad = `${b64url({ alg: "HS256" })}.${b64url({ iss: ISS, sub: "x@clients", nonce: "n" })}.c2ln`;
  const b = jsonOf(await tg(["decode", bad, "--json"]));
  assert.deepEqual(b.lints.map((l) => l.id), ["alg-hs", "typ", "kid", "exp-missing", "aud-missing", "clients-not-own", "id-token"]);
  assert.deepEqual(b.lints.map((l) => l.level), ["warn", "info", "info", "error", "error", "warn", "warn"]);
  assert.equal(b.times.exp, null);
  assert.equal(b.times.state, "no-exp");
  // alg none is not even decoded (the package's decode refuses it).
  const none = await tg(["decode", `${b64url({ alg: "none" })}.${b64url({ sub: "x" })}.`]);
  assertCleanError(none, 1, /token_malformed: .*unsecured tokens are never accepted/);
});

test("decode: undecodable tokens exit 1 with the code; usage errors exit 64", async () => {
  const r = await tg(["decode", "not-a-token"]);
  assertCleanError(r, 1, /^tokengate decode: token_malformed: /);
  assert.equal(r.out, "");
  const j = await tg(["decode", "not-a-token", "--json"]);
  assert.equal(j.code, 1);
  const d = jsonOf(j);
  assert.equal(d.ok, false);
  assert.equal(d.error.code, "token_malformed");
  assert.equal(typeof d.error.message, "string");
  assertCleanError(await tg(["decode"]), 64, /missing argument <token>/);
  assertCleanError(await tg(["decode", "-"], { input: "  \n" }), 64, /stdin holds no token/);
  assertCleanError(await tg(["decode", "a", "b"]), 64, /unexpected argument "b"/);
  assertCleanError(await tg(["decode", "x", "--leeway"]), 64, /option --leeway needs a value/);
  assertCleanError(await tg(["decode", "x", "--leeway", "soon"]), 64, /--leeway must be a non-negative number/);
  assertCleanError(await tg(["decode", "x", "--json=1"]), 64, /--json takes no value/);
});

test("decode: tokens that are not signed JWTs are named (JWE, opaque, two parts, ID token)", async () => {
  const jwe = `${b64url({ alg: "RSA-OAEP", enc: "A256GCM", kid: "enc-1" })}.${"a".repeat(40)}.${"b".repeat(16)}.${"c".repeat(40)}.${"d".repeat(22)}`;
  const r = await tg(["decode", jwe]);
  assertCleanError(r, 1, /token_malformed: .*jwe/);
  const j = jsonOf(await tg(["decode", jwe, "--json"]));
  assert.equal(j.form, "jwe");
  assert.equal(j.jweHeader.enc, "A256GCM");
  assert.equal(j.jweHeader.kid, "enc-1");
  const opaque = jsonOf(await tg(["decode", "x3Uq9Jb7kR2mWc5YtE8nHs4aLp6vZd0F", "--json"]));
  assert.equal(opaque.form, "opaque");
  assert.match(opaque.error.message, /audience/);
  assert.doesNotMatch(opaque.error.message, /x3Uq9Jb7/, "the token is never echoed");
  // The CLI takes a pasted header value: the `Bearer ` prefix is dropped before decoding.
  const prefixed = jsonOf(await tg(["decode", `Bearer ${sign(makeKey("ES256"), machineClaims(ISS))}`, "--json"]));
  assert.equal(prefixed.ok, true);
  const twoParts = jsonOf(await tg(["decode", `${b64url({ alg: "RS256" })}.${b64url({ sub: "x" })}`, "--json"]));
  assert.equal(twoParts.form, "wrong_parts");
  // An ID token decodes (exit 0), with the core's signals and the id-token lint.
  const idt = `${b64url({ alg: "RS256", kid: "k" })}.${b64url({ iss: ISS, sub: "auth0|u", aud: "my-spa", azp: "my-spa", nonce: "n", exp: 4102444800 })}.c2ln`;
  const d = jsonOf(await tg(["decode", idt, "--json"]));
  assert.equal(d.ok, true);
  assert.equal(d.form, "jws");
  assert.ok(d.idToken.signals.includes("nonce"), JSON.stringify(d.idToken));
  assert.ok(d.lints.some((l) => l.id === "id-token"));
  const access = jsonOf(await tg(["decode", sign(makeKey("ES256"), machineClaims(ISS)), "--json"]));
  assert.equal(access.idToken, null);
  assert.ok(!access.lints.some((l) => l.id === "id-token"));
  const text = await tg(["decode", idt]);
  assert.equal(text.code, 0);
  assert.match(text.out, /Looks like an ID token \(.*nonce/);
});

// Sender binding (cnf): RFC 9449's example jkt, a certificate's SHA-256 thumbprint.
const JKT = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";
const X5T = createHash("sha256").update("a client certificate").digest("base64url");
const X5T_HEX = createHash("sha256").update("a client certificate").digest("hex");
const DPOP_NEEDS = `DPoP-bound: send it as "Authorization: DPoP <token>" with a DPoP proof header signed by the private key whose RFC 7638 SHA-256 thumbprint is ${JKT}; the proof's htm/htu must be the request's method and URL, ath the token's hash, and each proof is accepted once. A Bearer use of this token is refused.`;
const MTLS_NEEDS = `certificate-bound: the request must come over mutual TLS with the client certificate whose SHA-256 thumbprint (base64url) is ${X5T}; in hex: ${X5T_HEX}`;

test("explain.binding: DPoP, mTLS, both, unsupported and malformed cnf; the cnf lint", () => {
  assert.equal(explain.binding({}), null);
  assert.equal(explain.binding(null), null);
  assert.deepEqual(explain.binding({ cnf: { jkt: JKT } }), { kind: "dpop", jkt: JKT, needs: [DPOP_NEEDS], warnings: [] });
  assert.deepEqual(explain.binding({ cnf: { "x5t#S256": X5T } }),
    { kind: "mtls", x5tS256: X5T, x5tS256Hex: X5T_HEX, needs: [MTLS_NEEDS], warnings: [] });
  // Every byte value comes out as two lowercase hex digits.
  const bytes = Buffer.from([0, 1, 0x0f, 0x10, 0xab, 0xff, ...Array(26).fill(0x7e)]);
  assert.equal(explain.binding({ cnf: { "x5t#S256": bytes.toString("base64url") } }).x5tS256Hex, bytes.toString("hex"));
  const both = explain.binding({ cnf: { jkt: JKT, "x5t#S256": X5T } });
  assert.equal(both.kind, "dpop+mtls");
  assert.deepEqual(both.needs, [DPOP_NEEDS, MTLS_NEEDS]);
  assert.equal(both.warnings.length, 1);
  assert.match(both.warnings[0], /both a DPoP proof and the mutual-TLS client certificate/);
  // RFC 7800's other forms, alone or beside a thumbprint: refused by tokengate.
  for (const cnf of [{ jwk: { kty: "EC", crv: "P-256", x: "x", y: "y" } }, { jku: "https://k.example.com/j", kid: "k1" }, { kid: "k1" }, { jkt: JKT, kid: "k1" }, { osc: {} }]) {
    const b = explain.binding({ cnf });
    assert.equal(b.kind, "unsupported", JSON.stringify(cnf));
    assert.deepEqual(b.needs, []);
    assert.equal(b.warnings.length, 1);
    assert.match(b.warnings[0], /does not accept: it checks only DPoP \(cnf\.jkt\) and mutual-TLS \(cnf\["x5t#S256"\]\)/);
    assert.match(b.warnings[0], /binding_unsupported/);
  }
  assert.match(explain.binding({ cnf: { jwk: {} } }).warnings[0], /^cnf\.jwk \(RFC 7800 proof of possession\)/);
  assert.equal(explain.binding({ cnf: { jkt: JKT, kid: "k1" } }).jkt, JKT);
  // Malformed: not an object, empty, thumbprints that are not 43 characters of strict base64url.
  const malformed = {
    '"x"': ["x", /cnf is a string, not a JSON object/],
    null: [null, /cnf is null/],
    array: [[JKT], /cnf is an array/],
    empty: [{}, /cnf is an empty object/],
    "jkt number": [{ jkt: 5 }, /cnf\.jkt is not a 43-character base64url SHA-256 thumbprint \(it is a number, not a string\)/],
    "jkt short": [{ jkt: JKT.slice(1) }, /it is 42 characters long/],
    "jkt padded": [{ jkt: `${JKT.slice(1)}=` }, /"=", which is not a base64url character/],
    "jkt base64": [{ jkt: `+${JKT.slice(1)}` }, /"\+", which is not a base64url character/],
    "jkt trailing bits": [{ jkt: `${JKT.slice(0, 42)}J` }, /not canonical base64url/],
    "x5t hex": [{ "x5t#S256": X5T_HEX }, /cnf\["x5t#S256"\] is not .* \(it is 64 characters long\)/],
    "x5t bad, jkt good": [{ jkt: JKT, "x5t#S256": "" }, /cnf\["x5t#S256"\] is not/],
  };
  for (const [name, [cnf, pattern]] of Object.entries(malformed)) {
    const b = explain.binding({ cnf });
    assert.equal(b.kind, "malformed", name);
    assert.deepEqual(b.needs, [], name);
    assert.match(b.warnings.join(" "), pattern, name);
  }
  // The lint: a passed check for one binding, a warning for the rest, nothing without cnf.
  const cnfLint = (cnf) => {
    const { findings, passed } = explain.lint(null, { alg: "ES256" }, { cnf });
    return { finding: findings.find((f) => f.id === "cnf"), passed: passed.find((p) => p.id === "cnf") };
  };
  assert.deepEqual(cnfLint(undefined), { finding: undefined, passed: undefined });
  assert.match(cnfLint({ jkt: JKT }).passed.title, /DPoP key \(RFC 9449\)/);
  assert.match(cnfLint({ "x5t#S256": X5T }).passed.title, /client certificate \(RFC 8705\)/);
  for (const [cnf, title] of [[{ jkt: JKT, "x5t#S256": X5T }, /both a DPoP key and a client certificate/], [{ kid: "k" }, /does not accept/], [{ jkt: 1 }, /malformed/]]) {
    const { finding, passed } = cnfLint(cnf);
    assert.equal(passed, undefined);
    assert.equal(finding.level, "warn");
    assert.match(finding.title, title);
    assert.deepEqual(finding.detail, explain.binding({ cnf }).warnings.join(" "));
  }
});

test("decode: a DPoP-bound and a certificate-bound token show their binding and what a request needs", async () => {
  const t = now();
  const token = (cnf) => `${b64url({ alg: "ES256", typ: "at+jwt", kid: "k" })}.${b64url(machineClaims(ISS, { iat: t - 60, exp: t + 600, cnf }))}.c2ln`;
  const dpop = token({ jkt: JKT });
  const r = await tg(["decode", dpop, "--now", String(t)]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^binding \(cnf: sender-constrained\)$/m);
  assert.match(r.out, /^  kind\s+DPoP \(RFC 9449\)$/m);
  assert.match(r.out, new RegExp(`^  jkt\\s+${JKT}$`, "m"));
  assert.ok(r.out.includes(`needs  ${DPOP_NEEDS}`), r.out);
  assert.doesNotMatch(r.out, /x5t#S256|\[cnf\]/);
  const d = jsonOf(await tg(["decode", dpop, "--json", "--now", String(t)]));
  assert.deepEqual(d.binding, { kind: "dpop", jkt: JKT, needs: [DPOP_NEEDS], warnings: [] });
  assert.ok(d.passed.some((p) => p.id === "cnf"));
  assert.ok(!d.lints.some((l) => l.id === "cnf"));

  const mtls = token({ "x5t#S256": X5T });
  const m = await tg(["decode", mtls, "--now", String(t)]);
  assert.equal(m.code, 0, m.err);
  assert.match(m.out, /^  kind\s+mutual-TLS client certificate \(RFC 8705\)$/m);
  assert.match(m.out, new RegExp(`^  x5t#S256\\s+${X5T}$`, "m"));
  assert.match(m.out, new RegExp(`^  hex\\s+${X5T_HEX}$`, "m"));
  assert.ok(m.out.includes(MTLS_NEEDS), m.out);
  const mj = jsonOf(await tg(["decode", mtls, "--json", "--now", String(t)]));
  assert.deepEqual(mj.binding, { kind: "mtls", x5tS256: X5T, x5tS256Hex: X5T_HEX, needs: [MTLS_NEEDS], warnings: [] });

  // A cnf tokengate cannot check: a warning in the binding and a cnf lint.
  const jwk = token({ jwk: { kty: "EC", crv: "P-256", x: "x", y: "y" } });
  const w = await tg(["decode", jwk, "--now", String(t)]);
  assert.equal(w.code, 0, w.err);
  assert.match(w.out, /^  kind\s+a form tokengate does not accept$/m);
  assert.match(w.out, /^  warn\s+cnf\.jwk \(RFC 7800 proof of possession\)/m);
  assert.match(w.out, /cnf binds the token in a form tokengate does not accept \[cnf\]/);
  assert.doesNotMatch(w.out, /needs/);
  const wj = jsonOf(await tg(["decode", jwk, "--json"]));
  assert.equal(wj.binding.kind, "unsupported");
  assert.deepEqual(wj.lints.filter((l) => l.id === "cnf").map((l) => l.level), ["warn"]);
});

test("decode: colour on a TTY only, and never with NO_COLOR (the painter)", async () => {
  const out = await import(pathToFileURL(path.join(PKG_DIR, "cli/out.js")).href);
  const saved = process.env.NO_COLOR;
  try {
    delete process.env.NO_COLOR;
    assert.equal(out.colours({ isTTY: true }), true);
    assert.equal(out.colours({ isTTY: false }), false);
    process.env.NO_COLOR = "1";
    assert.equal(out.colours({ isTTY: true }), false);
  } finally {
    if (saved === undefined) delete process.env.NO_COLOR;
    else process.env.NO_COLOR = saved;
  }
  assert.equal(out.painter(true)("red", "x"), "\x1b[31mx\x1b[0m");
  assert.equal(out.painter(false)("red", "x"), "x");
});

// ---------------------------------------------------------------------------------
// verify

test("verify: --jwks FILE, good, bad signature, expired, scopes", async () => {
  const key = makeKey("ES256");
  const jwks = tmpFile("jwks.json", JSON.stringify(jwksOf([key])));
  const base = ["--issuer", ISS, "--audience", AUDIENCE, "--jwks", jwks];
  const token = sign(key, machineClaims(ISS));
  const ok = await tg(["verify", token, ...base]);
  assert.equal(ok.code, 0, ok.err);
  assert.match(ok.out, /^valid: a machine token \(decided by gty\)/);
  assert.match(ok.out, /client\s+ci-bot/);
  assert.match(ok.out, /expires\s+\S+Z \(in (59|60) min\)/);

  const j = await tg(["verify", "-", ...base, "--json"], { input: token });
  assert.equal(j.code, 0, j.err);
  const v = jsonOf(j);
  assert.deepEqual(Object.keys(v), ["ok", "principal", "claims", "header"]);
  assert.equal(v.principal.kind, "machine");
  assert.equal(v.principal.clientId, "ci-bot");

  // The same kid, another key: the signature does not verify.
  const forger = makeKey("ES256", key.kid);
  const forged = await tg(["verify", sign(forger, machineClaims(ISS)), ...base]);
  assertCleanError(forged, 1, /^tokengate verify: signature_invalid: /);
  const fj = await tg(["verify", sign(forger, machineClaims(ISS)), ...base, "--json"]);
  assert.equal(fj.code, 1);
  assert.equal(jsonOf(fj).ok, false);
  assert.equal(jsonOf(fj).error.code, "signature_invalid");
  assert.equal(jsonOf(fj).error.status, 401);

  const t = now();
  const expired = sign(key, machineClaims(ISS, { iat: t - 7200, exp: t - 3600 }));
  assertCleanError(await tg(["verify", expired, ...base]), 1, /token_expired/);
  assertCleanError(await tg(["verify", token, "--issuer", "https://other.example/", "--audience", AUDIENCE, "--jwks", jwks]), 1, /issuer_mismatch/);

  // --require-scope through authorize(): a user without update:builds is refused.
  const user = sign(key, userClaims(ISS));
  const denied = await tg(["verify", user, ...base, "--require-scope", "read:builds", "--require-scope", "update:builds"]);
  assertCleanError(denied, 1, /insufficient_scope/);
  const granted = await tg(["verify", user, ...base, "--require-scope", "read:builds"]);
  assert.equal(granted.code, 0, granted.err);
  assert.match(granted.out, /required\s+read:builds: granted/);
});

test("verify: keys from a --jwks-uri and by discovery (a local issuer)", async () => {
  const key = makeKey("RS256");
  const idp = await startIssuer({ keys: [key] });
  try {
    const token = sign(key, userClaims(idp.issuer));
    const a = await tg(["verify", token, "--issuer", idp.issuer, "--audience", AUDIENCE, "--jwks-uri", idp.jwksUri]);
    assert.equal(a.code, 0, a.err);
    const b = await tg(["verify", token, "--issuer", idp.issuer, "--audience", AUDIENCE, "--json"]);
    assert.equal(b.code, 0, b.err);
    assert.equal(jsonOf(b).principal.kind, "user");
    assert.ok(idp.count("/.well-known/openid-configuration") >= 1);
  } finally {
    await idp.close();
  }
});

test("verify: configuration errors exit 2, usage errors 64", async () => {
  const key = makeKey("ES256");
  const token = sign(key, machineClaims(ISS));
  assertCleanError(await tg(["verify", token, "--audience", AUDIENCE]), 64, /missing option --issuer/);
  assertCleanError(await tg(["verify", token, "--issuer", ISS]), 64, /missing option --audience/);
  assertCleanError(await tg(["verify", "--issuer", ISS, "--audience", AUDIENCE]), 64, /missing argument <token>/);
  assertCleanError(await tg(["verify", token, "--issuer", ISS, "--audience", AUDIENCE, "--jwks", "a", "--jwks-uri", "https://k/"]), 64, /not both/);
  assertCleanError(await tg(["verify", token, "--issuer", ISS, "--audience", AUDIENCE, "--jwks", path.join(tmp, "missing.json")]), 2, /cannot read the JWKS file .*no such file/);
  assertCleanError(await tg(["verify", token, "--issuer", ISS, "--audience", AUDIENCE, "--jwks", tmpFile("j.json", "{")]), 2, /is not JSON/);
  assertCleanError(await tg(["verify", token, "--issuer", ISS, "--audience", AUDIENCE, "--jwks", tmpFile("j.json", '{"keys": 7}')]), 2, /invalid option "jwks"/);
  assertCleanError(await tg(["verify", token, "--issuer", ISS, "--audience", AUDIENCE, "--jwks-uri", "http://keys.example.com/jwks"]), 2, /invalid option "jwksUri": must be https/);
});

// ---------------------------------------------------------------------------------
// keygen

const FIXTURE = JSON.parse(readFileSync(path.join(ROOT, "tests/vectors/cli-keygen/rotated.json"), "utf8"));
/** The member names (in order) and value lengths of a key. */
const shape = (k) => Object.fromEntries(Object.entries(k).map(([m, v]) => [m, m === "alg" || m === "crv" || m === "kty" || m === "use" ? v : v.length]));

test("keygen: the format of cargo run --example keygen (the fixture the Rust side reads)", async () => {
  const es = await tg(["keygen"]);
  assert.equal(es.code, 0, es.err);
  assert.match(es.out, /^\{"keys":\[\{"alg":"ES256","crv":"P-256","d":"[\w-]{43}","kid":"[\w-]{22}","kty":"EC","use":"sig","x":"[\w-]{43}","y":"[\w-]{43}"\}\]\}\n$/);
  const ed = await tg(["keygen", "--alg", "EdDSA"]);
  assert.equal(ed.code, 0, ed.err);
  const [edKey] = jsonOf(ed).keys;
  const [esKey] = jsonOf(es).keys;
  // tests/cli_keygen.rs reads the fixture with SigningKey::from_private_jwk: the CLI
  // still writes keys of its shape.
  assert.deepEqual(shape(edKey), shape(FIXTURE.keys[0]));
  assert.deepEqual(shape(esKey), shape(FIXTURE.keys[1]));
  assert.deepEqual(Object.keys(edKey), Object.keys(FIXTURE.keys[0]));
  assert.deepEqual(Object.keys(esKey), Object.keys(FIXTURE.keys[1]));
  assert.notEqual(esKey.kid, jsonOf(await tg(["keygen"])).keys[0].kid);
});

test("keygen: a made key signs tokens the package verifies", async () => {
  for (const alg of ["ES256", "EdDSA"]) {
    const [jwk] = jsonOf(await tg(["keygen", "--alg", alg])).keys;
    const privateKey = createPrivateKey({ key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y, d: jwk.d }, format: "jwk" });
    const { d, ...pub } = jwk;
    void d;
    const token = sign({ alg, kid: jwk.kid, privateKey }, machineClaims(ISS));
    const jwks = tmpFile("pub.json", JSON.stringify({ keys: [pub] }));
    const r = await tg(["verify", token, "--issuer", ISS, "--audience", AUDIENCE, "--jwks", jwks]);
    assert.equal(r.code, 0, `${alg}: ${r.err}`);
  }
});

test("keygen --rotate: the new key first, the old current key kept, older ones dropped", async () => {
  const first = tmpFile("keys.json", (await tg(["keygen"])).out);
  const r1 = await tg(["keygen", "--alg", "EdDSA", "--rotate", first]);
  assert.equal(r1.code, 0, r1.err);
  const set1 = jsonOf(r1);
  const old = JSON.parse(readFileSync(first, "utf8")).keys[0];
  assert.equal(set1.keys.length, 2);
  assert.equal(set1.keys[0].alg, "EdDSA");
  assert.deepEqual(set1.keys[1], old);
  const second = tmpFile("keys.json", r1.out);
  const set2 = jsonOf(await tg(["keygen", "--rotate", second]));
  assert.equal(set2.keys.length, 2);
  assert.deepEqual(set2.keys[1], set1.keys[0]);
  assert.ok(!set2.keys.some((k) => k.kid === old.kid), "the oldest key is dropped");
  // Members of a kept key come out sorted, as serde_json writes them.
  const unsorted = tmpFile("k.json", JSON.stringify({ keys: [{ use: "sig", kid: "k", alg: "ES256" }] }));
  assert.deepEqual(Object.keys(jsonOf(await tg(["keygen", "--rotate", unsorted])).keys[1]), ["alg", "kid", "use"]);

  assertCleanError(await tg(["keygen", "--rotate", path.join(tmp, "none.json")]), 2, /none\.json is not a key set \(no such file\)/);
  assertCleanError(await tg(["keygen", "--rotate", tmpFile("k.json", "[1]")]), 2, /is not a key set \(no "keys" array\)/);
  assertCleanError(await tg(["keygen", "--rotate", tmpFile("k.json", "{")]), 2, /is not a key set/);
  assertCleanError(await tg(["keygen", "--rotate"]), 64, /option --rotate needs a value/);
  assertCleanError(await tg(["keygen", "--alg", "RS256"]), 64, /unsupported algorithm "RS256" \(use ES256 or EdDSA\)/);
  assertCleanError(await tg(["keygen", "extra"]), 64, /unexpected argument "extra"/);
});

// ---------------------------------------------------------------------------------
// check

const GOOD = { issuers: [{ issuer: ISS, audiences: [AUDIENCE] }], routes: [{ path: "/health", public: true }] };

test("check: the repository's wrangler.toml (the demo env's multi-line config)", async () => {
  const file = path.join(ROOT, "wrangler.toml");
  const r = await tg(["check", file, "--env", "demo"]);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out.trim().split("\n").length, 1, r.out);
  assert.match(r.out, /^ok: .*wrangler\.toml \[env\.demo\.vars\] TOKENGATE_CONFIG: 2 issuers \(https:\/\/demo\.tokengate\.invalid\/, http:\/\/127\.0\.0\.1:8787\/\), 7 routes, token exchange as http:\/\/127\.0\.0\.1:8787\/ \(signing keys assumed\)\n$/);
  const j = jsonOf(await tg(["check", file, "--env", "demo", "--json"]));
  assert.deepEqual(j, {
    ok: true,
    file,
    where: "[env.demo.vars] TOKENGATE_CONFIG",
    summary: {
      issuers: ["https://demo.tokengate.invalid/", "http://127.0.0.1:8787/"],
      routes: 7,
      origin: null,
      exchangeIssuer: "http://127.0.0.1:8787/",
      secrets: [],
    },
  });
  // The top level holds the placeholder "{}".
  const top = await tg(["check", file]);
  assertCleanError(top, 2, /\[vars\] TOKENGATE_CONFIG: invalid configuration: missing field `issuers`/);
  const env = await tg(["check", file, "--env", "prod"]);
  assertCleanError(env, 2, /no environment "prod" \(it has "demo"\)/);
  // A directory: its wrangler file.
  assert.equal((await tg(["check", ROOT, "--env", "demo"])).code, 0);
});

test("check: errors name the field, exit 2; JSON shape", async () => {
  const bad = { issuers: [{ issuer: ISS, audiences: [AUDIENCE], jwks_uri: "http://keys.example.com/jwks" }] };
  const file = tmpFile("wrangler.toml", `name = "x"\n[vars]\nTOKENGATE_CONFIG = '${JSON.stringify(bad)}'\n`);
  const r = await tg(["check", file]);
  assertCleanError(r, 2, /\[vars\] TOKENGATE_CONFIG: invalid configuration: issuers\[0\]\.jwks_uri: must be https/);
  assert.match(r.err, /^  field: issuers\[0\]\.jwks_uri$/m);
  const j = await tg(["check", file, "--json"]);
  assert.equal(j.code, 2);
  const d = jsonOf(j);
  assert.deepEqual(Object.keys(d), ["ok", "file", "where", "error"]);
  assert.equal(d.ok, false);
  assert.deepEqual(Object.keys(d.error), ["code", "message", "field"]);
  assert.equal(d.error.code, "config_invalid");
  assert.equal(d.error.field, "issuers[0].jwks_uri");

  // The Worker's own sections: edge and origin.
  const edge = tmpFile("config.json", JSON.stringify({ ...GOOD, edge: { log: "loud" } }));
  const e = await tg(["check", edge, "--json"]);
  assert.equal(e.code, 2);
  assert.equal(jsonOf(e).error.field, "edge.log");
  const origin = tmpFile("config.json", JSON.stringify({ ...GOOD, origin: "ftp://o" }));
  assert.match((await tg(["check", origin])).err, /field: origin/);
  // An exchange whose own issuer is not trusted.
  const ex = tmpFile("config.json", JSON.stringify({ ...GOOD, exchange: {
    issuer: "https://edge.example.com/",
    actors: [{ client_id: "svc", audiences: [AUDIENCE] }],
    audiences: [{ audience: AUDIENCE, scopes: ["read"], max_lifetime: 3600 }],
  } }));
  assert.equal(jsonOf(await tg(["check", ex, "--json"])).error.field, "exchange.issuer");
  // Not JSON: no field.
  const notJson = tmpFile("wrangler.toml", `[vars]\nTOKENGATE_CONFIG = "{ nope"\n`);
  const nj = await tg(["check", notJson, "--json"]);
  assert.equal(nj.code, 2);
  assert.equal(jsonOf(nj).error.field, null);
});

test("check: wrangler.jsonc, wrangler.json with a table var, a plain config.json", async () => {
  const jsonc = tmpFile("wrangler.jsonc", `// the Worker
{
  "name": "x", /* inline */ "main": "src/index.js",
  "vars": {
    "TOKENGATE_CONFIG": ${JSON.stringify(JSON.stringify(GOOD))}, // a string var
  },
  "env": { "staging": { "vars": { "TOKENGATE_CONFIG": ${JSON.stringify({ ...GOOD, origin: "https://o.example" })}, }, }, },
}
`);
  const a = await tg(["check", jsonc]);
  assert.equal(a.code, 0, a.err);
  assert.match(a.out, /"vars" TOKENGATE_CONFIG: 1 issuer \(https:\/\/tenant\.example\.com\/\), 1 route\n$/);
  const b = await tg(["check", jsonc, "--env", "staging"]);
  assert.equal(b.code, 0, b.err);
  assert.match(b.out, /1 route, origin https:\/\/o\.example/);
  const plain = tmpFile("config.json", JSON.stringify(GOOD, null, 2));
  const c = await tg(["check", plain, "--json"]);
  assert.equal(c.code, 0, c.err);
  assert.equal(jsonOf(c).where, "the file");
  assertCleanError(await tg(["check", plain, "--env", "x"]), 64, /--env applies to wrangler files/);
  const broken = tmpFile("wrangler.json", '{"name": "x",\n "vars": {');
  assertCleanError(await tg(["check", broken]), 2, /not valid JSON/);
  const secret = tmpFile("config.json", JSON.stringify({ issuers: [{ issuer: ISS, audiences: ["a"], shared_secret: "HS_KEY" }] }));
  assert.match((await tg(["check", secret])).out, /secrets not checked: HS_KEY/);
});

test("check: unreadable and missing files", async () => {
  assertCleanError(await tg(["check"]), 64, /missing argument <file>/);
  assertCleanError(await tg(["check", path.join(tmp, "nope.toml")]), 2, /cannot read .*nope\.toml: no such file or directory/);
  assertCleanError(await tg(["check", tmpDir()]), 2, /no wrangler\.json, wrangler\.jsonc, wrangler\.toml in this directory/);
  assertCleanError(await tg(["check", tmpFile("wrangler.toml", 'name = "x"\n')]), 2, /the TOKENGATE_CONFIG var is not set in \[vars\]/);
  assertCleanError(await tg(["check", tmpFile("wrangler.toml", "[vars]\nTOKENGATE_CONFIG = 7\n")]), 2, /neither a string nor an object/);
  const syntax = await tg(["check", tmpFile("wrangler.toml", 'name = "x"\n[vars\n')]);
  assertCleanError(syntax, 2, /not valid TOML: line 2, column 6: expected \] to close the table header/);
});

test("check: TOML as wrangler files write it", async () => {
  const cfg = JSON.stringify(GOOD);
  const cases = {
    // A basic string with escapes.
    basic: `[vars]\nTOKENGATE_CONFIG = ${JSON.stringify(cfg)}\n`,
    // A multi-line basic string with a line-ending backslash.
    multilineBasic: `[vars]\nTOKENGATE_CONFIG = """\n{"issuers": [{"issuer": "${ISS}", \\\n    "audiences": ["${AUDIENCE}"]}],\n "routes": [{"path": "/health", "public": true}]}"""\n`,
    // A table var written as TOML (inline tables, arrays over lines, comments).
    table: `name = "x" # the name
[[kv_namespaces]]
binding = "JWKS_CACHE"
id = "0"

[vars.TOKENGATE_CONFIG]
issuers = [
  { issuer = "${ISS}", audiences = ["${AUDIENCE}"] }, # trailing comma
]
routes = [{ path = "/health", public = true }]
`,
    // Dotted keys, a quoted env name, a literal string.
    dotted: `[env."my-env"]\nname = 'x'\n[env."my-env".vars]\nTOKENGATE_CONFIG = '${cfg}'\nOTHER.deep = 1\n`,
  };
  for (const [name, text] of Object.entries(cases)) {
    const file = tmpFile("wrangler.toml", text);
    const args = name === "dotted" ? ["check", file, "--env", "my-env", "--json"] : ["check", file, "--json"];
    const r = await tg(args);
    assert.equal(r.code, 0, `${name}: ${r.err}`);
    assert.deepEqual(jsonOf(r).summary.issuers, [ISS], name);
    assert.equal(jsonOf(r).summary.routes, 1, name);
  }
});

test("the TOML parser: values and errors", async () => {
  const { parseToml } = await import(pathToFileURL(path.join(PKG_DIR, "cli/toml.js")).href);
  const doc = parseToml(`# comment
title = "a\\tb \\u00e9 \\"q\\""
lit = 'C:\\path'
ml = """
one
two\\
   three"""
mll = '''
raw \\n ''' 
quotes = """a""b"""""
ints = [1_000, 0x1F, 0o7, 0b101, -3, +4]
floats = [1.5, -2e3, inf, -inf]
bools = [true, false]
date = 1979-05-27T07:32:00Z
spaced = 1979-05-27 07:32:00
day = 1979-05-27
nested = [[1, 2], ["a"]]
inline = { a = 1, b.c = "d" }
"quoted key" = 1
a.b.c = 2
[t1.t2]
x = 1
[[arr]]
n = 1
[[arr]]
n = 2
[arr.sub]
k = "v"
[t1]
y = 2
`);
  assert.equal(doc.title, 'a\tb é "q"');
  assert.equal(doc.lit, "C:\\path");
  assert.equal(doc.ml, "one\ntwothree");
  assert.equal(doc.mll, "raw \\n ");
  assert.equal(doc.quotes, 'a""b""');
  assert.deepEqual(doc.ints, [1000, 31, 7, 5, -3, 4]);
  assert.deepEqual(doc.floats, [1.5, -2000, Infinity, -Infinity]);
  assert.deepEqual(doc.bools, [true, false]);
  assert.equal(doc.date, "1979-05-27T07:32:00Z");
  assert.equal(doc.spaced, "1979-05-27 07:32:00");
  assert.equal(doc.day, "1979-05-27");
  assert.deepEqual(doc.nested, [[1, 2], ["a"]]);
  assert.deepEqual(doc.inline, { a: 1, b: { c: "d" } });
  assert.equal(doc["quoted key"], 1);
  assert.deepEqual(doc.a, { b: { c: 2 } });
  assert.deepEqual(doc.t1, { t2: { x: 1 }, y: 2 });
  assert.deepEqual(doc.arr, [{ n: 1 }, { n: 2, sub: { k: "v" } }]);
  assert.deepEqual(parseToml("a = 1\r\nb = 'x'\r\n"), { a: 1, b: "x" });

  const errors = {
    "a = 1\na = 2": /line 2.*duplicate key a/,
    "[t]\n[t]": /line 2.*table \[t\] is defined twice/,
    "a = 1\n[a]": /\[a\]: a is already defined as a value/,
    "a = [1]\n[[a]]": /not an array of tables/,
    'a = "x': /unterminated string/,
    'a = """x': /unterminated """ string/,
    "a = '''x": /unterminated ''' string/,
    "a = 'x\ny'": /unterminated literal string/,
    "a = [1, 2": /unterminated array/,
    "a = {x = 1": /unterminated inline table/,
    "a = bare": /invalid value "bare" \(strings need quotes\)/,
    "a = 1 b": /unexpected "b" after the value/,
    "a =": /a value is missing/,
    'a = "\\q"': /invalid escape \\q/,
    'a = "\\u12"': /needs 4 hex digits/,
    "a.b = 1\na.b.c = 2": /already defined as a value/,
    // Keys that would write through a table's prototype, in every key position.
    "[__proto__.vars]\nTOKENGATE_CONFIG = '{}'": /the key __proto__ is not accepted/,
    "__proto__.polluted = 1": /the key __proto__ is not accepted/,
    'x = { "__proto__" = { polluted = 1 } }': /the key __proto__ is not accepted/,
  };
  for (const [text, pattern] of Object.entries(errors)) {
    assert.throws(() => parseToml(text), pattern, JSON.stringify(text));
  }
  assert.equal({}.polluted, undefined, "Object.prototype is untouched");
});

// ---------------------------------------------------------------------------------
// init

const PROJECT_FILES = [".gitignore", "README.md", "package.json", "src", "wrangler.toml"];

test("init: a project into an empty directory, which check accepts", async () => {
  const dir = path.join(tmpDir(), "my-edge");
  const r = await tg(["init", dir]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /npm install\n {2}npx wrangler dev/);
  assert.match(r.out, /cd .*my-edge/);
  assert.deepEqual(readdirSync(dir).sort(), PROJECT_FILES);
  const p = JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8"));
  assert.equal(p.name, "my-edge");
  assert.equal(p.private, true);
  assert.equal(p.type, "module");
  assert.deepEqual(p.scripts, { dev: "wrangler dev", deploy: "wrangler deploy" });
  assert.deepEqual(p.dependencies, { tokengate: `^${pkg.version}` });
  // The wrangler the repository pins is in the range.
  const wranglerVersion = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")).devDependencies.wrangler;
  assert.equal(p.devDependencies.wrangler, `^${wranglerVersion}`, "the range starts at the wrangler this repository tests");
  assert.match(readFileSync(path.join(dir, "src/index.js"), "utf8"), /^export \{ default, DpopReplay \} from "tokengate\/authorizer";$/m);
  assert.deepEqual(readFileSync(path.join(dir, ".gitignore"), "utf8").split("\n").filter(Boolean), ["node_modules/", ".wrangler/", ".dev.vars"]);
  const readme = readFileSync(path.join(dir, "README.md"), "utf8");
  assert.match(readme, /npm install\nnpx wrangler dev/);
  assert.match(readme, /wrangler deploy/);
  const toml = readFileSync(path.join(dir, "wrangler.toml"), "utf8");
  assert.match(toml, /^name = "my-edge"$/m);
  assert.match(toml, /^main = "src\/index\.js"$/m);
  assert.match(toml, /^compatibility_date = "2026-10-20"$/m);
  assert.match(toml, /npx wrangler kv namespace create JWKS_CACHE/);
  assert.match(toml, /^# binding = "CLIENTS"$/m);
  // The DPoP replay store: the class src/index.js re-exports, bound and migrated.
  assert.match(toml, /^\[\[durable_objects\.bindings\]\]\nname = "DPOP_REPLAY"\nclass_name = "DpopReplay"$/m);
  assert.match(toml, /^new_sqlite_classes = \["DpopReplay"\]$/m);
  assert.match(toml, /^TOKENGATE_CONFIG = '''$/m);
  for (const f of [".gitignore", "README.md", "package.json", "src/index.js", "wrangler.toml"]) {
    assert.doesNotMatch(readFileSync(path.join(dir, f), "utf8"), /__[A-Z_]+__/, f);
  }

  const c = await tg(["check", path.join(dir, "wrangler.toml"), "--json"]);
  assert.equal(c.code, 0, c.err);
  assert.deepEqual(jsonOf(c).summary, {
    issuers: ["https://YOUR_TENANT.us.auth0.com/"],
    routes: 2,
    origin: "https://origin.example.com",
    exchangeIssuer: null,
    secrets: [],
  });
  // The example's policy: /health public, machines everything, users need update:builds to write.
  const { parseToml } = await import(pathToFileURL(path.join(PKG_DIR, "cli/toml.js")).href);
  const cfg = JSON.parse(parseToml(toml).vars.TOKENGATE_CONFIG);
  assert.deepEqual(cfg.routes[0], { path: "/health", public: true });
  assert.deepEqual(cfg.routes[1].require, { scopes_all: ["update:builds"], machines_bypass_scopes: true });
});

test("init: the current directory by default, and --name", async () => {
  const dir = tmpDir();
  const r = await tg(["init", "--name", "edge-1"], { cwd: dir });
  assert.equal(r.code, 0, r.err);
  assert.doesNotMatch(r.out, /\bcd /);
  assert.deepEqual(readdirSync(dir).sort(), PROJECT_FILES);
  assert.equal(JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")).name, "edge-1");
  assertCleanError(await tg(["init", tmpDir(), "--name", "Bad Name"]), 64, /a Worker name is lowercase/);
});

test("init: refuses to overwrite, and then writes nothing", async () => {
  const dir = tmpDir();
  writeFileSync(path.join(dir, "wrangler.toml"), "mine\n");
  const r = await tg(["init", dir]);
  assertCleanError(r, 64, /wrangler\.toml already exists: nothing written/);
  assert.deepEqual(readdirSync(dir), ["wrangler.toml"]);
  assert.equal(readFileSync(path.join(dir, "wrangler.toml"), "utf8"), "mine\n");

  const full = tmpDir();
  assert.equal((await tg(["init", full])).code, 0);
  const before = readFileSync(path.join(full, "package.json"), "utf8");
  const again = await tg(["init", full]);
  assertCleanError(again, 64, /package\.json, .*src\/index\.js, .*wrangler\.toml, .*\.gitignore, .*README\.md already exist/);
  assert.equal(readFileSync(path.join(full, "package.json"), "utf8"), before);

  const file = tmpFile("plain", "x");
  assertCleanError(await tg(["init", file]), 64, /exists and is not a directory/);
  assertCleanError(await tg(["init", "a", "b"]), 64, /unexpected argument "b"/);
  assert.ok(!existsSync(path.join(tmp, "a")));
});

// ---------------------------------------------------------------------------------
// The policy check: claim rules and delegation depth (decode, verify)

test("decode --claims / --actor / --max-delegation-depth: each rule with pass or fail, and the depth", async () => {
  const key = makeKey("ES256");
  const token = sign(key, machineClaims(ISS, { org_id: "org_C", act: { sub: "gw-svc", client_id: "gateway", act: { sub: "frontend" } } }));
  const r = await tg(["decode", token, "--claims", '{"org_id": {"any_of": ["org_A", "org_B"]}, "gty": {"equals": "client-credentials"}}', "--max-delegation-depth", "1", "--actor", "gateway"]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^policy \(claim and delegation rules; not verified\) denied$/m);
  assert.match(r.out, /^ {2}pass  gty {15}equals "client-credentials"; token: "client-credentials"$/m);
  assert.match(r.out, /^ {2}FAIL  org_id {12}any of "org_A", "org_B"; token: "org_C"$/m);
  assert.match(r.out, /^ {2}FAIL  delegation depth {2}at most 1; token: 2 nested acts \(gw-svc <- frontend\)$/m);
  assert.match(r.out, /^ {2}pass  actor {13}one of gateway; token: gateway$/m);
  assert.match(r.out, /actor\s+gw-svc <- frontend {2}\(delegation depth 2\)/);
  const j = jsonOf(await tg(["decode", token, "--json", "--claims", '{"org_id": {"anyOf": ["org_C"]}}', "--max-delegation-depth=2"]));
  assert.deepEqual(j.policy, {
    pass: true,
    claims: [{ name: "org_id", rule: { anyOf: ["org_C"] }, pass: true, present: true, value: "org_C" }],
    delegation: { depth: 2, chain: ["gw-svc", "frontend"], actor: "gateway", maxDepth: 2, depthPass: true, actors: null, actorPass: null, error: null },
  });
  // Without policy options: no policy section, the JSON as before.
  const plain = await tg(["decode", token]);
  assert.doesNotMatch(plain.out, /^policy/m);
  assert.equal(jsonOf(await tg(["decode", token, "--json"])).policy, undefined);
  // Not delegated: depth 0; only the depth line when no actor rule.
  const direct = await tg(["decode", sign(key, userClaims(ISS)), "--max-delegation-depth", "0"]);
  assert.match(direct.out, /policy .* allowed$/m);
  assert.match(direct.out, /^ {2}pass  delegation depth {2}at most 0; token: not delegated \(0\)$/m);
  assert.doesNotMatch(direct.out, /^ {2}\S+ +actor/m);
  // A JSON pointer, and a claim the token lacks.
  const p = jsonOf(await tg(["decode", sign(key, userClaims(ISS, { org: { id: "o1" } })), "--json", "--claims", '{"/org/id": {"equals": "o1"}, "tenant": {"present": true}}']));
  assert.deepEqual(p.policy.claims.map((c) => [c.name, c.pass, c.value]), [["/org/id", true, "o1"], ["tenant", false, null]]);
  assert.equal(p.policy.pass, false);
});

test("decode and verify: invalid policy options are usage errors naming the rule", async () => {
  const key = makeKey("ES256");
  const token = sign(key, userClaims(ISS));
  const jwks = tmpFile("jwks.json", JSON.stringify(jwksOf([key])));
  for (const cmd of [["decode", token], ["verify", token, "--issuer", ISS, "--audience", AUDIENCE, "--jwks", jwks]]) {
    const name = cmd[0];
    assertCleanError(await tg([...cmd, "--claims", "{nope"]), 64, new RegExp(`^tokengate ${name}: option --claims must be JSON`));
    assertCleanError(await tg([...cmd, "--claims", '["org_id"]']), 64, /option --claims: claim rules must be a JSON object/);
    assertCleanError(await tg([...cmd, "--claims", '{"org_id": {"any_of": []}}']), 64, /invalid requirement "claims\.org_id\.anyOf": must not be an empty array/);
    assertCleanError(await tg([...cmd, "--claims", '{"org_id": {"one_of": ["a"]}}']), 64, /"claims\.org_id\.one_of": is not a known option/);
    assertCleanError(await tg([...cmd, "--max-delegation-depth", "-1"]), 64, /--max-delegation-depth/);
    assertCleanError(await tg([...cmd, "--max-delegation-depth", "x"]), 64, /--max-delegation-depth must be a whole number/);
    assertCleanError(await tg([...cmd, "--actor", "a", "--max-delegation-depth", "0"]), 64, /invalid requirement "actors": needs a delegated token/);
  }
});

test("verify --claims / --actor / --max-delegation-depth: through authorize (403 codes, exit 1)", async () => {
  const key = makeKey("ES256");
  const jwks = tmpFile("jwks.json", JSON.stringify(jwksOf([key])));
  const base = ["--issuer", ISS, "--audience", AUDIENCE, "--jwks", jwks];
  const org = (o, extra = {}) => sign(key, machineClaims(ISS, { org_id: o, ...extra }));
  const ok = await tg(["verify", org("org_A"), ...base, "--claims", '{"org_id": {"any_of": ["org_A"]}}']);
  assert.equal(ok.code, 0, ok.err);
  assert.match(ok.out, /rules\s+org_id: met/);
  const denied = await tg(["verify", org("org_B"), ...base, "--claims", '{"org_id": {"any_of": ["org_A"]}}', "--json"]);
  assert.equal(denied.code, 1);
  assert.equal(jsonOf(denied).error.code, "claim_not_allowed");
  assert.match(denied.err, /claim_not_allowed: .*org_id/);
  assert.doesNotMatch(denied.err, /org_B/);
  const deep = org("org_A", { act: { sub: "a", act: { sub: "b" } } });
  assert.equal((await tg(["verify", deep, ...base, "--max-delegation-depth", "1"])).code, 1);
  assert.match((await tg(["verify", deep, ...base, "--max-delegation-depth", "1"])).err, /delegation_too_deep/);
  assert.match((await tg(["verify", deep, ...base, "--actor", "zz"])).err, /actor_not_allowed/);
  const both = await tg(["verify", deep, ...base, "--actor", "a", "--max-delegation-depth", "2", "--require-scope", "read:builds"]);
  assert.equal(both.code, 0, both.err);
  assert.match(both.out, /rules\s+actors, max delegation depth: met/);
});

// ---------------------------------------------------------------------------------
// revoke

test("revoke --print: the wrangler command, with the package's own key and value format", async () => {
  const tgm = await import("tokengate");
  const cases = [
    [["--jti", "j-1"], "jti", "j-1", null],
    [["--client", "ci-bot", "--before", "1700000000"], "client", "ci-bot", 1700000000],
    [["--sub", "auth0|user-1", "--before=1700000001"], "sub", "auth0|user-1", 1700000001],
  ];
  for (const [extra, by, id, before] of cases) {
    const t0 = Math.floor(Date.now() / 1000);
    const r = await tg(["revoke", "--issuer", ISS, ...extra, "--print"]);
    assert.equal(r.code, 0, r.err);
    const key = `${ISS}|${by}|${id}`;
    assert.equal(tgm.revocationKey(ISS, by, id), key, "the wasm export is the documented format");
    const j = jsonOf(await tg(["revoke", "--issuer", ISS, ...extra, "--dry-run", "--json"]));
    assert.deepEqual(Object.keys(j), ["key", "value", "command"]);
    assert.equal(j.key, key);
    const value = JSON.parse(j.value);
    if (before === null) assert.ok(value.before >= t0 && value.before <= t0 + 5, j.value);
    else assert.equal(j.value, `{"before":${before}}`);
    assert.equal(j.value, tgm.revocationValue(value.before));
    assert.deepEqual(j.command, ["npx", "wrangler", "kv", "key", "put", "--binding=REVOKED", "--remote", key, j.value]);
    assert.equal(r.out, `npx wrangler kv key put --binding=REVOKED --remote '${key}' '${r.out.match(/'(\{.*\})'\n$/)[1]}'\n`);
    assert.match(r.out, / '\{"before":\d+\}'\n$/);
  }
  const local = await tg(["revoke", "--issuer", ISS, "--sub", "it's", "--before", "5", "--binding", "MY_KV", "--env", "staging", "--local", "--print"]);
  assert.equal(local.code, 0, local.err);
  assert.equal(local.out, `npx wrangler kv key put --binding=MY_KV --env=staging --local '${ISS}|sub|it'\\''s' '{"before":5}'\n`);
  // Printed for a POSIX shell: the shell gives the key and value back exactly.
  const echoed = execFileSync("sh", ["-c", local.out.replace(/^npx wrangler kv key put /, "printf '%s\\n' ")], { encoding: "utf8" });
  assert.deepEqual(echoed.trim().split("\n"), ["--binding=MY_KV", "--env=staging", "--local", `${ISS}|sub|it's`, '{"before":5}']);
});

test("revoke: an entry it writes is one the verifier reads", async () => {
  const tgm = await import("tokengate");
  const key = makeKey("ES256");
  const store = new Map();
  const v = tgm.createVerifier({ issuer: ISS, audience: AUDIENCE, jwks: jwksOf([key]), revocation: { store, cacheSeconds: 0 } });
  const t = now();
  const token = sign(key, machineClaims(ISS, { iat: t - 100 }));
  assert.equal((await v.verify(token)).ok, true);
  const j = jsonOf(await tg(["revoke", "--issuer", ISS, "--client", "ci-bot", "--before", String(t - 50), "--print", "--json"]));
  store.set(j.key, j.value);
  assert.equal((await v.verify(token)).error.code, "token_revoked");
  // Issued after `before`: not revoked.
  assert.equal((await v.verify(sign(key, machineClaims(ISS, { iat: t - 10 })))).ok, true);
});

test("revoke: runs npx wrangler (never installing it); a failure exits 2 with the command", async () => {
  const bin = tmpDir();
  const log = path.join(bin, "args.json");
  writeFileSync(path.join(bin, "npx"), `#!/bin/sh\nnode -e 'require("fs").writeFileSync(process.argv[1], JSON.stringify(process.argv.slice(2)))' "${log}" "$@"\necho wrangler says hi\nexit \${FAKE_STATUS:-0}\n`, { mode: 0o755 });
  const env = { PATH: `${bin}${path.delimiter}${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH}` };
  const ok = await tg(["revoke", "--issuer", ISS, "--jti", "j-1"], { env });
  assert.equal(ok.code, 0, ok.err);
  assert.deepEqual(JSON.parse(readFileSync(log, "utf8")), ["--no", "wrangler", "kv", "key", "put", "--binding=REVOKED", "--remote", `${ISS}|jti|j-1`, JSON.parse(readFileSync(log, "utf8"))[8]]);
  assert.match(ok.out, /wrangler says hi/);
  assert.match(ok.err, /^revoked: https:\/\/tenant\.example\.com\/\|jti\|j-1 \{"before":\d+\}\n$/);
  // --json: stdout is only the JSON (wrangler's output goes to stderr).
  const j = await tg(["revoke", "--issuer", ISS, "--sub", "u1", "--json"], { env });
  assert.equal(j.code, 0, j.err);
  assert.equal(jsonOf(j).ok, true);
  assert.equal(jsonOf(j).key, `${ISS}|sub|u1`);
  assert.match(j.err, /wrangler says hi/);
  const failed = await tg(["revoke", "--issuer", ISS, "--client", "c"], { env: { ...env, FAKE_STATUS: "1" } });
  assertCleanError(failed, 2, /^tokengate revoke: wrangler exited with status 1; run it by hand:\n {2}npx wrangler kv key put --binding=REVOKED --remote 'https:\/\/tenant\.example\.com\/\|client\|c' '\{"before":\d+\}'\n$/);
  // No npx at all.
  const none = await tg(["revoke", "--issuer", ISS, "--client", "c", "--json"], { env: { PATH: tmpDir() } });
  assert.equal(none.code, 2, none.err);
  assert.match(none.err, /could not run npx wrangler: .*ENOENT.*; run it by hand:\n {2}npx wrangler kv key put/);
  assert.equal(jsonOf(none).ok, false);
});

test("revoke: usage errors exit 64", async () => {
  const cases = [
    [["--jti", "j"], /--issuer is required/],
    [["--issuer", ISS], /give one of --jti, --client or --sub/],
    [["--issuer", ISS, "--jti", "j", "--sub", "s"], /give only one of --jti, --client or --sub/],
    [["--issuer", ISS, "--jti", "j", "--before", "5"], /--before applies to --client and --sub/],
    [["--issuer", ISS, "--sub", "s", "--before", "soon"], /--before must be unix seconds/],
    [["--issuer", ISS, "--sub", "s", "--before", "1.5"], /--before must be unix seconds/],
    [["--issuer", ISS, "--sub", "s", "--binding", "my-kv"], /--binding must be a binding name/],
    [["--issuer", ISS, "--sub", "s".repeat(600)], /over 512/],
    [["--issuer", ISS, "--sub"], /option --sub needs a value/],
    [["--issuer", ISS, "--sub", "s", "extra"], /unexpected argument "extra"/],
  ];
  for (const [args, pattern] of cases) {
    const r = await tg(["revoke", ...args, "--print"]);
    assertCleanError(r, 64, pattern);
    assert.match(r.err, /Run "tokengate revoke --help" for usage\./);
    assert.equal(r.out, "");
  }
});
