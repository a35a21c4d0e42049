# D1 on FreeBSD: a key range set in one process racing a store in another on one CPU.
machine x86_64 os=freebsd cpus=1
process p
  a = mmap 4K rw private anon at=0x10000000 fixed
  store a 0xaa
process q
  b = mmap 4K rw private anon at=0x10000000 fixed
  store b 0xbb
concurrent
  thread p
    pkru_protect a 4K key=2
  thread q
    store b 0x22
schedule p q p q
process p
  load a                => 0xaa
process q
  load b                => 0x22
require invariant own-context
