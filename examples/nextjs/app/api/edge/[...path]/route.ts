// The same guard in the edge runtime: /api/edge/<path> -> UPSTREAM_URL/<path>.
// tokengate's `edge-light` entry imports its WebAssembly as a precompiled module, which
// is what edge runtimes allow (they forbid compiling WebAssembly from bytes).
import { forward, guard } from "@/lib/gate";

export const runtime = "edge";
export const dynamic = "force-dynamic";

type Context = { params: Promise<{ path: string[] }> };

const handler = guard(async (request: Request, principal, { params }: Context) => {
  const { path } = await params;
  return forward(request, path, principal, "path");
});

export { handler as GET, handler as HEAD, handler as POST, handler as PUT, handler as PATCH, handler as DELETE };
