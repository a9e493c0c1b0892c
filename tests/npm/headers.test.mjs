// The edge's forwarding rules as the package exports them (isReservedHeader,
// encodeHeaderValue), through the ESM and CommonJS entries: what the Next.js example
// uses to forward requests the way the edge authorizer does.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import * as esm from "tokengate";

const cjs = createRequire(import.meta.url)("tokengate");

for (const [entry, tg] of [["ESM", esm], ["CJS", cjs]]) {
  test(`isReservedHeader (${entry}): identity, origin-secret and method-override headers in every spelling`, () => {
    const { isReservedHeader } = tg;
    for (const name of [
      "x-tokengate-kind",
      "X_Tokengate_Kind",
      "x-TOKENGATE-subject",
      "x_tokengate_client_id",
      "X_TOKENGATE_SECRET",
      "x-tokengate-anything",
      "X-HTTP-Method-Override",
      "x_http_method_override",
      "X-Method-Override",
      "X_HTTP_METHOD",
    ]) {
      assert.equal(isReservedHeader(name), true, name);
    }
    for (const name of ["authorization", "x-custom", "x_custom", "x-tokengate", "x-origin-key"]) {
      assert.equal(isReservedHeader(name), false, name);
    }
    assert.equal(isReservedHeader("X_Origin_Key", "x-origin-key"), true);
    assert.equal(isReservedHeader("x-origin-keys", "x-origin-key"), false);
    assert.throws(() => isReservedHeader(42), TypeError);
    assert.throws(() => isReservedHeader("x", 42), TypeError);
  });

  test(`encodeHeaderValue (${entry}): lossless percent-encoding, lists joined by one space`, () => {
    const { encodeHeaderValue } = tg;
    for (const v of ["auth0|abc", "abc@clients", "https://tenant/", "read:builds", ""]) {
      assert.equal(encodeHeaderValue(v), v);
    }
    for (const [v, enc] of [
      ["a\nb", "a%0Ab"],
      ["a\r\n x", "a%0D%0A%20x"],
      ["100%", "100%25"],
      ["usér😀", "us%C3%A9r%F0%9F%98%80"],
      ["\u0000\u007f\t", "%00%7F%09"],
    ]) {
      assert.equal(encodeHeaderValue(v), enc, JSON.stringify(v));
      assert.equal(decodeURIComponent(enc), v);
      assert.doesNotThrow(() => new Headers({ x: enc }));
    }
    assert.equal(encodeHeaderValue(["read:builds", "a b", "c\n"]), "read:builds a%20b c%0A");
    assert.equal(encodeHeaderValue([]), "");
    assert.throws(() => encodeHeaderValue(1), TypeError);
    assert.throws(() => encodeHeaderValue(["a", 1]), TypeError);
    assert.throws(() => encodeHeaderValue(null), TypeError);
  });
}
