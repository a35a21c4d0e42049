import { type PteView } from '../api/inspect.js';
import { type ThreadHandle } from '../api/thread.js';
import { type InvariantId } from '../hw/violation.js';
import { SIGNAL_CODE_NUMBERS, SIGNAL_NUMBERS } from '../mm/signal.js';
import { ArgReader, parseProt, wordOf } from './args.js';
import { type Condition, type Expr, type OpStatement, type Span } from './ast.js';
import { type Diagnostic } from './diagnostics.js';
import { protString } from '../mm/abi.js';
import { formatNumber } from './format.js';
import { type OpContext } from './ops.js';

/** What a condition needs from the running scenario. */
export interface ConditionContext extends OpContext {
  /** A thread by scenario name (`p`, `p.main`, `p.t1`). */
  thread(name: string, span: Span): ThreadHandle;
}

/** A condition ready to evaluate: true or false, with a sentence saying what was seen. */
export type CompiledCondition = (ctx: ConditionContext) => { value: boolean; seen: string };

type Cmp = '==' | '!=' | '<' | '<=' | '>' | '>=';

function compare(op: Cmp, left: number, right: number): boolean {
  switch (op) {
    case '==':
      return left === right;
    case '!=':
      return left !== right;
    case '<':
      return left < right;
    case '<=':
      return left <= right;
    case '>':
      return left > right;
    case '>=':
      return left >= right;
  }
}

const PTE_FLAGS = ['present', 'writable', 'user', 'executable', 'dirty', 'accessed', 'swapped', 'none', 'protnone', 'file'] as const;
const PTE_FIELDS = ['key', 'pfn', 'pgoff'] as const;
const TLB_FLAGS = ['present', 'writable', 'user', 'executable', 'dirty'] as const;
// data-preserved needs a record of what was written, which a machine does not keep: a
// scenario states it with `value` conditions and load expectations instead.
const INVARIANTS: readonly InvariantId[] = ['no-excess-rights', 'no-stale-tlb', 'no-pt-use-after-free', 'no-wx', 'keys-enforced', 'own-context', 'accounting'];
const SUBJECTS = ['pte', 'vma', 'pkru_range', 'tlb', 'counter', 'value', 'signal', 'alive', 'invariant'];

const hex = formatNumber;

/** Compiles a final condition, reporting malformed atoms as diagnostics. */
export function compileCondition(c: Condition, file: string, diagnostics: Diagnostic[]): CompiledCondition {
  switch (c.kind) {
    case 'and':
    case 'or': {
      const l = compileCondition(c.left, file, diagnostics);
      const r = compileCondition(c.right, file, diagnostics);
      return (ctx) => {
        const a = l(ctx);
        const b = r(ctx);
        const value = c.kind === 'and' ? a.value && b.value : a.value || b.value;
        return { value, seen: `${a.seen}; ${b.seen}` };
      };
    }
    case 'not': {
      const inner = compileCondition(c.operand, file, diagnostics);
      return (ctx) => {
        const r = inner(ctx);
        return { value: !r.value, seen: r.seen };
      };
    }
    case 'atom':
      return compileAtom(c, file, diagnostics);
  }
}

function compileAtom(c: Condition & { kind: 'atom' }, file: string, diagnostics: Diagnostic[]): CompiledCondition {
  const pseudo: OpStatement = { kind: 'op', bind: null, op: c.subject, opSpan: c.span, args: c.args, expect: null, span: c.span };
  const r = new ArgReader(pseudo, file, diagnostics);
  const fail = (): CompiledCondition => () => ({ value: false, seen: 'malformed' });
  const needCompare = (what: string): boolean => {
    if (c.compare) return true;
    r.error(c.span, 'MMS2005', `'${c.subject}' needs a comparison for ${what}, like '== 3'`);
    return false;
  };
  const noCompare = (): boolean => {
    if (!c.compare) return true;
    const last = c.args[c.args.length - 1];
    const property = last && last.kind === 'word' ? ` ${last.word}` : '';
    r.error(c.span, 'MMS2005', `'${c.subject}${property}' is a yes/no property and takes no comparison`);
    return false;
  };
  const rightNumber = (): Expr | null => {
    if (!c.compare) return null;
    const a = c.compare.right;
    if (a.kind === 'expr') return a.expr;
    const w = wordOf(a);
    if (w !== null && /^[A-Za-z_][A-Za-z0-9_]*$/.test(w)) return { kind: 'name', name: w, span: a.span };
    r.error(a.span, 'MMS2005', 'expected a number to compare with');
    return null;
  };
  switch (c.subject) {
    case 'pte': {
      const proc = r.name('a process name');
      const addr = r.expr('an address');
      const prop = r.word('a PTE property', [...PTE_FLAGS, ...PTE_FIELDS]);
      r.end();
      if (!proc || !addr || !prop) return fail();
      if ((PTE_FIELDS as readonly string[]).includes(prop)) {
        if (!needCompare(prop)) return fail();
        const right = rightNumber();
        const cmp = c.compare!;
        return (ctx) => {
          const pte = ctx.process(proc.name, proc.span).pte(ctx.num(addr));
          const v = prop === 'key' ? pte.key : prop === 'pfn' ? pte.pfn : pte.pgoff;
          const want = right ? ctx.num(right) : 0;
          return { value: compare(cmp.op, v, want), seen: `pte ${prop} is ${hex(v)}` };
        };
      }
      if (!noCompare()) return fail();
      return (ctx) => {
        const pte = ctx.process(proc.name, proc.span).pte(ctx.num(addr));
        return { value: pte[prop as (typeof PTE_FLAGS)[number]], seen: `pte is ${describePte(pte)}` };
      };
    }
    case 'vma': {
      const proc = r.name('a process name');
      const addr = r.expr('an address');
      const prop = r.word('a VMA property', ['exists', 'prot', 'pkey', 'nonlinear', 'manyprots']);
      r.end();
      if (!proc || !addr || !prop) return fail();
      if (prop === 'exists' || prop === 'nonlinear' || prop === 'manyprots') {
        if (!noCompare()) return fail();
        const flag = prop === 'nonlinear' ? 'nl' : 'mp';
        return (ctx) => {
          const v = ctx.process(proc.name, proc.span).vma(ctx.num(addr));
          const seen = v ? `vma ${hex(v.start)}-${hex(v.end)} ${v.perms} [${v.flags.join(' ')}]` : 'no vma there';
          return { value: v !== undefined && (prop === 'exists' || v.flags.includes(flag)), seen };
        };
      }
      if (!needCompare(prop)) return fail();
      const cmp = c.compare!;
      let wantProt: number | null = null;
      let wantNum: Expr | null = null;
      if (prop === 'prot') {
        const w = wordOf(cmp.right);
        wantProt = w === null ? null : parseProt(w);
        if (wantProt === null) r.error(cmp.right.span, 'MMS2005', 'expected a protection like rw- or r-- to compare with');
        if (cmp.op !== '==' && cmp.op !== '!=') r.error(c.span, 'MMS2005', 'protections compare only with == or !=');
      } else {
        wantNum = rightNumber();
      }
      return (ctx) => {
        const v = ctx.process(proc.name, proc.span).vma(ctx.num(addr));
        if (!v) return { value: false, seen: 'no vma there' };
        if (prop === 'prot') {
          const have = parseProt(v.perms.slice(0, 3)) ?? -1;
          return { value: compare(cmp.op, have, wantProt ?? -2), seen: `vma prot is ${v.perms.slice(0, 3)}` };
        }
        return { value: compare(cmp.op, v.pkey, wantNum ? ctx.num(wantNum) : 0), seen: `vma pkey is ${v.pkey}` };
      };
    }
    case 'pkru_range': {
      // FreeBSD's per-pmap key ranges: `pkru_range p ADDR key == 3 | persist | exists`.
      const proc = r.name('a process name');
      const addr = r.expr('an address');
      const prop = r.word('a key-range property', ['exists', 'persist', 'key']);
      r.end();
      if (!proc || !addr || !prop) return fail();
      const seen = (k: { start: number; end: number; key: number; persist: boolean } | undefined): string =>
        k ? `range ${hex(k.start)}-${hex(k.end)} key=${k.key}${k.persist ? ' persist' : ''}` : 'no key range there';
      if (prop === 'key') {
        if (!needCompare(prop)) return fail();
        const right = rightNumber();
        const cmp = c.compare!;
        return (ctx) => {
          const k = ctx.process(proc.name, proc.span).pkruRange(ctx.num(addr));
          // No range means key 0 (pmap_pkru_get()).
          return { value: compare(cmp.op, k ? k.key : 0, right ? ctx.num(right) : 0), seen: seen(k) };
        };
      }
      if (!noCompare()) return fail();
      return (ctx) => {
        const k = ctx.process(proc.name, proc.span).pkruRange(ctx.num(addr));
        return { value: prop === 'exists' ? k !== undefined : k !== undefined && k.persist, seen: seen(k) };
      };
    }
    case 'tlb': {
      const cpuWord = r.name('a CPU like cpu0');
      const proc = r.name('a process name');
      const addr = r.expr('an address');
      const prop = r.word('a TLB property', [...TLB_FLAGS, 'key', 'pfn']);
      r.end();
      if (!cpuWord || !proc || !addr || !prop) return fail();
      const m = /^cpu(\d+)$/.exec(cpuWord.name);
      if (!m) {
        r.error(cpuWord.span, 'MMS3004', `expected a CPU like cpu0, not '${cpuWord.name}'`);
        return fail();
      }
      const cpu = Number(m[1]);
      const checkCpu = (ctx: ConditionContext): void => {
        if (cpu >= ctx.machine.hw.cpus.length) throw new ConditionError(`the machine has no CPU ${cpu}`, cpuWord.span);
      };
      if (prop === 'key' || prop === 'pfn') {
        if (!needCompare(prop)) return fail();
        const right = rightNumber();
        const cmp = c.compare!;
        return (ctx) => {
          checkCpu(ctx);
          const e = ctx.process(proc.name, proc.span).tlbEntry(cpu, ctx.num(addr));
          if (!e) return { value: false, seen: `cpu${cpu} holds no translation` };
          const v = prop === 'key' ? e.key : e.pfn;
          return { value: compare(cmp.op, v, right ? ctx.num(right) : 0), seen: `cpu${cpu} TLB ${prop} is ${hex(v)}` };
        };
      }
      if (!noCompare()) return fail();
      return (ctx) => {
        checkCpu(ctx);
        const e = ctx.process(proc.name, proc.span).tlbEntry(cpu, ctx.num(addr));
        if (!e) return { value: false, seen: `cpu${cpu} holds no translation` };
        const value = prop === 'present' ? true : prop === 'writable' ? e.writable : prop === 'user' ? e.user : prop === 'executable' ? !e.executeDisable : e.dirty;
        return { value, seen: `cpu${cpu} TLB entry pfn=${hex(e.pfn)}${e.writable ? ' W' : ''}${e.user ? ' U' : ''}${e.executeDisable ? ' XD' : ''} key=${e.key}` };
      };
    }
    case 'counter': {
      const owner = r.name('machine, a CPU like cpu0, or a process name');
      const name = r.name('a counter name');
      r.end();
      if (!owner || !name || !needCompare(name.name)) return fail();
      const right = rightNumber();
      const cmp = c.compare!;
      return (ctx) => {
        const counters = countersOf(ctx, owner.name, owner.span);
        if (!Object.prototype.hasOwnProperty.call(counters, name.name)) {
          throw new ConditionError(`no counter '${name.name}' for ${owner.name}; there are: ${Object.keys(counters).join(', ')}`, name.span);
        }
        const v = counters[name.name];
        return { value: compare(cmp.op, v, right ? ctx.num(right) : 0), seen: `${owner.name} ${name.name} is ${v}` };
      };
    }
    case 'value': {
      const proc = r.name('a process name');
      const addr = r.expr('an address');
      r.end();
      if (!proc || !addr || !needCompare('the value')) return fail();
      const right = rightNumber();
      const cmp = c.compare!;
      return (ctx) => {
        const v = ctx.process(proc.name, proc.span).peek(ctx.num(addr));
        if (v === undefined) return { value: false, seen: 'nothing is mapped there' };
        return { value: compare(cmp.op, v, right ? ctx.num(right) : 0), seen: `value is ${hex(v)}` };
      };
    }
    case 'signal': {
      const thread = r.name('a thread name');
      const sig = r.name('a signal name like SIGSEGV');
      const code = r.hasMore() ? r.name('a signal code like SEGV_ACCERR') : null;
      r.end();
      if (!thread || !sig || !noCompare()) return fail();
      if (!Object.prototype.hasOwnProperty.call(SIGNAL_NUMBERS, sig.name)) {
        r.error(sig.span, 'MMS3006', `unknown signal '${sig.name}'; expected ${Object.keys(SIGNAL_NUMBERS).join(', ')}`);
        return fail();
      }
      if (code && !Object.prototype.hasOwnProperty.call(SIGNAL_CODE_NUMBERS, code.name)) {
        r.error(code.span, 'MMS3006', `unknown signal code '${code.name}'; expected one of ${Object.keys(SIGNAL_CODE_NUMBERS).join(', ')}`);
        return fail();
      }
      return (ctx) => {
        const sigs = ctx.thread(thread.name, thread.span).signals;
        const value = sigs.some((s) => s.signal === sig.name && (code === null || s.code === code.name));
        return { value, seen: sigs.length ? `signals: ${sigs.map((s) => `${s.signal} ${s.code}`).join(', ')}` : 'no signals' };
      };
    }
    case 'alive': {
      const proc = r.name('a process name');
      r.end();
      if (!proc || !noCompare()) return fail();
      return (ctx) => {
        const p = ctx.process(proc.name, proc.span);
        return { value: p.alive, seen: p.alive ? 'alive' : 'not alive' };
      };
    }
    case 'invariant': {
      const next = r.peek();
      if (next && next.kind === 'word' && next.word === 'data-preserved') {
        r.error(next.span, 'MMS3004', "data-preserved cannot be checked at a point (the machine keeps no record of what was written): state it with 'value PROC ADDR == V' or a load's expectation");
        return fail();
      }
      const id = r.word('an invariant id', INVARIANTS);
      r.end();
      if (!id || !noCompare()) return fail();
      return (ctx) => {
        const broken = [...ctx.machine.violations, ...ctx.machine.checkInvariants()].filter((v) => v.id === id);
        return { value: broken.length === 0, seen: broken.length ? broken[0].message : `${id} holds` };
      };
    }
    default:
      r.error(c.span, 'MMS2005', `unknown condition '${c.subject}'; expected one of ${SUBJECTS.join(', ')}`);
      return fail();
  }
}

/** A condition that cannot be evaluated as written (an unknown counter). */
export class ConditionError extends Error {
  constructor(
    message: string,
    readonly span: Span,
  ) {
    super(message);
  }
}

function countersOf(ctx: ConditionContext, owner: string, span: Span): Readonly<Record<string, number>> {
  const all = ctx.machine.counters();
  if (owner === 'machine') return all.machine;
  const m = /^cpu(\d+)$/.exec(owner);
  if (m) {
    const c = all.cpus[Number(m[1])];
    if (!c) throw new ConditionError(`the machine has no CPU ${m[1]}`, span);
    return c;
  }
  const p = ctx.process(owner, span);
  return p.counters;
}

function describePte(p: PteView): string {
  if (p.none) return 'none';
  if (p.swapped) return `swapped (slot ${p.swapSlot})`;
  if (p.file) return `a file entry (pgoff ${hex(p.pgoff)}, prot ${protString(p.fileProt)})`;
  const bits = [p.present ? 'present' : 'protnone', p.writable ? 'writable' : 'read-only'];
  if (p.dirty) bits.push('dirty');
  if (p.key) bits.push(`key ${p.key}`);
  return bits.join(', ');
}
