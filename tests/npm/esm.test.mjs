// The token matrix through the package's ESM entry (`import "tokengate"` in Node.js
// resolves the "node" + "import" condition: node.mjs).
import { test } from "node:test";
import assert from "node:assert/strict";
import * as tg from "tokengate";
import { runMatrix } from "./lib/matrix.mjs";

test("ESM import resolves to node.mjs", () => {
  assert.match(import.meta.resolve("tokengate"), /\/node_modules\/tokengate\/node\.mjs$/);
});

test("token matrix (ESM)", (t) => runMatrix(tg, t));

test("errorCatalogue: the core's codes with status, error and help", () => {
  const rows = tg.errorCatalogue();
  const codes = rows.filter((r) => r.stage !== "exchange").map((r) => r.code);
  assert.equal(new Set(codes).size, codes.length);
  for (const code of ["token_missing", "path_rejected", "config_invalid", "token_expired"]) {
    assert.ok(codes.includes(code), code);
  }
  const expired = rows.find((r) => r.code === "token_expired");
  assert.deepEqual(Object.keys(expired).sort(), ["code", "description", "error", "help", "stage", "status"]);
  assert.equal(expired.status, 401);
  assert.equal(expired.error, "invalid_token");
  assert.equal(expired.stage, "token");
  assert.match(expired.help, /exp has passed/);
  // A fresh array each time: a caller's change does not leak into the next call.
  rows.length = 0;
  assert.ok(tg.errorCatalogue().length > 30);
});
