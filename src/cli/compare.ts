import { type RunReport, runScenario } from '../scenario/runner.js';
import { type Style } from './format.js';

/** One design a scenario was run under, and what it did. */
export interface Design {
  /** `as written`, or the variants added (`variant=pkru-swapout-bug`). */
  readonly label: string;
  readonly report: RunReport;
}

/**
 * Runs scenario `text` as written and once per entry of `variants` with those variants
 * added (`a+b` switches both on in one run).
 */
export function runDesigns(text: string, file: string, variants: readonly string[]): Design[] {
  const designs: Design[] = [{ label: 'as written', report: runScenario(text, file) }];
  for (const v of variants) designs.push({ label: `variant=${v}`, report: runScenario(text, file, { extraVariants: v.split('+') }) });
  return designs;
}

/** One row of a comparison: a statement or final condition and its result under each design. */
export interface ComparisonRow {
  readonly line: number;
  readonly source: string;
  readonly results: readonly string[];
  readonly differs: boolean;
}

/**
 * Lines up the runs of one scenario under several designs: every operation line (matched
 * by line and occurrence, so a line run twice is compared twice) and every final
 * condition, with what each design produced.
 */
export function compareRuns(designs: readonly Design[]): ComparisonRow[] {
  const keys: string[] = [];
  const rows = new Map<string, { line: number; source: string; results: string[] }>();
  designs.forEach((d, i) => {
    const seen = new Map<string, number>();
    const add = (line: number, source: string, result: string, kind: string): void => {
      const base = `${kind}:${line}`;
      const n = seen.get(base) ?? 0;
      seen.set(base, n + 1);
      const key = `${base}#${n}`;
      let row = rows.get(key);
      if (!row) {
        rows.set(key, (row = { line, source, results: designs.map(() => '—') }));
        keys.push(key);
      }
      row.results[i] = result;
    };
    for (const l of d.report.lines) add(l.line, withoutExpectation(l.thread ? `${l.thread}: ${l.source}` : l.source), l.error ? `error: ${l.error.message}` : l.result, 'op');
    for (const f of d.report.finals) add(f.line, f.source.trim(), `${f.passed ? 'holds' : 'fails'} (${f.seen})`, 'final');
  });
  return keys
    .map((k) => rows.get(k)!)
    .sort((a, b) => a.line - b.line)
    .map((r) => ({ ...r, differs: r.results.some((x) => x !== r.results[0]) }));
}

/** The comparison as a table for people; rows whose results differ are marked. */
export function formatComparison(file: string, designs: readonly Design[], style: Style): string {
  const rows = compareRuns(designs);
  const header = ['line', 'statement', ...designs.map((d) => d.label)];
  const body = rows.map((r) => [String(r.line), r.source, ...r.results]);
  // Loops, not Math.max(...body): spreading a few hundred thousand arguments overflows the stack.
  const widths = header.map((h) => Math.min(60, h.length));
  for (const b of body) for (let i = 0; i < widths.length; i++) widths[i] = Math.min(60, Math.max(widths[i], b[i].length));
  const fit = (s: string, w: number): string => (s.length > w ? `${s.slice(0, w - 1)}…` : s.padEnd(w));
  const out = [style.bold(file), `  ${style.bold(header.map((h, i) => fit(h, widths[i])).join('  ').trimEnd())}`];
  rows.forEach((r, ri) => {
    const line = `  ${body[ri].map((c, i) => fit(c, widths[i])).join('  ').trimEnd()}`;
    out.push(r.differs ? style.bad(`${line}  ← differs`) : line);
  });
  const differing = rows.filter((r) => r.differs).length;
  out.push('', differing === 0 ? 'the designs agree on every line' : `${differing} line${differing === 1 ? ' differs' : 's differ'} between the designs`);
  return out.join('\n');
}

/** A statement without its `=> expectation`: each design's result stands beside it instead. */
function withoutExpectation(source: string): string {
  const at = source.indexOf('=>');
  return (at < 0 ? source : source.slice(0, at)).trim();
}
