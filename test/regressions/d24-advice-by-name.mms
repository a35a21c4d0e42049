# D24: Linux advice by name. WIPEONFORK is modelled (the child sees zeros); MERGEABLE is
# accepted without a modelled effect, and the report notes it at its line.
machine x86_64 os=linux
process p
  a = mmap 16K rw private anon
  store a 7
  madvise a 16K mergeable
  madvise a 4K wipeonfork
  q = fork
process q
  load a   => 0
