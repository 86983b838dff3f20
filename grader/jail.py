"""A file-system view with only what an app needs, for a process in new namespaces.

Called by the launcher (``_launch.py``) as PID 1 of a new PID namespace, in a
new mount namespace, as root. It builds a root on a fresh tmpfs with, read
only: the system's programs and libraries, the Python that runs the grader
with its packages, the grader's own package and the files the probes serve;
read-write: the app's folder (a scratch copy) and an empty ``/tmp``. The
instructor's files, other submissions, the results, the reference solution
and anything in root's home the app doesn't need are not there at all.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import sys
from pathlib import Path

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
NAMESPACES = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWNET

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18

SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
DEVICES = ("null", "zero", "full", "random", "urandom")
TMP_SIZE = "64m"  # the app's /tmp: enough for scratch files, not for filling the machine's memory
# The app's own folder: a submission unpacks to at most 64 MiB (batch/submissions.py), plus room to write.
APP_SIZE = "128m"
# Left out of the app's copy of its folder: big, and never what it serves.
COPY_IGNORED = shutil.ignore_patterns(".git", ".venv", "venv", "__pycache__", "node_modules", ".streamgrade")

_libc = ctypes.CDLL(None, use_errno=True)  # libc, already loaded; find_library would run ldconfig


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def unshare(flags: int) -> None:
    _check(_libc.unshare(flags), "unshare")


def mount(
    source: str | None,
    target: str,
    fstype: str | None,
    flags: int,
    data: str | None = None,
) -> None:
    def encode(text: str | None) -> bytes | None:
        return text.encode() if text is not None else None

    _check(
        _libc.mount(encode(source), encode(target), encode(fstype), flags, encode(data)),
        f"mount {target}",
    )


def python_paths() -> list[str]:
    """What the interpreter needs to start and import the grader's packages."""
    import grader

    paths = {sys.base_prefix, sys.prefix, os.path.dirname(os.path.realpath(sys.executable)),
             str(Path(grader.__file__).parent)}  # fmt: skip
    # The launcher runs with -P, so sys.path holds no working folder, only the installation's.
    paths |= {entry for entry in sys.path if entry and os.path.isabs(entry) and os.path.exists(entry)}
    return sorted(paths)


def outermost(paths: list[str]) -> list[str]:
    """Drop paths inside others in the list (bind the outer one once)."""
    kept: list[str] = []
    for path in sorted({os.path.normpath(path) for path in paths}):
        if not any(path == outer or path.startswith(outer.rstrip("/") + "/") for outer in kept):
            kept.append(path)
    return kept


def bind(root: str, path: str, writable: bool = False, device: bool = False) -> None:
    """Show ``path`` at the same place under ``root``; read-only unless ``writable``."""
    target = root + path
    if os.path.isdir(path):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        open(target, "ab").close()
    mount(path, target, None, MS_BIND | MS_REC)
    flags = MS_BIND | MS_REMOUNT | MS_NOSUID | (0 if device else MS_NODEV) | (0 if writable else MS_RDONLY)
    mount(None, target, None, flags)


def copy_app(root: str, app_dir: str, uid: int) -> None:
    """The app's folder, at its usual path, as a copy on a tmpfs of its own that its user owns.

    A copy, not a bind: the app may write next to its files without touching
    the original or the disk, and its writes are capped by the tmpfs's size.
    """
    target = root + app_dir
    os.makedirs(target)
    mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, f"mode=700,uid={uid},gid={uid},size={APP_SIZE}")
    shutil.copytree(app_dir, target, symlinks=True, dirs_exist_ok=True, ignore=COPY_IGNORED)
    for folder, dirs, files in os.walk(target):
        for name in [folder, *(os.path.join(folder, entry) for entry in dirs + files)]:
            os.lchown(name, uid, uid)


def build_root(root: str, readonly: list[str], app_dir: str, uid: int) -> None:
    """Mount the app's view of the file system at ``root`` (an empty folder)."""
    os.umask(0o022)
    mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing below leaks back to the machine
    mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=755,size=16m")
    # /tmp first: what is bound below it (a venv, the app's scratch copy) goes on top.
    os.makedirs(root + "/tmp")
    mount(
        "tmpfs",
        root + "/tmp",
        "tmpfs",
        MS_NOSUID | MS_NODEV,
        f"mode=1777,size={TMP_SIZE}",
    )
    for path in SYSTEM_DIRS:
        if os.path.islink(path):
            os.symlink(os.readlink(path), root + path)
        elif os.path.isdir(path):
            bind(root, path)
    for path in outermost([*python_paths(), *readonly]):
        if not any(path == system or path.startswith(system + "/") for system in SYSTEM_DIRS):
            bind(root, path)
    copy_app(root, app_dir, uid)

    os.makedirs(root + "/proc")
    mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    os.makedirs(root + "/dev")
    mount("tmpfs", root + "/dev", "tmpfs", MS_NOSUID, "mode=755,size=64k")
    for device in DEVICES:
        bind(root, f"/dev/{device}", writable=True, device=True)
    os.makedirs(root + "/dev/shm")
    mount(
        "tmpfs",
        root + "/dev/shm",
        "tmpfs",
        MS_NOSUID | MS_NODEV,
        f"mode=1777,size={TMP_SIZE}",
    )
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):  # fmt: skip
        os.symlink(target, f"{root}/dev/{name}")
    # The root itself read-only: the app can't add files next to the mounts.
    mount(None, root, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, "mode=755")
    os.chroot(root)
    os.chdir("/")
