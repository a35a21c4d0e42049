import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { eachLine, MAX_EXACT, scan, scanLine, SourceLines, splitLines, stripBom, type ScannedLine, type Token } from '../../src/scenario/scanner.js';

/** Scans one line as line 1 of `t.mms`. */
function line(text: string, lineNo = 1): ScannedLine {
  return scanLine(text, lineNo, 't.mms');
}

/** A token as `kind:text@column+length`, with the value of numbers and strings. */
function show(t: Token): string {
  const at = `@${t.span.column}+${t.span.length}`;
  switch (t.kind) {
    case 'number':
      return `num:${t.text}=${t.value}${at}`;
    case 'string':
      return `str:${JSON.stringify(t.value)}${at}`;
    case 'option':
      return `opt:${t.key}${at}`;
    case 'op':
      return `op:${t.op}${at}`;
    case 'word':
      return `word:${t.text}${at}`;
    case 'error':
      return `error:${t.text}${at}`;
  }
}

/** The diagnostics of one line as `CODE@column+length`. */
function codes(text: string): string[] {
  return line(text).diagnostics.map((d) => `${d.code}@${d.span.column}+${d.span.length}`);
}

function clean(text: string): string[] {
  const l = line(text);
  assert.deepEqual(l.diagnostics, [], `unexpected diagnostics for ${JSON.stringify(text)}`);
  return l.tokens.map(show);
}

describe('scanner: lines and indentation', () => {
  it('splits at \\n, \\r\\n and \\r', () => {
    assert.deepEqual(splitLines('a\nb\r\nc\rd'), ['a', 'b', 'c', 'd']);
    assert.deepEqual(splitLines(''), ['']);
    assert.deepEqual(splitLines('x\n'), ['x', '']);
  });

  it('eachLine and SourceLines split exactly as splitLines does, without an array of lines', () => {
    const texts = ['', 'x', 'x\n', 'a\nb\r\nc\rd', '\r\r\n\n', 'a\r', '\n\n\n', 'p\r\n  load a\r\n', 'é\u2028x\ry'];
    for (const text of texts) {
      const want = splitLines(text);
      const got: string[] = [];
      eachLine(text, (l, n) => {
        assert.equal(n, got.length + 1, 'lines are numbered from 1, in order');
        got.push(l);
      });
      assert.deepEqual(got, want, JSON.stringify(text));
      const index = new SourceLines(text);
      assert.equal(index.count, want.length, JSON.stringify(text));
      assert.deepEqual(want.map((_, i) => index.line(i + 1)), want, JSON.stringify(text));
      assert.equal(index.line(0), '');
      assert.equal(index.line(want.length + 1), '');
    }
  });

  it('stripBom drops one leading U+FEFF and nothing else', () => {
    assert.equal(stripBom('\ufeffprocess p'), 'process p');
    assert.equal(stripBom('process p\ufeff'), 'process p\ufeff');
    assert.equal(stripBom(''), '');
  });

  it('measures indentation in spaces and numbers lines from 1', () => {
    const l = line('    load a', 7);
    assert.equal(l.indent, 4);
    assert.equal(l.tabInIndent, false);
    assert.equal(l.line, 7);
    assert.deepEqual(l.tokens[0].span, { line: 7, column: 5, length: 4 });
  });

  it('treats blank and comment-only lines as empty', () => {
    for (const t of ['', '   ', '# a comment', '    # indented comment', '\t# tab then comment', '\t']) {
      const l = line(t);
      assert.deepEqual(l.tokens, [], JSON.stringify(t));
      assert.deepEqual(l.diagnostics, [], JSON.stringify(t));
    }
  });

  it('reports a tab in the indentation as MMS1004 at the tab', () => {
    const l = line('  \tload a');
    assert.equal(l.tabInIndent, true);
    assert.equal(l.indent, 3);
    assert.deepEqual(
      l.diagnostics.map((d) => [d.code, d.span.column, d.span.length, d.file]),
      [['MMS1004', 3, 1, 't.mms']],
    );
    assert.match(l.diagnostics[0].message, /tab/);
    assert.deepEqual(l.tokens.map(show), ['word:load@4+4', 'word:a@9+1']);
  });

  it('accepts tabs between tokens', () => {
    assert.deepEqual(clean('load a\t\t=> 1'), ['word:load@1+4', 'word:a@6+1', 'op:=>@9+2', 'num:1=1@12+1']);
  });

  it('scans a whole text, one line each', () => {
    const ls = scan('process p\n  load a # read it\n', 'f.mms');
    assert.equal(ls.length, 3);
    assert.deepEqual(
      ls.map((l) => [l.line, l.indent, l.tokens.map((t) => t.text)]),
      [
        [1, 0, ['process', 'p']],
        [2, 2, ['load', 'a']],
        [3, 0, []],
      ],
    );
  });
});

describe('scanner: numbers', () => {
  it('scans decimal and hexadecimal integers', () => {
    assert.deepEqual(clean('42 0x7f00 0X10 0 007 0xdeadBEEF'), [
      'num:42=42@1+2',
      'num:0x7f00=32512@4+6',
      'num:0X10=16@11+4',
      'num:0=0@16+1',
      'num:007=7@18+3',
      'num:0xdeadBEEF=3735928559@22+10',
    ]);
  });

  it('scales by K, M and G, also after hex', () => {
    assert.deepEqual(clean('4K 64K 2M 1G 0x10K'), [
      'num:4K=4096@1+2',
      'num:64K=65536@4+3',
      'num:2M=2097152@8+2',
      'num:1G=1073741824@11+2',
      'num:0x10K=16384@14+5',
    ]);
  });

  it('scans a - immediately followed by a digit as a negative number', () => {
    assert.deepEqual(clean('-1 -0x10 -4K -0'), ['num:-1=-1@1+2', 'num:-0x10=-16@4+5', 'num:-4K=-4096@10+3', 'num:-0=0@14+2']);
    assert.ok(Object.is(line('-0').tokens[0].kind === 'number' ? (line('-0').tokens[0] as { value: number }).value : NaN, 0));
  });

  it('scans a - followed by a space as the operator', () => {
    assert.deepEqual(clean('a - 1'), ['word:a@1+1', 'op:-@3+1', 'num:1=1@5+1']);
    assert.deepEqual(clean('a -1'), ['word:a@1+1', 'num:-1=-1@3+2']);
    assert.deepEqual(clean('a - -1'), ['word:a@1+1', 'op:-@3+1', 'num:-1=-1@5+2']);
    assert.deepEqual(clean('-'), ['op:-@1+1']);
    assert.deepEqual(clean('(-1)'), ['op:(@1+1', 'num:-1=-1@2+2', 'op:)@4+1']);
  });

  it('is exact up to 2^53', () => {
    assert.equal(MAX_EXACT, 2 ** 53);
    assert.deepEqual(clean('9007199254740992 -9007199254740992 0x20000000000000'), [
      'num:9007199254740992=9007199254740992@1+16',
      'num:-9007199254740992=-9007199254740992@18+17',
      'num:0x20000000000000=9007199254740992@36+16',
    ]);
    assert.deepEqual(codes('9007199254740993'), ['MMS1003@1+16']);
    assert.deepEqual(codes('8388609G'), ['MMS1003@1+8']);
    assert.deepEqual(clean('8388608G'), [`num:8388608G=${2 ** 53}@1+8`]);
    assert.deepEqual(clean('8388607G'), [`num:8388607G=${8388607 * 2 ** 30}@1+8`]);
    assert.match(line('0xffffffffffffffff').diagnostics[0].message, /2\^53/);
  });

  it('reports malformed numbers as MMS1003 over the whole run', () => {
    const cases: [string, string, RegExp][] = [
      ['0x', 'MMS1003@1+2', /hexadecimal digits after '0x'/],
      ['0xg', 'MMS1003@1+3', /hexadecimal digits/],
      ['4k', 'MMS1003@1+2', /upper case: K, M or G/],
      ['16Kb', 'MMS1003@1+4', /expected digits/],
      ['1.5', 'MMS1003@1+3', /integers/],
      ['4K-1', 'MMS1003@1+4', /spaces around '-'/],
      ['5-3', 'MMS1003@1+3', /spaces around '-'/],
      ['12ab', 'MMS1003@1+4', /expected digits/],
      ['-0x', 'MMS1003@1+3', /hexadecimal/],
    ];
    for (const [text, code, message] of cases) {
      const l = line(`x ${text} y`);
      assert.deepEqual(
        l.diagnostics.map((d) => `${d.code}@${d.span.column - 2}+${d.span.length}`),
        [code],
        text,
      );
      assert.match(l.diagnostics[0].message, message, text);
      assert.match(l.diagnostics[0].message, /^malformed number '/, text);
      assert.deepEqual(
        l.tokens.map((t) => t.kind),
        ['word', 'error', 'word'],
        text,
      );
    }
  });

  it('ends a number at an operator, a parenthesis, a quote or a comment', () => {
    assert.deepEqual(clean('4K+1'), ['num:4K=4096@1+2', 'op:+@3+1', 'num:1=1@4+1']);
    assert.deepEqual(clean('1)#c'), ['num:1=1@1+1', 'op:)@2+1']);
    assert.deepEqual(clean('1==2'), ['num:1=1@1+1', 'op:==@2+2', 'num:2=2@4+1']);
  });
});

describe('scanner: words and options', () => {
  it('scans the words of the language', () => {
    const words = ['r--', '---', 'rw-', 'rwx', 'write-disable', '/data', 'p.t1', 'no-stale-tlb', 'SEGV_ACCERR', '_x', 'cpu1', 'a', 'MAP_FIXED_NOREPLACE', '-x', '--', '/a/b.c'];
    for (const w of words) assert.deepEqual(clean(w), [`word:${w}@1+${w.length}`], w);
  });

  it('keeps - inside a word (a-b is one word)', () => {
    assert.deepEqual(clean('a-b a-1 a- b'), ['word:a-b@1+3', 'word:a-1@5+3', 'word:a-@9+2', 'word:b@12+1']);
  });

  it('scans key= followed by a value as an option', () => {
    assert.deepEqual(clean('cpu=1 os=linux file=/data at=a mode=ro k="x" n=-1'), [
      'opt:cpu@1+4',
      'num:1=1@5+1',
      'opt:os@7+3',
      'word:linux@10+5',
      'opt:file@16+5',
      'word:/data@21+5',
      'opt:at@27+3',
      'word:a@30+1',
      'opt:mode@32+5',
      'word:ro@37+2',
      'opt:k@40+2',
      'str:"x"@42+3',
      'opt:n@46+2',
      'num:-1=-1@48+2',
    ]);
  });

  it('does not take a = followed by =, >, a space or a comment as an option', () => {
    assert.deepEqual(clean('a==b'), ['word:a@1+1', 'op:==@2+2', 'word:b@4+1']);
    assert.deepEqual(clean('a=>b'), ['word:a@1+1', 'op:=>@2+2', 'word:b@4+1']);
    assert.deepEqual(clean('a= b'), ['word:a@1+1', 'op:=@2+1', 'word:b@4+1']);
    assert.deepEqual(clean('a=#c'), ['word:a@1+1', 'op:=@2+1']);
    assert.deepEqual(clean('a='), ['word:a@1+1', 'op:=@2+1']);
    assert.deepEqual(clean('a = mmap'), ['word:a@1+1', 'op:=@3+1', 'word:mmap@5+4']);
  });

  it('scans key=( as an option whose value is not one (the parser reports it)', () => {
    assert.deepEqual(clean('a=('), ['opt:a@1+2', 'op:(@3+1']);
  });
});

describe('scanner: strings', () => {
  it('decodes the escapes \\n \\t \\\\ \\" \\xNN', () => {
    assert.deepEqual(clean('"hello\\n"'), ['str:"hello\\n"@1+9']);
    const t = line('"a\\tb\\\\c\\"d\\x41\\x00\\xfF"').tokens[0];
    assert.equal(t.kind, 'string');
    assert.equal(t.kind === 'string' ? t.value : '', 'a\tb\\c"dA\u0000\u00ff');
    assert.equal(t.span.length, 24);
  });

  it('keeps # and spaces inside a string, and unicode as written', () => {
    assert.deepEqual(clean('"a # b" # comment'), ['str:"a # b"@1+7']);
    assert.deepEqual(clean('"é"'), ['str:"é"@1+3']);
    assert.deepEqual(clean('""'), ['str:""@1+2']);
  });

  it('reports an unterminated string as MMS1002 from the quote to the end of the line', () => {
    assert.deepEqual(codes('load "abc'), ['MMS1002@6+4']);
    assert.deepEqual(codes('"abc\\"'), ['MMS1002@1+6']);
    assert.deepEqual(codes('"abc\\'), ['MMS1002@1+5']);
    assert.match(line('"x').diagnostics[0].message, /closing '"'/);
    assert.deepEqual(
      line('"abc').tokens.map((t) => t.kind),
      ['error'],
    );
  });

  it('reports an unknown or short escape as MMS1001 at the backslash', () => {
    assert.deepEqual(codes('"a\\qb"'), ['MMS1001@3+2']);
    assert.match(line('"a\\qb"').diagnostics[0].message, /unknown escape '\\q'.*\\xNN/);
    assert.deepEqual(codes('"\\x4"'), ['MMS1001@2+2']);
    assert.match(line('"\\x4"').diagnostics[0].message, /two hexadecimal digits/);
    assert.deepEqual(codes('"\\😀"'), ['MMS1001@2+3']);
    assert.deepEqual(
      line('"a\\qb" c').tokens.map((t) => t.kind),
      ['error', 'word'],
    );
  });
});

describe('scanner: operators and comments', () => {
  it('scans every operator', () => {
    assert.deepEqual(clean('= => + - == != < <= > >= ( )'), [
      'op:=@1+1',
      'op:=>@3+2',
      'op:+@6+1',
      'op:-@8+1',
      'op:==@10+2',
      'op:!=@13+2',
      'op:<@16+1',
      'op:<=@18+2',
      'op:>@21+1',
      'op:>=@23+2',
      'op:(@26+1',
      'op:)@28+1',
    ]);
    assert.deepEqual(clean('(a)'), ['op:(@1+1', 'word:a@2+1', 'op:)@3+1']);
    assert.deepEqual(clean('a+b'), ['word:a@1+1', 'op:+@2+1', 'word:b@3+1']);
  });

  it('drops comments, also right after a token', () => {
    assert.deepEqual(clean('load a # the first page'), ['word:load@1+4', 'word:a@6+1']);
    assert.deepEqual(clean('load a#x'), ['word:load@1+4', 'word:a@6+1']);
  });
});

describe('scanner: unexpected characters', () => {
  it('reports MMS1001 once for a run, and goes on', () => {
    const l = line('load @@ a ! b');
    assert.deepEqual(
      l.diagnostics.map((d) => `${d.code}@${d.span.column}+${d.span.length}`),
      ['MMS1001@6+2', 'MMS1001@11+1'],
    );
    assert.match(l.diagnostics[0].message, /unexpected character '@'/);
    assert.match(l.diagnostics[1].message, /did you mean '!='/);
    assert.deepEqual(l.tokens.map(show), ['word:load@1+4', 'error:@@@6+2', 'word:a@9+1', 'error:!@11+1', 'word:b@13+1']);
  });

  it('reports a single-quoted string once', () => {
    assert.deepEqual(codes("'abc' x"), ['MMS1001@1+5']);
    assert.match(line("'abc'").diagnostics[0].message, /double quotes/);
    assert.deepEqual(codes("'abc"), ['MMS1001@1+1']);
  });

  it('shows characters that would not print by code point, and counts UTF-16 units', () => {
    const nb = line('a\u00a0b');
    assert.deepEqual(
      nb.diagnostics.map((d) => `${d.code}@${d.span.column}+${d.span.length}`),
      ['MMS1001@2+1'],
    );
    assert.match(nb.diagnostics[0].message, /U\+00A0.*non-breaking space/);
    const emoji = line('x 😀 y');
    assert.deepEqual(
      emoji.diagnostics.map((d) => `${d.code}@${d.span.column}+${d.span.length}`),
      ['MMS1001@3+2'],
    );
    assert.match(emoji.diagnostics[0].message, /U\+1F600/);
    assert.deepEqual(
      emoji.tokens.map(show).slice(-1),
      ['word:y@6+1'],
    );
    assert.deepEqual(codes('\u0000'), ['MMS1001@1+1']);
    assert.deepEqual(codes('.5'), ['MMS1001@1+1']);
  });

  it('never throws on odd input', () => {
    for (const t of ['\\', '"', '"\\', '0x', '-', '--1', '=', '\ud800', 'a\udc00b', '!', '!!=', '\u2028']) {
      assert.doesNotThrow(() => line(t), JSON.stringify(t));
    }
  });
});
