// A small TypeScript consumer of the package, type-checked with `tsc --noEmit`
// (tsconfig.json: NodeNext resolution, ESM; tsconfig.bundler.json: bundler resolution).
// Lines marked @ts-expect-error must NOT type-check.
import {
  bearerToken,
  createVerifier,
  decode,
  errorCatalogue,
  ready,
  type DecodeResult,
  type ErrorCode,
  type ErrorInfo,
  type IdTokenSignal,
  type JWKS,
  type KeyValueCache,
  type Principal,
  type Requirement,
  type TokenForm,
  type TokengateError,
  type Verifier,
  type VerifyResult,
} from "tokengate";

const store = new Map<string, string>();
const cache: KeyValueCache = {
  get: async (key) => store.get(key) ?? null,
  set: async (key, value, ttlSeconds) => {
    void ttlSeconds;
    store.set(key, value);
  },
};

const jwks: JWKS = { keys: [{ kty: "OKP", crv: "Ed25519", x: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", kid: "k" }] };

export const verifier: Verifier = createVerifier({
  issuer: "https://tenant.auth0.com/",
  audience: ["https://api.example.com"],
  algorithms: ["RS256", "EdDSA"],
  clockTolerance: 30,
  requiredTyp: "at+jwt",
  classify: { rules: ["gty", "sub_at_clients"], m2mClaim: "https://x/m2m", rolesClaim: "https://x/roles" },
  scopeClaims: ["scope", "permissions"],
  currentDate: () => new Date(),
  cache,
  jwksCache: { cooldown: 10 },
  fetchTimeout: 2000,
});

createVerifier({
  audience: "https://api.example.com",
  issuers: [
    { issuer: "https://a.example/", jwks },
    { issuer: "https://b.example/", jwksUri: "https://b.example/jwks", audience: ["x", "y"] },
    { issuer: "https://c.example/", secret: "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA" },
  ],
});

// @ts-expect-error: audience is required with a single issuer
createVerifier({ issuer: "https://tenant.auth0.com/" });
// @ts-expect-error: not an algorithm
createVerifier({ issuer: "https://a/", audience: "x", algorithms: ["none"] });
// @ts-expect-error: clockTolerance is a number of seconds
createVerifier({ issuer: "https://a/", audience: "x", clockTolerance: "1m" });

export async function handle(authorization: string | null): Promise<number> {
  await ready;
  const bearer = bearerToken(authorization);
  if (!bearer.ok) return bearer.error.status;
  const requirement: Requirement = { scopesAll: ["update:builds"], machinesBypassScopes: true };
  const r: VerifyResult = await verifier.authorize(bearer.token, requirement);
  if (!r.ok) {
    const e: TokengateError = r.error;
    const code: ErrorCode = e.code;
    const challenge: string | null = e.wwwAuthenticate;
    void code;
    void challenge;
    // @ts-expect-error: no principal on a failure
    void r.principal;
    return e.status;
  }
  const p: Principal = r.principal;
  const kind: "machine" | "user" = p.kind;
  const scopes: string[] = p.scopes;
  const client: string | null = p.clientId;
  const user: string | undefined = p.userId;
  const exp: number | null = p.expiresAt;
  const sub: string | undefined = r.claims.sub;
  const alg: string = r.header.alg;
  void [kind, scopes, client, user, exp, sub, alg, p.actor?.sub, p.decidedBy];
  return 200;
}

const d: DecodeResult = decode("eyJ...", { scopeClaims: ["scp"] });
if (d.ok) {
  const notVerified: false = d.verified;
  const hintKind: "machine" | "user" | undefined = d.hint?.kind;
  void [notVerified, hintKind, d.claims.iss, d.hintError?.code];
  const jws: "jws" = d.form;
  const signals: IdTokenSignal[] | undefined = d.idToken?.signals;
  void [jws, signals, d.idToken?.message];
} else {
  void d.error.message;
  const form: TokenForm = d.form;
  const enc: string | undefined = d.form === "jwe" ? d.jweHeader?.enc : undefined;
  void [form, enc];
}
// @ts-expect-error: authorize requirements are checked
void verifier.authorize("t", { scopes: ["x"] });

// The error catalogue: typed rows.
const catalogue: ErrorInfo[] = errorCatalogue();
const firstStatus: number | undefined = catalogue[0]?.status;
const helpText: string | undefined = catalogue.find((r) => r.code === "path_rejected")?.help;
void firstStatus;
void helpText;
// The core's rules for token inspectors.
import * as rules from "tokengate";
const u = rules.checkFetchUrl("http://[::1]:8080/jwks");
if (!u.ok) void (u.message satisfies string);
const du = rules.discoveryUrl("https://a.example/");
if (du.ok) void (du.url satisfies string);
const dr = rules.jwksUriFromDiscovery("{}", "https://a.example/");
if (dr.ok) void (dr.jwksUri satisfies string);
const ts: rules.TimeStateResult = rules.timeState({ exp: 1 }, Date.now() / 1000, 60);
if (ts.error !== null) {
  const refused: "expired" | "not-yet-valid" | "issued-in-future" | "invalid" = ts.state;
  void [refused, ts.error.code satisfies rules.ErrorCode];
} else {
  const fine: "valid" | "grace" | "no-exp" = ts.state;
  void fine;
}
const typ = rules.checkTyp(undefined, "at+jwt");
if (!typ.ok) void (typ.error.code satisfies "typ_mismatch");
const names: rules.Algorithm[] = rules.algorithms().filter((a) => !a.symmetric && a.allowedByDefault).map((a) => a.name);
void names;
// @ts-expect-error: the tolerance is a number
void rules.timeState({}, 0, "60");

// The edge authorizer's configuration check, and tokengate/explain (the decoder page's
// and `tokengate decode`'s lints and times), given the package module.
const wc = rules.checkWorkerConfig('{"issuers": []}');
if (wc.ok) void (wc.summary.routes satisfies number);
else void (wc.error.field satisfies string | null);
import * as explain from "tokengate/explain";
const lints = explain.lint(rules, { alg: "RS256" }, { exp: 1 }, { now: 0 });
for (const f of lints.findings) void (f.level satisfies "error" | "warn" | "info");
const verdict: explain.TimeVerdict = explain.timeVerdict(rules, { exp: 1 }, 0);
void [verdict.state, explain.fmtDuration(90) satisfies string, explain.stateSentence(null, {}, 0)];
// @ts-expect-error: the core module comes first
void explain.lint({ alg: "RS256" }, {});

// Route helpers: protect() keeps the framework's extra arguments (Next.js's context).
type Ctx = { params: Promise<{ id: string }> };
const guarded = rules.protect(
  () => verifier,
  (request: Request) => ({ scopesAll: [request.method === "GET" ? "read:builds" : "update:builds"] }),
  async (request: Request, principal, { params }: Ctx) =>
    Response.json({ id: (await params).id, kind: principal.kind satisfies "machine" | "user" }),
);
void (guarded satisfies (request: Request, context: Ctx) => Promise<Response>);
// @ts-expect-error: the handler must return a Response
rules.protect(verifier, null, () => "no");
const upstream: Headers = rules.forwardHeaders(new Headers(), {} as Principal, { forwardAuthorization: false });
const ids: Record<string, string> = rules.identityHeaders({} as Principal, { clientName: "x" });
const denied: Response = rules.denyResponse({ code: "token_missing", message: "m", status: 401, wwwAuthenticate: null });
void [upstream, ids, denied];

// Sender-constrained tokens: requests, the replay store, metadata (issue 15).
const dpopVerifier = rules.createVerifier({
  issuer: "https://i/",
  audience: "a",
  dpop: "required",
  dpopProofs: { proofMaxAge: 120, nonce: true, publicBaseUrl: "https://api.example.com", algorithms: ["ES256"] },
  dpopNonceSecret: "x".repeat(32),
  replayStore: { claim: async (key: string, ttl: number) => key.length > ttl },
  resourceMetadata: { resource: "https://api.example.com", scopesSupported: ["read:builds"] },
});
void rules.createVerifier({ issuer: "https://i/", audience: "a", replayStore: { has: () => false, put: () => undefined } });
const fromRequest: Promise<VerifyResult> = dpopVerifier.verifyRequest(new Request("https://api.example.com/x"), { clientCertificate: "AB:CD" });
void dpopVerifier.authorizeRequest({ method: "GET", url: "/x", headers: { dpop: "p" } }, { senderConstrained: true }, { url: "https://api.example.com/x" });
void fromRequest.then((r) => {
  if (r.ok) void (r.principal.binding satisfies "dpop" | "mtls" | "dpop_mtls" | undefined);
  else void (r.error.dpopNonce satisfies string | undefined);
});
const doc: Record<string, unknown> | null = dpopVerifier.resourceMetadata("/.well-known/oauth-protected-resource");
const meta: Response | null = dpopVerifier.metadataResponse(new Request("https://api.example.com/.well-known/oauth-protected-resource"));
void [doc, meta, dpopVerifier.resourceMetadataUrl() satisfies string | null, dpopVerifier.dpopNonce() satisfies string | null];
void rules.protect(dpopVerifier, null, () => new Response("ok"), { clientCertificate: (request: Request) => request.headers.get("x-cert") });
// @ts-expect-error: dpop is "allowed" or "required"
void rules.createVerifier({ issuer: "https://i/", audience: "a", dpop: true });

// Gateway policy: claim rules, delegation rules, revocation (issue 16).
const revoked = new Map<string, string>();
const gateway = rules.createVerifier({
  issuer: "https://i/",
  audience: "a",
  revocation: { store: revoked, cacheSeconds: 10 },
});
void rules.createVerifier({ issuer: "https://i/", audience: "a", revocation: { store: { get: async (key: string) => (key ? null : "x") } } });
void gateway.authorize("t", {
  claims: { org_id: { anyOf: ["org_A", "org_B"] }, "/org/tier": { equals: 2 }, roles: { includes: ["b"], present: true } },
  actors: "gateway",
  maxDelegationDepth: 1,
});
const entryKey: string = rules.revocationKey("https://i/", "client", "app");
const entryValue: string = rules.revocationValue(1700000000);
void [entryKey, entryValue];
// @ts-expect-error: the store is required
void rules.createVerifier({ issuer: "https://i/", audience: "a", revocation: { cacheSeconds: 10 } });
// @ts-expect-error: an entry names a jti, a client or a sub
void rules.revocationKey("https://i/", "user", "u");
// @ts-expect-error: anyOf is a list
void gateway.authorize("t", { claims: { org_id: { anyOf: "org_A" } } });
