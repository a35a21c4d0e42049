# D9: a second `file` line for a name that is mapped replaces the name, as unlink and
# create would; the old file stays mapped, keeps its bytes, and its page cache is freed
# when its last mapping goes. Before the fix the old page cache fell out of every count
# and a frame leaked.
machine x86_64 memory=1M swap=0
file /f "abc"
process p
  a = mmap 4K rw shared file=/f
  store a 0x41
file /f "xyz"
process p
  load a                => 0x41
  load a + 1            => 0x62
  fd = open /f
  b = mmap 4K r shared fd=fd
  load b                => 0x78
require invariant accounting
process p
  exit
reclaim 1000
require invariant accounting
require counter machine pageCachePages == 0
