# Locked memory is unevictable (Linux keeps VM_LOCKED pages on the unevictable LRU):
# reclaim and swap-out take the unlocked mapping's pages and leave the locked ones.
machine x86_64 os=linux cpus=1 memory=1M swap=1M

process p
  a = mmap 16K rw private anon locked
  b = mmap 16K rw private anon
  store a 1
  store a + 12K 4
  store b 2
  reclaim 1000         => 1
  swapout              => 0

require pte p a present
require pte p a + 12K present
require pte p b swapped
require counter p swapOuts == 1
