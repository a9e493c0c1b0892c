// Small statistics and formatting helpers shared by the benchmark scripts.

/** Sorted copy (numbers ascending). */
export function sorted(xs) {
  return Float64Array.from(xs).sort();
}

/** The q-quantile (0..1) of a sorted array, nearest-rank. */
export function quantile(s, q) {
  if (s.length === 0) return NaN;
  const idx = Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1));
  return s[idx];
}

/** { n, median, p99, mean, min, max } of samples (same unit as the samples). */
export function summarize(xs) {
  const s = sorted(xs);
  let sum = 0;
  for (const x of s) sum += x;
  return {
    n: s.length,
    median: quantile(s, 0.5),
    p99: quantile(s, 0.99),
    mean: s.length ? sum / s.length : NaN,
    min: s.length ? s[0] : NaN,
    max: s.length ? s[s.length - 1] : NaN,
  };
}

/** A duration in microseconds, with sensible precision. */
export function fmtUs(us) {
  if (us == null || Number.isNaN(us)) return "-";
  if (us >= 1000) return `${(us / 1000).toFixed(2)} ms`;
  if (us >= 100) return `${us.toFixed(0)} us`;
  if (us >= 10) return `${us.toFixed(1)} us`;
  return `${us.toFixed(2)} us`;
}

/** A duration in nanoseconds (criterion's unit). */
export function fmtNs(ns) {
  if (ns == null || Number.isNaN(ns)) return "-";
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(2)} ms`;
  if (ns >= 1e3) return fmtUs(ns / 1e3);
  return `${ns.toFixed(0)} ns`;
}

export function fmtMs(ms) {
  if (ms == null || Number.isNaN(ms)) return "-";
  if (ms >= 100) return `${ms.toFixed(0)} ms`;
  if (ms >= 10) return `${ms.toFixed(1)} ms`;
  return `${ms.toFixed(2)} ms`;
}

export function fmtRatio(r) {
  if (r == null || Number.isNaN(r) || !Number.isFinite(r)) return "-";
  if (r >= 10) return `${r.toFixed(1)}x`;
  if (r >= 0.1) return `${r.toFixed(2)}x`;
  return `${r.toFixed(3)}x`;
}

export function fmtBytes(n) {
  if (n == null) return "-";
  if (n >= 1024 * 1024) return `${(n / 1024 / 1024).toFixed(2)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

/** Renders rows (arrays of strings) as an aligned text table under `headers`. */
export function table(headers, rows, { alignRight = [] } = {}) {
  const all = [headers, ...rows].map((r) => r.map((c) => String(c ?? "")));
  const widths = headers.map((_, i) => Math.max(...all.map((r) => (r[i] ?? "").length)));
  const line = (r) =>
    r
      .map((c, i) => (alignRight.includes(i) ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join("  ")
      .trimEnd();
  return [line(all[0]), widths.map((w) => "-".repeat(w)).join("  "), ...all.slice(1).map(line)].join("\n");
}
