# D4: a swap-out of an unaligned range takes the whole page it touches, and flushes it.
# Before the fix the page was unmapped and freed but its TLB entry was missed, and the
# next load read a freed frame (0).
machine x86_64 os=linux cpus=1
process p
  a = mmap 8K rw private anon
  store a 1
  store a + 4K 2
  swapout p a + 1 1
  load a                => 1
  load a + 4K           => 2
require invariant no-stale-tlb
require counter p swapOuts == 1
