import { type TraceEvent } from '../hw/trace.js';
import { describeErrorCode } from '../hw/mmu.js';
import { formatDiagnostic } from '../scenario/diagnostics.js';
import { type RunReport } from '../scenario/runner.js';

/** Colours, or none: only on a terminal, and never when NO_COLOR is set (no-color.org). */
export interface Style {
  ok(s: string): string;
  bad(s: string): string;
  dim(s: string): string;
  bold(s: string): string;
}

/**
 * A run's checks: every expectation and final condition, and every line that could not
 * run (it counts as a check that failed, so "3 of 3 failed" never reads "3 of 0").
 */
export function tally(r: RunReport): { checked: number; failed: number } {
  let checked = r.finals.length;
  let failed = r.finals.filter((f) => !f.passed).length;
  for (const l of r.lines) {
    if (!l.expectation && !l.error) continue;
    checked++;
    if (l.error || !l.expectation!.passed) failed++;
  }
  return { checked, failed };
}

/** The style for a stream. */
export function styleFor(stream: NodeJS.WriteStream, forceOff = false): Style {
  const on = !forceOff && stream.isTTY === true && !('NO_COLOR' in process.env && process.env.NO_COLOR !== '');
  const wrap = (code: string) => (s: string) => (on ? `\x1b[${code}m${s}\x1b[0m` : s);
  return { ok: wrap('32'), bad: wrap('31'), dim: wrap('2'), bold: wrap('1') };
}

const hex = (n: number): string => `0x${n.toString(16)}`;

/** One trace event as a line. */
export function formatTraceEvent(e: TraceEvent): string {
  switch (e.type) {
    case 'tlb.miss':
      return `cpu${e.cpu}  tlb miss, walk ${hex(e.va)}`;
    case 'page-fault':
      return `cpu${e.cpu}  page fault at ${hex(e.va)} (error code ${describeErrorCode(e.errorCode)})`;
    case 'tlb.flush':
      return `cpu${e.cpu}  tlb flush pcid ${e.pcid} ${e.pages === 'all' ? 'all' : `${e.pages} page${e.pages === 1 ? '' : 's'} at ${hex(e.va)}`}`;
    case 'ipi':
      return `cpu${e.to}  shoot-down IPI${e.from === null ? '' : ` from cpu${e.from}`}`;
    case 'fault.resolved':
      return `tid ${e.tid}  fault at ${hex(e.va)} resolved: ${e.how}`;
    case 'op':
      return `line ${e.line}  ${e.thread}: ${e.text}  -> ${e.result}`;
    case 'step':
      return `${e.thread}  step: ${e.kind} ${e.what}`;
  }
}

/** The human report of one run: each line with its outcome, the final conditions, the notes. */
export function formatReport(r: RunReport, style: Style, trace: boolean): string {
  const out: string[] = [style.bold(r.file)];
  if (r.diagnostics.length > 0) {
    for (const d of r.diagnostics) out.push(style.bad(formatDiagnostic(d)));
    const n = r.diagnostics.length;
    const capped = r.diagnostics[n - 1].code === 'MMS0004';
    const problems = capped ? `more than ${n - 1} problems` : `${n} problem${n === 1 ? '' : 's'}`;
    out.push(style.bad(`ERROR ${r.file}: ${problems} in the scenario; nothing ran`));
    return out.join('\n');
  }
  // A loop, not Math.max(...lines): spreading a few hundred thousand arguments overflows the stack.
  let width = 20;
  for (const l of r.lines) if (l.source.length > width) width = Math.min(60, l.source.length);
  if (trace) {
    for (const e of r.trace) out.push(`  ${style.dim(formatTraceEvent(e))}`);
  }
  // Conditions are checked where they stand: print each before the first line below it.
  const finals = r.finals;
  let nextFinal = 0;
  const printFinal = (f: (typeof finals)[number]): void => {
    out.push(`${f.passed ? style.ok('✓') : style.bad('✗')} ${String(f.line).padStart(4)}  ${f.source}   ${style.dim(`(${f.seen})`)}`);
  };
  for (const l of r.lines) {
    while (nextFinal < finals.length && finals[nextFinal].line < l.line) printFinal(finals[nextFinal++]);
    const mark = l.error ? style.bad('✗') : l.expectation === null ? ' ' : l.expectation.passed ? style.ok('✓') : style.bad('✗');
    const who = (l.thread ?? '').padEnd(6);
    let line = `${mark} ${String(l.line).padStart(4)}  ${who} ${l.source.padEnd(width)}  ${l.result}`;
    if (l.expectation && !l.expectation.passed) line += style.bad(`   expected ${l.expectation.text.replace(/^=>\s*/, '')}`);
    out.push(line);
    if (l.error) out.push(style.bad(`        ${formatDiagnostic(l.error)}`));
  }
  while (nextFinal < finals.length) printFinal(finals[nextFinal++]);
  for (const n of r.notes) out.push(style.dim(`  note: ${n}`));
  const { checked: expectations, failed } = tally(r);
  out.push(
    r.passed
      ? style.ok(`PASS ${r.file} (${expectations} expectation${expectations === 1 ? '' : 's'} met)`)
      : style.bad(`FAIL ${r.file} (${failed} of ${expectations} expectation${expectations === 1 ? '' : 's'} failed)`),
  );
  return out.join('\n');
}

/** A report as plain JSON (no machine). */
export function reportJson(r: RunReport, trace: boolean): unknown {
  return {
    file: r.file,
    passed: r.passed,
    diagnostics: r.diagnostics.map((d) => ({ ...d, text: formatDiagnostic(d) })),
    lines: r.lines,
    finals: r.finals,
    notes: r.notes,
    ...(trace ? { trace: r.trace } : {}),
  };
}
