# Linux runs a signal handler with the init PKRU (only key 0 accessible), whatever the
# interrupted code had, and sigreturn brings the interrupted PKRU back from the signal
# frame: a handler cannot touch keyed memory unless it opens the key itself, and what it
# opens is closed again when it returns.
machine x86_64 os=linux cpus=1

process p
  a = mmap 4K rw private anon
  k = pkey_alloc                 => 1
  pkey_mprotect a 4K rw k        => ok
  pkey_set k none                => ok     # the program opens key 1
  store a 0x11                   => ok
  rdpkru                         => 0x55555550

  sigenter                                 # a signal arrives
  rdpkru                         => 0x55555554
  load a                         => SIGSEGV SEGV_PKUERR key=1
  pkey_set k write-disable       => ok     # the handler opens key 1 for reading
  load a                         => 0x11
  sigreturn

  rdpkru                         => 0x55555550
  store a 0x22                   => ok
