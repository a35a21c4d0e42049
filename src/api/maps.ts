import { type Mm } from '../mm/mm.js';

/**
 * The address space as /proc/pid/maps prints it (Linux fs/proc/task_mmu.c
 * show_map_vma()): `start-end perms offset dev inode`, the path padded to column 74.
 * Anonymous mappings show offset 0 and no path; shared anonymous memory shows
 * "/dev/zero (deleted)".
 */
export function formatMaps(mm: Mm): string {
  const lines: string[] = [];
  for (let v = mm.vmas.first(); v; v = v.nextSpan) {
    const file = v.file;
    const offset = file ? v.pgoff * 4096 : 0;
    const dev = file ? '00:01' : '00:00';
    const inode = file ? file.inode : 0;
    let line = `${hex8(v.start)}-${hex8(v.end)} ${v.permString()} ${hex8(offset)} ${dev} ${inode} `;
    if (file) line = line.padEnd(73, ' ') + file.name;
    lines.push(line);
  }
  return lines.join('\n') + (lines.length ? '\n' : '');
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}
