/**
 * ContentPool.writeRange / PhysMem.writeBytes against byte-by-byte write8: random writes
 * (many of zeros, so lines of zeros must stay unallocated) leave the same bytes and the
 * same number of allocated lines.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PhysMem } from '../../src/hw/physMem.js';

const PAGE = 4096;

const write = fc.record({
  offset: fc.integer({ min: 0, max: PAGE - 1 }),
  len: fc.integer({ min: 0, max: 600 }),
  fill: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 255 })),
  sparse: fc.boolean(),
});

describe('PhysMem.writeBytes', () => {
  it('leaves the bytes and the allocated lines that write8 byte by byte leaves', () => {
    fc.assert(
      fc.property(fc.array(write, { maxLength: 12 }), (writes) => {
        const bulk = new PhysMem(64 * PAGE);
        const bytewise = new PhysMem(64 * PAGE);
        const a = bulk.alloc(1);
        const b = bytewise.alloc(1);
        for (const w of writes) {
          const n = Math.min(w.len, PAGE - w.offset);
          const src = new Uint8Array(n + 3);
          for (let i = 0; i < src.length; i++) src[i] = w.sparse && i % 7 !== 0 ? 0 : (w.fill + i) & 0xff;
          bulk.writeBytes(a, w.offset, src, 3, n);
          for (let i = 0; i < n; i++) bytewise.write8(b, w.offset + i, src[3 + i]);
        }
        for (let o = 0; o < PAGE; o++) assert.equal(bulk.read8(a, o), bytewise.read8(b, o), `byte ${o}`);
        assert.equal(bulk.content.bytesInUse, bytewise.content.bytesInUse);
      }),
      { seed: 11, numRuns: 300 },
    );
  });
});
