# The same steps under Hugh Dickins' alternative (variant manyprots-mprotect-resets):
# mprotect succeeds, the VMA is no longer VM_MANYPROTS, and both the present page and the
# reclaimed one (a file entry) take the new protection.
machine x86_64 os=linux cpus=1 variant=manyprots-mprotect-resets
file /data size=64K

process p
  w = mmap 64K none shared file=/data
  remap_file_pages w 4K rw 3 chgprot    => ok
  remap_file_pages w+4K 4K rw 4 chgprot => ok
  store w 0x33                          => ok
  store w+4K 0x44                       => ok
  swapout p w+4K 4K                     => 1
  mprotect w 64K r--                    => ok

forbid pte p w writable
forbid vma p w manyprots
require vma p w nonlinear
require pte p w+4K file

process p
  store w 1                             => SIGSEGV SEGV_ACCERR
  store w+4K 1                          => SIGSEGV SEGV_ACCERR   # not back to rw-
  load w+4K                             => 0x44                  # still file page 4
  load w+8K                             => 0                     # the new default: r--
