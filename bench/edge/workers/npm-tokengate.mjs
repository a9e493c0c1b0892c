// A plain-JS Worker verifying with the tokengate npm package (its workerd entry,
// pkg/workerd.mjs, which imports tokengate_bg.wasm as a compiled module): configured as
// the Node benchmark configures it (bench/node/libs.mjs), inline JWKS, one algorithm,
// the clock fixed at env.NOW; defaults otherwise (signatures through crypto.subtle,
// verified tokens kept). The benchmark copies pkg/ into ./tokengate/ next to this file
// and gives Miniflare the module list. See verify-loop.mjs for the request.

import { createVerifier } from "./tokengate/workerd.mjs";
import { verifyLoopWorker } from "./verify-loop.mjs";

export default verifyLoopWorker((env, alg) => {
  const date = new Date(Number(env.NOW) * 1000);
  const verifier = createVerifier({
    issuer: env.ISSUER,
    audience: env.AUDIENCE,
    jwks: JSON.parse(env.JWKS),
    algorithms: [alg],
    currentDate: () => date,
  });
  return async (token) => (await verifier.verify(token)).ok === true;
});
