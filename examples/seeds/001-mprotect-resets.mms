# Hugh Dickins' alternative to refusing mprotect on a VM_MANYPROTS mapping (variant
# manyprots-mprotect-resets): "mprotect should remove the VM_MANYPROTS attribute of each
# vma in the range, and give all the present entries the new pgprot" — and the entries
# not present too, so a later fault cannot bring an old per-page protection back.
#   mmsim compare examples/seeds/001-mprotect-resets.mms --variant manyprots-mprotect-resets
machine x86_64 os=linux cpus=1 variant=rfp-manyprots
file /data size=64K

process p
  w = mmap 64K none shared file=/data
  remap_file_pages w 4K rw 3 chgprot    => ok
  remap_file_pages w+4K 4K rw 4 chgprot => ok
  store w 0x33                          => ok
  store w+4K 0x44                       => ok
  swapout p w+4K 4K                     => 1      # w+4K becomes a file entry with rw-
  mprotect w 64K r--                    => EACCES # every posted version
