"""Run printed commands the way a learner would, in a kit folder; for tests/test_printed_commands.py.

    python tests/printed_commands.py KIT < cases.json > results.json

Each case is {"start": shell command that serves the app on port 8000, "commands": [shell commands]}.
Run in a network namespace of its own, so port 8000 is free whatever else runs on the machine.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading

START_LIMIT = 60.0  # bounds a hang only: the app answers within seconds
COMMAND_LIMIT = 10  # seconds: a stream that never ends is stopped here (exit status 124)


class ServerLog:
    """The server's output, read as it comes; ``ready`` is set when uvicorn says the app has started."""

    def __init__(self, server: subprocess.Popen[bytes]) -> None:
        self.lines: list[str] = []
        self.ready = threading.Event()
        self.reader = threading.Thread(target=self._read, args=(server,), daemon=True)
        self.reader.start()

    def _read(self, server: subprocess.Popen[bytes]) -> None:
        assert server.stdout is not None
        for raw in server.stdout:
            line = raw.decode("utf-8", "replace")
            self.lines.append(line)
            if "Uvicorn running on" in line:  # listening: a request now waits, at worst, for the app
                self.ready.set()
        self.ready.set()  # ended: nothing more to wait for


def run_case(kit: str, case: dict) -> dict:
    server = subprocess.Popen(["bash", "-c", case["start"]], cwd=kit, start_new_session=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    log = ServerLog(server)
    log.ready.wait(START_LIMIT)
    outcome: dict = {"start": case["start"], "up": server.poll() is None and log.ready.is_set(), "runs": []}
    try:
        if outcome["up"]:
            for command in case["commands"]:
                done = subprocess.run(["timeout", str(COMMAND_LIMIT), "bash", "-c", command], cwd=kit,
                                      capture_output=True)  # fmt: skip
                outcome["runs"].append({"command": command, "code": done.returncode,
                                        "stdout": done.stdout.decode("utf-8", "replace")[:2000],
                                        "stderr": done.stderr.decode("utf-8", "replace")[:2000]})  # fmt: skip
    finally:
        try:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.reader.join(timeout=10)
        outcome["log"] = "".join(log.lines)[-2000:]
    return outcome


def main() -> None:
    kit = sys.argv[1]
    cases = json.load(sys.stdin)
    json.dump([run_case(kit, case) for case in cases], sys.stdout)


if __name__ == "__main__":
    main()
