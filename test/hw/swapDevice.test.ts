import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FRAME_ANON, PhysMem } from '../../src/hw/physMem.js';
import { PAGE_SIZE } from '../../src/hw/pte.js';
import { SwapDevice } from '../../src/hw/swapDevice.js';

describe('SwapDevice', () => {
  it('starts with every slot holding zeros', () => {
    const swap = new SwapDevice(8);
    assert.equal(swap.slots, 8);
    for (let s = 0; s < 8; s++) assert.equal(swap.peek(s), -1);
    assert.equal(swap.writes, 0);
    assert.equal(swap.reads, 0);
  });

  it('store, peek and take move a content id and count I/O', () => {
    const swap = new SwapDevice(4);
    swap.store(2, 17);
    assert.equal(swap.peek(2), 17);
    assert.equal(swap.peek(2), 17, 'peek does not take');
    assert.equal(swap.writes, 1);
    assert.equal(swap.take(2), 17);
    assert.equal(swap.peek(2), -1, 'take forgets the content');
    assert.equal(swap.reads, 1);
    swap.store(2, 5); // the slot can be reused once taken
    assert.equal(swap.peek(2), 5);
  });

  it('refuses to overwrite a slot that holds a content', () => {
    const swap = new SwapDevice(4);
    swap.store(1, 3);
    assert.throws(() => swap.store(1, 4), /overwritten/);
    assert.equal(swap.peek(1), 3);
  });

  it('carries a page’s bytes out and back without copying them', () => {
    const mem = new PhysMem(32 * PAGE_SIZE);
    const swap = new SwapDevice(4);
    const a = mem.alloc(FRAME_ANON);
    mem.write8(a, 0, 0x11);
    mem.write8(a, PAGE_SIZE - 1, 0x22);
    const contents = mem.content.contentsInUse;
    swap.store(3, mem.takeContent(a));
    mem.free(a);
    assert.equal(mem.content.contentsInUse, contents, 'the slot holds the content now');
    const b = mem.alloc(FRAME_ANON);
    mem.giveContent(b, swap.take(3));
    assert.equal(mem.read8(b, 0), 0x11);
    assert.equal(mem.read8(b, PAGE_SIZE - 1), 0x22);
    assert.equal(mem.content.contentsInUse, contents);
  });

  it('a page of zeros swaps as -1 and comes back as zeros', () => {
    const mem = new PhysMem(32 * PAGE_SIZE);
    const swap = new SwapDevice(2);
    const a = mem.alloc(FRAME_ANON);
    swap.store(0, mem.takeContent(a));
    assert.equal(swap.peek(0), -1);
    const b = mem.alloc(FRAME_ANON);
    mem.giveContent(b, swap.take(0));
    assert.equal(mem.read8(b, 100), 0);
    assert.equal(mem.content.contentsInUse, 0);
  });
});
