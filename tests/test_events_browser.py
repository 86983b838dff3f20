"""events.browser: an EventSource in headless Chromium receives the events, reconnects and resumes.

The relay's rewriting and the check are pure and judged here without a
browser; the probe and the whole grade run a real Chromium where there is one
(CI installs it), and the check is not run, at no cost, where there is none.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from helpers import REFERENCE_APP, ROOT, ctrl_c_reaches_it

from grader import browser
from grader.checkapi import CheckFailed, Inconclusive, NotApplicable, NotRun
from grader.exercises.events import test_events as events_checks
from grader.exercises.events.browser_probe import BROWSER_COUNT, browse_events
from grader.exercises.events.recording import BrowserEvent, BrowserRecording, BrowserStream, EventsRecording
from grader.exercises.events.sseproxy import BOM, RETRY_LINE, RetryRewriter
from grader.recording import (
    AppRecording,
    Calibration,
    Chunk,
    Exchange,
    StartRecording,
    load_calibration,
    save_calibration,
)

CHROMIUM = browser.find_chromium()
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed")
slow = pytest.mark.slow  # starts servers or grades apps


def rewritten(*chunks: bytes) -> tuple[list[bytes], RetryRewriter]:
    rewriter = RetryRewriter()
    out = [rewriter.feed(chunk) for chunk in chunks]
    out.append(rewriter.flush())
    return out, rewriter


def test_the_relay_asks_for_a_short_retry_first_and_passes_every_other_byte_at_once():
    out, rewriter = rewritten(b"id: 1\ndata: {}\n\n", b"id: 2\nda", b"ta: {}\n\n")
    assert out == [RETRY_LINE + b"\nid: 1\ndata: {}\n\n", b"id: 2\nda", b"ta: {}\n\n", b""]
    assert rewriter.shortened == 0


def test_the_relay_shortens_the_apps_retry_lines_even_split_across_chunks_and_with_any_line_end():
    out, rewriter = rewritten(b"ret", b"ry: 3000\r", b"\nid: 1\rdata: x\r\n\r\nretry:9\n")
    assert b"".join(out) == RETRY_LINE + b"\n" + RETRY_LINE + b"\r\nid: 1\rdata: x\r\n\r\n" + RETRY_LINE + b"\n"
    assert rewriter.shortened == 2


def test_a_line_that_only_begins_like_retry_is_passed_unchanged():
    out, _ = rewritten(b"re", b"tries: 4\ndata: retry: 5\n\n")
    assert b"".join(out) == RETRY_LINE + b"\nretries: 4\ndata: retry: 5\n\n"


def test_a_byte_order_mark_stays_first_so_the_browser_still_strips_it():
    out, _ = rewritten(BOM[:2], BOM[2:] + b"id: 1\n")
    assert b"".join(out) == BOM + RETRY_LINE + b"\nid: 1\n"


# -- the check, on synthetic recordings ----------------------------------------


def relayed(ids: list[str], last_event_id: str | None = None, *, error: str | None = None) -> BrowserStream:
    body = b"".join(f"id: {n}\ndata: {{}}\n\n".encode() if n else b"data: {}\n\n" for n in ids)
    headers = {"accept": "text/event-stream"} | ({"last-event-id": last_event_id} if last_event_id else {})
    exchange = Exchange(
        "GET",
        "/events?interval=0.02&count=2",
        headers,
        status=200,
        headers=[("content-type", "text/event-stream")],
        chunks=[Chunk(0.01, body)],
        ended_at=None if error else 0.05,
        error=error,
    )
    return BrowserStream(exchange)


def seen(streams: list[BrowserStream], events: list[tuple[int, str]], **fields) -> SimpleNamespace:
    recording = BrowserRecording(
        count=BROWSER_COUNT,
        interval=0.02,
        retry_ms=20,
        streams=streams,
        events=[BrowserEvent(id, "{}", connection, 0.1) for connection, id in events],
        **({"ended": "complete"} | fields),
    )
    return SimpleNamespace(events=SimpleNamespace(browser=recording), crash=lambda exercise: None)


def test_the_check_passes_a_browser_that_resumed_after_the_last_id():
    app = seen([relayed(["1", "2"]), relayed(["3", "4"], "2")], [(1, "1"), (1, "2"), (2, "3"), (2, "4")])
    events_checks.test_events_browser(app)


def test_the_check_fails_events_without_ids():
    app = seen([relayed(["", ""]), relayed(["", ""])], [(1, ""), (1, ""), (2, ""), (2, "")])
    with pytest.raises(CheckFailed, match="without an id"):
        events_checks.test_events_browser(app)


def test_the_check_fails_an_app_that_starts_over_after_the_browser_reconnects():
    app = seen([relayed(["1", "2"]), relayed(["1", "2"], "2")], [(1, "1"), (1, "2"), (2, "1"), (2, "2")])
    with pytest.raises(CheckFailed, match="Last-Event-ID: 2, and your app sent event 1 next"):
        events_checks.test_events_browser(app)


def test_a_stream_that_ignores_count_gives_the_browser_no_reason_to_reconnect():
    app = seen([relayed(["1", "2", "3", "4"], error="still open")], [(1, "1"), (1, "2"), (1, "3"), (1, "4")])
    with pytest.raises(NotApplicable, match=r"events\.count"):
        events_checks.test_events_browser(app)


def test_a_page_cut_short_by_the_wait_is_no_verdict_but_a_wrong_resume_already_seen_is():
    unfinished = seen([relayed(["1"], error="still open")], [(1, "1")], ended="")
    with pytest.raises(Inconclusive, match="wait ran out"):
        events_checks.test_events_browser(unfinished)
    restarted = seen([relayed(["1", "2"]), relayed(["1"], "2", error="still open")], [(1, "1"), (1, "2"), (2, "1")])
    restarted.events.browser.ended = ""
    with pytest.raises(CheckFailed, match="sent event 1 next"):
        events_checks.test_events_browser(restarted)


def test_no_browser_means_not_run_and_a_broken_one_means_no_verdict():
    with pytest.raises(NotRun, match="Not run: no headless Chromium was found"):
        events_checks.test_events_browser(
            seen([], [], not_run="no headless Chromium was found (looked for chromium on PATH)")
        )
    with pytest.raises(Inconclusive, match="did not load the test page"):
        events_checks.test_events_browser(seen([], [], problem="Chromium did not load the test page within 30 s"))


# -- finding the browser --------------------------------------------------------


def test_without_chromium_on_path_none_is_found_and_the_probe_returns_at_once(monkeypatch, tmp_path):
    monkeypatch.delenv(browser.CHROMIUM_VARIABLE, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert browser.find_chromium() is None
    assert "no headless Chromium was found" in browser.why_missing()

    async def probe() -> dict[str, BrowserRecording]:
        never = asyncio.get_running_loop().create_future()  # an app that never runs: nothing waits for it
        async with asyncio.timeout(1):
            return await browse_events({"learner": never})

    started = time.perf_counter()
    recording = asyncio.run(probe())["learner"]
    assert recording.not_run and not recording.streams
    assert time.perf_counter() - started < 0.5


def test_the_browser_can_be_turned_off_or_named(monkeypatch):
    monkeypatch.setenv(browser.CHROMIUM_VARIABLE, "none")
    assert browser.find_chromium() is None and "turned off" in browser.why_missing()
    monkeypatch.setenv(browser.CHROMIUM_VARIABLE, "/no/such/chromium")
    assert browser.find_chromium() is None and "names no program" in browser.why_missing()


# -- a real browser ---------------------------------------------------------------


def chromium_processes(profile_prefix: str) -> list[str]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if profile_prefix in command:
            found.append(command)
    return found


@slow
@needs_chromium
def test_a_real_browser_resumes_on_the_reference_and_leaves_nothing_behind(reference, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where the browser's profile goes

    async def probe() -> dict[str, BrowserRecording]:
        loop = asyncio.get_running_loop()
        ready = loop.create_future()
        ready.set_result(reference.base_url)
        return await browse_events({"reference": ready})

    recording = asyncio.run(probe())["reference"]
    assert recording.problem == "" and recording.ended == "complete"
    assert [(event.connection, event.id) for event in recording.events] == [(1, "1"), (1, "2"), (2, "3"), (2, "4")]
    assert recording.streams[1].exchange.request_headers["last-event-id"] == "2"
    assert list(tmp_path.iterdir()) == []  # the profile is gone
    assert chromium_processes(str(tmp_path)) == []


NO_IDS_APP = """
import asyncio, json
from datetime import UTC, datetime
from typing import Annotated
from fastapi import FastAPI, Query
from fastapi.responses import StreamingResponse

app = FastAPI()


@app.get("/events")
async def events(
    interval: Annotated[float, Query(ge=0.01, le=60)] = 1.0,
    count: Annotated[int | None, Query(ge=1)] = None,
):
    async def stream():
        sent = 0
        while count is None or sent < count:
            if sent:
                await asyncio.sleep(interval)
            sent += 1
            yield f"data: {json.dumps({'seq': sent, 'time': datetime.now(UTC).isoformat()})}\\n\\n"

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
"""


def grade(target: Path, tmp_path: Path, env: dict[str, str] | None = None) -> dict:
    output = tmp_path / "results.json"
    command = [sys.executable, "-m", "grader", "check", str(target), "--exercise", "events", "--json", str(output)]
    finished = subprocess.run(
        command, capture_output=True, text=True, cwd=ROOT, timeout=300, env={**os.environ, **(env or {})}
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    return json.loads(output.read_text())


def browser_check(results: dict) -> dict:
    return next(check for check in results["checks"] if check["id"] == "events.browser")


@slow
@needs_chromium
def test_a_stream_without_ids_fails_in_the_browser(tmp_path):
    app = tmp_path / "no_ids.py"
    app.write_text(NO_IDS_APP)
    check = browser_check(grade(app, tmp_path))
    assert check["status"] == "failed", check
    assert "without an id" in check["message"] and check["hint"]


@slow
def test_without_chromium_the_check_is_not_run_and_costs_nothing(tmp_path):
    results = grade(REFERENCE_APP, tmp_path, {browser.CHROMIUM_VARIABLE: "none"})
    check = browser_check(results)
    assert check["status"] == "skipped" and check["not_run"]
    assert check["message"].startswith("Not run: the browser was turned off")
    assert results["score"] == results["max_score"] > 0  # full marks without it: it is not counted


def test_a_saved_reference_keeps_what_its_browser_saw(tmp_path):
    # A batch and watch mode calibrate against a reference recorded earlier and saved as JSON.
    app = seen([relayed(["1", "2"]), relayed(["3", "4"], "2")], [(1, "1"), (1, "2"), (2, "3"), (2, "4")])
    events = EventsRecording(0.33, 4, Exchange("GET", "/events"), [], [], [], 41, 2, Exchange("GET", "/events"), [])
    events.browser = app.events.browser
    recording = AppRecording("reference", StartRecording(True, 0.1), recordings={"events": events})
    save_calibration(tmp_path / "reference.json", Calibration(7, ["events"], recording))
    loaded = load_calibration(tmp_path / "reference.json").recording
    assert loaded.events is not None and loaded.events.browser == app.events.browser


@slow
@needs_chromium
def test_ctrl_c_while_the_browser_runs_leaves_no_browser_and_no_profile(tmp_path):
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    command = [sys.executable, "-m", "grader", "check", str(REFERENCE_APP), "--exercise", "events", "--no-html"]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env={**os.environ, "TMPDIR": str(temporary)},  # where the browser's profile is made
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **ctrl_c_reaches_it(),
    )
    try:
        deadline = time.monotonic() + 120
        while not chromium_processes(str(temporary)):  # until the browser runs
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the browser never started"
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, stdout + stderr
    assert list(temporary.glob("streamgrade-chromium-*")) == []
    assert chromium_processes(str(temporary)) == []
