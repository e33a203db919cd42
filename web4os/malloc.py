"""Fewer C heaps: glibc's malloc keeps one arena per thread that allocates at once.

glibc gives a thread that finds the other arenas busy an arena of its own, up to eight
per core, and each arena keeps what its threads freed for their next allocations. The
embedded runner has hundreds of threads waiting on models at the peak of a busy
batch; with an arena per few of them, the memory freed in one arena is not reused by
the threads of another, and the process grows by arenas' worth of free space. Two
arenas are plenty when one job computes at a time (``web4os.turns``).
"""

from __future__ import annotations

import ctypes
import logging
import platform

M_ARENA_MAX = -8  # glibc's <malloc.h>
ARENAS = 2

log = logging.getLogger("web4os.malloc")


def limit_arenas(arenas: int = ARENAS) -> bool:
    """Cap glibc's malloc arenas (call before the process starts its threads); False where
    the C library is not glibc (musl, macOS), which have no such setting to change."""
    if platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    if mallopt(M_ARENA_MAX, arenas) != 1:
        log.warning("glibc refused to cap its malloc arenas at %d", arenas)
        return False
    return True
