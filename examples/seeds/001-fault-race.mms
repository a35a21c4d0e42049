# Hugh Dickins' objection in seed 001: with per-page protections the posted fault handler
# sent SIGSEGV for any fault that found an installed entry in a VM_MANYPROTS mapping,
# trusting that such entries always have the right protection. But two threads can fault
# on the same entry: one installs the page, and the other — whose access is allowed —
# finds it installed. The fix compares the access with the entry's rights and retries.
# Here both threads of p fault on a reclaimed read-write page before either maps it.
#   mmsim compare examples/seeds/001-fault-race.mms --variant manyprots-fault-race-bug
machine x86_64 os=linux cpus=2 variant=rfp-manyprots
file /mem size=64K

process p cpu=0
  w = mmap 64K none shared file=/mem
  remap_file_pages w 4K rw 9 chgprot     => ok
  store w 0x77                           => ok
  swapout                                => 1

require pte p w file

thread p.t1 cpu=1

# Each thread misses in its TLB and faults; p then takes the page-table lock and maps the
# page while p.t1 waits for the lock, and p.t1 finds the entry installed.
concurrent
  thread p
    load w                               => 0x77
  thread p.t1
    load w                               => 0x77
schedule p p.t1 p p.t1

require counter p spuriousFaults == 1
forbid signal p.t1 SIGSEGV
