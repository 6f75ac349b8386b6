#!/usr/bin/env python3
"""What a GiB of new page cache costs, by the way it is written (docs/performance.md, "Where the
time goes now"): the store's writer appends rows through a mapping of a sparse file, so the kernel
zero-fills each new page before the first store; would buffered writes be cheaper?

    scripts/bench-page-cache.py MODE FILE GIB     # MODE: mmap, mmap-huge (MADV_HUGEPAGE) or pwrite
    for m in mmap mmap-huge pwrite; do rm -f f; sync; scripts/bench-page-cache.py $m f 4; done

Writes GIB GiB of non-zero 1 MiB chunks to FILE (created or truncated), makes them durable (msync or
fdatasync), and prints wall, user and system seconds and minor faults.
"""
import mmap
import os
import resource
import sys
import time

MODES = ("mmap", "mmap-huge", "pwrite")
CHUNK = bytes(range(256)) * 4096  # 1 MiB, non-zero


def write(mode, path, size):
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC)
    try:
        if mode == "pwrite":
            for offset in range(0, size, len(CHUNK)):
                os.pwrite(fd, CHUNK, offset)
            os.fdatasync(fd)
            return
        os.ftruncate(fd, size)
        with mmap.mmap(fd, size) as mapping:
            if mode == "mmap-huge":
                mapping.madvise(mmap.MADV_HUGEPAGE)
            for offset in range(0, size, len(CHUNK)):
                mapping[offset:offset + len(CHUNK)] = CHUNK
            mapping.flush()
    finally:
        os.close(fd)


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in MODES or not sys.argv[3].isdigit():
        print(f"usage: {sys.argv[0]} {{{','.join(MODES)}}} FILE GIB", file=sys.stderr)
        sys.exit(2)
    mode, path, gib = sys.argv[1], sys.argv[2], int(sys.argv[3])
    before, started = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    try:
        write(mode, path, gib << 30)
    except OSError as error:
        sys.exit(f"error: {path}: {error}")
    wall, after = time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF)
    print(
        f"{mode:10s} {gib} GiB: {wall:6.2f} s wall {after.ru_utime - before.ru_utime:5.2f} u "
        f"{after.ru_stime - before.ru_stime:5.2f} s, minor faults {after.ru_minflt - before.ru_minflt}"
    )


if __name__ == "__main__":
    main()
