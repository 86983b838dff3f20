"""A run that did not finish says so, exits non-zero, stops every server and keeps the last report."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import REFERENCE_APP, ROOT, ctrl_c_reaches_it

from grader import cli

# Interrupts grading runs of served apps.
pytestmark = pytest.mark.slow

# Writes its server's pid next to itself when the grader's first request
# arrives: the moment the test knows grading has started.
SLOW_APP = """
import asyncio, os
from pathlib import Path
from fastapi import FastAPI
from fastapi.responses import StreamingResponse

app = FastAPI()

@app.get("/chat-stream")
async def chat_stream(prompt: str = "Hello", delay: float = 0.2):
    marker = Path(__file__).with_name("started")
    if not marker.exists():
        marker.with_suffix(".partial").write_text(str(os.getpid()))
        marker.with_suffix(".partial").replace(marker)

    async def tokens():
        for token in prompt.split():
            yield token + " "
            await asyncio.sleep(delay)
    return StreamingResponse(tokens(), media_type="text/plain")
"""
PREVIOUS_REPORT = "<html>the previous run's report</html>"


def wait_for(path: Path, process: subprocess.Popen, limit: float = 120.0) -> None:
    """Until ``path`` exists (the event), failing early if the grader ended without it."""
    deadline = time.monotonic() + limit
    while not path.exists():
        assert process.poll() is None, "the grader ended before the app was asked anything"
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.02)


def test_ctrl_c_during_check_exits_130_stops_every_server_and_keeps_the_report(tmp_path):
    app = tmp_path / "app.py"
    app.write_text(SLOW_APP)
    report = tmp_path / "report.html"
    report.write_text(PREVIOUS_REPORT)
    command = [sys.executable, "-m", "grader", "check", str(app), "--exercise", "chat", "--html", str(report)]
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **ctrl_c_reaches_it()
    )
    try:
        wait_for(tmp_path / "started", process)
        server = int((tmp_path / "started").read_text())
        process.send_signal(signal.SIGINT)  # what Ctrl-C sends to the grader
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, stdout + stderr
    assert "interrupted" in stderr and "Score" not in stdout
    assert report.read_text() == PREVIOUS_REPORT
    with pytest.raises(ProcessLookupError):
        os.kill(server, 0)


def test_a_crash_while_recording_exits_non_zero_with_a_clear_message(tmp_path, monkeypatch, capsys):
    def crash(*args, **kwargs):
        raise RuntimeError("the probes broke")

    monkeypatch.setattr("grader.plugin.record_apps", crash)
    report = tmp_path / "report.html"
    report.write_text(PREVIOUS_REPORT)
    code = cli.main(["check", str(REFERENCE_APP), "--exercise", "chat", "--html", str(report)])
    said = capsys.readouterr()
    assert code == 3
    assert "could not judge your app" in said.err and "left as it was" in said.err
    assert "RuntimeError: the probes broke" in said.out  # on every check it left unjudged
    assert report.read_text() == PREVIOUS_REPORT
