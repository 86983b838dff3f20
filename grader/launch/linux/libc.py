"""The one binding to the C library, for the few calls Python's standard library lacks.

``prctl`` (subreaper, no new privileges, parent-death signal, seccomp),
``unshare`` and ``mount`` (the isolated app's namespaces and file view) and
``mallopt`` (few malloc arenas under limits). ``CDLL(None)`` is the libc
already loaded into the process: ``ctypes.util.find_library`` would run
``ldconfig``, a new process, in the middle of setting up a sandbox.
"""

from __future__ import annotations

import ctypes
import functools
import os
from typing import Any


@functools.cache
def libc() -> Any:
    return ctypes.CDLL(None, use_errno=True)


def check(result: int, what: str) -> None:
    """Raise OSError with errno's text when a call returned non-zero."""
    if result != 0:
        number = ctypes.get_errno()
        raise OSError(number, f"{what}: {os.strerror(number)}")


def prctl(option: int, *arguments: Any) -> int:
    """prctl(option, ...): 0 on success, -1 with errno set on failure."""
    padded = [*arguments, *[0] * (4 - len(arguments))]
    return libc().prctl(option, *padded)
