// The local origin and identity provider of the edge benchmark: one Node HTTP server on
// 127.0.0.1 (a separate process from the load generator and from workerd).
//
//   GET /.well-known/jwks.json   the JWKS from the file given as argv[2], cacheable for
//                                600 s (counted per ?w=<worker>: how often each Worker
//                                fetches keys)
//   GET /__stats                 { jwksFetches, jwksFetchesBy, originRequests, withIdentity }
//   anything else                200 {"ok":true} (the origin; counted, and whether the
//                                request carried an identity header from the authorizer)
//
// Prints {"port": N} on stdout once listening; exits when stdin closes (status 2) or
// on SIGTERM (status 0).

import http from "node:http";
import { readFileSync } from "node:fs";

const jwks = readFileSync(process.argv[2], "utf8");
const stats = { jwksFetches: 0, jwksFetchesBy: {}, originRequests: 0, withIdentity: 0 };
const body = Buffer.from('{"ok":true}');

const server = http.createServer((req, res) => {
  const [pathname, query = ""] = req.url.split("?");
  if (pathname === "/.well-known/jwks.json") {
    // ?w=<worker> tells the Workers apart.
    const who = new URLSearchParams(query).get("w") ?? "?";
    stats.jwksFetches++;
    stats.jwksFetchesBy[who] = (stats.jwksFetchesBy[who] ?? 0) + 1;
    res.writeHead(200, { "content-type": "application/json", "cache-control": "public, max-age=600" });
    res.end(jwks);
    return;
  }
  if (req.url === "/__stats") {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(stats));
    return;
  }
  stats.originRequests++;
  const who = req.headers["x-tokengate-subject"] ?? req.headers["x-auth-subject"];
  if (who) stats.withIdentity++;
  req.resume();
  res.writeHead(200, {
    "content-type": "application/json",
    "content-length": body.length,
    ...(who ? { "x-origin-saw-subject": String(who) } : {}),
  });
  res.end(body);
});
server.keepAliveTimeout = 60_000;
server.headersTimeout = 65_000;
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + "\n");
});
// Exit status 0 on SIGTERM (how the benchmark stops it), 2 when stdin closed (the
// benchmark went away), so that an unexpected exit says which it was.
const stop = (code) => server.close(() => process.exit(code));
process.on("SIGTERM", () => stop(0));
process.stdin.on("end", () => stop(2));
process.stdin.resume();
