"""What the probes may ask of a running app's processes: memory and CPU time, over its whole tree.

Each backend measures from outside the app (nothing here runs in the app's
processes, so nothing the app does can fake the figures) and over every
process the app started: an app that hands the work to a child process is
measured with its child. A backend also says how good its figures are, so a
check can tell a measured failure from a figure too coarse for a verdict.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class MemorySample:
    """Resident memory in bytes, summed over the app's processes: now, and the peak since the last reset.

    ``peak`` is None where the system keeps no peak that can be reset: the
    caller then takes the largest of the samples it took.
    """

    rss: int
    peak: int | None


class Meter(Protocol):
    """Readings of one running app's processes (the server and everything it started)."""

    # Seconds between two memory samples the probes take; where the kernel's
    # peak can't be reset, the peak is the largest sample, so this is its grain.
    sample_period: float
    # Seconds: how far one CPU reading of one process may be from the truth
    # (1 ns from schedstat; a clock tick, 10 ms, from psutil on Linux).
    cpu_resolution: float

    def reset_peak(self) -> bool:
        """Start a new kernel peak at the current resident memory; False where there is none to reset."""
        ...

    def memory(self) -> MemorySample:
        """Raises ProcessLookupError when the app's server is gone."""
        ...

    def cpu_seconds(self) -> float:
        """CPU time the app's processes have used so far (threads and processes that ended drop out)."""
        ...

    def wakeups(self) -> int:
        """How often the app's threads have been switched out so far (voluntary and involuntary context switches).

        Unlike CPU time, this does not shrink when the work done per wake-up
        is cheap: a timer left running for nobody shows in it however little
        it does (threads and processes that ended drop out).
        """
        ...

    def process_count(self) -> int:
        """How many processes the app has now (for the uncertainty of a CPU difference)."""
        ...


# Probes sample the app's memory this often while it serves a download.
MEMORY_SAMPLE_PERIOD = 0.02
