# Shared anonymous memory (shmem) is swap-backed: with no swap it cannot be reclaimed,
# so populating 8M of it on a 1M machine ends in an OOM kill, and the object goes with
# its last mapping.
machine x86_64 os=linux cpus=1 memory=1M swap=0

process p
  a = mmap 8M rw shared anon populate

require not alive p
require signal p SIGKILL
require counter machine swapUsed == 0
require counter machine pageCachePages == 0
