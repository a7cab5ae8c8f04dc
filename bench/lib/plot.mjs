// The picture docs/BENCHMARKS.md opens with: navigation → first painted frame of every run, per
// client, per visit, one panel per network profile (a strip plot with each median marked),
// written as a self-contained SVG by the bench itself.
import { writeFileSync } from "node:fs";
import { median } from "./stats.mjs";
import { PROFILES } from "./profiles.mjs";

export const PLOT_LABEL = {
  ours: "ours (README page)",
  "ours-eager": "ours, compiled eagerly",
  "ours-nohints": "ours, no preload hints",
  official: "official 4.27.0",
  "floor-mic": "raw-JS floor + mic",
  floor: "raw-JS floor",
  "floor-sdk-order": "floor, SDK order",
  "floor-inline": "floor + mic, inline",
  "ours-nomic": "ours (driver), no mic",
  "ours-pool2": "ours (driver), pool 2",
};
const VISIT_COLOR = { cold: "#1f5fa8", warm: "#d9730d" };
const esc = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** A round step for axis ticks: 1, 2 or 5 times a power of ten, about `span / 5`. */
export function tickStep(span) {
  const raw = span / 5;
  const p = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw);
}

/** The SVG text for `ttff` (results.ttff of a run). */
export function stripPlot(ttff) {
  const W = 900;
  const left = 190;
  const right = 20;
  const rowH = 26;
  const parts = [];
  let y = 36;
  parts.push(`<text x="${W / 2}" y="20" text-anchor="middle" font-size="15" font-weight="bold">Navigation → first painted frame, every run (ms; | = median)</text>`);
  parts.push(
    `<circle cx="${W - 230}" cy="${y - 2}" r="4" fill="${VISIT_COLOR.cold}"/><text x="${W - 222}" y="${y + 2}" font-size="12">cold first visit</text>`,
    `<circle cx="${W - 120}" cy="${y - 2}" r="4" fill="${VISIT_COLOR.warm}"/><text x="${W - 112}" y="${y + 2}" font-size="12">repeat visit</text>`,
  );
  y += 12;
  for (const profile of ttff.profiles) {
    const p = ttff.byProfile[profile];
    if (!p) continue;
    const clients = p.clients.filter((c) => ttff.visits.some((v) => p.runs[v]?.some((r) => r.client === c)));
    const values = ttff.visits.flatMap((v) => (p.runs[v] ?? []).map((r) => r.navToFirstFrame)).filter(Number.isFinite);
    if (!values.length) continue;
    const max = Math.max(...values);
    const step = tickStep(max);
    const top = Math.ceil(max / step) * step;
    const x = (v) => left + (v / top) * (W - left - right);
    const c = PROFILES[profile];
    const title = c.downKbps === null ? "loopback (no throttling)" : `${c.label}: ${c.downKbps / 1000} Mbit/s down, ${c.upKbps / 1000} up, ${c.rttMs} ms round trip`;
    y += 22;
    parts.push(`<text x="10" y="${y}" font-size="13" font-weight="bold">${esc(title)}</text>`);
    y += 8;
    const panelTop = y;
    const panelH = clients.length * rowH;
    for (let t = 0; t <= top; t += step) {
      parts.push(`<line x1="${x(t)}" y1="${panelTop}" x2="${x(t)}" y2="${panelTop + panelH}" stroke="#ddd"/>`);
      parts.push(`<text x="${x(t)}" y="${panelTop + panelH + 14}" font-size="11" text-anchor="middle" fill="#555">${t}</text>`);
    }
    clients.forEach((client, i) => {
      const rowY = panelTop + i * rowH;
      if (i % 2 === 0) parts.push(`<rect x="${left}" y="${rowY}" width="${W - left - right}" height="${rowH}" fill="#f4f6f8"/>`);
      parts.push(`<text x="${left - 8}" y="${rowY + rowH / 2 + 4}" font-size="12" text-anchor="end">${esc(PLOT_LABEL[client] ?? client)}</text>`);
      ttff.visits.forEach((visit, k) => {
        const mine = (p.runs[visit] ?? []).filter((r) => r.client === client).map((r) => r.navToFirstFrame).filter(Number.isFinite);
        const cy = rowY + (k + 1) * (rowH / (ttff.visits.length + 1));
        mine.forEach((v, j) => {
          // A small fixed vertical spread so that equal values stay visible.
          const dy = ((j * 7) % 5) - 2;
          parts.push(`<circle cx="${x(v).toFixed(1)}" cy="${(cy + dy).toFixed(1)}" r="2.6" fill="${VISIT_COLOR[visit]}" fill-opacity="0.55"/>`);
        });
        const m = median(mine);
        if (m !== null) parts.push(`<line x1="${x(m).toFixed(1)}" y1="${cy - 6}" x2="${x(m).toFixed(1)}" y2="${cy + 6}" stroke="#000" stroke-width="2"/>`);
      });
    });
    parts.push(`<rect x="${left}" y="${panelTop}" width="${W - left - right}" height="${panelH}" fill="none" stroke="#999"/>`);
    y = panelTop + panelH + 22;
  }
  const H = y + 6;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    ...parts,
    "</svg>",
    "",
  ].join("\n");
}

export function writeStripPlot(ttff, file) {
  writeFileSync(file, stripPlot(ttff));
}
