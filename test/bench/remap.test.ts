/**
 * Smoke test of benchmark case (i), bench/remap.ts, in quick mode: remapping single pages
 * with per-page protections under MANYPROTS (one VMA, protections in the PTEs) and under
 * mainline's emulation (remap_file_pages + mprotect, one VMA per page). Asserts what the
 * designs must leave behind — VMA counts, each page's file page and protection, read
 * back through /proc/pid/maps, the PTEs and loads and stores — and that the case is
 * wired into runBench, the summary rows and the report. No timing assertions: the
 * figures themselves are for `npm run bench`.
 */
import { describe, it } from 'node:test';
import { RW } from '../mm/_helpers.js';
import { parseMaps } from '../mm/_model.js';
import assert from 'node:assert/strict';
import { isSignal, MAP_SHARED, PROT_NONE, PROT_READ } from '../../src/index.js';
import { PAGE_SIZE } from '../../src/hw/pte.js';
import { QUICK_SIZES, buildRows, formatReport, runBench, type CaseResult } from '../../bench/main.js';
import { runNative, type NativeResult } from '../../bench/native.js';
import {
  REMAP_DESIGNS,
  REMAP_FILE,
  REMAP_PROTS,
  caseRemap,
  iId,
  isRemapCaseId,
  mapWindow,
  remapPages,
  remapPlan,
  remapRig,
  touchWindow,
  type RemapPlan,
} from '../../bench/remap.js';

const PERMS: Record<number, string> = { [PROT_NONE]: '---s', [PROT_READ]: 'r--s', [RW]: 'rw-s' };


function readable(plan: RemapPlan): number {
  let n = 0;
  for (const p of plan.prot) if (p !== 0) n++;
  return n;
}

describe('bench/remap.ts (case i) in quick mode', () => {
  const sizes = QUICK_SIZES;
  const results: CaseResult[] = [];

  it('plans a seeded permutation of the file pages, with neighbours never sharing a protection', () => {
    const plan = remapPlan(sizes.remapPages);
    assert.equal(plan.pages, sizes.remapPages);
    assert.deepEqual(
      [...plan.perm].sort((a, b) => a - b),
      Array.from({ length: plan.pages }, (_, i) => i),
    );
    let moved = 0;
    const seen = new Set<number>();
    for (let i = 0; i < plan.pages; i++) {
      if (plan.perm[i] !== i) moved++;
      assert.ok(plan.prot[i] >= 0 && plan.prot[i] < 3);
      seen.add(plan.prot[i]);
      if (i > 0) assert.notEqual(plan.prot[i], plan.prot[i - 1], `pages ${i - 1} and ${i} share a protection`);
    }
    assert.equal(seen.size, 3, 'all of ---, r--, rw- occur');
    assert.ok(moved > plan.pages * 0.9, `only ${moved} of ${plan.pages} pages leave their linear place`);
    assert.deepEqual(remapPlan(sizes.remapPages), plan, 'the same seed gives the same plan');
    assert.equal(isRemapCaseId('i.manyprots') && isRemapCaseId('i.mainline'), true);
    assert.ok(!isRemapCaseId('i') && !isRemapCaseId('h1.linux') && !isRemapCaseId('g100k'));
  });

  for (const design of REMAP_DESIGNS) {
    it(`${design}: the case's own figures — VMAs, entries installed, faults on the touch`, () => {
      const r = caseRemap(sizes, design);
      const n = sizes.remapPages;
      const plan = remapPlan(n);
      assert.equal(r.id, iId(design));
      assert.equal(r.ops, n);
      assert.equal(r.samples, sizes.reps);
      assert.ok(Number.isFinite(r.nsPerOp) && r.nsPerOp > 0, `${r.id}: ns/page = ${r.nsPerOp}`);
      for (const [k, v] of Object.entries(r.extra)) assert.ok(Number.isFinite(v), `${r.id}: extra ${k} = ${v}`);
      assert.equal(r.extra['pages'], n);
      assert.equal(r.extra['touchedPages'], readable(plan));
      if (design === 'manyprots') {
        assert.equal(r.extra['syscallsPerPage'], 1);
        assert.equal(r.extra['vmas'], 1, 'MANYPROTS keeps the window one VMA');
        assert.equal(r.extra['ptesAfterRemap'], n, 'MANYPROTS installs every page, PROT_NONE ones included');
        assert.equal(r.extra['faultsPerTouchedPage'], 0, 'nothing left to fault in');
      } else {
        assert.equal(r.extra['syscallsPerPage'], 2);
        assert.equal(r.extra['vmas'], n, 'mainline: one VMA per remapped page');
        assert.equal(r.extra['ptesAfterRemap'], 0, 'a PROT_NONE mmap populates nothing, nor does mprotect');
        assert.equal(r.extra['faultsPerTouchedPage'], 1, 'one minor fault per readable page');
      }
      results.push(r);
    });
  }

  for (const design of REMAP_DESIGNS) {
    it(`${design}: half the window remapped — every page shows its file page with its protection, the rest untouched`, () => {
      const plan = remapPlan(sizes.remapPages);
      const n = plan.pages;
      const half = n >> 1;
      const rig = remapRig(design, plan);
      const { p, t } = rig;
      const w = mapWindow(rig);
      remapPages(rig, w, half);

      const maps = parseMaps(p.maps()).filter((l) => l.start >= w && l.end <= w + n * PAGE_SIZE);
      for (const l of maps) assert.equal(l.name, REMAP_FILE);
      if (design === 'manyprots') {
        assert.equal(p.mapCount, 1);
        assert.deepEqual(
          maps.map((l) => [l.start, l.end, l.perms, l.offset]),
          [[w, w + n * PAGE_SIZE, '---s', 0]],
        );
      } else {
        // The last remapped page would merge with the PROT_NONE remainder only if it were
        // PROT_NONE at the linear offset; the plan's seed does not do that.
        assert.ok(!(plan.prot[half - 1] === 0 && plan.perm[half - 1] === half));
        assert.equal(p.mapCount, half + 1, 'one VMA per remapped page plus the untouched remainder');
        assert.equal(maps.length, half + 1);
        for (let i = 0; i < half; i++) {
          assert.deepEqual([maps[i].start, maps[i].end, maps[i].perms, maps[i].offset], [w + i * PAGE_SIZE, w + (i + 1) * PAGE_SIZE, PERMS[REMAP_PROTS[plan.prot[i]]], plan.perm[i] * PAGE_SIZE], `page ${i}`);
        }
        assert.deepEqual([maps[half].start, maps[half].end, maps[half].perms, maps[half].offset], [w + half * PAGE_SIZE, w + n * PAGE_SIZE, '---s', half * PAGE_SIZE]);
      }

      // Before any access: MANYPROTS put each page's file page and protection in its PTE.
      if (design === 'manyprots') {
        for (let i = 0; i < half; i++) {
          const pte = p.pte(w + i * PAGE_SIZE);
          assert.equal(pte.pgoff, plan.perm[i], `page ${i}: file page`);
          const prot = REMAP_PROTS[plan.prot[i]];
          if (prot === PROT_NONE) assert.ok(pte.protnone && !pte.present, `page ${i}: PROT_NONE entry`);
          else assert.ok(pte.present && pte.writable === (prot === RW), `page ${i}: present=${pte.present} writable=${pte.writable}`);
        }
      }

      // Loads and stores: readable pages read their file page's stamp, rw- pages take a store,
      // r-- and --- pages refuse what they must.
      for (let i = 0; i < half; i++) {
        const va = w + i * PAGE_SIZE;
        const prot = REMAP_PROTS[plan.prot[i]];
        const v = t.load(va, 4);
        if (prot === PROT_NONE) {
          assert.ok(isSignal(v) && v.signal === 'SIGSEGV' && v.code === 'SEGV_ACCERR', `page ${i} (---): load gave ${JSON.stringify(v)}`);
          continue;
        }
        assert.equal(v, plan.perm[i] + 1, `page ${i}: reads file page ${plan.perm[i]}`);
        const s = t.store(va + 8, 0x5a);
        if (prot === RW) assert.equal(s, null, `page ${i} (rw-): store refused`);
        else assert.ok(s !== null && s.signal === 'SIGSEGV' && s.code === 'SEGV_ACCERR', `page ${i} (r--): store gave ${JSON.stringify(s)}`);
        const pte = p.pte(va);
        assert.ok(pte.present, `page ${i}: present after the access`);
        assert.equal(pte.pgoff, plan.perm[i], `page ${i}: entry maps file page ${pte.pgoff}`);
        assert.equal(pte.writable, prot === RW, `page ${i}: writable`);
      }
      // A store through the window reached the file page the plan named.
      const firstRw = plan.prot.findIndex((x, i) => i < half && REMAP_PROTS[x] === RW);
      assert.ok(firstRw >= 0);
      const lin = t.mmap(0, n * PAGE_SIZE, PROT_READ, MAP_SHARED, rig.fd, 0);
      assert.ok(typeof lin === 'number');
      assert.equal(t.load(lin + plan.perm[firstRw] * PAGE_SIZE + 8), 0x5a);
      assert.equal(t.munmap(lin, n * PAGE_SIZE), 0);

      // The remainder is still the window's PROT_NONE linear mapping.
      for (const i of [half, half + 1, n - 1]) {
        const v = t.load(w + i * PAGE_SIZE, 4);
        assert.ok(isSignal(v) && v.code === 'SEGV_ACCERR', `remainder page ${i}: load gave ${JSON.stringify(v)}`);
      }
      const touched = touchWindow(rig, w, half);
      assert.equal(touched.touched, readable({ ...plan, prot: plan.prot.subarray(0, half) }));
    });
  }

  it('reports the designs side by side, with one summary row each', () => {
    assert.equal(results.length, 2);
    const fakeNative: NativeResult = {
      case: 'i',
      ops: sizes.remapPages,
      nsPerOp: 5000,
      extra: { total_ns: 5000 * sizes.remapPages, vmas: sizes.remapPages, touch_ns_per_page: 1500, touch_total_ns: 1e6, remap_touch_total_ns: 2e7 },
    };
    const rows = buildRows(results, [fakeNative], undefined);
    assert.deepEqual(
      rows.map((r) => r.id),
      ['i.manyprots', 'i.mainline'],
    );
    const many = rows[0];
    const main = rows[1];
    assert.equal(many.native, undefined, 'MANYPROTS was never merged: no native figure');
    assert.equal(many.unit, 'ns/page');
    assert.equal(main.native, 5000);
    assert.equal(main.ratio, results[1].nsPerOp / 5000);
    assert.match(main.what, new RegExp(`${sizes.remapPages} VMAs`));
    assert.match(many.what, /1 VMA after/);
    const report = formatReport(rows, results, undefined, { results: [fakeNative] }, sizes);
    assert.match(report, /remap_file_pages with per-page protections \(i\)/);
    assert.match(report, /MANYPROTS \(mmsim\)\s+mainline \(mmsim\)\s+mainline\/MANYPROTS\s+native mainline/);
    assert.match(report, new RegExp(`^VMAs over the window after\\s+1\\s+${sizes.remapPages}\\s+${sizes.remapPages}×\\s+${sizes.remapPages}\\s`, 'm'));
    assert.match(report, /^touch: faults per page touched\s+0\.00\s+1\.00\s/m);
    assert.match(report, /In short: .*MANYPROTS .* and 1 VMA; mainline emulation .* and \d+ VMAs; on this machine's Linux/);
  });

  it('runs under runBench with --only i.mainline, without mmbench', () => {
    const run = runBench(sizes, { only: ['i.mainline'], native: false });
    assert.deepEqual(
      run.results.map((r) => r.id),
      ['i.mainline'],
    );
    assert.equal(run.native, null);
    const json = JSON.parse(JSON.stringify(run)) as { results: CaseResult[]; rows: { id: string }[] };
    assert.equal(json.results[0].extra['vmas'], sizes.remapPages);
    assert.deepEqual(
      json.rows.map((row) => row.id),
      ['i.mainline'],
    );
  });

  it('mmbench case i: the same plan on the real kernel leaves one VMA per page', (t) => {
    const pages = 512;
    const out = runNative(['i', String(pages)]);
    if ('unavailable' in out) {
      t.skip(`native benchmark unavailable: ${out.unavailable}`);
      return;
    }
    assert.equal(out.results.length, 1);
    const [r] = out.results;
    assert.equal(r.case, 'i');
    assert.equal(r.ops, pages);
    assert.ok(Number.isFinite(r.nsPerOp) && r.nsPerOp > 0);
    assert.equal(r.extra['vmas'], pages, "mainline's emulation: one VMA per remapped page");
    // mmbench draws the same plan (mulberry32, same seed): the same pages are readable.
    assert.equal(r.extra['touched'], readable(remapPlan(pages)));
  });
});
