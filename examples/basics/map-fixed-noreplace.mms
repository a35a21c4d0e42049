# MAP_FIXED_NOREPLACE refuses to clobber an existing mapping (EEXIST), where
# MAP_FIXED replaces it silently.
machine x86_64 os=linux

process p
  a = mmap 8K rw private anon
  store a 7
  b = mmap 4K rw private anon noreplace at=a        => EEXIST
  load a                                             => 7
  c = mmap 4K rw private anon fixed at=a             => a
  load a                                             => 0
  d = mmap 4K rw private anon noreplace at=a + 16K   => a + 16K
