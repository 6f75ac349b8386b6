#!/usr/bin/env python3
"""What a GiB of new page cache costs, by the way it is written (docs/performance.md, "Where the
time goes now"): the store's writer appends rows through a mapping of a sparse file, so the kernel
zero-fills each new page before the first store; would buffered writes be cheaper?

    scripts/bench-page-cache.py MODE FILE GIB     # MODE: mmap, mmap-huge (MADV_HUGEPAGE) or pwrite
    for m in mmap mmap-huge pwrite; do rm -f f; sync; scripts/bench-page-cache.py $m f 4; done

Writes GIB GiB of non-zero 1 MiB chunks to FILE (created or truncated), makes them durable (msync or
fdatasync), and prints wall, user and system seconds and minor faults.
"""
import mmap, os, sys, time, resource
mode, path, size = sys.argv[1], sys.argv[2], int(sys.argv[3]) << 30
chunk = bytes(range(256)) * 4096  # 1 MiB, non-zero
r0 = resource.getrusage(resource.RUSAGE_SELF); t0 = time.time()
fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC)
if mode.startswith("mmap"):
    os.ftruncate(fd, size)
    m = mmap.mmap(fd, size)
    if mode == "mmap-huge":
        m.madvise(mmap.MADV_HUGEPAGE)
    for off in range(0, size, len(chunk)):
        m[off:off + len(chunk)] = chunk
    m.flush(); m.close()
else:
    for off in range(0, size, len(chunk)):
        os.pwrite(fd, chunk, off)
    os.fdatasync(fd)
os.close(fd)
r1 = resource.getrusage(resource.RUSAGE_SELF); t1 = time.time()
print(f"{mode:10s} {size>>30} GiB: {t1-t0:6.2f} s wall {r1.ru_utime-r0.ru_utime:5.2f} u {r1.ru_stime-r0.ru_stime:5.2f} s, minor faults {r1.ru_minflt-r0.ru_minflt}")
