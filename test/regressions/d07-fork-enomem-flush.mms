# D7: a fork that fails with ENOMEM half-way still flushes the parent's TLBs. dup_mmap()
# ends with flush_tlb_mm(oldmm) on its error path too; before the fix the parent kept a
# writable TLB entry over a PTE the copy had write-protected.
machine x86_64 cpus=1 memory=64K swap=0
process p
  a = mmap 4K rw private anon at=0x10000000 fixed
  store a 1
  b = mmap 4K rw private anon
  store b 2
  q = fork              => ENOMEM
  store a 3
  load a                => 3
require invariant no-stale-tlb
require invariant accounting
