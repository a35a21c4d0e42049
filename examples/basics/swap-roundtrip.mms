# Swap a process out and read its pages back: every byte returns.
machine x86_64 os=linux cpus=1 memory=16M swap=16M

process p
  a = mmap 64K rw private anon
  store a 0x41
  store a + 4K 0x42
  store a + 60K 0x4f
  swapout              => 3

require pte p a swapped
require counter machine swapUsed == 3

process p
  load a               => 0x41
  load a + 4K          => 0x42
  load a + 60K         => 0x4f
  load a + 8K          => 0

require counter p majorFaults == 3
require pte p a present
