// The same package from a CommonJS TypeScript module (resolves index.d.cts through the
// "require" condition).
import tokengate = require("tokengate");

const v = tokengate.createVerifier({ issuer: "https://a.example/", audience: "x" });
export async function check(token: string): Promise<boolean> {
  const r = await v.verify(token);
  return r.ok && r.principal.kind === "machine";
}
export const decoded: tokengate.DecodeResult = tokengate.decode("x");
