// The browser entry in a real browser (headless Chromium driven by playwright-core):
// a page imports "tokengate" through an import map (no bundler), decodes a token,
// verifies the real Auth0 token with an inline JWKS, and verifies a token whose JWKS it
// fetches from the page's own origin (127.0.0.1, so http is allowed). Also with the
// .wasm served as application/octet-stream, where the entry falls back from
// instantiateStreaming to compiling the bytes.
//
// Chromium: $CHROMIUM_PATH, else /usr/bin/chromium; the test is skipped without one.

import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { AUDIENCE, auth0Vector, jwksOf, machineClaims, makeKey, sign } from "./lib/harness.mjs";

const require = createRequire(import.meta.url);
const PKG_DIR = path.dirname(require.resolve("tokengate/package.json"));
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

const TYPES = {
  ".html": "text/html",
  ".js": "text/javascript",
  ".mjs": "text/javascript",
  ".cjs": "text/javascript",
  ".json": "application/json",
  ".wasm": "application/wasm",
};

const PAGE = `<!doctype html>
<meta charset="utf-8">
<script type="importmap">{ "imports": { "tokengate": "./tokengate/browser.mjs" } }</script>
<script type="module">
  import { createVerifier, decode, bearerToken } from "tokengate";
  const input = await (await fetch("/input.json")).json();
  const out = {};
  try {
    out.decode = decode(input.token);
    out.bearer = bearerToken("Bearer " + input.token).ok;
    const auth0 = createVerifier({
      issuer: input.vector.issuer,
      audience: input.vector.audience,
      jwks: input.vector.jwks,
      currentDate: () => new Date(input.vector.verify_at * 1000),
    });
    out.auth0 = await auth0.verify(input.vector.token);
    const fetched = createVerifier({ issuer: input.issuer, audience: input.audience, jwksUri: location.origin + "/jwks" });
    out.fetched = await fetched.verify(input.token);
    out.bad = await fetched.verify("nope");
    try { createVerifier({ issuer: input.issuer }); } catch (e) { out.thrown = e.constructor.name + ": " + e.message; }
  } catch (e) {
    out.error = String(e && e.stack || e);
  }
  window.__result = out;
</script>`;

test("browser entry in headless Chromium", { skip: !existsSync(CHROMIUM) && `no Chromium at ${CHROMIUM}`, timeout: 120_000 }, async (t) => {
  const { chromium } = await import("playwright-core");
  const key = makeKey("ES256");
  const issuer = "https://idp.example/";
  const input = {
    token: sign(key, machineClaims(issuer)),
    issuer,
    audience: AUDIENCE,
    vector: auth0Vector(),
  };
  const served = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url, "http://x");
    served.push(url.pathname);
    // /<variant>/...: "good" serves .wasm as application/wasm, "octet" as octet-stream.
    const [, variant, ...rest] = url.pathname.split("/");
    const file = rest.join("/");
    if (url.pathname === "/input.json") {
      res.setHeader("content-type", "application/json");
      return res.end(JSON.stringify(input));
    }
    if (url.pathname === "/jwks") {
      res.setHeader("content-type", "application/json");
      return res.end(JSON.stringify(jwksOf([key])));
    }
    if (file === "index.html") {
      res.setHeader("content-type", "text/html");
      return res.end(PAGE);
    }
    if (file.startsWith("tokengate/")) {
      const p = path.join(PKG_DIR, path.normalize(file.slice("tokengate/".length)));
      if (p.startsWith(PKG_DIR) && existsSync(p)) {
        const ext = path.extname(p);
        const type = ext === ".wasm" && variant === "octet" ? "application/octet-stream" : TYPES[ext];
        res.setHeader("content-type", type ?? "application/octet-stream");
        return res.end(readFileSync(p));
      }
    }
    res.statusCode = 404;
    res.end();
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  t.after(() => new Promise((r) => server.close(r)));
  const origin = `http://127.0.0.1:${server.address().port}`;

  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox"] });
  t.after(() => browser.close());

  for (const variant of ["good", "octet"]) {
    await t.test(`.wasm served as ${variant === "good" ? "application/wasm" : "application/octet-stream"}`, async () => {
      const page = await browser.newPage();
      const logs = [];
      page.on("console", (m) => logs.push(m.text()));
      page.on("pageerror", (e) => logs.push(String(e)));
      await page.goto(`${origin}/${variant}/index.html`);
      await page.waitForFunction(() => window.__result, null, { timeout: 30_000 }).catch(() => {
        throw new Error(`the page did not finish:\n${logs.join("\n")}`);
      });
      const r = await page.evaluate(() => window.__result);
      assert.equal(r.error, undefined, `${r.error}\n${logs.join("\n")}`);
      assert.equal(r.decode.ok, true);
      assert.equal(r.decode.verified, false);
      assert.equal(r.decode.hint.kind, "machine");
      assert.equal(r.bearer, true);
      assert.equal(r.auth0.ok, true, JSON.stringify(r.auth0));
      assert.equal(r.auth0.principal.clientId, input.vector.expected.client_id);
      assert.equal(r.fetched.ok, true, JSON.stringify(r.fetched));
      assert.equal(r.fetched.principal.clientId, "ci-bot");
      assert.equal(r.bad.error.code, "token_malformed");
      assert.match(r.thrown, /^TypeError: tokengate: invalid option "audience"/);
      assert.ok(served.includes(`/${variant}/tokengate/tokengate_bg.wasm`));
      await page.close();
    });
  }
});
