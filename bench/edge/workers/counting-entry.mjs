// Benchmark entry module put in front of each Worker under test (tokengate's build/,
// the jose baseline, the passthrough): it hands every request to the Worker's own
// default export unchanged, but with each KV binding wrapped so that its calls are
// counted, and answers GET /__bench/stats with the counts. This is how the benchmark
// counts KV reads per request (a plain object with the KV methods is what workers-rs'
// `Env::kv` and JS code use). Same wrapper for all three Workers, so its (tiny) cost
// cancels out in the comparison.
//
// "__INNER__" is replaced by the module name of the Worker's main module.

import inner from "__INNER__";

const KV_BINDINGS = ["JWKS_CACHE", "CLIENTS"];
const stats = { requests: 0, kv: {} };

function counting(name, ns) {
  const c = (stats.kv[name] ??= { get: 0, getWithMetadata: 0, put: 0, list: 0, delete: 0 });
  return {
    get: (...a) => (c.get++, ns.get(...a)),
    getWithMetadata: (...a) => (c.getWithMetadata++, ns.getWithMetadata(...a)),
    put: (...a) => (c.put++, ns.put(...a)),
    list: (...a) => (c.list++, ns.list(...a)),
    delete: (...a) => (c.delete++, ns.delete(...a)),
  };
}

let lastEnv = null;
let wrappedEnv = null;
function wrap(env) {
  if (env !== lastEnv) {
    const props = {};
    for (const name of KV_BINDINGS) {
      if (env[name]) props[name] = { value: counting(name, env[name]), enumerable: true };
    }
    wrappedEnv = Object.create(env, props);
    lastEnv = env;
  }
  return wrappedEnv;
}

export default {
  async fetch(request, env, ctx) {
    if (request.method === "GET" && new URL(request.url).pathname === "/__bench/stats") {
      return Response.json(stats);
    }
    stats.requests++;
    const e = wrap(env);
    // workers-rs exports a WorkerEntrypoint class; JS Workers an object with fetch.
    if (typeof inner === "function") return new inner(ctx, e).fetch(request);
    return inner.fetch(request, e, ctx);
  },
};
