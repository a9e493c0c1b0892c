// The twin of npm-tokengate.mjs with jose, configured as the Node benchmark configures
// it (bench/node/libs.mjs): createLocalJWKSet (imported CryptoKeys kept inside the set)
// and jwtVerify with issuer, audience, one algorithm and the clock fixed at env.NOW.
// Bundled with esbuild by the benchmark. See verify-loop.mjs for the request.

import { createLocalJWKSet, jwtVerify } from "jose";
import { verifyLoopWorker } from "./verify-loop.mjs";

export default verifyLoopWorker((env, alg) => {
  const keySet = createLocalJWKSet(JSON.parse(env.JWKS));
  const opts = { issuer: env.ISSUER, audience: env.AUDIENCE, algorithms: [alg], currentDate: new Date(Number(env.NOW) * 1000) };
  return async (token) => {
    try {
      await jwtVerify(token, keySet, opts);
      return true;
    } catch {
      return false;
    }
  };
});
