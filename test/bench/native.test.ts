import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseNativeOutput, runNative } from '../../bench/native.js';

test('mmbench builds with the system C compiler and times mmap+munmap pairs (case e)', () => {
  const out = runNative(['e', '2000']);
  if ('unavailable' in out) {
    assert.fail(`native benchmark unavailable (CI must install a C compiler, e.g. gcc + libc6-dev): ${out.unavailable}`);
  }
  assert.equal(out.results.length, 1);
  const [e] = out.results;
  assert.ok(e !== undefined);
  assert.equal(e.case, 'e');
  assert.equal(e.ops, 2000);
  assert.ok(e.ops > 0);
  assert.ok(Number.isFinite(e.nsPerOp) && e.nsPerOp > 0, `ns_per_op = ${e.nsPerOp}`);
  assert.ok((e.extra['total_ns'] ?? 0) > 0);
});

test('parseNativeOutput keeps extra numeric fields and rejects non-JSON', () => {
  const [d] = parseNativeOutput(
    '{"case":"d","ops":4,"ns_per_op":10.5,"total_ns":42,"fork_ns":7,"cow_ns_per_page":2.5}\n\n',
  );
  assert.deepEqual(d, {
    case: 'd',
    ops: 4,
    nsPerOp: 10.5,
    extra: { total_ns: 42, fork_ns: 7, cow_ns_per_page: 2.5 },
  });
  assert.throws(() => parseNativeOutput('oops\n'), /not JSON/);
  assert.throws(() => parseNativeOutput('{"case":"e"}\n'), /lacks/);
});
