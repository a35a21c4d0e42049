import { type RunReport } from '../scenario/runner.js';
import { type Style } from './format.js';

const hex = (n: number): string => `0x${n.toString(16)}`;

function table(rows: string[][], style: Style): string[] {
  if (rows.length === 0) return [];
  // Loops, not Math.max(...rows): spreading a few hundred thousand arguments overflows the stack.
  const widths = rows[0].map(() => 0);
  for (const r of rows) for (let i = 0; i < widths.length; i++) widths[i] = Math.max(widths[i], (r[i] ?? '').length);
  return rows.map((r, ri) => {
    const line = r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
    return ri === 0 ? style.bold(line) : line;
  });
}

/** The state after a run as tables: each process's maps and page-table entries, each CPU's TLB, counters. */
export function formatState(r: RunReport, style: Style): string {
  const m = r.machine;
  if (!m) return '';
  const out: string[] = [];
  for (const [name, p] of r.names.processes) {
    const snap = p.snapshot();
    out.push('', style.bold(`process ${name} (pid ${p.pid}${p.alive ? '' : ', exited'})`));
    out.push('  maps:');
    for (const l of p.maps().trimEnd().split('\n')) if (l) out.push(`    ${l}`);
    if (snap.pkruRanges.length > 0) {
      out.push('  pkru ranges:');
      for (const k of snap.pkruRanges) out.push(`    ${hex(k.start)}-${hex(k.end)} key=${k.key}${k.persist ? ' persist' : ''}`);
    }
    out.push('  page table:');
    const rows = [['va', 'entry', 'frame']];
    for (const e of snap.pageTable) rows.push([hex(e.va), e.entry, e.frame ? `${e.frame.kind} map=${e.frame.mapcount} ref=${e.frame.refcount}` : '']);
    for (const l of table(rows, style)) out.push(`    ${l}`);
    out.push(`  counters: ${Object.entries(snap.counters.mm).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  }
  const pcidOwner = new Map<number, string>();
  for (const [name, p] of r.names.processes) pcidOwner.set(p.process.mm.pmap.pcid, name);
  for (const cpu of m.hw.cpus) {
    out.push('', style.bold(`cpu${cpu.id}`) + `  PKRU=${hex(cpu.pkru)} PKRS=${hex(cpu.pkrs)} pcid=${cpu.pcid}`);
    const rows = [['va', 'pcid', 'process', 'pfn', 'rights', 'key']];
    for (const e of cpu.tlb.entries()) {
      rows.push([hex(e.va), e.pcid === undefined ? 'global' : String(e.pcid), e.pcid === undefined ? '' : (pcidOwner.get(e.pcid) ?? '?'), hex(e.pfn), `${e.user ? 'U' : 'S'}${e.writable ? 'W' : 'R'}${e.executeDisable ? '' : 'X'}${e.dirty ? 'D' : ''}${e.huge ? ' 2M' : ''}`, String(e.key)]);
    }
    out.push('  tlb:');
    for (const l of table(rows, style)) out.push(`    ${l}`);
    out.push(`  counters: ${Object.entries(cpu.counters.toJSON()).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  }
  out.push('', `machine: ${Object.entries(m.counters().machine).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  return out.join('\n');
}

/** The state after a run as JSON. */
export function stateJson(r: RunReport): unknown {
  const m = r.machine;
  if (!m) return null;
  return {
    processes: [...r.names.processes].map(([name, p]) => ({ name, maps: p.maps(), ...p.snapshot() })),
    machine: m.counters().machine,
  };
}
