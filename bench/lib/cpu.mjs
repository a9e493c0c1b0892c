// CPU time and memory of processes from /proc (Linux): how the edge section measures
// what a Worker costs per request, as workerd CPU time rather than throughput (which
// the load generator and the origin, sharing the cores, distort), and what its
// isolate holds, as the resident memory of its workerd process.

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

/**
 * CPU nanoseconds of process `pid`: the sum over its live threads of the scheduler's
 * run time (/proc/<pid>/task/<tid>/schedstat, first field). Unlike cpuSeconds (clock
 * ticks, 10 ms here) precise enough for one request that runs tens of milliseconds;
 * misses threads that exited between two readings (workerd's threads live as long as
 * the process).
 */
export function cpuNs(pid) {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
    } catch {
      /* thread gone */
    }
  }
  return ns;
}

/**
 * Memory of process `pid` from /proc/<pid>/status, in bytes: { rss: VmRSS (resident
 * now), hwm: VmHWM (the peak resident size so far) }.
 */
export function memory(pid) {
  const s = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (field) => {
    const m = s.match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"));
    if (!m) throw new Error(`no ${field} in /proc/${pid}/status`);
    return Number(m[1]) * 1024;
  };
  return { rss: kib("VmRSS"), hwm: kib("VmHWM") };
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
