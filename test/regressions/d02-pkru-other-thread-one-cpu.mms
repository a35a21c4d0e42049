# D2: two threads of one process on one CPU with different PKRU. Each access is checked
# against the PKRU of the thread that makes it: t1 denies the key and must fault, while
# the main thread, whose PKRU allows it, loads.
machine x86_64 os=linux cpus=1
process p
  a = mmap 4K rw private anon
  k = pkey_alloc
  pkey_mprotect a 4K rw k
  store a 0x11
thread p.t1 cpu=0
  pkey_set k access-disable
  store a 0x99          => SIGSEGV SEGV_PKUERR
concurrent
  thread p.t1
    store a 0x22        => SIGSEGV SEGV_PKUERR
  thread p
    load a              => 0x11
schedule p.t1 p p.t1 p
process p
  load a                => 0x11
require invariant own-context
require invariant keys-enforced
