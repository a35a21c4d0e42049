# Seed 000, the bug: FreeBSD before commit 1e0e335b0f0d. pmap_remove() dropped the
# non-PERSIST keys of its span on every call, so the process swap-out
# (vm_swapout_map_deactivate_pages() → pmap_remove() over the whole map) destroyed the
# key: the page comes back with key 0 and a write the program had forbidden succeeds.
machine x86_64 os=freebsd cpus=1 variant=pkru-swapout-bug

process p
  a = mmap 64K rw private anon
  pkru_protect a 64K key=3             => ok
  store a 0x11                         => ok
  x86_pkru_set_perm 3 1 0              => ok
  store a 0x22                         => SIGSEGV SEGV_PKUERR key=3
  swapout                              => 1

forbid pkru_range p a exists

process p
  load a                               => 0x11
  store a 0x22                         => ok     # the bug: key 3 forbade this write
  load a                               => 0x22

require pte p a key == 0
# A PERSIST range would have survived: pmap_remove() spared those even before the fix.
