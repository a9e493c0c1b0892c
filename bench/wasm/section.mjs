// Wasm section: sizes (raw and gzip -9) of the Worker's and the npm package's wasm, and
// the npm wasm's cold start in Node (median of N fresh processes).

import { readFileSync, writeFileSync, existsSync, statSync } from "node:fs";
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

export async function wasmSection({ smoke, pkgDir, buildDir, workDir }) {
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
  let error = null;
  if (files.npm.missing) error = "pkg/tokengate_bg.wasm is missing";
  for (let i = 0; i < n && !error; i++) {
    const a = await run(process.execPath, [script, "instantiate", pkgDir]);
    const ja = lastJson(a.stdout);
    const b = await run(process.execPath, [script, "import", pkgDir, fixture]);
    const jb = lastJson(b.stdout);
    if (!ja || !jb) {
      error = `sample failed: ${(a.stderr + b.stderr).trim().split("\n").slice(-3).join(" | ")}`;
      break;
    }
    inst.push(ja);
    imp.push(jb);
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
  } else log(`wasm: ${error}`);
  return { node: process.version, files, startup };
}
