"""A seccomp filter for the isolated app: no connecting anywhere, no kernel keyrings, no io_uring.

The app's network namespace has no interface up, but the sockets the grader
hands it (the listener and the connections accepted on it) belong to the
grader's namespace: ``connect(AF_UNSPEC)`` would detach one and ``connect``
point it anywhere the grader can reach. A server never needs to connect, so
``connect`` is refused, and so are the calls that connect on the way (a
``sendto``/``sendmsg`` with ``MSG_FASTOPEN``) or bypass system calls
(io_uring). Keyrings belong to a user id, not to a namespace: refusing them
keeps one app from leaving data for a later one that gets the same id.

Refused calls fail with EPERM, as a firewall would make them fail; nothing
is killed.
"""

from __future__ import annotations

import ctypes
import errno
import platform
import struct

from grader.launch.linux import libc

PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000
MSG_FASTOPEN = 0x20000000
X32_SYSCALL_BIT = 0x40000000

# Classic BPF opcodes.
LD_W_ABS = 0x20  # A = the 32-bit word at offset k of seccomp_data
JEQ_K = 0x15  # if A == k
JGE_K = 0x35  # if A >= k
JSET_K = 0x45  # if A & k
RET_K = 0x06

# seccomp_data: int nr, u32 arch, u64 instruction_pointer, u64 args[6] (little-endian: low word first).
NR, ARCH = 0, 4


def arg_low_word(index: int) -> int:
    return 16 + 8 * index


ARCHITECTURES = {
    "x86_64": (
        0xC000003E,
        {
            "connect": 42,
            "sendto": 44,
            "sendmsg": 46,
            "sendmmsg": 307,
            "add_key": 248,
            "request_key": 249,
            "keyctl": 250,
            "io_uring_setup": 425,
            "io_uring_enter": 426,
            "io_uring_register": 427,
        },
    ),
    "aarch64": (
        0xC00000B7,
        {
            "connect": 203,
            "sendto": 206,
            "sendmsg": 211,
            "sendmmsg": 269,
            "add_key": 217,
            "request_key": 218,
            "keyctl": 219,
            "io_uring_setup": 425,
            "io_uring_enter": 426,
            "io_uring_register": 427,
        },
    ),
}
REFUSED = ("connect", "add_key", "request_key", "keyctl", "io_uring_setup", "io_uring_enter", "io_uring_register")
# Calls refused only with MSG_FASTOPEN, and which argument holds their flags.
FLAGGED = {"sendto": 3, "sendmsg": 2, "sendmmsg": 3}


def instruction(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def program(machine: str) -> bytes:
    """The filter for ``machine`` (as platform.machine() names it); KeyError if unsupported."""
    audit_arch, numbers = ARCHITECTURES[machine]
    deny = instruction(RET_K, SECCOMP_RET_ERRNO | errno.EPERM)
    code = [instruction(LD_W_ABS, ARCH), instruction(JEQ_K, audit_arch, 1, 0), deny]
    code.append(instruction(LD_W_ABS, NR))
    if machine == "x86_64":  # the x32 ABI numbers the same calls differently
        code += [instruction(JGE_K, X32_SYSCALL_BIT, 0, 1), deny]
    for name in REFUSED:
        code += [instruction(JEQ_K, numbers[name], 0, 1), deny]
    for name, flags in FLAGGED.items():
        code += [
            instruction(JEQ_K, numbers[name], 0, 4),
            instruction(LD_W_ABS, arg_low_word(flags)),
            instruction(JSET_K, MSG_FASTOPEN, 0, 1),
            deny,
            instruction(LD_W_ABS, NR),
        ]
    code.append(instruction(RET_K, SECCOMP_RET_ALLOW))
    return b"".join(code)


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]


def install() -> None:
    """Apply the filter to this thread and all it starts (no_new_privs must be set). OSError if it can't."""
    machine = platform.machine()
    if machine not in ARCHITECTURES:
        raise OSError(errno.ENOSYS, f"no seccomp filter for the {machine} architecture")
    code = program(machine)
    fprog = SockFprog(len(code) // 8, code)
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog)) != 0:
        number = ctypes.get_errno()
        raise OSError(number, f"seccomp: {errno.errorcode.get(number, number)}")
