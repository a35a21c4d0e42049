# fork(2) in one thread races a store in a sibling thread of the same process.
# fork is a kernel path: it takes mmap_lock for writing, copies the page tables
# a VMA at a time (write-protecting private pages), and flushes the parent's
# TLBs at the end. The store needs no lock unless it faults, so where it lands
# decides what the child sees. This schedule lets fork run first: the store then
# hits the write-protected entry, breaks COW in the parent, and the child keeps
# the old byte. (With `schedule p.t1 p.t1 p` the store lands before the copy
# and the child sees 0x22; test/mm/syscallPaths.test.ts reaches both.)
machine x86_64 os=linux cpus=2

process p cpu=0
  a = mmap 4K rw private anon
  store a 0x11

thread p.t1 cpu=1

concurrent
  thread p
    c = fork                     => ok
  thread p.t1
    store a 0x22                 => ok
schedule p p p p.t1

require value p a == 0x22
require value c a == 0x11
require invariant no-stale-tlb
require invariant accounting
