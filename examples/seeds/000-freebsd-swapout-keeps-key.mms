# Seed 000, FreeBSD's side, after the fix (commit 1e0e335b0f0d). Keys live in a per-pmap
# range set, set by sysarch(AMD64_SET_PKRU) over addresses, not on the mapping. A process
# swap-out ends with pmap_remove() over the whole map; since the fix pmap_remove() keeps
# the keys, and only pmap_map_delete() — a real munmap — drops them. When the page comes
# back, pmap_enter() gives its PTE the range's key again.
#
# Run the same file under the bug to see the key lost:
#   mmsim compare examples/seeds/000-freebsd-swapout-keeps-key.mms --variant pkru-swapout-bug
machine x86_64 os=freebsd cpus=1

process p
  a = mmap 64K rw private anon
  pkru_protect a 64K key=3             => ok
  store a 0x11                         => ok
  x86_pkru_set_perm 3 1 0              => ok     # reads allowed, writes denied
  store a 0x22                         => SIGSEGV SEGV_PKUERR key=3
  swapout                              => 1

require pte p a swapped
require pkru_range p a key == 3

process p
  load a                               => 0x11
  store a 0x22                         => SIGSEGV SEGV_PKUERR key=3
  x86_pkru_get_perm 3                  => 2      # PKRU bits: write-disable
  x86_pkru_set_perm 3 1 1              => ok
  store a 0x22                         => ok

require pte p a key == 3
# Changing PKRU needs no TLB flush.
require counter cpu0 fullFlushes == 0
