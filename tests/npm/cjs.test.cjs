// The token matrix through the package's CommonJS entry (`require("tokengate")`
// resolves the "node" + "require" condition: node.cjs).
const { test } = require("node:test");
const assert = require("node:assert/strict");
const tg = require("tokengate");

test("require resolves to node.cjs", () => {
  assert.match(require.resolve("tokengate"), /[\\/]node_modules[\\/]tokengate[\\/]node\.cjs$/);
});

test("token matrix (CommonJS)", async (t) => {
  const { runMatrix } = await import("./lib/matrix.mjs");
  await runMatrix(tg, t);
});
