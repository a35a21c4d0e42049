/**
 * nativeSubset() (bench/main.ts): the mmbench command line `--only` leaves. A case token
 * is kept with the counts that follow it, or dropped with them; 'all' is expanded into
 * mmbench's cases first.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FULL_SIZES, QUICK_SIZES, nativeSubset, runBench } from '../../bench/main.js';

/** mmbench's cases, in the order `all` runs them. */
const ALL = ['c', 'd', 'e', 'f', 'g1k', 'g100k', 'i'];

describe('nativeSubset', () => {
  it('--only g keeps g1k and g100k with their counts', () => {
    const onlyG = (id: string): boolean => id === 'g1k' || id === 'g100k';
    assert.deepEqual(nativeSubset(['c', '4096', 'g1k', '2000', 'g100k', '500', '7', 'i', '2048'], onlyG), ['g1k', '2000', 'g100k', '500', '7']);
    assert.deepEqual(nativeSubset(QUICK_SIZES.nativeArgs, onlyG), ['g1k', '2000']);
    assert.deepEqual(nativeSubset(FULL_SIZES.nativeArgs, onlyG), ['g1k', 'g100k']);
  });

  it('dropping i drops its count too, and keeps the rest', () => {
    assert.deepEqual(nativeSubset(QUICK_SIZES.nativeArgs, (id) => id !== 'i'), ['c', '4096', 'd', '2048', 'e', '2000', 'f', '2048', 'g1k', '2000']);
    assert.deepEqual(nativeSubset(QUICK_SIZES.nativeArgs, () => false), []);
  });

  it("expands 'all' into mmbench's cases", () => {
    assert.deepEqual(nativeSubset(['all'], () => true), ALL);
    assert.deepEqual(nativeSubset(['all'], (id) => id === 'e' || id === 'i'), ['e', 'i']);
    assert.deepEqual(FULL_SIZES.nativeArgs, ['all']);
  });

  it('--only i.manyprots runs no mmbench: native i is the mainline design', () => {
    const log: string[] = [];
    const run = runBench(QUICK_SIZES, { only: ['i.manyprots'], native: true, log: (line) => log.push(line) });
    assert.deepEqual(
      run.results.map((r) => r.id),
      ['i.manyprots'],
    );
    assert.equal(run.native, null);
    assert.ok(!log.some((line) => line.includes('mmbench')), log.join('\n'));
  });
});
