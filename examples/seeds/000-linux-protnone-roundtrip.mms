# Linux's side of the PROT_NONE round trip: the key is a VMA property, and
# mprotect(PROT_NONE) and back (plain mprotect keeps the VMA's key) cannot lose it.
# msync(MS_INVALIDATE) does nothing to the mappings on Linux at all.
# Compare: 000-freebsd-protnone-roundtrip.mms and its -bug twin.
machine x86_64 os=linux cpus=1

process p
  a = mmap 16K rw private anon
  k = pkey_alloc                       => 1
  pkey_mprotect a 16K rw k             => ok
  store a 0x11                         => ok
  pkey_set k access-disable            => ok

  mprotect a 8K none                   => ok
  # Linux checks the VMA's key before its protection (bad_area_access_from_pkeys()):
  # a PROT_NONE page whose key PKRU denies reports the key.
  load a                               => SIGSEGV SEGV_PKUERR key=1
  mprotect a 8K rw                     => ok
  load a                               => SIGSEGV SEGV_PKUERR key=1

  msync a+8K 8K invalidate             => ok
  load a+8K                            => SIGSEGV SEGV_PKUERR key=1

require vma p a pkey == 1
require vma p a+8K pkey == 1

process p
  pkey_set k none                      => ok
  load a                               => 0x11

require pte p a key == 1
