// Child-process helpers for the orchestrator.

import { spawn } from "node:child_process";

/**
 * Runs `cmd args` and resolves with { code, stdout, stderr, ms }. stderr is passed
 * through (prefixed) when `echo` is set; the promise never rejects for a non-zero exit.
 */
export function run(cmd, args, { cwd, env, echo = false, prefix = "", timeoutMs } = {}) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { cwd, env: env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let timer;
    if (timeoutMs) {
      timer = setTimeout(() => {
        stderr += `\n[timeout after ${timeoutMs} ms]`;
        child.kill("SIGKILL");
      }, timeoutMs);
    }
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
      if (echo) process.stderr.write(String(d).replace(/^(?=.)/gm, prefix));
    });
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: performance.now() - t0 });
    });
  });
}

/** The last line of `text` that parses as JSON, or null. */
export function lastJson(text) {
  const lines = text.trim().split("\n").reverse();
  for (const l of lines) {
    try {
      return JSON.parse(l);
    } catch {
      /* not JSON */
    }
  }
  return null;
}

export function log(...args) {
  process.stderr.write(`[bench] ${args.join(" ")}\n`);
}
