# The same round trip before the fix: pmap_remove() under mprotect(PROT_NONE) and
# msync(MS_INVALIDATE) dropped the key of its span, and the pages came back unkeyed.
# Only the part of the range the calls covered lost its key: ranges are trimmed.
machine x86_64 os=freebsd cpus=1 variant=pkru-swapout-bug

process p
  a = mmap 16K rw private anon
  pkru_protect a 16K key=5             => ok
  store a 0x11                         => ok
  x86_pkru_set_perm 5 0 0              => ok

  mprotect a 4K none                   => ok
  mprotect a 4K rw                     => ok
  load a                               => 0x11   # the bug: key 5 denied every access

  msync a+8K 4K invalidate             => ok
  store a+8K 0x99                      => ok     # the bug again

  load a+4K                            => SIGSEGV SEGV_PKUERR key=5   # untouched: still keyed
  load a+12K                           => SIGSEGV SEGV_PKUERR key=5

forbid pkru_range p a exists
forbid pkru_range p a+8K exists
require pkru_range p a+4K key == 5
require pkru_range p a+12K key == 5
