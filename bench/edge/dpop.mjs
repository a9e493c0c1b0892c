// Edge part "dpop": what a DPoP request costs the Worker over a bearer request (issue 15).
//
// One tokengate Worker (the real build/) in its own Miniflare, with the Durable Object
// DPOP_REPLAY (class DpopReplay, from the same module) and the local origin and JWKS.
// Two request lists, loaded in alternating rounds under the same autocannon settings:
//
//   bearer  100 RS256 tokens in turn, `Authorization: Bearer` (the steady state of the
//           load part's "pool" scenario);
//   dpop    100 RS256 tokens bound to ES256 client keys (cnf.jkt), `Authorization: DPoP`
//           with a new proof on every request (precomputed: new jti, ath, iat): the
//           token comes from the token cache, the proof is parsed and checked, its
//           ES256 signature verified through WebCrypto, and its jti claimed in the
//           Durable Object (one per key thumbprint), the round trip included.
//
// The cost of a request is the CPU time (user + system, /proc) of the Miniflare's one
// workerd process (the Worker and the Durable Object run in it) over the measured
// rounds, divided by the requests it answered. Every answer must be a 2xx: a replayed
// or stale proof would be a 401 and fail the part.

import crypto from "node:crypto";
import { signToken } from "../lib/keys.mjs";
import { summarize } from "../lib/stats.mjs";
import { log } from "../lib/proc.mjs";
import { cpuSeconds } from "../lib/cpu.mjs";
import { bootWorker, edgeKnobs, load } from "./harness.mjs";

const b64u = (b) => Buffer.from(b).toString("base64url");

function clientKey() {
  const { privateKey, publicKey } = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
  const { kty, crv, x, y } = publicKey.export({ format: "jwk" });
  const jwk = { kty, crv, x, y };
  const jkt = b64u(crypto.createHash("sha256").update(JSON.stringify({ crv, kty, x, y })).digest());
  return { privateKey, jwk, jkt };
}

function proof(client, token, htu, iat) {
  const header = { typ: "dpop+jwt", alg: "ES256", jwk: client.jwk };
  const ath = b64u(crypto.createHash("sha256").update(token).digest());
  const payload = { jti: crypto.randomUUID(), htm: "GET", htu, iat, ath };
  const input = `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(payload))}`;
  const sig = crypto.sign("sha256", Buffer.from(input), { key: client.privateKey, dsaEncoding: "ieee-p1363" });
  return `${input}.${b64u(sig)}`;
}

export async function dpopPart({ smoke, compatDate, now, rsKey, poolTokens, workers }) {
  const { duration, rounds, warmup, connections } = edgeKnobs(smoke);
  const tg = workers.find((w) => w.id === "tokengate");
  const { mf, url, pid } = await bootWorker({
    name: "tokengate-dpop",
    dir: tg.dir,
    // The benchmark's entry wraps only the default export: the Durable Object class
    // must be exported by the entry module too, as the Worker's own module does.
    modules: tg.modules.map((m, i) =>
      i === 0 ? { ...m, contents: `${m.contents}\nexport { DpopReplay } from "./index.js";\n` } : m,
    ),
    bindings: tg.bindings,
    compatDate,
    durableObjects: { DPOP_REPLAY: { className: "DpopReplay", useSQLite: true } },
  });
  try {
    const htu = `${url}/api/data`;
    const clients = Array.from({ length: 100 }, clientKey);
    const bound = clients.map((c, i) => signToken(rsKey, { i, now, claims: { cnf: { jkt: c.jkt } } }));
    // Enough proofs for every request of the part (measured at well under 3000 req/s on
    // 2 cores), each used once; signed up front so the load generator only sends.
    const need = Math.ceil((warmup + rounds * duration) * (smoke ? 3000 : 4000));
    const t0 = performance.now();
    const iat = Math.floor(Date.now() / 1000);
    const proofs = new Array(need);
    for (let i = 0; i < need; i++) {
      const k = i % clients.length;
      proofs[i] = [bound[k], proof(clients[k], bound[k], htu, iat)];
    }
    log(`edge dpop: signed ${need} proofs in ${(performance.now() - t0).toFixed(0)} ms`);
    let next = 0;
    const lists = {
      bearer: poolTokens.map((t) => ({ method: "GET", path: "/api/data", headers: { authorization: `Bearer ${t}` } })),
      dpop: [
        {
          method: "GET",
          path: "/api/data",
          setupRequest: (req) => {
            if (next >= proofs.length) throw new Error("edge dpop: out of proofs");
            const [token, p] = proofs[next++];
            req.headers = { authorization: `DPoP ${token}`, dpop: p };
            return req;
          },
        },
      ],
    };
    // Check both work before measuring: a valid DPoP request passes, its replay does not.
    const [t1, p1] = proofs[next++];
    const ok = await fetch(htu, { headers: { authorization: `DPoP ${t1}`, dpop: p1 } });
    const okBody = await ok.text();
    if (ok.status !== 200) throw new Error(`edge dpop: a valid proof answered ${ok.status} ${okBody.slice(0, 300)}`);
    const again = await fetch(htu, { headers: { authorization: `DPoP ${t1}`, dpop: p1 } });
    const body = await again.text();
    if (again.status !== 401 || !body.includes("dpop_proof_replayed")) {
      throw new Error(`edge dpop: a replayed proof answered ${again.status} ${body}`);
    }
    for (const id of ["bearer", "dpop"]) await load(url, { connections, duration: warmup, requests: lists[id] });
    const acc = { bearer: { cpu: 0, n: 0, non2xx: 0, rps: [], lat: [] }, dpop: { cpu: 0, n: 0, non2xx: 0, rps: [], lat: [] } };
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? ["bearer", "dpop"] : ["dpop", "bearer"];
      for (const id of order) {
        const cpu0 = cpuSeconds(pid);
        const { res, lat } = await load(url, { connections, duration, requests: lists[id] });
        const a = acc[id];
        a.cpu += cpuSeconds(pid) - cpu0;
        a.n += res["2xx"] + res.non2xx;
        a.non2xx += res.non2xx;
        a.rps.push(res["2xx"] / res.duration);
        for (const x of lat) a.lat.push(x);
        log(`edge dpop: round ${round + 1}/${rounds} ${id.padEnd(6)} ${(res["2xx"] / res.duration).toFixed(0).padStart(6)} req/s`);
      }
    }
    const out = {};
    for (const [id, a] of Object.entries(acc)) {
      if (a.non2xx) throw new Error(`edge dpop: ${a.non2xx} ${id} requests were refused`);
      const l = summarize(a.lat);
      out[id] = {
        requests: a.n,
        rps: summarize(a.rps).median,
        cpuUsPerRequest: (a.cpu * 1e6) / Math.max(1, a.n),
        latencyMs: { p50: l.median, p99: l.p99 },
      };
    }
    out.dpopOverheadUs = out.dpop.cpuUsPerRequest - out.bearer.cpuUsPerRequest;
    out.notes =
      "one workerd (Worker + DpopReplay Durable Object, SQLite-backed, local) on 127.0.0.1; " +
      `${connections} connections, ${rounds} alternating rounds of ${duration} s; proofs precomputed, each used once`;
    log(
      `edge dpop: bearer ${out.bearer.cpuUsPerRequest.toFixed(0)} us/req, dpop ${out.dpop.cpuUsPerRequest.toFixed(0)} us/req ` +
        `(+${out.dpopOverheadUs.toFixed(0)} us: proof check and the Durable Object round trip)`,
    );
    return out;
  } finally {
    await mf.dispose().catch(() => {});
  }
}
