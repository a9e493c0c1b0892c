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

const KV_BINDINGS = ["JWKS_CACHE", "CLIENTS", "REVOKED"];
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
// BENCH_STUBS (a var, comma-separated binding names): in-memory stand-ins instead of
// Miniflare's local implementations, whose own CPU (they run in the same workerd)
// would otherwise be counted as the Worker's: a KV namespace with no keys, a Rate
// Limiting binding that always says yes. What remains is the Worker's side of the call.
const STUBS = {
  kv: () => ({
    get: async () => null,
    getWithMetadata: async () => ({ value: null, metadata: null }),
    put: async () => {},
    list: async () => ({ keys: [], list_complete: true }),
    delete: async () => {},
  }),
  ratelimit: () => ({ limit: async () => ({ success: true }) }),
};

function wrap(env) {
  if (env !== lastEnv) {
    const props = {};
    const stubbed = new Set(String(env.BENCH_STUBS ?? "").split(",").filter(Boolean));
    for (const name of stubbed) {
      const stub = KV_BINDINGS.includes(name) ? STUBS.kv() : STUBS.ratelimit();
      props[name] = { value: stub, enumerable: true };
    }
    for (const name of KV_BINDINGS) {
      const ns = props[name]?.value ?? env[name];
      if (ns) props[name] = { value: counting(name, ns), enumerable: true };
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
