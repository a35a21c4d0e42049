# remap_file_pages() errors under mainline's emulation (mm/mmap.c since Linux 4.0).
# The VMA cost and max_map_count: 001-remap-max-map-count.mms.
machine x86_64 os=linux cpus=1
file /data size=64K
file /ro "read-only" mode=ro
file /other size=64K

process p
  fd = open /data rdwr
  s = mmap 64K rw shared fd=fd
  remap_file_pages s 4K rw 1                 => EINVAL   # prot must be 0
  remap_file_pages s 4K none 1 chgprot       => ok       # other flags are ignored
  remap_file_pages s 100 none 1              => EINVAL   # size rounds down to 0
  remap_file_pages s+1 4K+5 none 2           => ok       # start and size round down
  remap_file_pages s - 4K 4K none 0          => EINVAL   # no VMA there
  pv = mmap 64K rw private fd=fd
  remap_file_pages pv 4K none 1              => EINVAL   # private
  rfd = open /ro rdonly
  ro = mmap 4K r-- shared fd=rfd
  remap_file_pages ro 4K none 0              => EINVAL   # shared, but the file is read-only: no VM_SHARED
  a = mmap 4K rw shared anon
  remap_file_pages a 4K none 0               => ok       # shmem is a file too

  # Across VMAs: contiguous, same file, same flags.
  ofd = open /other rdwr
  o = mmap 4K rw shared fd=ofd
  t = mmap 16K rw shared fd=fd                           # right below o
  mprotect t+8K 8K r--                       => ok
  remap_file_pages t 16K none 0              => EINVAL   # r-- differs from rw-
  mprotect t+8K 8K rw                        => ok
  remap_file_pages t 8K none 4               => ok       # t now two VMAs, same file
  remap_file_pages t 16K none 8              => ok       # spans both
  remap_file_pages t 20K none 0              => EINVAL   # the next VMA maps another file

