// tokengate's WebAssembly core (the browser build of the npm package, copied to
// ../tokengate/ by scripts/build-www.sh), loaded once. The page's rules (the key-URL
// rule, discovery, time states, typ, algorithms) come from it: the page keeps no copies.

let loaded = null;

/** Resolves to the core's module once it is loaded (rejects when it cannot load). */
export const coreReady = import("../tokengate/browser.js").then((m) => {
  loaded = m;
  return m;
});

/** The core's module, or null while it is not loaded. */
export function core() {
  return loaded;
}

/** The core's module; throws when it is not loaded (for rules that need it). */
export function requireCore() {
  if (!loaded) throw new Error("tokengate's core is not loaded, so this cannot be checked");
  return loaded;
}
