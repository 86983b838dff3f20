"""A file-system view with only what an app needs, for a process in new namespaces.

Called by the launcher (``_launch.py``) as PID 1 of a new PID namespace, in a
new mount namespace, as root (the machine's, or root inside a user namespace:
``userns.py``). It builds a root on a fresh tmpfs with, read
only: the system's programs and libraries, the Python that runs the grader
with its packages, the grader's own package and the files the probes serve;
read-write: the app's folder (a scratch copy) and an empty ``/tmp``. The
instructor's files, other submissions, the results, the reference solution
and anything in root's home the app doesn't need are not there at all.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import sys
import sysconfig

from grader.launch.linux.libc import check, libc

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
COPY_IGNORED = shutil.ignore_patterns(".git", ".venv", "venv", "__pycache__", "node_modules", ".streamgrade", ".cache")


def unshare(flags: int) -> None:
    check(libc().unshare(flags), "unshare")


def mount(
    source: str | None,
    target: str,
    fstype: str | None,
    flags: int,
    data: str | None = None,
) -> None:
    def encode(text: str | None) -> bytes | None:
        return text.encode() if text is not None else None

    check(
        libc().mount(encode(source), encode(target), encode(fstype), flags, encode(data)),
        f"mount {target}",
    )


# What the server imports besides the standard library. Each is shown to the
# app where it is installed, not through its sys.path entry: an entry can be
# a whole project folder (an editable install, a .pth file, PYTHONPATH), with
# the reference solution and results in it.
SERVER_PACKAGES = (
    "grader",
    "fastapi",
    "starlette",
    "uvicorn",
    "pydantic",
    "pydantic_core",
    "anyio",
    "sniffio",
    "h11",
    "idna",
    "typing_extensions",
    "annotated_types",
    "typing_inspection",
    "click",
)


def hidden_paths() -> list[str]:
    """Folders the binds show that the app must not read: the reference solution, shipped inside the package."""
    from grader import kit  # here: the launcher needs it only when it builds a view

    return [str(kit.reference_app().parent)]


def python_paths() -> list[str]:
    """The Python installation (prefixes, standard library, site-packages) and the packages the server imports."""
    paths = {sys.base_prefix, sys.prefix, os.path.dirname(os.path.realpath(sys.executable))}
    installed = sysconfig.get_paths()
    paths |= {installed[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")}
    for name in SERVER_PACKAGES:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            continue
        if spec is None:
            continue
        if spec.submodule_search_locations:  # a package: its folder(s)
            paths |= set(spec.submodule_search_locations)
        elif spec.origin and os.path.isabs(spec.origin):  # a module: its file
            paths.add(spec.origin)
    return sorted(path for path in paths if os.path.isabs(path) and os.path.exists(path) and path != "/")


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
    # The remount applies to one mount: the folders mounted below ``target`` get it one by one.
    for point in [target, *mounts_below(target)]:
        mount(None, point, None, flags | locked_flags(point))


def locked_flags(point: str) -> int:
    """The restrictions ``point`` has already: kept, since in a user namespace the kernel refuses to lift them.

    (A mount that came from the machine's namespace is locked: a remount that
    drops its ``noexec`` fails with EPERM. As root it would lift them; it
    must not either.) statvfs's ST_ bits are the MS_ bits for these four.
    """
    return os.statvfs(point).f_flag & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)


def mounts_below(target: str) -> list[str]:
    """Mount points inside ``target``, from /proc/self/mountinfo (which escapes spaces as \\040)."""
    below = []
    with open("/proc/self/mountinfo", encoding="utf-8") as lines:
        for line in lines:
            point = re.sub(r"\\([0-7]{3})", lambda octal: chr(int(octal.group(1), 8)), line.split()[4])
            if point.startswith(target.rstrip("/") + "/"):
                below.append(point)
    return below


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
    # The app's copy first: a bind that lands inside its folder (a venv in the
    # project, say) then goes on top of the copy instead of under it.
    copy_app(root, app_dir, uid)
    for path in SYSTEM_DIRS:
        if os.path.islink(path):
            os.symlink(os.readlink(path), root + path)
        elif os.path.isdir(path):
            bind(root, path)
    for path in outermost([*python_paths(), *readonly]):
        if any(path == system or path.startswith(system + "/") for system in SYSTEM_DIRS):
            continue
        if app_dir == path or app_dir.startswith(path.rstrip("/") + "/"):
            raise OSError(
                f"the app's folder {app_dir} is inside {path}, which the app may only read: "
                "grade a copy of the app kept somewhere else"
            )
        bind(root, path)
    # An installed package holds the reference (grader/kit/reference): an
    # empty read-only tmpfs goes over it, where a bind above brought it in.
    for path in hidden_paths():
        if os.path.isdir(root + path):
            mount("tmpfs", root + path, "tmpfs", MS_NOSUID | MS_NODEV | MS_RDONLY, "mode=555,size=4k")

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
    for name, target in (
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ):
        os.symlink(target, f"{root}/dev/{name}")
    # The root itself read-only: the app can't add files next to the mounts.
    mount(None, root, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, "mode=755")
    os.chroot(root)
    os.chdir("/")
