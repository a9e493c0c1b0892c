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
