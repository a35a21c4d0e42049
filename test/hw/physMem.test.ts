import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ContentPool, LINE_SIZE } from '../../src/hw/contentPool.js';
import {
  FRAME_ANON,
  FRAME_DIRTY,
  FRAME_FILE,
  FRAME_FREE,
  FRAME_KERNEL,
  FRAME_KIND_NAMES,
  FRAME_PAGETABLE,
  NO_FRAME,
  PhysMem,
} from '../../src/hw/physMem.js';
import { PAGE_SIZE } from '../../src/hw/pte.js';

function mem(frames = 16): PhysMem {
  return new PhysMem(frames * PAGE_SIZE);
}

describe('PhysMem: construction', () => {
  it('refuses fewer than 16 frames', () => {
    assert.throws(() => new PhysMem(15 * PAGE_SIZE), RangeError);
    assert.throws(() => new PhysMem(16 * PAGE_SIZE - 1), RangeError);
    assert.doesNotThrow(() => new PhysMem(16 * PAGE_SIZE));
  });

  it('counts whole frames and keeps frame 0 reserved', () => {
    const m = new PhysMem(20 * PAGE_SIZE + 100);
    assert.equal(m.frameCount, 20);
    assert.equal(m.freeFrames, 19);
    assert.equal(m.kind[0], FRAME_FREE);
  });

  it('names the frame kinds in FRAME_* order', () => {
    assert.equal(FRAME_KIND_NAMES[FRAME_FREE], 'free');
    assert.equal(FRAME_KIND_NAMES[FRAME_ANON], 'anon');
    assert.equal(FRAME_KIND_NAMES[FRAME_FILE], 'file');
    assert.equal(FRAME_KIND_NAMES[FRAME_PAGETABLE], 'pagetable');
    assert.equal(FRAME_KIND_NAMES[FRAME_KERNEL], 'kernel');
  });

  it('reports its per-frame metadata size', () => {
    assert.equal(PhysMem.METADATA_BYTES_PER_FRAME, 22);
  });
});

describe('PhysMem: alloc and free', () => {
  it('hands out low frames first, starting at 1', () => {
    const m = mem();
    assert.deepEqual([m.alloc(FRAME_ANON), m.alloc(FRAME_ANON), m.alloc(FRAME_FILE)], [1, 2, 3]);
  });

  it('gives a fresh frame clean metadata', () => {
    const m = mem();
    const pfn = m.alloc(FRAME_FILE);
    assert.equal(m.kind[pfn], FRAME_FILE);
    assert.equal(m.refcount[pfn], 1);
    assert.equal(m.mapcount[pfn], 0);
    assert.equal(m.flags[pfn], 0);
    assert.equal(m.data[pfn], -1);
    assert.equal(m.owner[pfn], -1);
    assert.equal(m.index[pfn], 0);
  });

  it('returns NO_FRAME when exhausted, and never throws', () => {
    const m = mem(32);
    const seen = new Set<number>();
    for (let i = 0; i < 31; i++) {
      const pfn = m.alloc(FRAME_ANON);
      assert.notEqual(pfn, NO_FRAME);
      assert.ok(pfn >= 1 && pfn < 32, `frame ${pfn} in range`);
      assert.ok(!seen.has(pfn), `frame ${pfn} handed out once`);
      seen.add(pfn);
    }
    assert.equal(m.freeFrames, 0);
    for (let i = 0; i < 5; i++) assert.equal(m.alloc(FRAME_ANON), NO_FRAME);
    assert.equal(m.freeFrames, 0);
    // A freed frame is available again, then memory is exhausted again.
    m.free(7);
    assert.equal(m.alloc(FRAME_KERNEL), 7);
    assert.equal(m.alloc(FRAME_KERNEL), NO_FRAME);
  });

  it('resets metadata on free and reuses the frame', () => {
    const m = mem();
    const pfn = m.alloc(FRAME_ANON);
    m.refcount[pfn] = 3;
    m.mapcount[pfn] = 2;
    m.flags[pfn] = FRAME_DIRTY;
    m.owner[pfn] = 42;
    m.index[pfn] = 9;
    const before = m.freeFrames;
    m.free(pfn);
    assert.equal(m.freeFrames, before + 1);
    assert.equal(m.kind[pfn], FRAME_FREE);
    assert.equal(m.refcount[pfn], 0);
    assert.equal(m.mapcount[pfn], 0);
    assert.equal(m.flags[pfn], 0);
    assert.equal(m.owner[pfn], -1);
    assert.equal(m.data[pfn], -1);
    const again = m.alloc(FRAME_FILE);
    assert.equal(again, pfn, 'the most recently freed frame comes back first');
    assert.equal(m.refcount[again], 1);
    assert.equal(m.index[again], 0);
  });

  it('throws on a double free (an mmsim bug, not a user error)', () => {
    const m = mem();
    const pfn = m.alloc(FRAME_ANON);
    m.free(pfn);
    assert.throws(() => m.free(pfn), /freed twice/);
  });

  it('keeps the free list intact across interleaved alloc/free', () => {
    const m = mem(20);
    const live = new Set<number>();
    for (let round = 0; round < 200; round++) {
      if (round % 3 !== 2) {
        const pfn = m.alloc(FRAME_ANON);
        if (pfn === NO_FRAME) {
          assert.equal(live.size, 19);
          continue;
        }
        assert.ok(!live.has(pfn));
        live.add(pfn);
      } else if (live.size > 0) {
        const pfn = [...live][round % live.size];
        live.delete(pfn);
        m.free(pfn);
      }
      assert.equal(m.freeFrames, 19 - live.size);
    }
  });
});

describe('PhysMem: refcounts', () => {
  it('put drops one reference and frees on the last', () => {
    const m = mem();
    const pfn = m.alloc(FRAME_ANON);
    m.refcount[pfn]++;
    const free = m.freeFrames;
    assert.equal(m.put(pfn), false);
    assert.equal(m.refcount[pfn], 1);
    assert.equal(m.kind[pfn], FRAME_ANON);
    assert.equal(m.freeFrames, free);
    assert.equal(m.put(pfn), true);
    assert.equal(m.kind[pfn], FRAME_FREE);
    assert.equal(m.freeFrames, free + 1);
  });

  it('put on a free frame is caught as a double free', () => {
    const m = mem();
    const pfn = m.alloc(FRAME_ANON);
    m.put(pfn);
    assert.throws(() => m.put(pfn), /freed twice/);
  });

  it('put drops the contents with the frame', () => {
    const m = mem();
    const pfn = m.alloc(FRAME_ANON);
    m.write8(pfn, 0, 1);
    assert.equal(m.content.contentsInUse, 1);
    m.put(pfn);
    assert.equal(m.content.contentsInUse, 0);
  });
});

describe('PhysMem: sparse contents', () => {
  it('a fresh frame reads zeros and costs no content', () => {
    const m = mem();
    const pfn = m.alloc(FRAME_ANON);
    assert.equal(m.read8(pfn, 0), 0);
    assert.equal(m.read8(pfn, PAGE_SIZE - 1), 0);
    assert.equal(m.content.contentsInUse, 0);
  });

  it('writing zero to a fresh frame allocates no content', () => {
    const m = mem();
    const pfn = m.alloc(FRAME_ANON);
    m.write8(pfn, 10, 0);
    m.write8(pfn, 11, 0x100); // truncates to a zero byte
    assert.equal(m.data[pfn], -1);
    assert.equal(m.content.contentsInUse, 0);
    assert.equal(m.content.bytesInUse, 0);
    assert.equal(m.read8(pfn, 11), 0);
  });

  it('the first non-zero write allocates one content, later writes reuse it', () => {
    const m = mem();
    const pfn = m.alloc(FRAME_ANON);
    m.write8(pfn, 0, 0x11);
    assert.equal(m.content.contentsInUse, 1);
    const content = m.data[pfn];
    m.write8(pfn, PAGE_SIZE - 1, 0x22);
    m.write8(pfn, 5, 0); // a zero write into a page with contents is stored
    assert.equal(m.data[pfn], content);
    assert.equal(m.content.contentsInUse, 1);
    assert.equal(m.content.bytesInUse, 2 * LINE_SIZE, 'two lines touched by non-zero bytes');
    assert.equal(m.read8(pfn, 0), 0x11);
    assert.equal(m.read8(pfn, PAGE_SIZE - 1), 0x22);
    assert.equal(m.read8(pfn, 1), 0);
  });

  it('stores bytes, truncating wider values', () => {
    const m = mem();
    const pfn = m.alloc(FRAME_ANON);
    m.write8(pfn, 3, 0x1ab);
    assert.equal(m.read8(pfn, 3), 0xab);
  });

  it('keeps frames apart', () => {
    const m = mem();
    const a = m.alloc(FRAME_ANON);
    const b = m.alloc(FRAME_ANON);
    m.write8(a, 100, 1);
    m.write8(b, 100, 2);
    assert.equal(m.read8(a, 100), 1);
    assert.equal(m.read8(b, 100), 2);
    assert.equal(m.content.contentsInUse, 2);
  });

  it('free returns the content, and a reused content reads as zeros', () => {
    const m = mem();
    const a = m.alloc(FRAME_ANON);
    m.write8(a, 77, 0x5a);
    m.free(a);
    assert.equal(m.content.contentsInUse, 0);
    assert.equal(m.content.bytesInUse, 0);
    const b = m.alloc(FRAME_ANON);
    m.write8(b, 0, 1); // takes the recycled content
    assert.equal(m.read8(b, 77), 0, 'no leak of the previous owner');
  });

  it('dropContent zero-fills a frame and gives the content back', () => {
    const m = mem();
    const pfn = m.alloc(FRAME_ANON);
    m.write8(pfn, 1, 9);
    m.dropContent(pfn);
    assert.equal(m.read8(pfn, 1), 0);
    assert.equal(m.content.contentsInUse, 0);
    m.dropContent(pfn); // harmless on an empty frame
    assert.equal(m.content.contentsInUse, 0);
  });

  it('survives content-pool growth beyond its first 64 contents', () => {
    const m = mem(200);
    const frames: number[] = [];
    for (let i = 0; i < 150; i++) {
      const pfn = m.alloc(FRAME_ANON);
      m.write8(pfn, i, (i % 255) + 1);
      m.write8(pfn, PAGE_SIZE - 1, 0xee);
      frames.push(pfn);
    }
    assert.equal(m.content.contentsInUse, 150);
    frames.forEach((pfn, i) => {
      assert.equal(m.read8(pfn, i), (i % 255) + 1);
      assert.equal(m.read8(pfn, PAGE_SIZE - 1), 0xee);
    });
  });
});

describe('PhysMem: copy, take and give contents', () => {
  it('copyContent makes an independent copy', () => {
    const m = mem();
    const src = m.alloc(FRAME_ANON);
    const dst = m.alloc(FRAME_ANON);
    m.write8(src, 0, 1);
    m.write8(src, 4095, 2);
    m.copyContent(dst, src);
    assert.equal(m.content.contentsInUse, 2);
    assert.notEqual(m.data[dst], m.data[src]);
    assert.equal(m.read8(dst, 0), 1);
    assert.equal(m.read8(dst, 4095), 2);
    m.write8(dst, 0, 3);
    assert.equal(m.read8(src, 0), 1, 'writing the copy leaves the source');
  });

  it('copyContent from a zero frame zeroes the destination and frees its content', () => {
    const m = mem();
    const src = m.alloc(FRAME_ANON);
    const dst = m.alloc(FRAME_ANON);
    m.write8(dst, 8, 8);
    m.copyContent(dst, src);
    assert.equal(m.read8(dst, 8), 0);
    assert.equal(m.data[dst], -1);
    assert.equal(m.content.contentsInUse, 0);
  });

  it('copyContent over a frame with contents replaces them without leaking a content', () => {
    const m = mem();
    const src = m.alloc(FRAME_ANON);
    const dst = m.alloc(FRAME_ANON);
    m.write8(src, 1, 0x10);
    m.write8(dst, 2, 0x20);
    m.copyContent(dst, src);
    assert.equal(m.content.contentsInUse, 2);
    assert.equal(m.read8(dst, 1), 0x10);
    assert.equal(m.read8(dst, 2), 0);
  });

  it('takeContent moves the content out; giveContent moves it in', () => {
    const m = mem();
    const a = m.alloc(FRAME_ANON);
    const b = m.alloc(FRAME_ANON);
    m.write8(a, 5, 0x55);
    const content = m.takeContent(a);
    assert.ok(content >= 0);
    assert.equal(m.read8(a, 5), 0, 'the source reads zeros');
    assert.equal(m.data[a], -1);
    assert.equal(m.content.contentsInUse, 1, 'the taken content is still in use (held by the caller)');
    m.free(a);
    assert.equal(m.content.contentsInUse, 1, 'freeing the emptied frame does not free the taken content');
    m.giveContent(b, content);
    assert.equal(m.read8(b, 5), 0x55);
    assert.equal(m.content.contentsInUse, 1);
  });

  it('takeContent of a zero frame is -1, and giving -1 makes a frame zero', () => {
    const m = mem();
    const a = m.alloc(FRAME_ANON);
    const b = m.alloc(FRAME_ANON);
    assert.equal(m.takeContent(a), -1);
    m.write8(b, 0, 1);
    m.giveContent(b, -1);
    assert.equal(m.read8(b, 0), 0);
    assert.equal(m.content.contentsInUse, 0);
  });

  it('giveContent drops the frame’s previous content', () => {
    const m = mem();
    const a = m.alloc(FRAME_ANON);
    const b = m.alloc(FRAME_ANON);
    m.write8(a, 0, 0xa);
    m.write8(b, 0, 0xb);
    m.giveContent(b, m.takeContent(a));
    assert.equal(m.read8(b, 0), 0xa);
    assert.equal(m.content.contentsInUse, 1);
  });
});

describe('ContentPool', () => {
  it('allocates all-zero contents that cost no line storage', () => {
    const pool = new ContentPool();
    const a = pool.alloc();
    assert.equal(pool.contentsInUse, 1);
    assert.equal(pool.bytesInUse, 0);
    assert.ok(pool.isEmpty(a));
    assert.equal(pool.read8(a, 0), 0);
    assert.equal(pool.read8(a, PAGE_SIZE - 1), 0);
  });

  it('stores only the lines that ever held a non-zero byte', () => {
    const pool = new ContentPool();
    const a = pool.alloc();
    pool.write8(a, 100, 0); // zero into a zero line: nothing
    assert.equal(pool.bytesInUse, 0);
    assert.ok(pool.isEmpty(a));
    pool.write8(a, 0, 1);
    pool.write8(a, LINE_SIZE - 1, 2); // same line
    assert.equal(pool.bytesInUse, LINE_SIZE);
    pool.write8(a, LINE_SIZE, 3); // next line
    pool.write8(a, PAGE_SIZE - 1, 4); // last line
    assert.equal(pool.bytesInUse, 3 * LINE_SIZE);
    assert.ok(!pool.isEmpty(a));
    assert.deepEqual(
      [0, LINE_SIZE - 1, LINE_SIZE, PAGE_SIZE - 1, 1, 2 * LINE_SIZE].map((o) => pool.read8(a, o)),
      [1, 2, 3, 4, 0, 0],
    );
    pool.write8(a, 0, 0x1ff);
    assert.equal(pool.read8(a, 0), 0xff, 'bytes are bytes');
  });

  it('keeps contents apart', () => {
    const pool = new ContentPool();
    const a = pool.alloc();
    const b = pool.alloc();
    pool.write8(a, 5, 0xa);
    pool.write8(b, 5, 0xb);
    assert.equal(pool.read8(a, 5), 0xa);
    assert.equal(pool.read8(b, 5), 0xb);
  });

  it('free returns the content and its lines; reuse reads as zeros', () => {
    const pool = new ContentPool();
    const a = pool.alloc();
    pool.write8(a, 1, 7);
    pool.write8(a, 2000, 8);
    pool.free(a);
    assert.equal(pool.contentsInUse, 0);
    assert.equal(pool.bytesInUse, 0);
    const b = pool.alloc();
    assert.equal(b, a, 'a freed content is reused before the pool grows');
    assert.ok(pool.isEmpty(b));
    assert.equal(pool.read8(b, 1), 0);
    pool.write8(b, 3, 9); // takes a recycled line
    assert.equal(pool.read8(b, 1), 0, 'a recycled line comes back zeroed');
    assert.equal(pool.read8(b, 3), 9);
  });

  it('grows, keeping existing contents', () => {
    const pool = new ContentPool();
    const cs: number[] = [];
    for (let i = 0; i < 40; i++) {
      const c = pool.alloc();
      for (let line = 0; line < PAGE_SIZE / LINE_SIZE; line += 7) pool.write8(c, line * LINE_SIZE + (i % LINE_SIZE), i + 1);
      cs.push(c);
    }
    assert.equal(new Set(cs).size, 40);
    assert.equal(pool.contentsInUse, 40);
    cs.forEach((c, i) => {
      for (let line = 0; line < PAGE_SIZE / LINE_SIZE; line += 7) assert.equal(pool.read8(c, line * LINE_SIZE + (i % LINE_SIZE)), i + 1);
    });
  });

  it('duplicate copies every line, independently, even when the copy makes the pool grow', () => {
    const pool = new ContentPool();
    const a = pool.alloc();
    pool.write8(a, 10, 0x99);
    pool.write8(a, 4000, 0x77);
    const bytes = pool.bytesInUse;
    const b = pool.duplicate(a);
    assert.notEqual(a, b);
    assert.equal(pool.read8(b, 10), 0x99);
    assert.equal(pool.read8(b, 4000), 0x77);
    assert.equal(pool.contentsInUse, 2);
    assert.equal(pool.bytesInUse, 2 * bytes, 'only the written lines are copied');
    pool.write8(b, 10, 1);
    assert.equal(pool.read8(a, 10), 0x99);
  });

  it('keeps its free lists through many frees', () => {
    const pool = new ContentPool();
    const cs = Array.from({ length: 100 }, (_, i) => {
      const c = pool.alloc();
      pool.write8(c, i, 1);
      return c;
    });
    for (const c of cs) pool.free(c);
    assert.equal(pool.contentsInUse, 0);
    assert.equal(pool.bytesInUse, 0);
    const again = new Set(Array.from({ length: 100 }, () => pool.alloc()));
    assert.deepEqual([...again].sort((x, y) => x - y), [...cs].sort((x, y) => x - y), 'every content recycled');
  });
});
