// Type declarations of `tokengate/explain` (explain.js): what a token inspector says
// about a decoded token (lints, durations, the time state, the sender binding), as the
// decoder page and `tokengate decode` show it. Each function that needs the core's
// rules takes the package module (`import * as tg from "tokengate"`) as its first
// argument; null leaves out what needs it.

import type { AlgorithmInfo, ErrorCode, JWTClaims, JWTHeader, TimeStateResult, TypResult } from "./index.js";

/** The parts of the package module the inspector asks. */
export interface CoreRules {
  algorithms(): AlgorithmInfo[];
  checkTyp(typ: unknown, requiredTyp: string): TypResult;
  timeState(claims: JWTClaims, nowSeconds: number, clockTolerance?: number): TimeStateResult;
}

/** A finite number claim, or null. */
export function numClaim(claims: JWTClaims | null | undefined, name: string): number | null;

/** A duration in words: "45 s", "4 min", "2 h 5 min", "3 days", "2 years" (the sign is ignored). */
export function fmtDuration(seconds: number): string;

/** "in 4 min", "4 min ago" or "now": `ts` relative to `now` (unix seconds). */
export function relative(ts: number, now: number): string;

/** Under this many seconds left, a valid token is "expiring" (300). */
export const EXPIRING_SECONDS: number;

/** The time states of {@link timeVerdict}: the core's, plus `expiring` and `unknown`. */
export type InspectorTimeState =
  | "valid"
  | "expiring"
  | "grace"
  | "no-exp"
  | "expired"
  | "not-yet-valid"
  | "issued-in-future"
  | "invalid"
  | "unknown";

export interface TimeVerdict {
  state: InspectorTimeState;
  /** What a verifier answers for a refused state; null otherwise. */
  error: { code: ErrorCode; message: string } | null;
}

/**
 * The core's verdict on the token's times at `now` (unix seconds) with `leeway`
 * seconds of tolerance (default 60); `valid` becomes `expiring` under
 * {@link EXPIRING_SECONDS} left; `unknown` when `tg` is null.
 */
export function timeVerdict(tg: CoreRules | null, claims: JWTClaims, now: number, leeway?: number): TimeVerdict;

/** The state of {@link timeVerdict} alone. */
export function timeState(tg: CoreRules | null, claims: JWTClaims, now: number, leeway?: number): InspectorTimeState;

/** A few words for each state ("valid now", "expires soon", ...). */
export const STATE_TEXT: Readonly<Record<InspectorTimeState, string>>;

/** One sentence on the time state ("Expires in 4 min.", "Expired 2 h ago: a verifier answers token_expired."). */
export function stateSentence(tg: CoreRules | null, claims: JWTClaims, now: number, leeway?: number): string;

/** A finding of {@link lint}. `id` is stable (`alg-none`, `exp-missing`, `lifetime`, `expired`, `cnf`, ...). */
export interface LintFinding {
  id: string;
  level: "error" | "warn" | "info";
  title: string;
  detail: string;
}

export interface LintOptions {
  /** The time (unix seconds) the time findings are about; without it there are none. */
  now?: number;
  /** Clock tolerance in seconds (default 60). */
  leeway?: number;
  /** A `typ` the verifier requires (e.g. `at+jwt`). */
  requiredTyp?: string;
}

/**
 * Lints of a decoded token: what a reviewer would point out, each tied to what
 * tokengate does with it. `passed` lists the checks that found nothing.
 */
export function lint(
  tg: CoreRules | null,
  header: JWTHeader | Record<string, unknown> | null | undefined,
  claims: JWTClaims | null | undefined,
  options?: LintOptions,
): { findings: LintFinding[]; passed: { id: string; title: string }[] };

/**
 * The kinds of {@link binding}: `dpop` (cnf.jkt, RFC 9449), `mtls` (cnf["x5t#S256"],
 * RFC 8705), both, `unsupported` (only other members, e.g. RFC 7800's jwk, jku or kid,
 * which tokengate does not accept) or `malformed`.
 */
export type BindingKind = "dpop" | "mtls" | "dpop+mtls" | "unsupported" | "malformed";

/** A token's sender binding (its `cnf` claim), as {@link binding} reads it. */
export interface Binding {
  kind: BindingKind;
  /** The DPoP key's RFC 7638 SHA-256 thumbprint (base64url), when well-formed. */
  jkt?: string;
  /** The client certificate's SHA-256 thumbprint (base64url), when well-formed. */
  x5tS256?: string;
  /** The same thumbprint in lowercase hex (Cloudflare's `request.cf.tlsClientAuth.certFingerprintSHA256`). */
  x5tS256Hex?: string;
  /** What a request with the token needs: one sentence per binding; empty when malformed or unsupported. */
  needs: string[];
  /** What is wrong or unusual (also the `cnf` lint of {@link lint}). */
  warnings: string[];
}

/** The token's sender binding (the `cnf` claim); null when it has none. */
export function binding(claims: JWTClaims | null | undefined): Binding | null;

/**
 * A requirement's `claims` from claim rules as a user writes them (the Worker's
 * operators, `any_of`, or the package's, `anyOf`). Throws a TypeError when `rules` is not
 * an object of objects.
 */
export function claimRules(rules: unknown): Record<string, import("./index.js").ClaimRule>;

/** A claim rule in words, e.g. `any of "org_A", "org_B" and present`. */
export function ruleText(rule: import("./index.js").ClaimRule): string;

/** One line of a policy check. */
export interface PolicyLine {
  /** `claim:<name>`, `delegation-depth` or `actor`. */
  id: string;
  label: string;
  /** Whether the token meets the rule; null when the route sets no such rule. */
  pass: boolean | null;
  /** What the route requires, in words. */
  rule: string;
  /** What the token has (its own values). */
  token: string;
}

/** The lines of `tg.policyCheck(requirement, claims)`: each claim rule, the delegation depth, the actor. */
export function policyLines(check: import("./index.js").PolicyCheck): PolicyLine[];
