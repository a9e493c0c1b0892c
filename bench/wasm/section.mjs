// Wasm section: sizes (raw and gzip -9) of the Worker's and the npm package's wasm; the
// Worker's upload as `wrangler deploy --dry-run` bundles it (entry JS + wasm, gzip -9);
// the cold start in Node (median of N fresh processes) of the npm wasm and of the
// Worker's wasm (compile + instantiate).

import { readFileSync, writeFileSync, existsSync, statSync, mkdirSync, readdirSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { gzipSync, constants as zc } from "node:zlib";
import path from "node:path";
import { ISSUER, AUDIENCE, makeKey, jwksOf, signToken } from "../lib/keys.mjs";
import { summarize } from "../lib/stats.mjs";
import { run, lastJson, log } from "../lib/proc.mjs";

function sizes(file, label) {
  if (!existsSync(file)) return { file: label, missing: true };
  const buf = readFileSync(file);
  return {
    file: label,
    raw: buf.length,
    gzip: gzipSync(buf, { level: zc.Z_BEST_COMPRESSION }).length,
    mtime: statSync(file).mtime.toISOString(),
  };
}

/** The Worker's upload target (issue 13): entry JS + wasm, gzip -9. */
export const UPLOAD_BUDGET_KIB = 200;

/**
 * `wrangler deploy --dry-run --env="" --outdir` (the flags of `make dry-run`) on the
 * snapshot of build/, and the gzip -9 sizes of what it would upload. wrangler.toml's
 * [build] command would rerun scripts/build-worker.sh, a full release build wherever
 * its stamp is not fresh (a checkout whose build/ was copied in; BENCH_NO_BUILD=1
 * promises no build), and would measure build/ rather than the run's snapshot: so
 * wrangler gets a copy of wrangler.toml without the [build] table and with `main` on
 * the snapshot, nothing else changed. Sizes are those of the `gzip -9 -c FILE` that
 * `make dry-run` checks its budget with (which differ from zlib's by the file name
 * gzip stores in its header).
 */
async function uploadSize({ root, buildDir, workDir }) {
  const up = path.join(workDir, "upload");
  const outdir = path.join(up, "dist");
  mkdirSync(up, { recursive: true });
  const toml = readFileSync(path.join(root, "wrangler.toml"), "utf8");
  let skip = false;
  const kept = [];
  for (const line of toml.split("\n")) {
    if (/^\s*\[/.test(line)) skip = /^\s*\[build\]\s*(#.*)?$/.test(line);
    if (!skip) kept.push(line);
  }
  const mainRe = /^main\s*=\s*"build\/index\.js"\s*$/m;
  let config = kept.join("\n");
  if (!mainRe.test(config)) throw new Error('wrangler.toml has no main = "build/index.js" line');
  config = config.replace(mainRe, `main = ${JSON.stringify(path.relative(up, path.join(buildDir, "index.js")))}`);
  const configFile = path.join(up, "wrangler.toml");
  writeFileSync(configFile, config);
  const wrangler = path.join(root, "node_modules/.bin/wrangler");
  const args = ["deploy", "--dry-run", "--env=", "--outdir", outdir, "--config", configFile];
  const r = await run(wrangler, args, { cwd: root, timeoutMs: 180_000 });
  if (r.code !== 0) throw new Error(`wrangler deploy --dry-run failed (${r.code}): ${(r.stderr + r.stdout).trim().split("\n").slice(-5).join(" | ")}`);
  const names = readdirSync(outdir);
  const wasm = names.filter((f) => f.endsWith(".wasm"));
  if (!names.includes("index.js") || wasm.length !== 1) throw new Error(`wrangler --outdir holds ${names.join(", ")}: expected index.js and one .wasm`);
  const gz = (f) => execFileSync("gzip", ["-9", "-c", path.join(outdir, f)], { maxBuffer: 64 * 2 ** 20 }).length;
  const files = ["index.js", wasm[0]].map((f) => ({ file: f, raw: statSync(path.join(outdir, f)).size, gzip: gz(f) }));
  const gzip = files.reduce((a, f) => a + f.gzip, 0);
  return {
    command: `wrangler ${args.map((a) => (a.startsWith("/") ? path.relative(root, a) : a)).join(" ")}`,
    files,
    raw: files.reduce((a, f) => a + f.raw, 0),
    gzip,
    gzipKiB: gzip / 1024,
    budgetKiB: UPLOAD_BUDGET_KIB,
    notes: "wrangler.toml without its [build] table, main on the run's snapshot of build/; gzip -9 -c of each file, summed",
  };
}

export async function wasmSection({ smoke, pkgDir, buildDir, workDir, root }) {
  const n = smoke ? 3 : Number(process.env.BENCH_WASM_N ?? 15);
  const files = {
    worker: sizes(path.join(buildDir, "index_bg.wasm"), "build/index_bg.wasm"),
    workerJs: sizes(path.join(buildDir, "index.js"), "build/index.js"),
    npm: sizes(path.join(pkgDir, "tokengate_bg.wasm"), "pkg/tokengate_bg.wasm"),
    npmBase64: sizes(path.join(pkgDir, "tokengate_wasm.cjs"), "pkg/tokengate_wasm.cjs"),
  };
  const rel = (f) => f.file;
  for (const [k, v] of Object.entries(files)) {
    if (v.missing) log(`wasm: ${rel(v)} is missing`);
    else log(`wasm: ${k.padEnd(9)} ${rel(v)}: ${v.raw} bytes raw, ${v.gzip} gzip`);
  }

  // Fixture for the first-verify sample: one ES256 key and token.
  const now = Math.floor(Date.now() / 1000);
  const key = makeKey("ES256");
  const fixture = path.join(workDir, "wasm-fixture.json");
  writeFileSync(fixture, JSON.stringify({ issuer: ISSUER, audience: AUDIENCE, now, jwks: jwksOf([key]), token: signToken(key, { now }) }));

  const script = path.join(import.meta.dirname, "sample.mjs");
  const inst = [];
  const imp = [];
  const wk = [];
  const failures = [];
  let error = null;
  let workerError = null;
  if (files.npm.missing) error = "pkg/tokengate_bg.wasm is missing";
  if (files.worker.missing) workerError = "build/index_bg.wasm is missing";
  for (let i = 0; i < n && !(error && workerError); i++) {
    if (!error) {
      const a = await run(process.execPath, [script, "instantiate", pkgDir]);
      const ja = lastJson(a.stdout);
      const b = await run(process.execPath, [script, "import", pkgDir, fixture]);
      const jb = lastJson(b.stdout);
      if (!ja || !jb) error = `sample failed: ${(a.stderr + b.stderr).trim().split("\n").slice(-3).join(" | ")}`;
      else {
        inst.push(ja);
        imp.push(jb);
      }
    }
    if (!workerError) {
      const c = await run(process.execPath, [script, "worker", buildDir]);
      const jc = lastJson(c.stdout);
      if (!jc) workerError = `worker sample failed: ${c.stderr.trim().split("\n").slice(-3).join(" | ")}`;
      else wk.push(jc);
    }
  }
  const pick = (xs, k) => summarize(xs.map((x) => x[k]));
  const startup = error
    ? { error }
    : {
        n,
        unit: "ms",
        compile: pick(inst, "compile"),
        instantiate: pick(inst, "instantiate"),
        compileAndInstantiate: pick(inst, "total"),
        packageImport: pick(imp, "import"),
        firstVerify: pick(imp, "firstVerify"),
      };
  if (!error) {
    log(
      `wasm: compile+instantiate median ${startup.compileAndInstantiate.median.toFixed(2)} ms, ` +
        `import median ${startup.packageImport.median.toFixed(2)} ms, first verify median ${startup.firstVerify.median.toFixed(2)} ms (n=${n})`,
    );
  } else {
    log(`wasm: ${error}`);
    failures.push(`npm start-up: ${error}`);
  }
  const workerStartup = workerError
    ? { error: workerError }
    : {
        n,
        unit: "ms",
        imports: wk[0].imports,
        notes: "build/index_bg.wasm in fresh Node processes: WebAssembly.compile, then WebAssembly.instantiate with stub imports",
        compile: pick(wk, "compile"),
        instantiate: pick(wk, "instantiate"),
        compileAndInstantiate: pick(wk, "total"),
      };
  if (!workerError) {
    log(`wasm: Worker wasm compile median ${workerStartup.compile.median.toFixed(2)} ms, instantiate median ${workerStartup.instantiate.median.toFixed(2)} ms (n=${n})`);
  } else {
    log(`wasm: ${workerError}`);
    failures.push(`Worker start-up: ${workerError}`);
  }

  let upload;
  try {
    if (files.worker.missing) throw new Error("build/index_bg.wasm is missing");
    upload = await uploadSize({ root, buildDir, workDir });
    log(`wasm: upload (${upload.command}): ${upload.files.map((f) => `${f.file} ${f.gzip}`).join(" + ")} = ${upload.gzip} bytes gzip -9 (${upload.gzipKiB.toFixed(1)} KiB)`);
  } catch (e) {
    upload = { error: e.message };
    failures.push(`upload size: ${e.message}`);
    log(`wasm: upload size FAILED: ${e.message}`);
  }
  return { node: process.version, files, startup, workerStartup, upload, failures };
}
