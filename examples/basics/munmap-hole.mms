# munmap over a range that is partly a hole unmaps what is there and succeeds;
# mprotect over the hole fails with ENOMEM after changing the part before it.
machine x86_64 os=linux

process p
  a = mmap 12K rw private anon
  store a 1
  store a + 8K 3
  munmap a + 4K 4K                   => ok
  load a + 4K                        => SIGSEGV SEGV_MAPERR addr=a + 4K
  mprotect a 12K r--                 => ENOMEM
  store a 9                          => SIGSEGV SEGV_ACCERR
  load a + 8K                        => 3
  munmap a 12K                       => ok
  munmap a 12K                       => ok
  load a                             => SIGSEGV SEGV_MAPERR

require counter p vmas == 0
