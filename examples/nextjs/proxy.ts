// Next.js 16's proxy (formerly middleware): guards /upstream/<path> and rewrites
// allowed requests to UPSTREAM_URL/<path> with the caller's identity headers
// (tokengate's `forwardHeaders`: inbound x-tokengate-* and method overrides dropped in
// every spelling). Denied requests get the edge's answer (401/403 with
// WWW-Authenticate), from tokengate's `protect` inside `guard`.
import { NextResponse, type NextRequest } from "next/server";
import { forwardHeaders } from "tokengate";
import { guard } from "@/lib/gate";

export const proxy = guard(async (request: NextRequest, principal) => {
  const base = (process.env.UPSTREAM_URL ?? "").replace(/\/+$/, "");
  const rest = request.nextUrl.pathname.replace(/^\/upstream/, "") || "/";
  const target = new URL(`${base}${rest}${request.nextUrl.search}`);
  return NextResponse.rewrite(target, {
    request: { headers: forwardHeaders(request.headers, principal) },
  });
});

export const config = {
  matcher: ["/upstream/:path*"],
};
