# Copy-on-write after fork: parent and child share frames until one writes;
# the writer gets a copy, the other keeps the original.
machine x86_64 os=linux cpus=2 memory=64M swap=64M

process p cpu=0
  a = mmap 16K rw private anon
  store a 0x11
  store a + 4K 0x12
  q = fork cpu=1

process q
  load a              => 0x11
  store a 0x22        => ok
  load a              => 0x22

process p
  load a              => 0x11
  load a + 4K         => 0x12

require counter q cowCopies == 1
require value q a + 4K == 0x12
forbid pte p a writable
require pte q a writable
