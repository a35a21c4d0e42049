import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Arg, Condition, Expectation, Expr, OpStatement, Scenario, Span, TopLevel } from '../../src/scenario/ast.js';
import { formatDiagnostic, type Diagnostic } from '../../src/scenario/diagnostics.js';
import {
  argExpr,
  argWord,
  isName,
  isThreadName,
  MAX_SCENARIO_BYTES,
  parseScenario,
  protectionBits,
  TOP_LEVEL_STATEMENTS,
} from '../../src/scenario/parser.js';
import { spanCodes, COW_EXAMPLE } from './_helpers.js';

// ---- A compact rendering of the tree, so tests read like the language -----------------

function expr(e: Expr): string {
  switch (e.kind) {
    case 'number':
      return String(e.value);
    case 'name':
      return `$${e.name}`;
    case 'binary':
      return `(${expr(e.left)} ${e.op} ${expr(e.right)})`;
  }
}

function arg(a: Arg): string {
  switch (a.kind) {
    case 'expr':
      return expr(a.expr);
    case 'word':
      return a.word;
    case 'option':
      return `${a.key}=${arg(a.value)}`;
    case 'string':
      return JSON.stringify(a.value);
  }
}

function expectation(e: Expectation): string {
  switch (e.kind) {
    case 'value':
      return expr(e.expr);
    case 'errno':
      return e.name;
    case 'ok':
      return 'ok';
    case 'signal':
      return [
        e.signal,
        ...(e.code === null ? [] : [e.code]),
        ...(e.pkey === null ? [] : [`key=${expr(e.pkey)}`]),
        ...(e.addr === null ? [] : [`addr=${expr(e.addr)}`]),
      ].join(' ');
  }
}

function op(s: OpStatement): string {
  const bind = s.bind === null ? '' : `${s.bind.name} = `;
  const args = s.args.map((a) => ` ${arg(a)}`).join('');
  return `${bind}${s.op}${args}${s.expect === null ? '' : ` => ${expectation(s.expect)}`}`;
}

function cond(c: Condition): string {
  switch (c.kind) {
    case 'and':
    case 'or':
      return `(${cond(c.left)} ${c.kind} ${cond(c.right)})`;
    case 'not':
      return `not ${cond(c.operand)}`;
    case 'atom': {
      const args = c.args.map((a) => ` ${arg(a)}`).join('');
      return `[${c.subject}${args}${c.compare === null ? '' : ` ${c.compare.op} ${arg(c.compare.right)}`}]`;
    }
  }
}

function top(t: TopLevel): string {
  switch (t.kind) {
    case 'machine':
      return ['machine', t.arch, ...t.options.map(arg)].join(' ');
    case 'thread-block':
      return `${[t.header, t.name, ...t.options.map(arg)].join(' ')} { ${t.body.map(op).join('; ')} }`;
    case 'concurrent':
      return (
        `concurrent { ${t.threads.map(top).join(' ')} }` +
        (t.schedule === null ? '' : ` schedule ${t.schedule.map((s) => s.name).join(' ')}`)
      );
    case 'final':
      return `${t.quantifier} ${cond(t.condition)}`;
    case 'top-op':
      return op(t.statement);
  }
}

function parse(text: string): { scenario: Scenario; diagnostics: Diagnostic[] } {
  return parseScenario(text, 't.mms');
}

/** Parses text that must be valid; returns its top-level statements, rendered. */
function ok(text: string): string[] {
  const r = parse(text);
  assert.deepEqual(r.diagnostics.map(formatDiagnostic), [], `diagnostics for:\n${text}`);
  return r.scenario.body.map(top);
}

/** The first op statement of the first block of a one-block scenario. */
function stmt(line: string): OpStatement {
  const r = parse(`process p\n  ${line}`);
  assert.deepEqual(r.diagnostics.map(formatDiagnostic), [], line);
  const b = r.scenario.body[0];
  assert.ok(b.kind === 'thread-block');
  return b.body[0];
}

/** The diagnostics as `line:column CODE`. */
function errs(text: string): string[] {
  return spanCodes(parse(text).diagnostics);
}

/** The only diagnostic of `text`; checks its place and code, returns its message. */
function err(text: string, where: string): string {
  const ds = parse(text).diagnostics;
  assert.deepEqual(
    spanCodes(ds),
    [where],
    `for:\n${text}\n${ds.map(formatDiagnostic).join('\n')}`,
  );
  return ds[0].message;
}

/** Runs `body` in a process block and returns the only diagnostic's message (line 2). */
function inBlock(line: string, where: string): string {
  return err(`process p\n  ${line}`, where);
}

function sp(line: number, column: number, length: number): Span {
  return { line, column, length };
}

// ---- The example at the top of the doc ------------------------------------------------


describe('parser: the example of the doc', () => {
  it('parses without diagnostics into the expected tree', () => {
    assert.deepEqual(ok(COW_EXAMPLE), [
      'machine x86_64 os=linux cpus=2 memory=67108864 swap=67108864',
      'process p cpu=0 { a = mmap 16384 rw private anon; store a 17; q = fork cpu=1 }',
      'process q { load a => 17; store a 34; load a => 34 }',
      'process p { load a => 17 }',
      'require [counter q cowCopies == 1]',
      'forbid [pte p a writable]',
    ]);
  });

  it('gives every node its exact span', () => {
    const { scenario } = parse(COW_EXAMPLE);
    assert.equal(scenario.file, 't.mms');
    const m = scenario.machine;
    assert.ok(m !== null);
    assert.equal(scenario.body[0], m);
    assert.deepEqual(m.span, sp(2, 1, 50));
    assert.deepEqual(
      m.options.map((o) => o.span),
      [sp(2, 16, 8), sp(2, 25, 6), sp(2, 32, 10), sp(2, 43, 8)],
    );
    const p = scenario.body[1];
    assert.ok(p.kind === 'thread-block');
    assert.deepEqual(p.span, sp(4, 1, 15));
    assert.deepEqual(p.options[0].span, sp(4, 11, 5));
    const mmap = p.body[0];
    assert.deepEqual(mmap.span, sp(5, 3, 28));
    assert.deepEqual(mmap.bind, { name: 'a', span: sp(5, 3, 1) });
    assert.deepEqual(mmap.opSpan, sp(5, 7, 4));
    assert.deepEqual(
      mmap.args.map((a) => a.span),
      [sp(5, 12, 3), sp(5, 16, 2), sp(5, 19, 7), sp(5, 27, 4)],
    );
    const q = scenario.body[2];
    assert.ok(q.kind === 'thread-block');
    const load = q.body[0];
    assert.deepEqual(load.span, sp(10, 3, 25));
    assert.deepEqual(load.expect, { kind: 'value', expr: { kind: 'number', value: 17, span: sp(10, 24, 4) }, span: sp(10, 24, 4) });
    const req = scenario.body[4];
    assert.ok(req.kind === 'final');
    assert.deepEqual(req.span, sp(17, 1, 32));
    assert.ok(req.condition.kind === 'atom');
    assert.deepEqual(req.condition.span, sp(17, 9, 24));
    assert.deepEqual(req.condition.compare?.right.span, sp(17, 32, 1));
    const forbid = scenario.body[5];
    assert.ok(forbid.kind === 'final');
    assert.deepEqual(forbid.span, sp(18, 1, 23));
    assert.deepEqual(forbid.condition.span, sp(18, 8, 16));
  });

  it('parses the same with CRLF line ends', () => {
    assert.deepEqual(ok(COW_EXAMPLE.replace(/\n/g, '\r\n')), ok(COW_EXAMPLE));
    assert.deepEqual(parse(COW_EXAMPLE.replace(/\n/g, '\r\n')).scenario, parse(COW_EXAMPLE).scenario);
  });
});

// ---- Statements -------------------------------------------------------------------------

describe('parser: the machine line', () => {
  it('takes the architecture and any options, variant= repeated', () => {
    assert.deepEqual(ok('machine x86_64 os=freebsd cpus=4 memory=1G swap=0 variant=a variant=b max_map_count=65530 tlb=1024 pku=off'), [
      'machine x86_64 os=freebsd cpus=4 memory=1073741824 swap=0 variant=a variant=b max_map_count=65530 tlb=1024 pku=off',
    ]);
    assert.deepEqual(ok('machine x86_64'), ['machine x86_64']);
  });

  it('is optional: without one, machine is null', () => {
    const { scenario } = parse('process p\n  exec\n');
    assert.equal(scenario.machine, null);
  });

  it('may follow comments and blank lines', () => {
    assert.deepEqual(ok('\n# hi\n\nmachine x86_64\n'), ['machine x86_64']);
  });

  it('reports a second machine line as MMS2006', () => {
    const m = err('machine x86_64\nmachine x86_64 cpus=2', '2:1 MMS2006');
    assert.match(m, /first is on line 1/);
    assert.equal(parse('machine x86_64\nmachine x86_64 cpus=2').scenario.machine?.options.length, 0);
  });

  it('reports a machine line after another statement as MMS2003', () => {
    assert.match(err('check\nmachine x86_64', '2:1 MMS2003'), /before any other statement/);
    assert.match(err('process p\nmachine x86_64', '2:1 MMS2003'), /before any other statement/);
  });

  it('reports a machine line inside a block as MMS2003', () => {
    assert.match(inBlock('machine x86_64', '2:3 MMS2003'), /machine line goes at the top/);
  });

  it('requires the architecture, then options only', () => {
    assert.match(err('machine', '1:8 MMS2001'), /expected the architecture \(x86_64\) after 'machine'/);
    assert.match(err('machine cpus=2', '1:9 MMS2001'), /expected the architecture/);
    assert.match(err('machine x86_64 2', '1:16 MMS2001'), /expected an option like cpus=2 or memory=64M, found '2'/);
    assert.match(err('machine x86_64 cpus=', '1:16 MMS2001'), /expected an option/);
    assert.match(err('machine x86_64 cpus=(', '1:21 MMS2001'), /expected a value after 'cpus=', found '\('/);
  });
});

describe('parser: process and thread blocks', () => {
  it('opens a block per header; writing a process again resumes it', () => {
    assert.deepEqual(ok('process p cpu=1\n  exec\nprocess q\n  exit 3\nprocess p\n  exit'), [
      'process p cpu=1 { exec }',
      'process q { exit 3 }',
      'process p { exit }',
    ]);
  });

  it('allows an empty block', () => {
    assert.deepEqual(ok('process p cpu=0\nprocess q'), ['process p cpu=0 {  }', 'process q {  }']);
  });

  it('declares threads: thread PROC.NAME [cpu=N], p.main', () => {
    assert.deepEqual(ok('thread p.t1 cpu=1\n  load a\nthread p.main\n  exit'), [
      'thread p.t1 cpu=1 { load a }',
      'thread p.main { exit }',
    ]);
  });

  it('takes any indentation, the same for every line of a block', () => {
    assert.deepEqual(ok('process p\n      load a\n      load b\nprocess q\n load c'), [
      'process p { load a; load b }',
      'process q { load c }',
    ]);
  });

  it('ignores blank and comment lines anywhere, at any indentation', () => {
    assert.deepEqual(ok('process p\n\n  load a\n# x\n      # y\n\t\n  load b # z\n'), ['process p { load a; load b }']);
  });

  it('reports a bad header name or a positional argument', () => {
    assert.match(err('process', '1:8 MMS2001'), /expected a process name, like p, after 'process'/);
    assert.match(err('process 3', '1:9 MMS2001'), /expected a process name/);
    assert.match(err('process p.t1', '1:9 MMS2001'), /letters, digits and _/);
    assert.match(err('thread r--', '1:8 MMS2001'), /expected a thread name, like p.t1 or p, after 'thread', found 'r--'/);
    assert.match(err('process p 1', '1:11 MMS2001'), /expected an option like cpu=1, found '1'/);
    assert.match(err('process p cpu=1 => 1', '1:17 MMS2001'), /expected an option like cpu=1, found '=>'/);
  });

  it('still parses the body of a header that is wrong', () => {
    assert.deepEqual(errs('process 3\n  load a +\n  load b'), ['1:9 MMS2001', '2:11 MMS2001']);
    assert.deepEqual(parse('process 3\n  load a\n').scenario.body, []);
  });

  it('reports a header inside a block as MMS2003, and parses what is under it', () => {
    assert.match(inBlock('process q', '2:3 MMS2003'), /blocks do not nest/);
    assert.match(inBlock('thread p.t1', '2:3 MMS2003'), /blocks do not nest/);
    assert.match(inBlock('concurrent', '2:3 MMS2003'), /blocks do not nest/);
    assert.deepEqual(errs('process p\n  process q\n    load a\n    load +'), ['2:3 MMS2003', '4:10 MMS2001']);
    assert.deepEqual(ok('process p\n  load a').length, 1);
  });

  it('reports other statements inside a block as MMS2003', () => {
    assert.match(inBlock('schedule p', '2:3 MMS2003'), /right after a 'concurrent' block/);
    assert.match(inBlock('forbid alive p', '2:3 MMS2003'), /final conditions/);
    assert.match(inBlock('exists alive p', '2:3 MMS2003'), /final conditions/);
    assert.match(inBlock('require alive p', '2:3 MMS2003'), /final conditions/);
    assert.match(inBlock('file /data size=8K', '2:3 MMS2003'), /'file' creates a file at the top level/);
    assert.match(inBlock('x = process', '2:7 MMS2003'), /'process' starts a statement of its own; it is not an operation/);
    assert.match(inBlock('f = file /x', '2:7 MMS2003'), /'file' starts a statement of its own/);
    assert.deepEqual(errs('process p\n  x = concurrent\n    load a'), ['2:7 MMS2003', '3:5 MMS1004']);
  });
});

describe('parser: files and other top-level operations', () => {
  it('parses file, swapout, reclaim and check at the top level', () => {
    assert.deepEqual(ok('file /data size=8K\nfile /etc/motd "hi\\n" mode=ro\nswapout p\nswapout p a 4K\nreclaim 64\ncheck'), [
      'file /data size=8192',
      'file /etc/motd "hi\\n" mode=ro',
      'swapout p',
      'swapout p a 4096',
      'reclaim 64',
      'check',
    ]);
    const { scenario } = parse('file /data size=8K\n');
    const f = scenario.body[0];
    assert.ok(f.kind === 'top-op');
    assert.deepEqual(f.statement.opSpan, sp(1, 1, 4));
    assert.deepEqual(f.statement.span, sp(1, 1, 18));
  });

  it('also takes swapout, reclaim and check inside a block', () => {
    assert.deepEqual(ok('process p\n  swapout\n  swapout p a 4K\n  reclaim 8\n  check'), [
      'process p { swapout; swapout p a 4096; reclaim 8; check }',
    ]);
  });

  it('reports any other operation at the top level as MMS2002, listing the statements', () => {
    const m = err('load a', '1:1 MMS2002');
    assert.match(m, /^unknown statement 'load': at the top level, expected machine, process, thread, concurrent, schedule, file, swapout, reclaim, check, forbid, exists or require/);
    assert.match(m, /operations go in a block under 'process NAME'/);
    for (const s of TOP_LEVEL_STATEMENTS) assert.ok(m.includes(s), s);
    assert.match(err('a = mmap 4K rw private anon', '1:5 MMS2002'), /unknown statement 'mmap'/);
    assert.match(err('42', '1:1 MMS2002'), /expected a statement, found '42'/);
    assert.match(err('=> 1', '1:1 MMS2002'), /expected a statement, found '=>'/);
  });

  it('swallows the indented lines under an unknown statement (a misspelt header)', () => {
    assert.deepEqual(errs('proces p\n  load a\n  load b\nprocess q\n  load c'), ['1:1 MMS2002']);
  });
});

describe('parser: operations and arguments', () => {
  it('binds a name: name = op args', () => {
    const s = stmt('buf = mmap 4K rw private anon');
    assert.equal(op(s), 'buf = mmap 4096 rw private anon');
    assert.deepEqual(s.bind, { name: 'buf', span: sp(2, 3, 3) });
    assert.deepEqual(s.opSpan, sp(2, 9, 4));
  });

  it('also reads name=op as a binding', () => {
    const s = stmt('a=mmap 4K rw');
    assert.equal(op(s), 'a = mmap 4096 rw');
    assert.deepEqual(s.bind, { name: 'a', span: sp(2, 3, 1) });
    assert.deepEqual(s.opSpan, sp(2, 5, 4));
  });

  it('takes any word as an operation (the runner checks them)', () => {
    assert.equal(op(stmt('frobnicate 1 2')), 'frobnicate 1 2');
    assert.equal(op(stmt('pkey_mprotect a 4K rw 1')), 'pkey_mprotect a 4096 rw 1');
    assert.equal(op(stmt('exec')), 'exec');
  });

  it('keeps a lone word as a word argument, and reads it as a name with argExpr', () => {
    const s = stmt('munmap a 4K');
    assert.deepEqual(s.args[0], { kind: 'word', word: 'a', span: sp(2, 10, 1) });
    assert.deepEqual(argExpr(s.args[0]), { kind: 'name', name: 'a', span: sp(2, 10, 1) });
    assert.equal(argWord(s.args[0]), 'a');
    assert.deepEqual(argExpr(s.args[1]), { kind: 'number', value: 4096, span: sp(2, 12, 2) });
    assert.equal(argWord(s.args[1]), null);
  });

  it('parses every kind of argument', () => {
    assert.equal(
      op(stmt('mmap 16K rw- shared-validate MAP_POPULATE at=a + 4K file=/data offset=0x10 fd=fd')),
      'mmap 16384 rw- shared-validate MAP_POPULATE at=($a + 4096) file=/data offset=16 fd=fd',
    );
    assert.equal(op(stmt('madvise a 4K dontneed')), 'madvise a 4096 dontneed');
    assert.equal(op(stmt('mprotect a 4K ---')), 'mprotect a 4096 ---');
    assert.equal(op(stmt('mprotect a 4K none')), 'mprotect a 4096 none');
    assert.equal(op(stmt('pwrite fd buf 5 0')), 'pwrite fd buf 5 0');
    assert.equal(op(stmt('store a 0x11 size=4')), 'store a 17 size=4');
    assert.equal(op(stmt('exit -1')), 'exit -1');
    assert.equal(op(stmt('open /data rdonly creat trunc')), 'open /data rdonly creat trunc');
    assert.equal(op(stmt('mremap a 4K 8K maymove to=b')), 'mremap a 4096 8192 maymove to=b');
    assert.equal(op(stmt('write-data "hello\\n" x="y"')), 'write-data "hello\\n" x="y"');
  });

  it('parses arithmetic left to right, with spaces around -', () => {
    assert.equal(op(stmt('munmap a + 4K 4K')), 'munmap ($a + 4096) 4096');
    assert.equal(op(stmt('load b - 0x10')), 'load ($b - 16)');
    assert.equal(op(stmt('load a + 4K - 1 + b')), 'load ((($a + 4096) - 1) + $b)');
    assert.equal(op(stmt('load a - -1')), 'load ($a - -1)');
    assert.equal(op(stmt('load 4K+a')), 'load (4096 + $a)');
    assert.equal(op(stmt('load a-b')), 'load a-b');
    assert.equal(op(stmt('store a -1')), 'store a -1');
    const s = stmt('load a + 4K - 1');
    assert.ok(s.args[0].kind === 'expr');
    const e = s.args[0].expr;
    assert.ok(e.kind === 'binary');
    assert.deepEqual(e.span, sp(2, 8, 10));
    assert.deepEqual(e.left.span, sp(2, 8, 6));
    assert.deepEqual(e.right.span, sp(2, 17, 1));
    assert.deepEqual(s.args[0].span, sp(2, 8, 10));
  });

  it('gives options their span from the key to the end of the value', () => {
    const s = stmt('mmap 4K rw at=a + 4K');
    assert.deepEqual(s.args[2], {
      kind: 'option',
      key: 'at',
      value: {
        kind: 'expr',
        expr: {
          kind: 'binary',
          op: '+',
          left: { kind: 'name', name: 'a', span: sp(2, 17, 1) },
          right: { kind: 'number', value: 4096, span: sp(2, 21, 2) },
          span: sp(2, 17, 6),
        },
        span: sp(2, 17, 6),
      },
      span: sp(2, 14, 9),
    });
  });

  it('reports malformed operation lines precisely', () => {
    assert.match(inBlock('load a +', '2:11 MMS2001'), /^expected an expression after '\+'$/);
    assert.match(inBlock('load a + rw-', '2:12 MMS2001'), /expected an expression after '\+', found 'rw-'/);
    assert.match(inBlock('load a + b-1', '2:12 MMS2001'), /spaces around '-'/);
    assert.match(inBlock('load r-- + 1', '2:8 MMS2001'), /expected a number or a name, found 'r--'/);
    assert.match(inBlock('x =', '2:6 MMS2001'), /expected an operation after 'x =', found the end of the line/);
    assert.match(inBlock('x = 3', '2:7 MMS2001'), /expected an operation after 'x =', found '3'/);
    assert.match(inBlock('3 = mmap', '2:3 MMS2001'), /expected an operation, like 'load a'/);
    assert.match(inBlock('a-b = mmap', '2:3 MMS2001'), /expected a name to bind, found 'a-b'/);
    assert.match(inBlock('load a = 3', '2:10 MMS2001'), /found '='.*a binding is written/);
    assert.match(inBlock('load a == 3', '2:10 MMS2001'), /comparisons belong in final conditions/);
    assert.match(inBlock('load (a)', '2:8 MMS2001'), /expected an argument or '=>', found '\('/);
    assert.match(inBlock('mmap 4K at=b=c', '2:14 MMS2001'), /expected a value after 'at=', found 'b='/);
    assert.match(inBlock('"x" a', '2:3 MMS2001'), /expected an operation/);
  });
});

describe('parser: expectations', () => {
  const expect = (line: string): string => op(stmt(line)).replace(/^.*? => /, '');

  it('parses values and expressions', () => {
    assert.equal(expect('load a => 0x11'), '17');
    assert.equal(expect('x = mmap 4K rw => a + 4K'), '($a + 4096)');
    assert.equal(expect('exit => -1'), '-1');
    assert.equal(expect('load a => b'), '$b');
  });

  it('parses errno names: any all-caps word starting with E', () => {
    assert.equal(expect('munmap a 0 => EINVAL'), 'EINVAL');
    assert.equal(expect('mmap 4K rw => ENOMEM'), 'ENOMEM');
    assert.equal(expect('open /x => E2BIG'), 'E2BIG');
    assert.equal(expect('open /x => EFOO'), 'EFOO');
    assert.equal(stmt('open /x => EACCES').expect?.kind, 'errno');
  });

  it('parses signals with their code, key= and addr=', () => {
    assert.equal(expect('store a 1 => SIGSEGV'), 'SIGSEGV');
    assert.equal(expect('store a 1 => SIGSEGV SEGV_ACCERR'), 'SIGSEGV SEGV_ACCERR');
    assert.equal(expect('store a 1 => SIGSEGV SEGV_PKUERR key=3'), 'SIGSEGV SEGV_PKUERR key=3');
    assert.equal(expect('load a => SIGBUS BUS_ADRERR addr=a + 8K'), 'SIGBUS BUS_ADRERR addr=($a + 8192)');
    assert.equal(expect('load a => SIGSEGV addr=a key=0'), 'SIGSEGV key=0 addr=$a');
    const s = stmt('load a => SIGBUS BUS_ADRERR addr=a + 8K');
    assert.deepEqual(s.expect?.span, sp(2, 13, 29));
    assert.deepEqual(s.span, sp(2, 3, 39));
  });

  it('parses ok', () => {
    assert.deepEqual(stmt('munmap a 4K => ok').expect, { kind: 'ok', span: sp(2, 18, 2) });
  });

  it('reports malformed expectations as MMS2004', () => {
    assert.match(inBlock('load a =>', '2:12 MMS2004'), /expected a value, an errno like EINVAL, a signal like SIGSEGV, or 'ok' after '=>'/);
    assert.match(inBlock('load a => rw-', '2:13 MMS2004'), /found 'rw-'/);
    assert.match(inBlock('load a => "x"', '2:13 MMS2004'), /found a string/);
    assert.match(inBlock('load a => 1 2', '2:15 MMS2004'), /unexpected '2' after the expectation/);
    assert.match(inBlock('load a => a -1', '2:15 MMS2004'), /to subtract, write '- 1'/);
    assert.match(inBlock('load a => ok ok', '2:16 MMS2004'), /unexpected 'ok' after the expectation/);
    assert.match(inBlock('load a => 1 => 2', '2:15 MMS2004'), /unexpected '=>'/);
    assert.match(inBlock('load a => a +', '2:16 MMS2004'), /expected an expression after '\+'/);
    assert.match(inBlock('load a => EINVAL x', '2:20 MMS2004'), /unexpected 'x'/);
    assert.match(inBlock('load a => SIGSEGV segv', '2:21 MMS2004'), /expected a signal code like SEGV_ACCERR/);
    assert.match(inBlock('load a => SIGSEGV pid=3', '2:21 MMS2004'), /expected key=N or addr=ADDR after the signal, found 'pid='/);
    assert.match(inBlock('load a => SIGSEGV key=1 key=2', '2:27 MMS2004'), /'key=' is given twice/);
    assert.match(inBlock('load a => SIGSEGV key=rw-', '2:25 MMS2004'), /expected a number or a name after 'key=', found 'rw-'/);
    assert.match(inBlock('load a => SIGSEGV SEGV_ACCERR SEGV_MAPERR', '2:33 MMS2004'), /expected key=N or addr=ADDR/);
  });
});

describe('parser: concurrent blocks and schedules', () => {
  const text = 'concurrent\n  thread p\n    store a 1\n  thread p.t1\n    munmap a 4K\nschedule p p.t1 p.t1 p\n';

  it('parses the example of the doc', () => {
    assert.deepEqual(ok(text), ['concurrent { thread p { store a 1 } thread p.t1 { munmap a 4096 } } schedule p p.t1 p.t1 p']);
    const c = parse(text).scenario.body[0];
    assert.ok(c.kind === 'concurrent');
    assert.deepEqual(c.span, sp(1, 1, 10));
    assert.deepEqual(c.threads[1].span, sp(4, 3, 11));
    assert.deepEqual(c.threads[1].body[0].span, sp(5, 5, 11));
    assert.deepEqual(c.schedule, [
      { name: 'p', span: sp(6, 10, 1) },
      { name: 'p.t1', span: sp(6, 12, 4) },
      { name: 'p.t1', span: sp(6, 17, 4) },
      { name: 'p', span: sp(6, 22, 1) },
    ]);
  });

  it('has no schedule unless one follows (the default order)', () => {
    assert.deepEqual(ok('concurrent\n  thread p cpu=1\n    load a\ncheck'), ['concurrent { thread p cpu=1 { load a } }', 'check']);
    const c = parse('concurrent\n  thread p\n').scenario.body[0];
    assert.ok(c.kind === 'concurrent');
    assert.equal(c.schedule, null);
  });

  it('lets comments and blank lines come between the block and its schedule', () => {
    assert.deepEqual(ok('concurrent\n  thread p\n    load a\n\n# forced\nschedule p'), ['concurrent { thread p { load a } } schedule p']);
  });

  it('reports a misplaced or second schedule as MMS2003', () => {
    assert.match(err('schedule p', '1:1 MMS2003'), /right after a 'concurrent' block/);
    assert.match(err('concurrent\n  thread p\ncheck\nschedule p', '4:1 MMS2003'), /right after a 'concurrent' block/);
    assert.match(err(`${text}schedule p`, '7:1 MMS2003'), /already has a schedule \(line 6\)/);
  });

  it('reports malformed schedules', () => {
    assert.match(err('concurrent\n  thread p\nschedule', '3:9 MMS2001'), /expected thread names after 'schedule'/);
    assert.match(err('concurrent\n  thread p\nschedule p 3', '3:12 MMS2001'), /expected a thread name, like p or p.t1, found '3'/);
  });

  it('reports a concurrent block without threads', () => {
    assert.match(err('concurrent\ncheck', '1:1 MMS2001'), /expected indented 'thread NAME' blocks under 'concurrent'/);
    assert.match(err('concurrent', '1:1 MMS2001'), /thread NAME/);
    assert.match(err('concurrent now\n  thread p', '1:12 MMS2001'), /expected the end of the line after 'concurrent', found 'now'/);
  });

  it('reports anything but thread blocks directly inside concurrent as MMS2003', () => {
    assert.match(err('concurrent\n  thread p\n  store a 1\n    load a', '3:3 MMS2003'), /expected 'thread NAME', found 'store'/);
    assert.match(err('concurrent\n  process p\n    load a', '2:3 MMS2003'), /write 'thread p' for the main thread/);
    assert.deepEqual(errs('concurrent\n  process p\n    load +'), ['2:3 MMS2003', '3:10 MMS2001']);
  });
});

describe('parser: final conditions', () => {
  const c = (text: string): string => {
    const [s] = ok(text);
    return s;
  };

  it('parses every atom of the doc', () => {
    for (const p of ['present', 'writable', 'user', 'executable', 'dirty', 'accessed', 'swapped', 'none', 'protnone']) {
      assert.equal(c(`forbid pte p a ${p}`), `forbid [pte p a ${p}]`);
    }
    assert.equal(c('require pte p a key == 3'), 'require [pte p a key == 3]');
    assert.equal(c('require pte p a + 4K pfn != 0'), 'require [pte p ($a + 4096) pfn != 0]');
    assert.equal(c('exists vma p a exists'), 'exists [vma p a exists]');
    assert.equal(c('require vma p a prot == r--'), 'require [vma p a prot == r--]');
    assert.equal(c('require vma p a prot == none'), 'require [vma p a prot == none]');
    assert.equal(c('require vma p a pkey == 3'), 'require [vma p a pkey == 3]');
    assert.equal(c('forbid tlb cpu1 p a present'), 'forbid [tlb cpu1 p a present]');
    assert.equal(c('forbid tlb cpu0 p a writable'), 'forbid [tlb cpu0 p a writable]');
    assert.equal(c('require tlb cpu1 p a key == 3'), 'require [tlb cpu1 p a key == 3]');
    assert.equal(c('require counter q cowCopies == 1'), 'require [counter q cowCopies == 1]');
    assert.equal(c('require counter cpu1 tlbHits > 0'), 'require [counter cpu1 tlbHits > 0]');
    assert.equal(c('require counter machine freeFrames >= 10'), 'require [counter machine freeFrames >= 10]');
    assert.equal(c('require value p a == 0x11'), 'require [value p a == 17]');
    assert.equal(c('require value p a + 1 <= -1'), 'require [value p ($a + 1) <= -1]');
    assert.equal(c('require value p a < b'), 'require [value p a < b]');
    assert.equal(c('exists signal p.t1 SIGSEGV'), 'exists [signal p.t1 SIGSEGV]');
    assert.equal(c('exists signal p SIGSEGV SEGV_PKUERR'), 'exists [signal p SIGSEGV SEGV_PKUERR]');
    assert.equal(c('require alive p'), 'require [alive p]');
    for (const id of ['no-excess-rights', 'no-stale-tlb', 'no-pt-use-after-free', 'no-wx', 'keys-enforced', 'accounting']) {
      assert.equal(c(`require invariant ${id}`), `require [invariant ${id}]`);
    }
    assert.equal(c('require maps p'), 'require [maps p]');
  });

  it('combines with not > and > or, left to right, and parentheses', () => {
    assert.equal(c('forbid alive p and alive q or alive r'), 'forbid (([alive p] and [alive q]) or [alive r])');
    assert.equal(c('forbid alive p or alive q and alive r'), 'forbid ([alive p] or ([alive q] and [alive r]))');
    assert.equal(c('forbid not alive p and alive q'), 'forbid (not [alive p] and [alive q])');
    assert.equal(c('forbid not not alive p'), 'forbid not not [alive p]');
    assert.equal(c('forbid alive p and alive q and alive r'), 'forbid (([alive p] and [alive q]) and [alive r])');
    assert.equal(c('forbid (alive p or alive q) and not (alive r)'), 'forbid (([alive p] or [alive q]) and not [alive r])');
    assert.equal(
      c('exists not (pte p a writable or tlb cpu1 p a writable) and counter p cowCopies == 1'),
      'exists (not ([pte p a writable] or [tlb cpu1 p a writable]) and [counter p cowCopies == 1])',
    );
  });

  it('gives conditions their spans, parentheses included', () => {
    const f = parse('forbid (alive p or alive q) and not alive r').scenario.body[0];
    assert.ok(f.kind === 'final');
    assert.deepEqual(f.span, sp(1, 1, 43));
    const and = f.condition;
    assert.ok(and.kind === 'and');
    assert.deepEqual(and.span, sp(1, 8, 36));
    assert.deepEqual(and.left.span, sp(1, 8, 20));
    assert.ok(and.left.kind === 'or');
    assert.deepEqual(and.left.left.span, sp(1, 9, 7));
    assert.deepEqual(and.right.span, sp(1, 33, 11));
    assert.ok(and.right.kind === 'not');
    assert.deepEqual(and.right.operand.span, sp(1, 37, 7));
  });

  it('may stand anywhere at the top level', () => {
    assert.deepEqual(ok('require alive p\nprocess p\n  exit'), ['require [alive p]', 'process p { exit }']);
  });

  it('reports malformed conditions as MMS2005', () => {
    assert.match(err('forbid', '1:7 MMS2005'), /expected a condition after 'forbid', like 'pte p a writable'/);
    assert.match(err('require foo p', '1:9 MMS2005'), /found 'foo'/);
    assert.match(err('forbid alive p and', '1:19 MMS2005'), /expected a condition after 'and'/);
    assert.match(err('forbid alive p or 3', '1:19 MMS2005'), /expected a condition after 'or', .*found '3'/);
    assert.match(err('forbid not', '1:11 MMS2005'), /expected a condition after 'not'/);
    assert.match(err('forbid (alive p', '1:16 MMS2005'), /expected '\)' to close the '\(' at column 8, found the end of the line/);
    assert.match(err('forbid alive p)', '1:15 MMS2005'), /expected 'and', 'or' or the end of the line, found '\)'/);
    assert.match(err('forbid alive p alive q', '1:16 MMS2005'), /unexpected 'alive': write 'alive PROC'/);
    assert.match(err('forbid pte p', '1:13 MMS2005'), /expected an address after 'p', found the end of the line \(write 'pte PROC ADDR PROPERTY'\)/);
    assert.match(err('forbid pte p a', '1:15 MMS2005'), /expected a property like present, writable or key after 'a'/);
    assert.match(err('forbid pte p a 3', '1:16 MMS2005'), /expected a property like present, writable or key, found '3'/);
    assert.match(err('forbid pte 3 a writable', '1:12 MMS2005'), /expected a process name, found '3'/);
    assert.match(err('forbid pte p rw- writable', '1:14 MMS2005'), /expected an address, found 'rw-'/);
    assert.match(err('forbid tlb 1 p a present', '1:12 MMS2005'), /expected a CPU like cpu1, found '1'/);
    assert.match(err('require vma p a prot == 3', '1:25 MMS2005'), /expected a protection like rw- or r-- after '==', found '3'/);
    assert.match(err('require vma p a prot == rwz', '1:25 MMS2005'), /expected a protection like rw- or r--/);
    assert.match(err('require vma p a prot ==', '1:24 MMS2005'), /expected a protection like rw- or r-- after '==', found the end of the line/);
    assert.match(err('require vma p a prot', '1:21 MMS2005'), /expected a comparison like '== r--' after 'prot'/);
    assert.match(err('require counter p cowCopies', '1:28 MMS2005'), /expected a comparison like '== 1' after 'cowCopies'/);
    assert.match(err('require counter p cowCopies ==', '1:31 MMS2005'), /expected a value after '=='/);
    assert.match(err('require counter p cowCopies == a +', '1:35 MMS2005'), /expected an expression after '\+'/);
    assert.match(err('require value p a', '1:18 MMS2005'), /expected a comparison/);
    assert.match(err('forbid alive p == 1', '1:16 MMS2005'), /'alive' takes no comparison/);
    assert.match(err('forbid signal p.t1 sigsegv', '1:20 MMS2005'), /expected a signal like SIGSEGV, found 'sigsegv'/);
    assert.match(err('forbid signal p SIGSEGV SEGV_ACCERR extra', '1:37 MMS2005'), /unexpected 'extra': write 'signal THREAD SIGNAME \[CODE\]'/);
    assert.match(err('forbid invariant', '1:17 MMS2005'), /expected an invariant like no-stale-tlb after 'invariant'/);
    assert.match(err('forbid value p a == 1 -1', '1:23 MMS2005'), /to subtract/);
    assert.match(err('forbid counter p x == 1 == 2', '1:25 MMS2005'), /expected 'and', 'or' or the end of the line, found '=='/);
    assert.match(err('forbid alive p not alive q', '1:16 MMS2005'), /found 'not'/);
  });
});

describe('parser: indentation', () => {
  it('reports inconsistent indentation in a block as MMS1004 at the line', () => {
    assert.match(err('process p\n  load a\n load b', '3:2 MMS1004'), /expected 2 spaces, like the first line of this block \(line 2\), found 1/);
    assert.match(err('process p\n  load a\n    load b', '3:5 MMS1004'), /expected 2 spaces/);
    assert.match(err('concurrent\n  thread p\n      load a\n     load b', '4:6 MMS1004'), /expected 6 spaces.*line 3/);
  });

  it('reports an over-indented run once', () => {
    assert.deepEqual(errs('process p\n  load a\n    load b\n    load c\n  load d +'), ['3:5 MMS1004', '5:11 MMS2001']);
  });

  it('reports an indented line with no header above it as MMS2003, once per run', () => {
    assert.match(err('  load a', '1:3 MMS2003'), /an indented line with no 'process', 'thread' or 'concurrent' header above it/);
    assert.deepEqual(errs('check\n  load a\n  load b\ncheck\n   x'), ['2:3 MMS2003', '5:4 MMS2003']);
    assert.match(err('  machine x86_64', '1:3 MMS2003'), /no 'process', 'thread' or 'concurrent' header/);
  });

  it('reports a tab in the indentation as MMS1004 and goes on', () => {
    assert.deepEqual(errs('process p\n\tload a\n  load b\n\t  load +\n  load c'), ['2:1 MMS1004', '4:1 MMS1004']);
    assert.deepEqual(errs('process p\n  load a\n \tload b +'), ['3:2 MMS1004', '3:11 MMS2001']);
    assert.deepEqual(parse('process p\n  load a\n  \tload b').scenario.body.map(top), ['process p { load a }']);
    assert.deepEqual(errs('\tcheck'), ['1:1 MMS1004']);
  });
});

describe('parser: several errors at once', () => {
  it('recovers at the next line and reports every problem, in order', () => {
    const text = [
      'machine x86_64 cpus=2',
      'process p',
      '  a = mmap 16K rw private anon',
      '  load a +',
      '  store a @',
      '  load a => SIGSEGV pid=3',
      '   load b',
      'load a',
      'machine x86_64',
      'concurrent',
      '  thread p',
      '    load "oops',
      'schedule p 4',
      'forbid pte p a',
      'require vma p a prot == 3 and',
      '\tcheck',
      'require counter p cowCopies == 1',
    ].join('\n');
    const r = parse(text);
    assert.deepEqual(
      spanCodes(r.diagnostics),
      [
        '4:11 MMS2001',
        '5:11 MMS1001',
        '6:21 MMS2004',
        '7:4 MMS1004',
        '8:1 MMS2002',
        '9:1 MMS2006',
        '12:10 MMS1002',
        '13:12 MMS2001',
        '14:15 MMS2005',
        '15:25 MMS2005',
        '16:1 MMS1004',
      ],
    );
    assert.ok(r.diagnostics.every((d) => d.file === 't.mms'));
    assert.equal(formatDiagnostic(r.diagnostics[0]), "t.mms:4:11: error MMS2001: expected an expression after '+'");
    // What could be parsed is kept.
    assert.deepEqual(r.scenario.body.map(top), [
      'machine x86_64 cpus=2',
      'process p { a = mmap 16384 rw private anon }',
      'concurrent { thread p {  } }',
      'require [counter p cowCopies == 1]',
    ]);
  });

  it('reports several lexical errors on one line', () => {
    assert.deepEqual(errs('process p\n  load @ 4k "\\q"'), ['2:8 MMS1001', '2:10 MMS1003', '2:14 MMS1001']);
  });

  it('never throws on odd input', () => {
    for (const t of ['', '\n\n', '=>', '(', ')', 'forbid ((((', 'forbid not not not', 'process p\n  =>', 'concurrent\n  thread', '\u0000', '\ud800', 'a=', '=a', 'x=y=z']) {
      assert.doesNotThrow(() => parse(t), JSON.stringify(t));
    }
  });
});

describe('parser: helpers', () => {
  it('recognises names and thread names', () => {
    assert.ok(isName('a') && isName('_b1') && isName('buf'));
    assert.ok(!isName('1a') && !isName('a-b') && !isName('p.t1') && !isName(''));
    assert.ok(isThreadName('p') && isThreadName('p.t1') && isThreadName('p.main'));
    assert.ok(!isThreadName('p.') && !isThreadName('p.t.1') && !isThreadName('r--'));
  });

  it('reads protections', () => {
    const cases: [string, number | null][] = [
      ['rwx', 7],
      ['rw-', 3],
      ['r--', 1],
      ['---', 0],
      ['rw', 3],
      ['r', 1],
      ['rx', 5],
      ['none', 0],
      ['r-x', 5],
      ['--x', 4],
      ['w', 2],
      ['', null],
      ['wr', null],
      ['rwz', null],
      ['rw--', null],
      ['private', null],
    ];
    for (const [w, bits] of cases) assert.equal(protectionBits(w), bits, w);
  });

  it('reads only names and expressions as expressions', () => {
    const s = stmt('x "s" rw- k=1 a + 1');
    assert.deepEqual(
      s.args.map((a) => (argExpr(a) === null ? null : expr(argExpr(a) as Expr))),
      [null, null, null, '($a + 1)'],
    );
    assert.deepEqual(
      s.args.map(argWord),
      [null, 'rw-', null, null],
    );
  });
});

describe('parser: input limits', () => {
  it('a leading byte order mark is skipped, with LF or CRLF, and columns count from after it', () => {
    for (const eol of ['\n', '\r\n']) {
      const r = parse(`\ufeffprocess p${eol}  a = mmap 4K rw private anon${eol}`);
      assert.deepEqual(r.diagnostics, [], JSON.stringify(eol));
      assert.deepEqual(r.scenario.body.map(top), ok(`process p${eol}  a = mmap 4K rw private anon${eol}`));
      assert.deepEqual(r.scenario.body[0].kind === 'thread-block' ? r.scenario.body[0].span : null, { line: 1, column: 1, length: 9 });
    }
    // A BOM anywhere else is still an unexpected character.
    assert.deepEqual(spanCodes(parse('process p\n  \ufeffload 0\n').diagnostics), ['2:3 MMS1001']);
  });

  it('a file wrong on every line keeps 100 diagnostics and counts the rest', () => {
    const r = parse('@\n'.repeat(5000));
    assert.equal(r.diagnostics.length, 101);
    assert.deepEqual(spanCodes(r.diagnostics.slice(0, 2)), ['1:1 MMS1001', '2:1 MMS1001']);
    assert.equal(r.diagnostics[100].code, 'MMS0004');
    assert.match(r.diagnostics[100].message, /… and 4900 more problems/);
  });

  it('text over the size limit is one MMS0003 diagnostic, not parsed', () => {
    const r = parse(' '.repeat(MAX_SCENARIO_BYTES + 1));
    assert.deepEqual(spanCodes(r.diagnostics), ['0:0 MMS0003']);
    assert.match(r.diagnostics[0].message, /limited to 16 MiB/);
    assert.deepEqual(r.scenario.body, []);
    assert.deepEqual(parse(' '.repeat(MAX_SCENARIO_BYTES)).diagnostics, [], 'the limit itself is accepted');
  });
});
