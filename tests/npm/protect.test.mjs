// The route helpers (protect, denyResponse, forwardHeaders, identityHeaders) in each
// JavaScript runtime that is on npm: Node.js (this one), Bun and Deno (the `bun` and
// `deno` devDependencies of tests/npm). Each runs lib/protect-scenario.mjs, which
// imports "tokengate" as installed from the tarball and checks every answer; Workers
// (workerd.test.mjs) and Next.js (nextjs.test.mjs) use `protect` in their own apps.

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SCENARIO = path.join(HERE, "lib/protect-scenario.mjs");
const bin = (name) => path.join(HERE, "node_modules/.bin", name);

const runtimes = [
  ["Node.js", process.execPath, [SCENARIO]],
  ["Bun", bin("bun"), [SCENARIO]],
  ["Deno", bin("deno"), ["run", "--allow-read", "--allow-env", "--allow-sys", SCENARIO]],
];

for (const [name, exe, args] of runtimes) {
  test(`protect and the forwarding helpers in ${name}`, () => {
    // The runtimes are devDependencies: missing is a failure, never a skip.
    assert.ok(existsSync(exe), `${exe} is not installed (npm ci in tests/npm)`);
    const out = execFileSync(exe, args, {
      cwd: HERE,
      encoding: "utf8",
      env: { ...process.env, DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
      timeout: 60_000,
    });
    assert.match(out, /^protect scenario: ok$/m);
  });
}
