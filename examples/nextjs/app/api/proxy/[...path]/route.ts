// The Node.js-runtime guard: /api/proxy/<path> -> UPSTREAM_URL/<path> for allowed
// requests, with the caller's identity in x-tokengate-* headers.
import { check, forward } from "@/lib/gate";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

type Context = { params: Promise<{ path: string[] }> };

async function handler(request: Request, { params }: Context): Promise<Response> {
  const access = await check(request);
  if (!access.ok) return access.response;
  const { path } = await params;
  return forward(request, path, access.principal);
}

export { handler as GET, handler as HEAD, handler as POST, handler as PUT, handler as PATCH, handler as DELETE };
