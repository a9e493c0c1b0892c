// Next.js 16's proxy (formerly middleware): guards /upstream/<path> and rewrites
// allowed requests to UPSTREAM_URL/<path> with the caller's identity headers. Denied
// requests get the RFC 6750 answer (401/403 with WWW-Authenticate).
import { NextResponse, type NextRequest } from "next/server";
import { check, upstreamHeaders } from "@/lib/gate";

export async function proxy(request: NextRequest): Promise<Response> {
  const access = await check(request);
  if (!access.ok) return access.response;
  const base = (process.env.UPSTREAM_URL ?? "").replace(/\/+$/, "");
  const rest = request.nextUrl.pathname.replace(/^\/upstream/, "") || "/";
  const target = new URL(`${base}${rest}${request.nextUrl.search}`);
  return NextResponse.rewrite(target, {
    request: { headers: upstreamHeaders(request.headers, access.principal) },
  });
}

export const config = {
  matcher: ["/upstream/:path*"],
};
