# Seed 000, Linux's side: protection keys live on the VMA (vm_flags), and every PTE
# made for the VMA gets its key — on the first fault, on swap-in, on COW. So swapping
# a keyed range out and back cannot lose the key, whatever reclaim does to the PTEs.
# (FreeBSD keeps keys in a per-pmap range set instead; its design and the swap-out bug
# of seed 000 arrive with the freebsd personality.)
machine x86_64 os=linux cpus=1

process p
  a = mmap 64K rw private anon
  store a 0x11
  k = pkey_alloc                       => 1
  pkey_mprotect a 64K rw k             => ok
  pkey_set k write-disable             => ok
  store a 0x22                         => SIGSEGV SEGV_PKUERR key=1
  swapout                              => 1

require pte p a swapped
require vma p a pkey == 1

process p
  load a                               => 0x11
  store a 0x22                         => SIGSEGV SEGV_PKUERR key=1
  pkey_set k none                      => ok
  store a 0x22                         => ok

require pte p a key == 1
require counter cpu0 fullFlushes == 0
