/**
 * Stress test: random, seeded sequences over several processes and threads sharing CPUs,
 * on small machines under memory pressure, in both personalities and under every variant,
 * checked step by step against the reference model of _refModel.ts (see _driver.ts for
 * what is checked). Interleaved steps run two or three kernel paths of different threads
 * through Machine.interleave with a random schedule; their outcome must be one of the
 * serial orders.
 *
 * Knobs (also for `npm run stress`): STRESS_SEED (base seed), STRESS_RUNS (sequences per
 * block), STRESS_LEN (longest sequence), STRESS_BLOCK (run only blocks whose name contains
 * it), STRESS_PATH (with STRESS_SEED: replay one fast-check path), STRESS_STATS=1.
 *
 * On failure fast-check shrinks the sequence and the report shows the seed and path to
 * replay, which check failed ([invariant], [model: …], [accounting …]) and a straight-line
 * library script that replays the run.
 */
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Mismatch } from '../mm/_model.js';
import { Runner, stats } from './_driver.js';
import { type Bias, type Config, type Pairing, configArb, DEFAULT_BIAS, type MachineSpace, MEMORY, type Op, opsArb, SWAP } from './_ops.js';

const KiB = 1024;
const env = process.env;
const BASE_SEED = Number(env.STRESS_SEED ?? 1);
const RUNS = env.STRESS_RUNS === undefined ? undefined : Number(env.STRESS_RUNS);
const MAX_LEN = env.STRESS_LEN === undefined ? undefined : Number(env.STRESS_LEN);

/** The block's bias with the hunting knobs applied: STRESS_CONC (weight of interleaved steps, 0 for none), STRESS_UNALIGNED (weight of unaligned swap-out), STRESS_PAIRING (one pairing for every interleaved step). */
function withKnobs(b: Bias): Bias {
  const pairing = env.STRESS_PAIRING as Pairing | undefined;
  return {
    ...b,
    conc: env.STRESS_CONC === undefined ? b.conc : Number(env.STRESS_CONC),
    unalignedSwap: env.STRESS_UNALIGNED === undefined ? b.unalignedSwap : Number(env.STRESS_UNALIGNED),
    ...(pairing !== undefined ? { pairing } : {}),
  };
}

function runSequence(cfg: Config, ops: readonly Op[]): void {
  const run = new Runner(cfg);
  try {
    for (const op of ops) {
      run.step(op);
      run.check();
    }
    run.finish();
  } catch (e) {
    const kind = e instanceof Mismatch ? '' : e instanceof Error && e.constructor.name === 'InvariantError' ? '[invariant] ' : `[${e instanceof Error ? e.constructor.name : 'throw'}] `;
    const msg = e instanceof Error ? e.message : String(e);
    throw new Error(`${kind}${msg}\n--- replay script (save as replay.mjs at the repository root; run after npm run build) ---\n${run.script()}\n---`, { cause: e });
  }
}

interface Block {
  readonly name: string;
  readonly seed: number;
  readonly runs: number;
  readonly len: readonly [number, number];
  readonly space: MachineSpace;
  readonly bias: Bias;
}

const BOTH = ['linux', 'freebsd'] as const;

const BLOCKS: readonly Block[] = [
  { name: 'linux, mixed steps', seed: 0, runs: 2000, len: [20, 28], space: { os: ['linux'], memory: MEMORY, swap: SWAP, variants: false }, bias: DEFAULT_BIAS },
  { name: 'freebsd, mixed steps', seed: 1, runs: 2000, len: [20, 28], space: { os: ['freebsd'], memory: MEMORY, swap: SWAP, variants: false }, bias: DEFAULT_BIAS },
  {
    name: 'threads of different processes and of one process on one CPU, interleaved',
    seed: 2,
    runs: 2000,
    len: [20, 28],
    space: { os: BOTH, memory: MEMORY, swap: SWAP, variants: false },
    bias: { ...DEFAULT_BIAS, conc: 14, sameCpu: 8 },
  },
  {
    name: 'page-crossing accesses and unaligned swap-out under memory pressure',
    seed: 3,
    runs: 1500,
    len: [20, 28],
    space: { os: BOTH, memory: [96 * KiB, 128 * KiB], swap: SWAP, variants: false },
    bias: { ...DEFAULT_BIAS, unalignedSwap: 3, populate: 2 },
  },
  {
    name: 'tiny machines: OOM kills with paths in flight, fork failing half-way',
    seed: 4,
    runs: 1500,
    len: [20, 28],
    space: { os: BOTH, memory: [64 * KiB, 80 * KiB, 96 * KiB], swap: [0, 0, 256 * KiB], variants: false },
    bias: { ...DEFAULT_BIAS, populate: 4, fork: 6, conc: 10 },
  },
  { name: 'every variant', seed: 5, runs: 1000, len: [20, 28], space: { os: BOTH, memory: MEMORY, swap: SWAP, variants: true }, bias: DEFAULT_BIAS },
];

describe('stress: processes, threads, interleavings and memory pressure against the reference model', () => {
  for (const b of BLOCKS) {
    if (env.STRESS_BLOCK !== undefined && !b.name.includes(env.STRESS_BLOCK)) continue;
    it(b.name, () => {
      const seed = BASE_SEED * 1000 + b.seed;
      const params: fc.Parameters<[Config, Op[]]> = { seed, numRuns: RUNS ?? b.runs, includeErrorInReport: true, endOnFailure: false };
      if (env.STRESS_PATH !== undefined) params.path = env.STRESS_PATH;
      fc.assert(
        fc.property(configArb(b.space), opsArb(withKnobs(b.bias), Math.min(b.len[0], MAX_LEN ?? b.len[0]), MAX_LEN ?? b.len[1]), (cfg, ops) => runSequence(cfg, ops)),
        params,
      );
      if (env.STRESS_STATS !== undefined) {
        console.log(`${b.name}:\n  ${[...stats].sort().map(([k, n]) => `${k}: ${n}`).join('\n  ')}`);
        stats.clear();
      }
    });
  }
});
