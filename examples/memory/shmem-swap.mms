# With swap, reclaimed shmem pages take swap slots like anonymous ones, and come back.
machine x86_64 os=linux cpus=1 memory=1M swap=4M

process p
  a = mmap 2M rw shared anon
  store a 0x11
  store a + 1M 0x22
  store a + 2M - 4K 0x33
  reclaim 1000

require counter machine swapUsed > 0

process p
  load a               => 0x11
  load a + 1M          => 0x22
  load a + 2M - 4K     => 0x33
