"""Isolation without root: a user namespace in which the grader's user is root, and nothing more.

An ordinary user may not make mount, PID or network namespaces, but where
the kernel allows unprivileged user namespaces it may make a user namespace
first and, as root inside it, the others (owned by it). The launcher then
builds the same view of the files and the same PID and network namespaces
as root would (``_launch.py``, ``jail.py``). What differs:

- one user id only: the kernel lets an unprivileged process map just its
  own user (``0 <uid> 1``), so the app is root inside its namespace and the
  grader's user outside, not a user of its own; the server gives up every
  capability (``drop_capabilities``), so being root there grants nothing,
  and the chroot it runs in keeps it from making a namespace of its own
  (the kernel refuses ``CLONE_NEWUSER`` to a chrooted process);
- ``setgroups`` is denied (the kernel's rule for an unprivileged
  ``gid_map``): the app keeps the grader's supplementary groups, for the
  files its view shows;
- no cgroup, usually: an ordinary user can write one only where cgroup v2
  is delegated to it, and the limits fall back to per-process ones (the
  report says which held).

``problem`` says why this kernel refuses, for the report: the sysctls that
turn it off (``user.max_user_namespaces``, Debian's
``kernel.unprivileged_userns_clone``) and AppArmor's restriction (Ubuntu
23.10 and later, ``kernel.apparmor_restrict_unprivileged_userns``), which
lets the namespace be made but takes every capability inside it.
"""

from __future__ import annotations

import ctypes
import errno
import os
import subprocess
import sys

from grader.launch.linux import libc

CLONE_NEWUSER = 0x10000000
PR_CAPBSET_DROP = 24
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
LINUX_CAPABILITY_VERSION_3 = 0x20080522
LAST_CAP_FALLBACK = 63  # where /proc/sys/kernel/cap_last_cap can't be read: every bit (unknown ones refused)

MAX_NAMESPACES = "/proc/sys/user/max_user_namespaces"
DEBIAN_SWITCH = "/proc/sys/kernel/unprivileged_userns_clone"
APPARMOR_RESTRICTION = "/proc/sys/kernel/apparmor_restrict_unprivileged_userns"


def _sysctl(path: str) -> str | None:
    try:
        with open(path, encoding="ascii") as value:
            return value.read().strip()
    except OSError:
        return None


def sysctl_problem() -> str:
    """What the kernel's settings say against unprivileged user namespaces; empty if nothing."""
    if _sysctl(MAX_NAMESPACES) == "0":
        return f"this kernel allows no user namespaces ({MAX_NAMESPACES} is 0)"
    if _sysctl(DEBIAN_SWITCH) == "0":
        return f"this kernel allows no unprivileged user namespaces ({DEBIAN_SWITCH} is 0)"
    return ""


def problem() -> str:
    """Why an ordinary user can't isolate apps with a user namespace here; empty if nothing is known to stop it.

    The sysctls give the reason in words; the trial (in a child: an unshare
    can't be undone) is the proof. The caller's trial launch still decides.
    """
    if said := sysctl_problem():
        return said
    trial = f"import ctypes, sys; sys.exit(ctypes.CDLL(None).unshare({CLONE_NEWUSER}) != 0)"
    try:
        made = subprocess.run([sys.executable, "-c", trial], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        made = False
    if not made:
        # The kernel, or a seccomp profile around the grader (Docker's default refuses unshare).
        return "this system refused to make a user namespace for an ordinary user"
    return ""


def apparmor_note() -> str:
    """Where AppArmor restricts unprivileged user namespaces, what to do about it (for a failed trial)."""
    if _sysctl(APPARMOR_RESTRICTION) != "1":
        return ""
    return (
        f"AppArmor restricts unprivileged user namespaces ({APPARMOR_RESTRICTION} is 1): "
        "the namespace is made but gets no capabilities. Run the batch as root, or allow "
        "user namespaces for this Python with an AppArmor profile (`userns,`)"
    )


def _write(path: str, text: str) -> None:
    with open(path, "w", encoding="ascii") as file:
        file.write(text)


def enter(namespaces: int) -> None:
    """Unshare a user namespace and ``namespaces`` with it, and become root inside it.

    Called in the launcher, a single-threaded child, as the grader's user.
    The user namespace is made first by the kernel (the others are owned by
    it), so one call does it all. Then this user and its group are mapped to
    0 inside: the only mapping an unprivileged process may write, and only
    after giving up ``setgroups``.
    """
    uid, gid = os.geteuid(), os.getegid()
    libc.check(libc.libc().unshare(CLONE_NEWUSER | namespaces), "unshare")
    _write("/proc/self/setgroups", "deny")
    _write("/proc/self/uid_map", f"0 {uid} 1\n")
    _write("/proc/self/gid_map", f"0 {gid} 1\n")


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def drop_bounding_set() -> None:
    """No program this process or its children execute can gain a capability (call while it may still drop them).

    Root (inside a user namespace, too) gets its bounding set on ``execve``:
    emptied, an exec'd program gets nothing.
    """
    last = int(_sysctl("/proc/sys/kernel/cap_last_cap") or LAST_CAP_FALLBACK)
    libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    for capability in range(last + 1):
        if libc.prctl(PR_CAPBSET_DROP, capability) != 0 and ctypes.get_errno() != errno.EINVAL:
            libc.check(-1, f"dropping capability {capability} from the bounding set")


def drop_capabilities() -> None:
    """Give up every capability this process holds (effective, permitted, inheritable)."""
    header = _CapHeader(LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()  # all zero: 64 capability bits in two words
    libc.check(libc.libc().capset(ctypes.byref(header), data), "capset")


def capabilities() -> int:
    """This process's effective capabilities, as the kernel shows them (0: none)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("CapEff:"):
                return int(line.split()[1], 16)
    return 0
