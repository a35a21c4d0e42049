# remap_file_pages() errors of the VM_MANYPROTS series (seed 001), as the review left it:
# prot only with MAP_CHGPROT (the posted MAP_NOINHERIT, renamed), rights within VM_MAY*,
# offsets that fit a file PTE, shared mappings only, and mprotect refused.
machine x86_64 os=linux cpus=1 variant=rfp-manyprots
file /data size=64K
file /noexec size=16K mount=noexec

process p
  w = mmap 64K none shared file=/data
  remap_file_pages w 4K rw 1                     => EINVAL     # prot without MAP_CHGPROT
  remap_file_pages w 4K rw 1 chgprot             => ok
  remap_file_pages w 4K none 1                   => ok         # prot 0: the VMA's default
  remap_file_pages w 4K r-- 0x10000000000 chgprot => EOVERFLOW # 2^40: no room in a file PTE
  remap_file_pages w 4K r-- 0xfffffffffe chgprot => EINVAL     # fits, but past the end of the file
  remap_file_pages w+60K 8K r-- 0 chgprot        => EINVAL     # runs past the VMA
  pv = mmap 16K rw private file=/data
  remap_file_pages pv 4K r-- 1 chgprot           => EINVAL     # private
  nx = mmap 16K r-- shared file=/noexec
  remap_file_pages nx 4K r-x 1 chgprot           => EPERM      # noexec mount: no VM_MAYEXEC
  remap_file_pages nx 4K r-- 1 chgprot           => ok
  mprotect w 64K r--                             => EACCES     # a VM_MANYPROTS VMA
  mprotect nx 16K rw                             => EACCES
  mprotect pv 16K r--                            => ok         # other VMAs as usual

require counter p vmas == 3
