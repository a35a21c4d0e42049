# mprotect splits and merges VMAs exactly as Linux's /proc/pid/maps shows:
# 24 read-only pages with the first and last made PROT_NONE leave one 22-page
# r-- VMA in the middle; restoring the protection merges them back into one.
machine x86_64 os=linux

process p
  a = mmap 96K r-- private anon
  mprotect a 4K none                 => ok
  mprotect a + 92K 4K none           => ok
  check                              => 0

require vma p a prot == ---
require vma p a + 4K prot == r--
require vma p a + 88K prot == r--
require vma p a + 92K prot == ---
require counter p vmas == 3

process p
  mprotect a 96K r--                 => ok

require counter p vmas == 1
