// Times: human durations, local dates, the token's time state (asked of the core:
// timeState, the claim validation of src/verify.rs) and the lifetime timeline (SVG).
// The DOM-free parts are the package's (`tokengate/explain`, npm/explain.js, shared
// with the CLI), given the core once it is loaded; this file adds dates and the SVG.

import * as explain from "../tokengate/explain.js";
import { core } from "./core.js";

export const { numClaim, fmtDuration, relative, STATE_TEXT } = explain;

const SVG_NS = "http://www.w3.org/2000/svg";

const dateFmt = new Intl.DateTimeFormat(undefined, {
  year: "numeric", month: "short", day: "numeric",
  hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short",
});
const shortFmt = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dayFmt = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });

export function localTime(ts) {
  const d = new Date(ts * 1000);
  return Number.isNaN(d.getTime()) ? "out of range" : dateFmt.format(d);
}

function axisLabel(ts, span) {
  const d = new Date(ts * 1000);
  if (Number.isNaN(d.getTime())) return "?";
  return span > 2 * 86400 ? dayFmt.format(d) : shortFmt.format(d);
}

/** The core's verdict on the token's times (see explain.timeVerdict); "unknown"
 * while the core is not loaded. */
export function timeVerdict(claims, now, leeway = 60) {
  return explain.timeVerdict(core(), claims, now, leeway);
}

/** The state of timeVerdict alone. */
export function timeState(claims, now, leeway = 60) {
  return timeVerdict(claims, now, leeway).state;
}

/** The one-line sentence for the state. */
export function stateSentence(claims, now, leeway) {
  return explain.stateSentence(core(), claims, now, leeway);
}

function el(name, attrs = {}, text) {
  const e = document.createElementNS(SVG_NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

/**
 * Draws the lifetime timeline into `svg` (keeping its <title>/<desc>): the valid
 * window from nbf (or iat) to exp, the clock tolerance after exp, iat/nbf/exp ticks
 * and a "now" marker. When now is far outside the window, the axis is broken so the
 * window stays readable. Returns a text description for screen readers.
 */
export function drawTimeline(svg, claims, now, leeway = 60) {
  const W = 520, X0 = 20, X1 = 500, BAR_Y = 44, BAR_H = 16;
  for (const child of [...svg.children]) {
    if (child.tagName !== "title" && child.tagName !== "desc") child.remove();
  }
  const exp = numClaim(claims, "exp");
  const nbf = numClaim(claims, "nbf");
  const iat = numClaim(claims, "iat");
  const start = nbf ?? iat;
  const state = timeState(claims, now, leeway);
  svg.dataset.state = state;

  if (start === null && exp === null) {
    svg.append(el("text", { x: W / 2, y: 60, "text-anchor": "middle", class: "tl-note" }, "No iat, nbf or exp: nothing to draw."));
    return "The token has no time claims.";
  }

  // The window [a, b]; open-ended when exp (or the start) is missing.
  const a = start ?? Math.min(exp, now) - 3600;
  const b = exp ?? Math.max(a, now) + Math.max(3600, (Math.max(a, now) - a) * 0.5);
  const life = Math.max(b - a, 60);
  // Piecewise scale: [lo, hi] maps linearly unless now is far away, then the axis breaks.
  let segments;
  const far = life * 1.5;
  if (now > b + far) {
    segments = [
      { from: a - life * 0.05, to: b + life * 0.15, x0: X0, x1: 370 },
      { break: true, x0: 370, x1: 420, gap: now - b },
      { from: now - life * 0.1, to: now + life * 0.1, x0: 420, x1: X1 },
    ];
  } else if (now < a - far) {
    segments = [
      { from: now - life * 0.1, to: now + life * 0.1, x0: X0, x1: 100 },
      { break: true, x0: 100, x1: 150, gap: a - now },
      { from: a - life * 0.15, to: b + life * 0.05, x0: 150, x1: X1 },
    ];
  } else {
    const lo = Math.min(a, now), hi = Math.max(b + (exp !== null ? leeway : 0), now);
    const pad = (hi - lo) * 0.06 || 60;
    segments = [{ from: lo - pad, to: hi + pad, x0: X0, x1: X1 }];
  }
  const x = (t) => {
    const seg = segments.find((s) => !s.break && t >= s.from && t <= s.to)
      ?? segments.filter((s) => !s.break).reduce((best, s) => {
        const d = t < s.from ? s.from - t : t - s.to;
        return !best || d < best.d ? { s, d } : best;
      }, null).s;
    const c = Math.min(Math.max(t, seg.from), seg.to);
    return seg.x0 + ((c - seg.from) / (seg.to - seg.from)) * (seg.x1 - seg.x0);
  };

  // Axis line(s) and breaks.
  for (const s of segments) {
    if (s.break) {
      const mid = (s.x0 + s.x1) / 2;
      svg.append(el("path", { d: `M${mid - 9} ${BAR_Y + BAR_H + 14} l6 -12 M${mid + 3} ${BAR_Y + BAR_H + 14} l6 -12`, class: "tl-break" }));
      svg.append(el("text", { x: mid, y: BAR_Y + BAR_H / 2 + 4, "text-anchor": "middle", class: "tl-gap" }, fmtDuration(s.gap)));
    } else {
      svg.append(el("line", { x1: s.x0, x2: s.x1, y1: BAR_Y + BAR_H + 8, y2: BAR_Y + BAR_H + 8, class: "tl-axis" }));
    }
  }

  // Valid window and tolerance.
  const wa = x(a), wb = x(b);
  const windowCls = state === "expired" || state === "not-yet-valid" || state === "issued-in-future" || state === "invalid" ? "tl-window tl-dead" : "tl-window";
  svg.append(el("rect", { x: wa, y: BAR_Y, width: Math.max(wb - wa, 2), height: BAR_H, rx: 4, class: windowCls }));
  if (exp === null) {
    svg.append(el("path", { d: `M${wb - 2} ${BAR_Y - 2} l10 ${BAR_H / 2 + 2} l-10 ${BAR_H / 2 + 2}`, class: "tl-open" }));
  } else if (leeway > 0) {
    const lx = x(exp + leeway);
    if (lx - wb >= 1) svg.append(el("rect", { x: wb, y: BAR_Y + 3, width: lx - wb, height: BAR_H - 6, class: "tl-leeway" }));
  }

  // Ticks for iat / nbf / exp (labels above; staggered if they collide).
  const ticks = [];
  if (iat !== null) ticks.push(["iat", iat]);
  if (nbf !== null && nbf !== iat) ticks.push(["nbf", nbf]);
  if (exp !== null) ticks.push(["exp", exp]);
  let lastX = -Infinity, row = 0;
  for (const [name, t] of ticks.sort((p, q) => p[1] - q[1])) {
    const tx = x(t);
    row = tx - lastX < 70 ? row + 1 : 0;
    lastX = tx;
    const ly = BAR_Y - 10 - row * 14;
    svg.append(el("line", { x1: tx, x2: tx, y1: ly + 3, y2: BAR_Y + BAR_H + 12, class: "tl-tick" }));
    const anchor = tx < 60 ? "start" : tx > W - 60 ? "end" : "middle";
    svg.append(el("text", { x: tx, y: ly, "text-anchor": anchor, class: "tl-label" }, `${name} ${axisLabel(t, life)}`));
  }

  // Now marker.
  const nx = x(now);
  const g = el("g", { class: "tl-now", "data-now": Math.round(now) });
  g.append(el("line", { x1: nx, x2: nx, y1: BAR_Y - 6, y2: BAR_Y + BAR_H + 20 }));
  g.append(el("circle", { cx: nx, cy: BAR_Y + BAR_H / 2, r: 5 }));
  const anchor = nx < 60 ? "start" : nx > W - 60 ? "end" : "middle";
  g.append(el("text", { x: nx, y: BAR_Y + BAR_H + 36, "text-anchor": anchor }, `now ${axisLabel(now, life)}`));
  svg.append(g);

  const parts = [];
  if (iat !== null) parts.push(`issued ${relative(iat, now)}`);
  if (nbf !== null && nbf !== iat) parts.push(`valid from ${relative(nbf, now)}`);
  parts.push(exp !== null ? `expires ${relative(exp, now)}` : "no expiry");
  return `Lifetime ${exp !== null && start !== null ? fmtDuration(exp - start) : "open-ended"}: ${parts.join(", ")}. ${STATE_TEXT[state]}.`;
}
