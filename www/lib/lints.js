// Lints: what a reviewer of an access token would point out, each tied to what
// tokengate does with it (the error code a verifier answers, where there is one).

import { lint as lintWith } from "../tokengate/explain.js";
import { core } from "./core.js";

// The token's sender binding (cnf: DPoP, mTLS) and what a request with it needs: the
// package's too, and pure (no core needed).
export { binding } from "../tokengate/explain.js";

// The lints themselves are the package's (`tokengate/explain`, npm/explain.js, shared
// with the CLI's `tokengate decode`), asked with the core once it is loaded.

/**
 * Returns { findings, passed }: lists of { id, level: "error"|"warn"|"info", title,
 * detail } and { id, title } for the checks that passed.
 */
export function lint(header, claims, options = {}) {
  return lintWith(core(), header, claims, options);
}
