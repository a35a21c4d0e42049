# Seed 001 under mainline Linux (4.0 and later), where remap_file_pages() is emulated:
# each call is an mmap(MAP_FIXED) of the same file at the new offset, protection taken
# from the VMA (prot must be 0). A page that needs its own protection needs an mprotect
# too, and every remapped page costs a VMA of its own — which is what the VM_MANYPROTS
# series set out to avoid (001-uml-window-manyprots.mms takes the same steps in 1 VMA).
machine x86_64 os=linux cpus=1
file /uml-physmem size=1M

process uml
  window = mmap 1M none shared file=/uml-physmem
  remap_file_pages window 4K rw 7 chgprot      => EINVAL   # no per-page protection here
  remap_file_pages window 4K none 7            => ok
  mprotect window 4K rw                        => ok
  remap_file_pages window+4K 4K none 3         => ok
  mprotect window+4K 4K r--                    => ok
  remap_file_pages window+8K 4K none 7         => ok
  mprotect window+8K 4K r--                    => ok
  store window 0x77                            => ok
  load window+8K                               => 0x77
  store window+8K 0x11                         => SIGSEGV SEGV_ACCERR
  load window+12K                              => SIGSEGV SEGV_ACCERR

  remap_file_pages window+4K 4K none 3         => ok     # protection comes from the VMA
  mprotect window+4K 4K rw                     => ok
  store window+4K 0x33                         => ok

# Three remapped pages, three VMAs, and the rest of the window.
require counter uml vmas == 4

process uml
  swapout                                      => 3
  load window+8K                               => 0x77
  store window+8K 0x11                         => SIGSEGV SEGV_ACCERR
  load window+4K                               => 0x33

require pte uml window+8K pgoff == 7
forbid pte uml window+8K writable
require counter uml vmas == 4
