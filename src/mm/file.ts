import { type PhysMem } from '../hw/physMem.js';
import { type Vma } from './vma.js';

let nextInode = 2;

/**
 * An in-memory file: its size, its blocks on "disk" (content ids, sparse), its page
 * cache (file page index → frame) and the VMAs mapping it (Linux i_mmap), which
 * truncation must unmap.
 */
export class File {
  readonly inode: number;
  /** Size in bytes. */
  size: number;
  /** Page cache: file page index → frame. */
  readonly cache = new Map<number, number>();
  /** Backing store: file page index → content id (absent: a hole, zeros). */
  readonly disk = new Map<number, number>();
  /** VMAs that map this file. */
  readonly mappings = new Set<Vma>();
  /** Whether a process may open it for writing. */
  writable: boolean;
  /** Whether a process may open it for reading. */
  readable: boolean;
  /** On a noexec mount: mappings of it may not be executable (no VM_MAYEXEC). */
  noexec: boolean;
  /** Called when the last mapping goes: a shmem object has no other reference and frees its pages. */
  onLastUnmap: (() => void) | null;
  /** References held by kernel code (Linux get_file()) that keep a shmem object alive without a mapping. */
  holds: number;

  constructor(
    /** Path shown in /proc/pid/maps. */
    readonly name: string,
    size: number,
    /** Memory of a shared anonymous mapping (shmem): shown as "/dev/zero (deleted)". */
    readonly shmem = false,
  ) {
    this.inode = nextInode++;
    this.size = size;
    this.writable = true;
    this.readable = true;
    this.noexec = false;
    this.onLastUnmap = null;
    this.holds = 0;
  }

  /**
   * Drops the file's pages from page `firstIndex` on: page-cache frames lose the cache's
   * reference, blocks on "disk" are freed (truncation, and a shmem object's end).
   */
  dropPages(mem: PhysMem, firstIndex: number): void {
    for (const [index, pfn] of this.cache) {
      if (index < firstIndex) continue;
      this.cache.delete(index);
      mem.put(pfn);
    }
    for (const [index, content] of this.disk) {
      if (index < firstIndex) continue;
      this.disk.delete(index);
      mem.content.free(content);
    }
  }

  /** Drops the last reference if no mapping and no hold remains. */
  releaseIfUnused(): void {
    if (this.mappings.size === 0 && this.holds === 0) this.onLastUnmap?.();
  }

  /** Pages covering the size: accesses at or past this page raise SIGBUS. */
  get pages(): number {
    return Math.ceil(this.size / 4096);
  }
}

/** An open file description: a file and the access mode it was opened with. */
export interface OpenFile {
  readonly file: File;
  readonly canRead: boolean;
  readonly canWrite: boolean;
}
