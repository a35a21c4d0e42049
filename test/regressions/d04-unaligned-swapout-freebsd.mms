# D4 on FreeBSD: the same unaligned process swap-out, whose pmap_remove() keeps the key.
machine x86_64 os=freebsd cpus=1
process p
  a = mmap 8K rw private anon
  store a 1
  swapout p a + 4095 2
  load a                => 1
  load a + 4K           => 0
require invariant no-stale-tlb
