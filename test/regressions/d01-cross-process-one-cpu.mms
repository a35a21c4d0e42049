# D1: threads of two processes interleaved on one CPU must each run through their own
# page tables. Before the fix the CPU switched to a thread before its access yielded and
# translated after it, with whatever CR3 the other thread had loaded meanwhile: p's store
# landed in q's memory.
machine x86_64 os=linux cpus=1
process p
  a = mmap 4K rw private anon at=0x10000000 fixed
  store a 0xaa
process q
  b = mmap 4K rw private anon at=0x10000000 fixed
  store b 0xbb
concurrent
  thread p
    store a 0x11
  thread q
    load b              => 0xbb
process p
  load a                => 0x11
process q
  load b                => 0xbb
require invariant own-context
