import { Cpu } from './cpu.js';
import { Mmu } from './mmu.js';
import { PageTables } from './pageTables.js';
import { PhysMem } from './physMem.js';
import { SwapDevice } from './swapDevice.js';

/** Sizes of a machine's hardware. */
export interface HardwareConfig {
  /** Logical CPUs. */
  readonly cpus: number;
  /** Physical memory in bytes. */
  readonly memoryBytes: number;
  /** Swap device size in bytes (0 for none). */
  readonly swapBytes: number;
  /** TLB entries per CPU (4 KiB translations); a power of two. */
  readonly tlbEntries?: number;
  /** Whether the CPUs have protection keys for user pages (PKU). */
  readonly pku?: boolean;
}

/** Everything below the kernel: memory, page-table pages, the MMU, CPUs and the swap disk. */
export class Hardware {
  readonly mem: PhysMem;
  readonly tables: PageTables;
  readonly mmu: Mmu;
  readonly cpus: readonly Cpu[];
  readonly swap: SwapDevice;
  /** CPUID.(EAX=7,ECX=0):ECX.PKU. */
  readonly pku: boolean;

  constructor(config: HardwareConfig) {
    if (!Number.isInteger(config.cpus) || config.cpus < 1 || config.cpus > 256) {
      throw new RangeError(`cpus must be an integer from 1 to 256, not ${config.cpus}`);
    }
    this.mem = new PhysMem(config.memoryBytes);
    this.tables = new PageTables(this.mem);
    this.mmu = new Mmu(this.mem, this.tables);
    const cpus: Cpu[] = [];
    for (let i = 0; i < config.cpus; i++) cpus.push(new Cpu(i, config.tlbEntries ?? 1024));
    this.cpus = cpus;
    this.swap = new SwapDevice(Math.floor(config.swapBytes / 4096));
    this.pku = config.pku ?? true;
  }
}
