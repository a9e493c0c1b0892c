// Runs the README's demo walkthrough, exactly as written, against `wrangler dev --env
// demo` (what `make dev` starts), and compares its output with the README's blocks.

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { ROOT } from "./harness.mjs";

function walkthrough() {
  const readme = readFileSync(path.join(ROOT, "README.md"), "utf8");
  const start = readme.indexOf("<!-- walkthrough:start -->");
  const end = readme.indexOf("<!-- walkthrough:end -->");
  assert.ok(start >= 0 && end > start, "README has the walkthrough markers");
  const section = readme.slice(start, end);
  const blocks = [...section.matchAll(/```(sh|text)\n([\s\S]*?)```/g)];
  const script = blocks.filter((b) => b[1] === "sh").map((b) => b[2]).join("\n");
  const expected = blocks.filter((b) => b[1] === "text").map((b) => b[2]).join("");
  return { script, expected };
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}

async function waitReady(child, port, timeoutMs = 240_000) {
  const deadline = Date.now() + timeoutMs;
  let log = "";
  child.stdout.on("data", (d) => (log += d));
  child.stderr.on("data", (d) => (log += d));
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited:\n${log}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/health`);
      if (res.status) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`wrangler dev did not start in time:\n${log}`);
}

test("the README walkthrough prints what the README shows", { timeout: 300_000 }, async () => {
  const { script, expected } = walkthrough();
  assert.match(script, /^B=http:\/\/127\.0\.0\.1:8787$/m);
  const port = await freePort();
  const child = spawn(
    "wrangler",
    ["dev", "--env", "demo", "--ip", "127.0.0.1", "--port", String(port), "--persist-to", `.wrangler/readme-test-${port}`],
    { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], env: process.env },
  );
  try {
    await waitReady(child, port);
    const run = script.replace(/^B=http:\/\/127\.0\.0\.1:8787$/m, `B=http://127.0.0.1:${port}`);
    const out = execFileSync("bash", ["-euo", "pipefail", "-c", run], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
    assert.equal(out, expected);
  } finally {
    child.kill("SIGTERM");
    await new Promise((r) => (child.exitCode !== null ? r() : child.once("exit", r)));
    rmSync(path.join(ROOT, `.wrangler/readme-test-${port}`), { recursive: true, force: true });
  }
});
