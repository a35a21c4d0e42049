# A store that faults races munmap of the same page from another thread.
# The fault holds mmap_lock for reading, so munmap waits for it: the store
# lands, then the page goes. (Force the other order with a different schedule.)
machine x86_64 os=linux cpus=2

process p cpu=0
  a = mmap 4K rw private anon

thread p.t1 cpu=1

concurrent
  thread p
    store a 0x5a                 => ok
  thread p.t1
    munmap a 4K                  => ok
schedule p p p p.t1

forbid vma p a exists
forbid pte p a present
require invariant no-stale-tlb
require invariant accounting
