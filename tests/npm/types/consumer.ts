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
  type JWKS,
  type KeyValueCache,
  type Principal,
  type Requirement,
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
} else {
  void d.error.message;
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
