"""Run printed commands the way a learner would, in a kit folder; for tests/test_printed_commands.py.

    python tests/printed_commands.py KIT < cases.json > results.json

Each case is {"start": shell command that serves the app on port 8000, "commands": [shell commands]}.
Run in a network namespace of its own, so port 8000 is free whatever else runs on the machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

START_LIMIT = 60.0  # bounds a hang only: the app answers within seconds
COMMAND_LIMIT = 5  # seconds: a stream that never ends is stopped here (exit status 124)


# Both, in either order: without --reload uvicorn listens, then says it runs; with it, the
# reloader says it runs, then its worker starts the app and listens.
READY_LINES = ("Uvicorn running on", "Application startup complete")


class ServerLog:
    """The server's output, read as it comes; ``ready`` is set when uvicorn has said both READY_LINES."""

    def __init__(self, server: subprocess.Popen[bytes]) -> None:
        self.lines: list[str] = []
        self.seen: set[str] = set()
        self.ready = threading.Event()
        self.reader = threading.Thread(target=self._read, args=(server,), daemon=True)
        self.reader.start()

    def _read(self, server: subprocess.Popen[bytes]) -> None:
        assert server.stdout is not None
        for raw in server.stdout:
            line = raw.decode("utf-8", "replace")
            self.lines.append(line)
            self.seen |= {said for said in READY_LINES if said in line}
            if len(self.seen) == len(READY_LINES):
                self.ready.set()
        self.ready.set()  # ended: nothing more to wait for


def listening() -> bool:
    """With --reload, the worker says the app started just before it listens: wait for that moment."""
    deadline = time.monotonic() + START_LIMIT
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", 8000), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.01)  # a few milliseconds at most, after the line that announced it
    return False


def stop(server: subprocess.Popen[bytes]) -> None:
    """Stop the shell and everything it started (its process group), as Ctrl-C in its terminal would."""
    for signum in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signum)
        try:
            server.wait(timeout=10)
            return
        except subprocess.TimeoutExpired:
            continue


def run_case(kit: str, case: dict) -> dict:
    # The script on standard input, as typed in a terminal: no shell whose command line names the app
    # (a page's `pgrep -f 'uvicorn starter.app'` must find the server alone).
    server = subprocess.Popen(
        ["bash", "-s"],
        cwd=kit,
        start_new_session=True,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert server.stdin is not None
    server.stdin.write(case["start"].encode() + b"\n")
    server.stdin.close()
    log = ServerLog(server)
    log.ready.wait(START_LIMIT)
    up = server.poll() is None and log.ready.is_set() and listening()
    outcome: dict = {"start": case["start"], "up": up, "runs": []}
    try:
        if outcome["up"]:
            for command in case["commands"]:
                # On standard input, as typed: `pgrep -f` must not find this shell's own command line.
                done = subprocess.run(
                    ["timeout", str(COMMAND_LIMIT), "bash", "-s"],
                    cwd=kit,
                    capture_output=True,
                    input=command.encode() + b"\n",
                )
                outcome["runs"].append(
                    {
                        "command": command,
                        "code": done.returncode,
                        "stdout": done.stdout.decode("utf-8", "replace")[:2000],
                        "stderr": done.stderr.decode("utf-8", "replace")[:2000],
                    }
                )
    finally:
        stop(server)
        log.reader.join(timeout=10)
        outcome["log"] = "".join(log.lines)[-2000:]
    return outcome


def main() -> None:
    kit = sys.argv[1]
    cases = json.load(sys.stdin)
    json.dump([run_case(kit, case) for case in cases], sys.stdout)


if __name__ == "__main__":
    main()
