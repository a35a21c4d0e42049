# Under mainline's emulation every remapped run is a VMA, and VMAs are limited by
# vm.max_map_count: remapping single pages of a window in a scattered order splits it
# until the limit refuses (ENOMEM), where the VM_MANYPROTS series would have kept one
# VMA. Linux checks the count before a call (do_mmap(): map_count > max_map_count; a
# split in the middle of a VMA: map_count >= max_map_count), so one call may end above it.
#   mmsim compare examples/seeds/001-remap-max-map-count.mms --variant rfp-nonlinear
machine x86_64 os=linux cpus=1 max_map_count=4
file /data size=64K

process p
  w = mmap 64K rw shared file=/data
  remap_file_pages w+4K 4K none 9    => ok     # 3 VMAs: before, the page, after
  remap_file_pages w+12K 4K none 9   => ok     # 5: the count was 3 when it was checked
  remap_file_pages w+20K 4K none 9   => ENOMEM
  remap_file_pages w+16K 4K none 4   => ENOMEM # even a linear one: too many mappings
  munmap w+12K 4K                    => ok     # 4 again, with a hole
  remap_file_pages w+4K 4K none 1    => ok     # back to its linear offset: merges

require counter p vmas == 2
