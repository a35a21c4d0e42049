# The heap arena under Linux's design: the key lives on the VMA, so it dies with munmap
# and a new mapping in the arena starts with key 0 — the allocator must pkey_mprotect
# every new mapping itself. FreeBSD's AMD64_PKRU_PERSIST range keys the addresses once.
# Compare: 000-freebsd-heap-arena.mms.
machine x86_64 os=linux cpus=2

process p
  arena = mmap 1M none private anon
  k = pkey_alloc                       => 1
  pkey_mprotect arena 1M rw k          => ok
  store arena 0x11                     => ok

require pte p arena key == 1

thread p.t1 cpu=1
  pkey_set k access-disable            => ok
  load arena                           => SIGSEGV SEGV_PKUERR key=1

process p
  munmap arena 64K                     => ok
  a = mmap 64K rw private anon fixed at=arena
  store a 0x22                         => ok

require vma p a pkey == 0
require pte p a key == 0

thread p.t1
  load a                               => 0x22   # unprotected until the allocator re-keys it

process p
  pkey_mprotect a 64K rw k             => ok

thread p.t1
  load a                               => SIGSEGV SEGV_PKUERR key=1
