# A window whose page pairs are remapped in reverse order — file pages 1,0,3,2 at window
# pages 0,1,2,3 — then read back: the bytes prove which file page each address shows,
# before and after reclaim. As written this runs mainline's emulation (one VMA per
# remapped page); compare it with Linux 2.6's nonlinear VMAs (one VMA, file PTEs after
# reclaim):
#   mmsim compare examples/seeds/001-reverse-pairs.mms --variant rfp-nonlinear
machine x86_64 os=linux cpus=1
file /data size=16K

process p
  fd = open /data rdwr
  w = mmap 16K rw shared fd=fd
  store w 0xa0                     # file page 0
  store w+4K 0xa1                  # file page 1
  store w+8K 0xa2
  store w+12K 0xa3

  remap_file_pages w 4K none 1     => ok
  remap_file_pages w+4K 4K none 0  => ok
  remap_file_pages w+8K 4K none 3  => ok
  remap_file_pages w+12K 4K none 2 => ok
  load w                           => 0xa1
  load w+4K                        => 0xa0
  load w+8K                        => 0xa3
  load w+12K                       => 0xa2

require counter p vmas == 4
forbid vma p w nonlinear
require pte p w pgoff == 1

process p
  swapout                          => 4

# Mainline: the pages simply left (each VMA knows its offset). Nonlinear: the VMA cannot
# say which file page sits where, so each entry keeps it (a file PTE).
forbid pte p w file

process p
  load w+4K                        => 0xa0
  load w+12K                       => 0xa2
  store w+8K 0xb3                  => ok
  pread fd w 1 12K                 => 1      # file page 3 changed through window page 2
  load w                           => 0xb3

require pte p w+8K pgoff == 3
forbid pte p w+4K file
