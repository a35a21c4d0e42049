# D2, the other order: the thread whose PKRU opens the key must not get t1's SEGV_PKUERR.
machine x86_64 os=linux cpus=1
process p
  a = mmap 4K rw private anon
  k = pkey_alloc
  pkey_mprotect a 4K rw k
  store a 0x11
thread p.t1 cpu=0
  pkey_set k access-disable
concurrent
  thread p.t1
    load a              => SIGSEGV SEGV_PKUERR
  thread p
    load a              => 0x11
process p
  load a                => 0x11
require invariant own-context
