# Seed 001: User-Mode Linux emulates a TLB with one huge PROT_NONE shared mapping of its
# "physical memory" file, and maps each guest page into it as the guest touches it, with
# the guest's protection. With the VM_MANYPROTS series that is one remap_file_pages()
# call per page (MAP_CHGPROT gives the page its own protection), and the whole window
# stays one VMA. The per-page protection lives in the PTE; when reclaim takes a page,
# the PTE becomes a file entry keeping both the file offset and the protection, and the
# fault that brings the page back restores both.
# Mainline's way, for the same window: 001-uml-window-mainline.mms.
machine x86_64 os=linux cpus=1 variant=rfp-manyprots
file /uml-physmem size=1M

process uml
  window = mmap 1M none shared file=/uml-physmem
  load window                                  => SIGSEGV SEGV_ACCERR   # nothing mapped yet

  # The guest maps its pages: page 0 of the window shows physical page 7 read-write,
  # page 1 shows page 3 read-only, page 2 shows page 7 again, read-only (an alias).
  remap_file_pages window 4K rw 7 chgprot      => ok
  remap_file_pages window+4K 4K r-- 3 chgprot  => ok
  remap_file_pages window+8K 4K r-- 7 chgprot  => ok
  store window 0x77                            => ok
  load window+8K                               => 0x77                 # same file page
  store window+8K 0x11                         => SIGSEGV SEGV_ACCERR  # its own rights: r--
  load window+4K                               => 0
  store window+4K 0x33                         => SIGSEGV SEGV_ACCERR
  load window+12K                              => SIGSEGV SEGV_ACCERR  # never remapped: PROT_NONE

  # The guest changes a mapping's protection: remap the same page with new rights.
  remap_file_pages window+4K 4K rw 3 chgprot   => ok
  store window+4K 0x33                         => ok

require counter uml vmas == 1
require vma uml window manyprots
require pte uml window writable
forbid pte uml window+8K writable

process uml
  swapout                                      => 3
  # Reclaimed: each entry now says which file page, and which rights.

require pte uml window file
require pte uml window pgoff == 7
require pte uml window+8K pgoff == 7

process uml
  load window+8K                               => 0x77
  store window+8K 0x11                         => SIGSEGV SEGV_ACCERR  # still r--
  store window 0x78                            => ok                   # still rw-
  load window+4K                               => 0x33
  store window+4K 0x34                         => ok

require counter uml vmas == 1
require pte uml window+8K pgoff == 7
forbid pte uml window+8K writable
require invariant no-excess-rights
