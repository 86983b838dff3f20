"""Headless Chromium: find it, open one page in it with a profile of its own, stop it with all it started.

A learner may have no Chromium at all: ``find_chromium`` then says so and
nothing else here is used. The browser runs in a session (process group) of
its own and is stopped by killing that group, so its zygote, renderer and GPU
processes go with it, also on Ctrl-C or SIGTERM (both unwind through the
``finally`` of ``open_page``); its profile is a temporary folder removed then.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

# Where to look, in order. STREAMGRADE_CHROMIUM names one (a path or a
# command); set to "none" it turns the browser off.
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
CHROMIUM_VARIABLE = "STREAMGRADE_CHROMIUM"
OFF = ("", "none", "off", "0")
# Headless, and quiet: no sandbox (it needs privileges a container or root
# may not have; the browser only loads the grader's own page from
# 127.0.0.1), no GPU, no first-run screens, no network of its own (updates,
# sync, QUIC): nothing but the page.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--mute-audio",
)
# Chromium's start-up costs about a second of CPU. A little below the
# grader and the apps, so the timing probes beside it win a tie for a core;
# not far below: at nice 10 a machine under load starved it (its page came
# 6 to 8 s after the start at a load average of 45, 5 to 7 s at nice 2; the
# timing checks already hold under two busy loops at nice 0). Run by root,
# Chromium raises its main threads' priority (to -8): it is started without
# the capability to (CAP_SYS_NICE dropped with setpriv).
NICENESS = 2
# What of the browser's own output is kept to explain a failed start.
LOG_TAIL = 2000


def find_chromium() -> str | None:
    """The Chromium to run, or None when there is none (or STREAMGRADE_CHROMIUM turns it off)."""
    named = os.environ.get(CHROMIUM_VARIABLE)
    if named is not None:
        return None if named.strip().lower() in OFF else shutil.which(named.strip())
    return next((found for name in CHROMIUM_NAMES if (found := shutil.which(name))), None)


def why_missing() -> str:
    """Why ``find_chromium`` found nothing, for a report."""
    named = os.environ.get(CHROMIUM_VARIABLE)
    if named is not None and named.strip().lower() in OFF:
        return f"the browser was turned off ({CHROMIUM_VARIABLE}={named})"
    if named is not None:
        return f"{CHROMIUM_VARIABLE}={named} names no program that can be run"
    return f"no headless Chromium was found (looked for {', '.join(CHROMIUM_NAMES)} on PATH)"


def command(chromium: str, profile: Path, *arguments: str) -> list[str]:
    """The command line that runs ``chromium`` headless with ``profile`` as its user data folder."""
    return [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *arguments]


@contextlib.contextmanager
def temporary_profile() -> Iterator[Path]:
    """A fresh, empty user data folder, removed afterwards whatever the browser left in it."""
    folder = Path(tempfile.mkdtemp(prefix="streamgrade-chromium-"))
    try:
        yield folder / "profile"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def niced(arguments: list[str]) -> list[str]:
    """``arguments`` run at a lower priority that they can't raise, where this system allows it."""
    if os.name != "posix":
        return arguments
    nice, setpriv = shutil.which("nice"), shutil.which("setpriv")
    if nice:
        arguments = [nice, "-n", str(NICENESS), *arguments]
    if setpriv and os.geteuid() == 0:
        arguments = [setpriv, "--bounding-set", "-sys_nice", *arguments]
    return arguments


def environment(folder: Path) -> dict[str, str]:
    """The browser's environment: its configuration and caches (crash reports too) inside ``folder``."""
    return {**os.environ, "XDG_CONFIG_HOME": str(folder / "config"), "XDG_CACHE_HOME": str(folder / "cache")}


@dataclass
class OpenPage:
    """A running browser showing one page."""

    process: asyncio.subprocess.Process
    log: Path

    async def exited(self) -> int:
        """Wait until the browser ends by itself (it should not): its exit code."""
        return await self.process.wait()

    def log_tail(self) -> str:
        try:
            data = self.log.read_bytes()[-LOG_TAIL:]
        except OSError:
            return ""
        return data.decode("utf-8", "replace")


@contextlib.asynccontextmanager
async def open_page(chromium: str, url: str) -> AsyncIterator[OpenPage]:
    """Run headless ``chromium`` on ``url`` until the block ends, then stop it and remove its profile."""
    with temporary_profile() as profile:
        log = profile.parent / "chromium.log"
        with log.open("wb") as output:
            process = await asyncio.create_subprocess_exec(
                *niced(command(chromium, profile, url)),
                stdin=asyncio.subprocess.DEVNULL,
                env=environment(profile.parent),
                stdout=output,
                stderr=output,
                # A group of its own, killed as one (POSIX); elsewhere the browser alone.
                start_new_session=os.name == "posix",
            )
        try:
            yield OpenPage(process, log)
        finally:
            await stop(process)
            await asyncio.to_thread(sweep, profile.parent)


async def stop(process: asyncio.subprocess.Process) -> None:
    """Kill the browser and every process of its group, and reap it."""
    try:
        if hasattr(os, "killpg"):
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
    except (ProcessLookupError, PermissionError):
        pass  # already gone (a group whose leader was reaped can't be named again)
    try:
        await process.wait()
    except asyncio.CancelledError:
        # A cancelled grade still reaps what it killed before its profile is removed.
        await process.wait()
        raise


def sweep(folder: Path) -> None:
    """Kill what the browser started outside its group: its crash handlers start sessions of their own.

    They are found by the folder their command line names (this run's own).
    """
    import psutil  # imported here: only a run that started a browser pays for it

    strays = []
    for process in psutil.process_iter(["cmdline"]):
        try:
            if any(str(folder) in part for part in process.info["cmdline"] or ()):
                process.kill()
                strays.append(process)
        except psutil.Error:
            continue
    psutil.wait_procs(strays, timeout=2)
