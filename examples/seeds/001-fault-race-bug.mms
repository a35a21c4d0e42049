# The posted VM_MANYPROTS fault handler (variant manyprots-fault-race-bug): the same two
# faults as 001-fault-race.mms, and the thread that lost the race dies with SIGSEGV
# although the page allows its read.
machine x86_64 os=linux cpus=2 variant=manyprots-fault-race-bug
file /mem size=64K

process p cpu=0
  w = mmap 64K none shared file=/mem
  remap_file_pages w 4K rw 9 chgprot     => ok
  store w 0x77                           => ok
  swapout                                => 1

thread p.t1 cpu=1

concurrent
  thread p
    load w                               => 0x77
  thread p.t1
    load w                               => SIGSEGV SEGV_ACCERR
schedule p p.t1 p p.t1

require signal p.t1 SIGSEGV SEGV_ACCERR
# Alone, the same load succeeds: only the race kills.
thread p.t1
  load w                                 => 0x77
