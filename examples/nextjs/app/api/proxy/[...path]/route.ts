// The Node.js-runtime guard: /api/proxy/<path> -> UPSTREAM_URL/<path> for allowed
// requests, with the caller's identity in x-tokengate-* headers. `guard` (lib/gate.ts)
// is tokengate's `protect` with this app's verifier and rule.
import { forward, guard } from "@/lib/gate";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

type Context = { params: Promise<{ path: string[] }> };

const handler = guard(async (request: Request, principal, { params }: Context) => {
  const { path } = await params;
  return forward(request, path, principal);
});

export { handler as GET, handler as HEAD, handler as POST, handler as PUT, handler as PATCH, handler as DELETE };
