// The token decoder page (www/dist) in real Chromium: decoding, classification,
// scopes, lints, time, verification, policy, the JWKS fetch on request, and that no
// other request ever leaves the page. Screenshots of each state, light and dark, go
// to tests/artifacts/www/.
//
// Run with tests/www/run.sh (installs Chromium and builds the page if needed).

import { test, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { startServer, assetPaths } from "./lib/server.mjs";
import { launch, openPage } from "./lib/browser.mjs";
import {
  makeKeys, sign, unsigned, tamper, now, machineClaims, userClaims, ISSUER, AUDIENCE, b64uJson,
} from "./lib/tokens.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, "../..");
const DIST = process.env.WWW_DIST || path.join(ROOT, "www/dist");
const ARTIFACTS = path.join(ROOT, "tests/artifacts/www");

let server;
let browser;
let assets;
const keys = makeKeys();
/** Pages opened by the current test, checked after it. */
let opened = [];

before(async () => {
  assert.ok(fs.existsSync(path.join(DIST, "index.html")), `${DIST}/index.html missing: run scripts/build-www.sh`);
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  assets = assetPaths(DIST);
  server = await startServer(DIST);
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

/**
 * After each test: no console errors, and every request the page made went to the
 * test server, for a page asset or for a JWKS / discovery URL the test asked for.
 */
afterEach(async () => {
  for (const p of opened) {
    assert.deepEqual(p.errors, [], "console errors");
    for (const u of p.requests) {
      const url = new URL(u);
      // A loopback URL a test serves itself (page.route) and lists in allowedUrls.
      if (p.allowedUrls.has(u)) continue;
      assert.equal(url.origin, server.origin, `request left the page's origin: ${u}`);
      assert.ok(assets.has(url.pathname) || p.allowed.has(url.pathname), `unexpected request: ${u}`);
    }
    await p.page.close();
  }
  opened = [];
});

async function open(opts = {}) {
  const p = await openPage(browser.context, `${server.origin}/`, opts);
  p.allowed = new Set();
  p.allowedUrls = new Set();
  opened.push(p);
  return p;
}

/** Saves NAME-light.png and NAME-dark.png (full page). */
async function shot(page, name) {
  for (const scheme of ["light", "dark"]) {
    await page.emulateMedia({ colorScheme: scheme });
    await page.screenshot({ path: path.join(ARTIFACTS, `${name}-${scheme}.png`), fullPage: true });
  }
  await page.emulateMedia({ colorScheme: "light" });
}

async function paste(page, token) {
  await page.fill("#token-input", token);
  await page.waitForSelector("#results:not([hidden])");
}

const text = (page, sel) => page.locator(sel).innerText();
const texts = (page, sel) => page.locator(sel).allInnerTexts();
const attr = (page, sel, name) => page.locator(sel).getAttribute(name);
const lintIds = (page) => page.locator("#lint-list li[data-lint]").evaluateAll((els) => els.map((e) => e.dataset.lint));

async function fillVerify(page, { issuer = ISSUER, audience = AUDIENCE, jwks = keys.jwks } = {}) {
  await page.fill("#v-issuer", issuer);
  await page.fill("#v-audience", audience);
  if (jwks !== undefined) await page.fill("#v-jwks", typeof jwks === "string" ? jwks : JSON.stringify(jwks));
}

async function verify(page) {
  await page.click("#verify-btn");
  await page.waitForSelector("#verify-result[data-outcome]:not([data-outcome='pending'])");
  return {
    outcome: await attr(page, "#verify-result", "data-outcome"),
    code: await attr(page, "#verify-result", "data-code"),
    text: await text(page, "#verify-result"),
  };
}

async function authorize(page) {
  await page.click("#authorize-btn");
  await page.waitForSelector("#authorize-result[data-outcome]:not([data-outcome='pending'])");
  return {
    outcome: await attr(page, "#authorize-result", "data-outcome"),
    code: await attr(page, "#authorize-result", "data-code"),
    text: await text(page, "#authorize-result"),
  };
}

test("empty page: privacy note, labelled controls, only its own assets", async () => {
  const { page, requests } = await open();
  assert.match(await text(page, "#privacy-note"), /only network request this page ever makes is a\s+JWKS fetch you ask for/);
  assert.equal(await page.locator("#results").isHidden(), true);
  // Every form control has an accessible name.
  const unnamed = await page.locator("textarea, input, select, button").evaluateAll((els) =>
    els.filter((e) => !e.labels?.length && !e.getAttribute("aria-label") && !e.textContent.trim() && e.type !== "hidden")
      .map((e) => e.id || e.outerHTML.slice(0, 60)));
  assert.deepEqual(unnamed, []);
  // The wasm was loaded from the page's own folder.
  assert.ok(requests.some((u) => u.endsWith("/tokengate/tokengate_bg.wasm")), "wasm not loaded");
  assert.match(await text(page, "#version"), /^\d+\.\d+\.\d+/);
  // Keyboard: the first Tab reaches the skip link, which leads to the token field.
  await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(() => document.activeElement.className), "skip");
  await page.keyboard.press("Enter");
  await page.keyboard.type("not a token");
  assert.equal(await page.inputValue("#token-input"), "not a token");
  assert.match(await text(page, "#token-status"), /Not a JWT: an opaque access token/);
  assert.equal(await attr(page, "#form-explain", "data-form"), "opaque");
  await page.fill("#token-input", "");
  await shot(page, "01-empty");
});

test("machine token: kind, deciding rule gty, client id, scopes, lints, timeline", async () => {
  const { page } = await open();
  await paste(page, sign(keys.ec, machineClaims()));
  assert.equal(await attr(page, "#kind-badge", "data-kind"), "machine");
  assert.equal(await text(page, "#kind-badge"), "Machine");
  assert.equal(await attr(page, "#decided-by", "data-rule"), "gty");
  assert.equal(await text(page, "#decided-by"), "gty");
  assert.match(await text(page, "#who-sentence"), /A machine token — decided by gty/);
  assert.equal(await text(page, "#who-client"), "Zx8fk2PqL0aB3cD4eF5gH6iJ7kL8mN9o");
  assert.equal(await attr(page, ".rule[data-rule='gty']", "data-state"), "fired");
  assert.equal(await attr(page, ".rule[data-rule='sub_at_clients']", "data-state"), "skipped");
  assert.deepEqual(await texts(page, "#scope-chips .chip-name"), ["read:builds", "update:builds"]);
  // Lints: only the RFC 9068 typ note; no alg, exp, aud or lifetime finding.
  assert.deepEqual(await lintIds(page), ["typ"]);
  assert.equal(await attr(page, "#lint-badge", "data-level"), "ok");
  // Time: valid, relative, and a timeline with a now marker.
  assert.equal(await attr(page, "#time-badge", "data-state"), "valid");
  assert.match(await text(page, "#time-badge"), /in (5\d|60) min/);
  assert.match(await text(page, "tr[data-claim='exp'] .rel"), /^expires in \d+ min$/);
  assert.equal(await page.locator("#timeline .tl-now").count(), 1);
  assert.match(await page.locator("#timeline-desc").textContent(), /Lifetime 60 min/);
  // Claim explanations.
  assert.match(await text(page, "#payload-explain dd[data-claim='gty']"), /client-credentials marks a machine/);
  assert.match(await text(page, "#payload-explain dd[data-claim='azp']"), /Authorized party/);
  assert.match(await text(page, "#header-explain dd[data-claim='kid']"), /Key id/);
  await shot(page, "02-machine");
});

test("user token: rule default, user id, scope + permissions merged, namespaced claim, long lifetime", async () => {
  const { page } = await open();
  await paste(page, sign(keys.rsa, userClaims()));
  assert.equal(await attr(page, "#kind-badge", "data-kind"), "user");
  assert.equal(await attr(page, "#decided-by", "data-rule"), "default");
  assert.equal(await text(page, "#who-user"), "auth0|64f1c0ffee0ddba11c0ffee0");
  assert.equal(await attr(page, ".rule[data-rule='sub_is_client_id']", "data-state"), "no");
  // Merged the verifier's way: scope first, then permissions, duplicates dropped.
  assert.deepEqual(await texts(page, "#scope-chips .chip-name"), ["openid", "profile", "read:builds", "write:logs"]);
  assert.match(await attr(page, "#scope-chips .chip[data-scope='read:builds']", "title"), /scope, permissions/);
  assert.equal(await attr(page, "#payload-explain dt[data-claim='https://example.com/roles']", "data-kind"), "namespaced");
  assert.match(await text(page, "#payload-explain dd[data-claim='https://example.com/roles']"), /Namespaced custom claim/);
  assert.match(await text(page, "#payload-explain dd[data-claim='permissions']"), /Auth0 RBAC/);
  const lints = await lintIds(page);
  assert.ok(lints.includes("lifetime"), `lints: ${lints}`);
  assert.match(await text(page, "li[data-lint='lifetime']"), /Lifetime is 30 days, over 24 h/);
  // Roles are read once a roles claim is configured (offered by a button).
  await page.click("#use-roles-claim");
  assert.deepEqual(await texts(page, "#role-chips .chip-name"), ["builder"]);
  await page.click("#advanced > summary");
  assert.equal(await page.inputValue("#v-roles-claim"), "https://example.com/roles");
  assert.equal(await text(page, "#payload-explain dt[data-claim='https://example.com/roles'] + dd"), "Roles: configured as the roles claim, so tokengate reads roles from it.");
  // Scope sources can be narrowed, as the verifier's scopeClaims option does.
  await page.uncheck("#v-sc-scope");
  assert.deepEqual(await texts(page, "#scope-chips .chip-name"), ["read:builds", "write:logs"]);
  await page.check("#v-sc-scope");
  await shot(page, "03-user");
});

test("lints: alg none, HS256, crit, no exp, no aud, @clients without gty", async () => {
  const { page } = await open();
  const t = now();
  await paste(page, unsigned({ alg: "HS256", typ: "JWT", crit: ["exp-ext"], "exp-ext": 1 },
    { iss: ISSUER, sub: "abc123@clients", azp: "abc123", iat: t, scope: "read:builds" }));
  const lints = await lintIds(page);
  for (const id of ["alg-hs", "crit", "exp-missing", "aud-missing", "clients-no-gty", "typ"]) {
    assert.ok(lints.includes(id), `missing lint ${id}: ${lints}`);
  }
  // The strict parser refuses it (crit) before any key; the page still shows it.
  assert.equal(await attr(page, "#strict-error", "data-code"), "crit_unsupported");
  assert.match(await text(page, "#strict-error"), /refuses this token before looking at any key/);
  assert.equal(await attr(page, "#lint-badge", "data-level"), "error");
  // The claims alone are still classified by the core (by sub@clients: no gty).
  assert.equal(await attr(page, "#kind-badge", "data-kind"), "machine");
  assert.equal(await attr(page, "#decided-by", "data-rule"), "sub_at_clients");
  assert.equal(await text(page, "#decided-by"), "sub@clients sub_at_clients");
  assert.match(await text(page, "#who-fallback"), /refuses the token itself/);
  await shot(page, "04-lints");

  // Without crit: classified by sub@clients (no gty).
  await paste(page, unsigned({ alg: "RS256", typ: "at+jwt", kid: "k" },
    { iss: ISSUER, sub: "abc123@clients", azp: "abc123", aud: AUDIENCE, iat: t, exp: t + 600 }));
  assert.equal(await attr(page, "#decided-by", "data-rule"), "sub_at_clients");
  assert.equal(await attr(page, "#kind-badge", "data-kind"), "machine");
  assert.equal(await page.locator("#strict-error").isHidden(), true);
  assert.equal(await page.locator("#who-fallback").count(), 0);
  const l2 = await lintIds(page);
  assert.ok(l2.includes("clients-no-gty") && !l2.includes("typ"), `lints: ${l2}`);

  // A user's sub that merely ends in @clients (no matching azp/client_id) is a user.
  await paste(page, unsigned({ alg: "RS256", typ: "at+jwt", kid: "k" },
    { iss: ISSUER, sub: "mallory@clients", azp: "spa", aud: AUDIENCE, iat: t, exp: t + 600 }));
  assert.equal(await attr(page, "#kind-badge", "data-kind"), "user");
  assert.equal(await attr(page, "#decided-by", "data-rule"), "default");
  const l3 = await lintIds(page);
  assert.ok(l3.includes("clients-not-own"), `lints: ${l3}`);

  // alg none: shown leniently, refused by tokengate.
  await paste(page, unsigned({ alg: "none" }, { iss: ISSUER, sub: "x", aud: AUDIENCE, exp: t + 60 }, ""));
  assert.ok((await lintIds(page)).includes("alg-none"));
  assert.equal(await page.locator("#strict-error").isVisible(), true);
  assert.match(await text(page, "#strict-error"), /token_malformed|alg_not_allowed/);
  await shot(page, "05-alg-none");
});

test("sender binding: a DPoP-bound token says what a request needs; a malformed cnf warns", async () => {
  const { page } = await open();
  const jkt = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";
  // No cnf: no panel.
  await paste(page, sign(keys.ec, machineClaims()));
  assert.equal(await page.locator("#binding").isHidden(), true);
  await paste(page, sign(keys.ec, machineClaims({ cnf: { jkt } })));
  assert.equal(await page.locator("#binding").isVisible(), true);
  assert.equal(await attr(page, "#binding", "data-kind"), "dpop");
  assert.match(await text(page, "#binding-sentence"), /DPoP-bound \(RFC 9449\)/);
  assert.equal(await text(page, "#binding-jkt"), jkt);
  const needs = await text(page, "#binding-needs");
  assert.match(needs, /send it as "Authorization: DPoP <token>" with a DPoP proof header/);
  assert.ok(needs.includes(`RFC 7638 SHA-256 thumbprint is ${jkt};`), needs);
  assert.match(needs, /A Bearer use of this token is refused\./);
  assert.match(await text(page, "#payload-explain dd[data-claim='cnf']"), /bound to a DPoP key; jkt is the key's RFC 7638 SHA-256 thumbprint/);
  assert.ok(!(await lintIds(page)).includes("cnf"));
  await shot(page, "16-dpop");

  // A certificate-bound token: the thumbprint in hex too.
  const x5t = Buffer.from("6f070ad1eb1cdc0082dc3076639fe5112b1713ca3d96d734e4ef3d8dd37e760c", "hex").toString("base64url");
  await paste(page, sign(keys.ec, machineClaims({ cnf: { "x5t#S256": x5t } })));
  assert.equal(await attr(page, "#binding", "data-kind"), "mtls");
  assert.equal(await text(page, "#binding-hex"), "6f070ad1eb1cdc0082dc3076639fe5112b1713ca3d96d734e4ef3d8dd37e760c");
  assert.match(await text(page, "#binding-needs"), /mutual TLS with the client certificate/);

  // A jkt that is not a thumbprint: no needs, a warning in the panel and a cnf lint.
  await paste(page, sign(keys.ec, machineClaims({ cnf: { jkt: "abc" } })));
  assert.equal(await attr(page, "#binding", "data-kind"), "malformed");
  assert.equal(await page.locator("#binding-needs").count(), 0);
  assert.match(await text(page, "#binding-warnings"), /cnf\.jkt is not a 43-character base64url SHA-256 thumbprint/);
  assert.ok((await lintIds(page)).includes("cnf"));
  assert.equal(await attr(page, "li[data-lint='cnf']", "data-level"), "warn");
});

test("verify against a pasted JWKS; a tampered token is signature_invalid", async () => {
  const { page } = await open();
  const token = sign(keys.ec, machineClaims());
  await paste(page, token);
  await page.click("#fill-from-token");
  assert.equal(await page.inputValue("#v-issuer"), ISSUER);
  assert.equal(await page.inputValue("#v-audience"), AUDIENCE);
  await page.fill("#v-jwks", JSON.stringify(keys.jwks, null, 2));
  const ok = await verify(page);
  assert.equal(ok.outcome, "ok", ok.text);
  assert.match(ok.text, /Verified/);
  assert.equal(await attr(page, "#verify-badge", "data-state"), "ok");
  await shot(page, "06-verified");

  await paste(page, tamper(token, (c) => ({ ...c, scope: "read:builds update:builds admin" })));
  // The decoded view shows the tampered claims; the verdict must not carry over.
  assert.equal(await attr(page, "#verify-badge", "data-state"), "unchecked");
  assert.ok((await texts(page, "#scope-chips .chip-name")).includes("admin"));
  const bad = await verify(page);
  assert.equal(bad.outcome, "error");
  assert.equal(bad.code, "signature_invalid");
  assert.equal(await text(page, "#verify-code"), "signature_invalid");
  assert.match(bad.text, /HTTP 401/);
  // The help line is the core catalogue's text for the code (errorCatalogue()).
  assert.match(bad.text, /The signature does not match: the token was altered, or signed by a different key\./);
  assert.equal(await text(page, "#verify-badge"), "refused: signature_invalid");
  await shot(page, "07-tampered");

  // Wrong audience and issuer are named too.
  await paste(page, token);
  await fillVerify(page, { audience: "https://other.example.com" });
  assert.equal((await verify(page)).code, "audience_mismatch");
  await fillVerify(page, { issuer: "https://tenant.eu.auth0.com" });
  assert.equal((await verify(page)).code, "issuer_mismatch");
  // Verify with no key set: the page says so, and fetches nothing.
  await fillVerify(page, { jwks: "" });
  const none = await verify(page);
  assert.equal(none.outcome, "input");
  assert.match(none.text, /fetches nothing on its own/);
});

test("route policy: authorize with kinds and scopes", async () => {
  const { page } = await open();
  await paste(page, sign(keys.ec, machineClaims()));
  await fillVerify(page);
  await page.fill("#p-scopes-all", "read:builds deploy:prod");
  let r = await authorize(page);
  assert.equal(r.code, "insufficient_scope");
  assert.match(r.text, /HTTP 403/);
  assert.equal(await text(page, "#authorize-missing"), "Missing (all of): deploy:prod");
  await shot(page, "08-policy-denied");
  await page.fill("#p-scopes-all", "read:builds");
  await page.uncheck("#p-kind-machine");
  r = await authorize(page);
  assert.equal(r.code, "kind_not_allowed");
  await page.check("#p-kind-machine");
  await page.uncheck("#p-kind-user");
  await page.fill("#p-scopes-any", "update:builds admin");
  r = await authorize(page);
  assert.equal(r.outcome, "ok", r.text);
  assert.match(r.text, /Allowed/);
  await page.fill("#p-clients", "someone-else");
  assert.equal((await authorize(page)).code, "client_not_allowed");
});

test("route policy: claim rules and delegation depth, rule by rule, verified or not", async () => {
  const { page } = await open();
  const lines = () => page.locator("#policy-check li").evaluateAll((els) => els.map((e) => [e.dataset.id, e.dataset.pass, e.innerText]));
  await paste(page, sign(keys.ec, machineClaims({ org_id: "org_C", act: { sub: "gw-svc", client_id: "gateway", act: { sub: "frontend" } } })));
  await fillVerify(page);
  await page.fill("#p-claims", '{"org_id": {"any_of": ["org_A", "org_B"]}, "gty": {"equals": "client-credentials"}}');
  let r = await authorize(page);
  assert.equal(r.code, "claim_not_allowed");
  assert.match(r.text, /HTTP 403/);
  assert.match(r.text, /org_id/);
  let l = await lines();
  assert.deepEqual(l.map(([id, pass]) => [id, pass]), [
    ["claim:gty", "true"], ["claim:org_id", "false"], ["delegation-depth", "null"], ["actor", "null"],
  ]);
  assert.match(l[1][2], /^FAIL org_id any of "org_A", "org_B" · token: "org_C"$/);
  assert.match(l[2][2], /2 nested acts \(gw-svc <- frontend\)/);
  await shot(page, "08b-policy-claims");
  // Allowed organisation; the depth over its maximum.
  await page.fill("#p-claims", '{"org_id": {"anyOf": ["org_C"]}}');
  await page.fill("#p-max-depth", "1");
  await page.fill("#p-actors", "gateway");
  r = await authorize(page);
  assert.equal(r.code, "delegation_too_deep");
  l = await lines();
  assert.deepEqual(l.map(([id, pass]) => [id, pass]), [["claim:org_id", "true"], ["delegation-depth", "false"], ["actor", "true"]]);
  assert.match(l[1][2], /at most 1 · token: 2 nested acts/);
  await page.fill("#p-max-depth", "2");
  r = await authorize(page);
  assert.equal(r.outcome, "ok", r.text);
  await page.fill("#p-actors", "someone-else");
  assert.equal((await authorize(page)).code, "actor_not_allowed");
  assert.equal((await lines())[2][1], "false");
  // Without a key set the policy check still shows (from the claims alone).
  await fillVerify(page, { jwks: "" });
  r = await authorize(page);
  assert.equal(r.outcome, "input");
  assert.equal((await lines()).length, 3);
  // An invalid rule is named; no policy check is drawn.
  await page.fill("#p-claims", '{"org_id": {"any_of": []}}');
  await fillVerify(page);
  r = await authorize(page);
  assert.equal(r.outcome, "input");
  assert.match(r.text, /claims\.org_id\.anyOf.*must not be an empty array/);
  assert.equal((await lines()).length, 0);
  await page.fill("#p-claims", "{nope");
  assert.match((await authorize(page)).text, /Claim rules: not JSON/);
});

test("expired token: shown as expired, verify says token_expired", async () => {
  const { page } = await open();
  const t = now();
  await paste(page, sign(keys.rsa, machineClaims({ iat: t - 7200, exp: t - 3600 })));
  assert.equal(await attr(page, "#time-badge", "data-state"), "expired");
  assert.match(await text(page, "#time-badge"), /expired 60 min ago/);
  assert.match(await text(page, "#time-sentence"), /Expired 60 min ago: a verifier answers token_expired/);
  assert.ok((await lintIds(page)).includes("expired"));
  assert.equal(await attr(page, "#timeline", "data-state"), "expired");
  await fillVerify(page);
  const r = await verify(page);
  assert.equal(r.code, "token_expired");
  await shot(page, "09-expired");
});

test("a token expired long ago draws a broken axis; one about to expire warns", async () => {
  const { page } = await open();
  const t = now();
  await paste(page, sign(keys.ec, machineClaims({ iat: t - 400 * 86400, exp: t - 400 * 86400 + 3600 })));
  assert.equal(await page.locator("#timeline .tl-break").count(), 1);
  assert.match(await page.locator("#timeline .tl-gap").textContent(), /days/);
  await shot(page, "10-expired-long-ago");
  const oldExp = await text(page, "tr[data-claim='exp'] .abs");
  await paste(page, sign(keys.ec, machineClaims({ iat: t - 3400, exp: t + 200 })));
  assert.notEqual(await text(page, "tr[data-claim='exp'] .abs"), oldExp, "the time table kept the previous token's dates");
  assert.equal(await attr(page, "#time-badge", "data-state"), "expiring");
  assert.ok((await lintIds(page)).includes("expiring"));
  // Live: the relative time counts down.
  const before = await text(page, "tr[data-claim='exp'] .rel");
  await page.waitForFunction((b) => document.querySelector("tr[data-claim='exp'] .rel").textContent !== b, before, { timeout: 5000 });
});

test("JWKS fetched from a URL, and by OIDC discovery, only when asked", async () => {
  server.route("/keys/jwks.json", { body: keys.jwks });
  const idp = `${server.origin}/idp/`;
  server.route("/idp/.well-known/openid-configuration", {
    body: { issuer: idp, jwks_uri: `${server.origin}/idp/jwks.json` },
  });
  server.route("/idp/jwks.json", { body: keys.jwks });

  const p = await open();
  const { page, requests } = p;
  await paste(page, sign(keys.rsa, machineClaims()));
  await fillVerify(page, { jwks: "" });
  await page.fill("#v-jwks-url", `${server.origin}/keys/jwks.json`);
  await page.waitForTimeout(300);
  assert.ok(!requests.some((u) => u.includes("/keys/")), "fetched before being asked");
  p.allowed.add("/keys/jwks.json");
  await page.click("#fetch-jwks");
  await page.waitForSelector("#jwks-status[data-level='ok']");
  assert.match(await text(page, "#jwks-status"), /Fetched 2 keys/);
  assert.equal(requests.filter((u) => u.endsWith("/keys/jwks.json")).length, 1);
  const r = await verify(page);
  assert.equal(r.outcome, "ok", r.text);
  assert.equal(requests.filter((u) => u.endsWith("/keys/jwks.json")).length, 1, "verify fetched again");
  await shot(page, "11-jwks-fetched");

  // A URL tokengate would refuse (plain http off loopback) is not fetched at all.
  await page.fill("#v-jwks-url", "http://keys.example.com/jwks.json");
  await page.click("#fetch-jwks");
  await page.waitForSelector("#jwks-status[data-level='error']");
  assert.match(await text(page, "#jwks-status"), /must be https/);

  // OIDC discovery from the token's issuer.
  await paste(page, sign(keys.ec, machineClaims({ iss: idp })));
  await page.fill("#v-jwks", "");
  await page.fill("#v-issuer", idp);
  p.allowed.add("/idp/.well-known/openid-configuration");
  p.allowed.add("/idp/jwks.json");
  await page.click("#discover-jwks");
  await page.waitForSelector("#jwks-status[data-level='ok']");
  assert.match(await text(page, "#jwks-status"), /found through .*openid-configuration/);
  assert.equal((await verify(page)).outcome, "ok");
  assert.equal(requests.filter((u) => u.includes("/idp/")).length, 2);
});

test("JWKS URLs on every loopback host the core accepts; other http refused before any request", async () => {
  const p = await open();
  const { page, requests } = p;
  await paste(page, sign(keys.rsa, machineClaims()));
  await fillVerify(page, { jwks: "" });
  // Served by the test itself (the real hosts need not be reachable): the page must
  // accept the URL and fetch it, as tokengate's checkFetchUrl does.
  const port = new URL(server.origin).port;
  const loopback = [`http://[::1]:${port}/jwks.json`, `http://127.0.0.2:${port}/jwks.json`, `http://keys.localhost:${port}/jwks.json`];
  await page.route((url) => loopback.includes(url.href), (route) =>
    route.fulfill({
      status: 200,
      contentType: "application/json",
      headers: { "access-control-allow-origin": "*" },
      body: JSON.stringify(keys.jwks),
    }));
  for (const u of loopback) {
    p.allowedUrls.add(u);
    await page.fill("#v-jwks-url", u);
    await page.click("#fetch-jwks");
    await page.waitForFunction((want) => {
      const s = document.getElementById("jwks-status");
      return s.dataset.level === "error" || (s.dataset.level === "ok" && s.textContent.includes(want));
    }, u);
    assert.equal(await attr(page, "#jwks-status", "data-level"), "ok", `${u}: ${await text(page, "#jwks-status")}`);
    assert.equal(requests.filter((r) => r === u).length, 1, u);
    await page.fill("#v-jwks", "");
  }
  // Refused by the core's rule, so never requested: http off loopback, a look-alike of
  // localhost, credentials, and a backslash that makes the browser's host another one.
  for (const [u, why] of [
    ["http://localhost.example.com/jwks.json", /must be https/],
    ["http://128.0.0.1/jwks.json", /must be https/],
    ["https://user@keys.example.com/jwks.json", /credentials/],
    ["http://keys.example.com\\x.localhost/jwks.json", /contains a backslash/],
  ]) {
    await page.fill("#v-jwks-url", u);
    await page.evaluate(() => (document.getElementById("jwks-status").dataset.level = ""));
    await page.click("#fetch-jwks");
    await page.waitForFunction(() => document.getElementById("jwks-status").dataset.level === "error");
    assert.match(await text(page, "#jwks-status"), why, u);
    await page.fill("#v-jwks", "");
  }
  assert.ok(!requests.some((r) => /example\.com|128\.0\.0\.1/.test(r)), `requested: ${requests}`);
});

test("OIDC discovery: a document naming another issuer is refused, its jwks_uri not fetched", async () => {
  const idp = `${server.origin}/other-idp/`;
  server.route("/other-idp/.well-known/openid-configuration", {
    body: { issuer: "https://evil.example.com/", jwks_uri: `${server.origin}/other-idp/jwks.json` },
  });
  server.route("/other-idp/jwks.json", { body: keys.jwks });
  server.route("/plain-idp/.well-known/openid-configuration", {
    body: { issuer: `${server.origin}/plain-idp/`, jwks_uri: "http://keys.example.com/jwks.json" },
  });
  const p = await open();
  const { page, requests } = p;
  await paste(page, sign(keys.ec, machineClaims({ iss: idp })));
  await page.fill("#v-jwks", "");
  await page.fill("#v-issuer", idp);
  p.allowed.add("/other-idp/.well-known/openid-configuration");
  await page.click("#discover-jwks");
  await page.waitForSelector("#jwks-status[data-level='error']");
  assert.match(await text(page, "#jwks-status"), /names another issuer/);
  assert.equal(requests.filter((u) => u.endsWith("/other-idp/jwks.json")).length, 0, "fetched the jwks_uri");
  assert.equal(await page.inputValue("#v-jwks"), "");
  // A jwks_uri the URL rule refuses is not fetched either.
  await page.fill("#v-issuer", `${server.origin}/plain-idp/`);
  p.allowed.add("/plain-idp/.well-known/openid-configuration");
  await page.click("#discover-jwks");
  await page.waitForFunction(() => /discovered jwks_uri/i.test(document.getElementById("jwks-status").textContent));
  assert.match(await text(page, "#jwks-status"), /discovered jwks_uri: must be https/i);
  assert.ok(!requests.some((u) => u.includes("example.com")));
});

test("time state and typ come from the core: invalid time claims, requiredTyp", async () => {
  const { page } = await open();
  const t = now();
  await paste(page, unsigned({ alg: "RS256", typ: "application/at+jwt", kid: "k" },
    { iss: ISSUER, sub: "u", aud: AUDIENCE, iat: t, nbf: "later", exp: t + 600 }));
  assert.equal(await attr(page, "#time-badge", "data-state"), "invalid");
  assert.match(await text(page, "#time-sentence"), /nbf must be a number: a verifier answers claim_invalid/);
  assert.ok((await lintIds(page)).includes("time-invalid"));
  // typ: application/at+jwt is at+jwt; a requiredTyp it does not match is an error.
  assert.ok(!(await lintIds(page)).includes("typ"));
  await page.click("#advanced > summary");
  await page.fill("#v-typ", "jwt");
  await page.dispatchEvent("#v-typ", "change");
  assert.ok((await lintIds(page)).includes("typ"));
  assert.match(await text(page, "li[data-lint='typ']"), /typ_mismatch/);
  await page.fill("#v-typ", "AT+JWT");
  await page.dispatchEvent("#v-typ", "change");
  assert.ok(!(await lintIds(page)).includes("typ"));
});

test("not a signed JWT: a JWE, an opaque token and an ID token are explained", async () => {
  const { page } = await open();
  const explain = (form) => page.waitForSelector(`#form-explain[data-form='${form}']:not([hidden])`);
  // A five-part compact JWE: its header is shown, with the fix; no raw error.
  const jweHeader = { alg: "RSA-OAEP", enc: "A256GCM", kid: "enc-key-1", cty: "JWT" };
  const jwe = [b64uJson(jweHeader), "ZW5jcnlwdGVkLWtleQ", "aXZpdml2aXZpdg", "Y2lwaGVydGV4dA", "dGFndGFndGFndGFn"].join(".");
  await page.fill("#token-input", jwe);
  await explain("jwe");
  assert.match(await text(page, "#token-status"), /Not a signed JWT: an encrypted token \(JWE\)/);
  assert.doesNotMatch(await text(page, "#token-status"), /UTF-8|Cannot decode/);
  assert.equal(await page.locator("#results").isHidden(), true);
  assert.match(await text(page, "#form-explain-title"), /An encrypted token \(JWE\)/);
  assert.equal(await text(page, "#jwe-header dd[data-param='alg']"), "RSA-OAEP");
  assert.equal(await text(page, "#jwe-header dd[data-param='enc']"), "A256GCM");
  assert.equal(await text(page, "#jwe-header dd[data-param='kid']"), "enc-key-1");
  assert.equal(await text(page, "#jwe-header dd[data-param='cty']"), "JWT");
  assert.match(await text(page, "#form-explain"), /claims are encrypted for the API/);
  assert.match(await text(page, "#form-explain"), /verifies signed \(JWS\) access tokens only/);
  assert.match(await text(page, "#form-fix"), /JSON Web Encryption/);
  assert.match(await text(page, "#token-parts"), /header · \d+ chars . encrypted key .* tag/);
  await shot(page, "13-jwe");

  // Auth0's opaque access token (no audience requested), pasted with its scheme.
  await page.fill("#token-input", "Bearer vL2QvbUy9dN3ZkWUyB-1Ic1SOzoN_y6L");
  await explain("opaque");
  assert.match(await text(page, "#token-status"), /Not a JWT: an opaque access token/);
  assert.match(await text(page, "#form-explain-title"), /An opaque access token, not a JWT/);
  assert.match(await text(page, "#form-fix"), /audience/);
  assert.match(await text(page, "#form-fix"), /RFC 7662/);
  assert.equal(await page.locator("#token-parts").isHidden(), true);
  await shot(page, "14-opaque");

  // Other shapes keep the core's message: a JWT without its signature part.
  const [hp, pp] = sign(keys.ec, machineClaims()).split(".");
  await page.fill("#token-input", `${hp}.${pp}`);
  await page.waitForFunction(() => document.getElementById("form-explain").hidden);
  assert.match(await text(page, "#token-status"), /Cannot decode: .*token_malformed \(token is malformed: a jwt has three dot-separated parts, this has 2\)/);

  // An ID token sent as an access token: decoded, with a warning and the signals.
  const t = now();
  const idToken = sign(keys.rsa, {
    iss: ISSUER, sub: "auth0|64f1c0ffee0ddba11c0ffee0", aud: "Web4ppCl1entId0000000000000000",
    iat: t - 60, exp: t + 3600, nonce: "n-0S6_WzA2Mj", auth_time: t - 65, sid: "s-1", name: "Ada",
  });
  await paste(page, idToken);
  await explain("id_token");
  assert.equal(await attr(page, "#form-explain", "data-level"), "warn");
  assert.match(await text(page, "#form-explain-title"), /looks like an ID token, not an access token/);
  const signals = await page.locator("#id-token-signals li").evaluateAll((els) => els.map((e) => e.dataset.signal));
  assert.deepEqual(signals, ["nonce", "aud_is_client", "auth_time", "typ_not_at_jwt"]);
  assert.match(await text(page, "#form-explain"), /audience_mismatch/);
  assert.match(await text(page, "#form-fix"), /access_token, not id_token/);
  assert.equal(await attr(page, "#kind-badge", "data-kind"), "user");
  // The verifier for the API refuses it on its audience.
  await fillVerify(page);
  const v = await verify(page);
  assert.equal(v.code, "audience_mismatch");
  await shot(page, "15-id-token");

  // An access token clears the warning.
  await paste(page, sign(keys.rsa, userClaims()));
  assert.equal(await page.locator("#form-explain").isHidden(), true);
});

test("works offline once loaded; drop a token; examples mint locally", async () => {
  const p = await open();
  const { page, requests } = p;
  const before = requests.length;
  await browser.context.setOffline(true);
  try {
    // Drop a token (text) onto the drop zone.
    const token = sign(keys.ec, machineClaims());
    await page.evaluate((tok) => {
      const dt = new DataTransfer();
      dt.setData("text/plain", `Authorization: Bearer ${tok.slice(0, 50)}\n  ${tok.slice(50)}\n`);
      document.getElementById("drop-zone").dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, token);
    await page.waitForSelector("#results:not([hidden])");
    assert.match(await text(page, "#token-status"), /Removed the Authorization: header name, the Bearer scheme, whitespace/);
    assert.equal(await page.inputValue("#token-input"), `Authorization: Bearer ${token.slice(0, 50)}\n  ${token.slice(50)}\n`);
    await fillVerify(page);
    assert.equal((await verify(page)).outcome, "ok");
    // The example buttons mint a token and its JWKS with WebCrypto.
    await page.click("#example-user");
    await page.waitForFunction(() => document.getElementById("kind-badge").dataset.kind === "user");
    assert.equal((await verify(page)).outcome, "ok");
    await page.click("#example-machine");
    await page.waitForFunction(() => document.getElementById("kind-badge").dataset.kind === "machine");
    assert.equal((await verify(page)).outcome, "ok");
  } finally {
    await browser.context.setOffline(false);
  }
  assert.equal(requests.length, before, `requests while offline: ${requests.slice(before)}`);
});

test("narrow screen (phone) layout", async () => {
  const { page } = await open({ viewport: { width: 390, height: 844 } });
  await paste(page, sign(keys.rsa, userClaims()));
  await fillVerify(page);
  await verify(page);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  const wide = await page.evaluate(() => [...document.querySelectorAll("body *")].filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1).slice(0, 5).map((e) => `${e.tagName}#${e.id}.${e.className}`));
  assert.ok(overflow <= 0, `horizontal overflow of ${overflow}px: ${wide}`);
  await shot(page, "12-phone");
});
