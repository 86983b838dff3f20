"""Grading processes in a group of their own: started so, and stopped with everything in the group.

A batch's gradings and watch mode's grading processes are the grader's own
children, each the head of a group, so one call stops it with whatever it
left. POSIX has process groups (a new session, ``killpg``); elsewhere the
group is a new process group for console signals (Windows), and killing
goes through the process tree (psutil).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from typing import Any

from grader.launch.features import detect


def new_group() -> dict[str, Any]:
    """``subprocess.Popen`` options that start a process at the head of a group of its own."""
    if detect().process_groups:
        return {"start_new_session": True}
    return {"creationflags": getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)}


def stop_group(process: subprocess.Popen[Any], *, kill: bool = False) -> None:
    """Ask ``process``'s group to stop (it may clean up), or with ``kill``, kill the group at once."""
    if detect().process_groups:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL if kill else signal.SIGTERM)
        return
    if not kill and hasattr(signal, "CTRL_BREAK_EVENT"):
        with contextlib.suppress(OSError):
            os.kill(process.pid, signal.CTRL_BREAK_EVENT)  # the console group's "stop": Python exits on it
        return
    import psutil

    with contextlib.suppress(psutil.Error):
        everything = [psutil.Process(process.pid)]
        everything += everything[0].children(recursive=True)
        for member in everything:
            with contextlib.suppress(psutil.Error):
                member.kill()
