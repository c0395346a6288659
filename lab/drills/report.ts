import fs from 'node:fs';
import path from 'node:path';
import type { EventRecord } from '../../lambdas/ports/store-port';
import { REPO_ROOT } from '../world/paths';

/** One marker on the failover timeline, in ms from the fault. */
export interface Mark {
  at: number;
  label: string;
  kind: 'fault' | 'detect' | 'step' | 'write';
}

/** What the report shows. */
export interface ReportInput {
  title: string;
  faultAt: number;
  marks: Mark[];
  summary: Record<string, string | number | null>;
  event?: EventRecord;
}

const esc = (s: unknown) =>
  String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
const COLORS = { fault: '#c0392b', detect: '#d68910', step: '#2e86c1', write: '#239b56' } as const;

/** An SVG timeline: one row per mark, a dot at its time since the fault, the label beside it. */
export function timelineSvg(marks: readonly Mark[]): string {
  const sorted = [...marks].sort((a, b) => a.at - b.at);
  const maxAt = Math.max(1000, ...sorted.map((m) => m.at));
  const w = 900;
  const left = 60;
  const right = 300;
  const rowH = 22;
  const h = 40 + sorted.length * rowH;
  const x = (t: number) => left + ((w - left - right) * Math.max(0, t)) / maxAt;
  const ticks: string[] = [];
  const step = maxAt > 20000 ? 5000 : maxAt > 8000 ? 2000 : 1000;
  for (let t = 0; t <= maxAt; t += step) {
    ticks.push(
      `<line x1="${x(t)}" y1="20" x2="${x(t)}" y2="${h - 10}" stroke="#ddd"/><text x="${x(t)}" y="14" font-size="11" text-anchor="middle" fill="#666">${(t / 1000).toFixed(0)} s</text>`,
    );
  }
  const rows = sorted.map((m, i) => {
    const y = 32 + i * rowH;
    return `<line x1="${x(0)}" y1="${y}" x2="${x(m.at)}" y2="${y}" stroke="${COLORS[m.kind]}" stroke-width="3" opacity="0.35"/><circle cx="${x(m.at)}" cy="${y}" r="5" fill="${COLORS[m.kind]}"/><text x="${x(m.at) + 9}" y="${y + 4}" font-size="12">${esc(`${(m.at / 1000).toFixed(2)} s  ${m.label}`)}</text>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif">${ticks.join('')}${rows.join('')}</svg>`;
}

/** Writes a self-contained HTML report; returns its path. */
export function writeReport(
  r: ReportInput,
  file = path.join(REPO_ROOT, 'reports', `failover-${new Date(r.faultAt).toISOString().replace(/[:.]/g, '-')}.html`),
): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const summary = Object.entries(r.summary)
    .map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v ?? 'n/a')}</td></tr>`)
    .join('');
  const steps = (r.event?.timeline ?? [])
    .map(
      (s) =>
        `<tr><td>${esc(((s.at - r.faultAt) / 1000).toFixed(3))} s</td><td>${esc(s.step)}</td><td>${esc(s.detail)}</td></tr>`,
    )
    .join('');
  const lost = r.event?.lostTransactions?.length
    ? `<ul>${r.event.lostTransactions.map((t) => `<li><code>${esc(t)}</code></li>`).join('')}</ul>`
    : '<p>None: no transaction exists only on the old primary.</p>';
  fs.writeFileSync(
    file,
    `<!doctype html><html><head><meta charset="utf-8"><title>${esc(r.title)}</title>
<style>body{font-family:sans-serif;margin:2em;max-width:1000px}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}th{background:#f4f4f4}</style></head>
<body><h1>${esc(r.title)}</h1><p>Fault at ${esc(new Date(r.faultAt).toISOString())}. Times are from the fault.</p>
<h2>Summary</h2><table>${summary}</table>
<h2>Timeline</h2>${timelineSvg(r.marks)}
<h2>Controller steps (from the failover's event record)</h2><table><tr><th>at</th><th>step</th><th>detail</th></tr>${steps}</table>
<h2>Transactions only on the old primary</h2>${lost}
</body></html>`,
  );
  return file;
}
