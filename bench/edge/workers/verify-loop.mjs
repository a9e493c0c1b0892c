// The request handler shared by the two npm-in-workerd Workers (npm-tokengate.mjs,
// npm-jose.mjs): POST /__bench/verify with a JSON body
//
//   { alg, tokens: [...], repeat: n, verify: true|false }
//
// verifies every token of `tokens`, `repeat` times over, one after the other inside
// this one request (awaiting each, as an authorizer would), and answers
// { ok: successes, n: verifications }. With verify: false it runs the same loop
// without verifying: the request's fixed cost (HTTP, the JSON body), which the
// benchmark subtracts. The benchmark measures the workerd process's CPU time across
// the request: Date.now() does not advance within a request in workerd.
//
// `makeVerify(env, alg)` returns an async function token -> boolean (valid or not); it
// is called once per algorithm and isolate, and its result kept.

export function verifyLoopWorker(makeVerify) {
  const verifiers = new Map();
  return {
    async fetch(request, env) {
      const url = new URL(request.url);
      if (request.method !== "POST" || url.pathname !== "/__bench/verify") return new Response("not found", { status: 404 });
      const { alg, tokens, repeat, verify } = await request.json();
      let v = verifiers.get(alg);
      if (!v) {
        v = makeVerify(env, alg);
        verifiers.set(alg, v);
      }
      let ok = 0;
      let n = 0;
      for (let r = 0; r < repeat; r++) {
        for (const t of tokens) {
          n++;
          if (verify !== false && (await v(t))) ok++;
        }
      }
      return Response.json({ ok, n });
    },
  };
}
