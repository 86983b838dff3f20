"""Read a process's memory and CPU figures from Linux's /proc.

The grader measures the learner's server from outside: nothing here runs in
the server process, so nothing the server does can fake these numbers.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from grader.launch.measure import MEMORY_SAMPLE_PERIOD, MemorySample

PROC = Path("/proc")
# Finding the app's processes reads a file per thread of each (a server has
# about 45 threads): memory samples, taken every 20 ms, reuse the set found
# at most this long ago.
TREE_REFRESH = 0.2
CLOCK_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def read_memory(pid: int) -> MemorySample:
    """Current (VmRSS) and peak (VmHWM, since the last reset) resident memory of ``pid``; OSError if it is gone."""
    fields: dict[str, int] = {}
    for line in (PROC / str(pid) / "status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) * 1024  # the kernel reports kB
    if len(fields) < 2:  # a process that exited and is not reaped yet has no memory left
        raise ProcessLookupError(f"process {pid} has exited")
    return MemorySample(rss=fields["VmRSS"], peak=fields["VmHWM"])


def reset_peak_memory(pid: int) -> bool:
    """Reset VmHWM to the current RSS by writing 5 to clear_refs.

    Returns False where the kernel or our privileges don't allow it; the
    caller then measures growth from the sample taken before instead.
    """
    try:
        (PROC / str(pid) / "clear_refs").write_text("5")
    except OSError:
        return False
    return True


def cpu_seconds(pid: int) -> float:
    """CPU time the threads of ``pid`` have used so far, in seconds.

    Summed from each thread's schedstat, which counts nanoseconds: the
    utime/stime of /proc/PID/stat count 10 ms clock ticks, too coarse for
    the short quiet windows the grader measures. Falls back to them where
    schedstat is missing. Time of threads that already exited drops out of
    the sum, so compare two readings with ``max(0, after - before)``.
    """
    if (PROC / str(pid) / "schedstat").exists():
        total_ns = 0
        for task in (PROC / str(pid) / "task").iterdir():
            try:
                total_ns += int((task / "schedstat").read_text().split()[0])
            except OSError:
                continue  # the thread exited while we were reading
        return total_ns / 1e9
    stat = (PROC / str(pid) / "stat").read_text()
    # The command name (field 2) may hold spaces and parentheses: split after
    # its closing parenthesis. utime and stime are fields 14 and 15.
    after_name = stat[stat.rindex(")") + 2 :].split()
    return (int(after_name[11]) + int(after_name[12])) / CLOCK_TICKS_PER_SECOND


def wakeups(pid: int) -> int:
    """How many times the threads of ``pid`` have been switched out so far: voluntary and involuntary.

    A thread that sleeps and is woken (a timer, a socket) is switched out
    once per wake-up, however little it does then: unlike CPU time, this
    count does not shrink when the work done per wake-up is cheap. Threads
    that already exited drop out of the sum.
    """
    total = 0
    for task in (PROC / str(pid) / "task").iterdir():
        try:
            for line in (task / "status").read_text().splitlines():
                if line.startswith(("voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:")):
                    total += int(line.split(":", 1)[1])
        except OSError:
            continue  # the thread exited while we were reading
    return total


class ProcMeter:
    """The app's memory and CPU from /proc, summed over its processes (see grader.launch.measure.Meter).

    ``processes`` names them at each reading: the tree below the launcher
    (which adopts every orphan, daemons included), and the app's cgroup where
    there is one. The peak is exact: each process's VmHWM is reset, and a
    process that starts later has its peak counted from its start.
    """

    sample_period = MEMORY_SAMPLE_PERIOD
    cpu_resolution = 1e-9

    def __init__(self, processes: Callable[[], set[int]], server: int) -> None:
        self._processes = processes
        self._server = server
        self._found: set[int] = {server}
        self._found_at = -TREE_REFRESH

    def _pids(self, max_age: float = 0.0) -> set[int]:
        if time.monotonic() - self._found_at >= max_age:
            self._found = self._processes() | {self._server}
            self._found_at = time.monotonic()
        return self._found

    def reset_peak(self) -> bool:
        for pid in self._pids() - {self._server}:
            reset_peak_memory(pid)
        return reset_peak_memory(self._server)

    def memory(self) -> MemorySample:
        server = read_memory(self._server)  # ProcessLookupError once the server is gone
        rss, peak = server.rss, server.peak
        for pid in self._pids(max_age=TREE_REFRESH) - {self._server}:
            try:
                sample = read_memory(pid)
            except OSError:
                continue  # it ended meanwhile: its memory is free again
            rss += sample.rss
            if peak is not None:  # unknown for the server: unknown for the tree
                peak += sample.peak or 0
        return MemorySample(rss, peak)

    def cpu_seconds(self) -> float:
        total = 0.0
        for pid in self._pids():
            try:
                total += cpu_seconds(pid)
            except OSError:
                continue
        return total

    def wakeups(self) -> int:
        total = 0
        for pid in self._pids():
            try:
                total += wakeups(pid)
            except OSError:
                continue
        return total

    def process_count(self) -> int:
        return len(self._pids())
