// CPU time of processes from /proc (Linux): how the edge section measures what a Worker
// costs per request, as workerd CPU time rather than throughput (which the load
// generator and the origin, sharing the cores, distort).

import { readdirSync, readFileSync } from "node:fs";
import { execFileSync } from "node:child_process";

/** Clock ticks per second of /proc/<pid>/stat's utime and stime. */
export const CLK_TCK = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** The fields of /proc/<pid>/stat after the command name (which may hold spaces). */
function statFields(pid) {
  const s = readFileSync(`/proc/${pid}/stat`, "utf8");
  const close = s.lastIndexOf(")");
  return { comm: s.slice(s.indexOf("(") + 1, close), rest: s.slice(close + 2).split(" ") };
}

/** User + system CPU seconds of process `pid` (all its threads). */
export function cpuSeconds(pid) {
  const { rest } = statFields(pid);
  // rest[0] is field 3 (state); utime and stime are fields 14 and 15.
  return (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
}

/** Pids of the descendants of `root` whose command name starts with `name`. */
export function descendants(root, name) {
  const parent = new Map();
  const comm = new Map();
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const f = statFields(e);
      parent.set(Number(e), Number(f.rest[1]));
      comm.set(Number(e), f.comm);
    } catch {
      /* gone */
    }
  }
  const out = [];
  for (const [pid, c] of comm) {
    if (!c.startsWith(name)) continue;
    for (let p = parent.get(pid); p; p = parent.get(p)) {
      if (p === root) {
        out.push(pid);
        break;
      }
    }
  }
  return out.sort((a, b) => a - b);
}
