# A file mapping beyond the end of the file: the partial last page reads zeros
# past EOF, and the next page raises SIGBUS (BUS_ADRERR).
machine x86_64 os=linux

file /data "hello, mmsim"

process p
  f = mmap 8K r-- shared file=/data
  load f                             => 0x68
  load f + 12                        => 0
  load f + 4K                        => SIGBUS BUS_ADRERR addr=f + 4K
  load f + 4K + 1                    => SIGBUS BUS_ADRERR addr=f + 4K + 1

require signal p SIGBUS BUS_ADRERR
require alive p
