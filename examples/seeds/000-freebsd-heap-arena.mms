# The per-thread heap arena from seed 000's review: "you assign the thread key to some
# arena, and then mmap/munmap in that arena are only visible to the specific key owner".
# An AMD64_PKRU_PERSIST range outlives munmap (pmap_map_delete() spares it), so memory
# mapped into the arena later is keyed at once. A range without PERSIST dies with the
# mapping, as Linux's key dies with the VMA.
machine x86_64 os=freebsd cpus=2

process p
  arena = mmap 1M none private anon              # reserve the address range
  munmap arena 1M                      => ok
  pkru_protect arena 1M key=7 persist  => ok     # key the addresses, nothing mapped
  a = mmap 64K rw private anon fixed at=arena
  store a 0x11                         => ok

require pte p a key == 7
require pkru_range p arena persist

thread p.t1 cpu=1
  # Another thread of the process: PKRU is per thread. Deny it key 7.
  x86_pkru_set_perm 7 0 0              => ok
  load a                               => SIGSEGV SEGV_PKUERR key=7

process p
  munmap a 64K                         => ok
  b = mmap 32K rw private anon fixed at=arena+128K
  store b 0x22                         => ok

require pte p b key == 7
require pkru_range p arena+128K key == 7

thread p.t1
  load b                               => SIGSEGV SEGV_PKUERR key=7

process p
  # Without PERSIST the key goes with the mapping.
  c = mmap 64K rw private anon
  pkru_protect c 64K key=2             => ok
  store c 1                            => ok
  munmap c 64K                         => ok

forbid pkru_range p c exists
