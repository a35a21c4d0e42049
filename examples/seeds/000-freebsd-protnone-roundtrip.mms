# Seed 000's other victims: mprotect(PROT_NONE) and msync(MS_INVALIDATE). On amd64,
# pmap_protect() to VM_PROT_NONE is pmap_remove(), and vm_map_sync() with MS_INVALIDATE
# ends with pmap_remove(): both unmap the pages. Since the fix that keeps
# the keys, so a PROT_NONE round trip or an invalidation leaves the range keyed.
#   mmsim compare examples/seeds/000-freebsd-protnone-roundtrip.mms --variant pkru-swapout-bug
machine x86_64 os=freebsd cpus=1

process p
  a = mmap 16K rw private anon
  pkru_protect a 16K key=5             => ok
  store a 0x11                         => ok
  store a+4K 0x44                      => ok
  x86_pkru_set_perm 5 0 0              => ok     # no access to key 5

  mprotect a 8K none                   => ok
  load a                               => SIGSEGV SEGV_ACCERR
  mprotect a 8K rw                     => ok
  load a                               => SIGSEGV SEGV_PKUERR key=5

  msync a+8K 8K invalidate             => ok
  load a+8K                            => SIGSEGV SEGV_PKUERR key=5

require pkru_range p a key == 5
require pkru_range p a+8K key == 5

process p
  x86_pkru_set_perm 5 1 1              => ok
  load a                               => 0x11
  load a+4K                            => 0x44

require pte p a key == 5
