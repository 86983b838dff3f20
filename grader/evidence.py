"""Evidence for reports: what the learner's app and the reference did, side by side.

A pure function of the recordings, producing plain JSON-ready data that is
small and capped: renderers draw timelines and transcripts from it without
ever seeing a recording. Everything here that came from the learner's app is
untrusted text; renderers escape it, this module only bounds its size.
"""

from __future__ import annotations

from typing import Any

from grader import sse
from grader.contract import MEMORY_BOUND
from grader.recording import AppRecording, Exchange, MemoryTrace
from grader.timing import arrival_at_offsets

TEXT_CAP = 300  # characters of one token or one transcript line shown
TRANSCRIPT_LINES = 80
TRANSCRIPT_BYTES = 16 * 1024
LOG_CAP = 32 * 1024
MEMORY_POINTS = 120
ARRIVALS_CAP = 200


def capped(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[... {len(text) - limit:,} more characters not shown]"


def arrivals(exchange: Exchange) -> list[list[Any]]:
    return [
        [round(chunk.at, 4), capped(chunk.data.decode("utf-8", "replace"), TEXT_CAP)]
        for chunk in exchange.chunks[:ARRIVALS_CAP]
    ]


def memory_curve(trace: MemoryTrace | None) -> dict[str, Any] | None:
    if trace is None:
        return None
    step = max(1, len(trace.samples) // MEMORY_POINTS)
    points = [[round(at, 3), rss - trace.before] for at, rss in trace.samples[::step]]
    return {
        "growth": trace.growth,
        "before": trace.before,
        "peak": trace.peak,
        "reset_ok": trace.reset_ok,
        "points": points,
    }


def transcript(body: bytes, problem_offset: int | None) -> dict[str, Any]:
    """The first lines of an event stream, each with its line ending named."""
    shown = body[:TRANSCRIPT_BYTES]
    lines = []
    for offset, raw, terminated in sse.iter_lines(shown, 0):
        end = offset + len(raw)
        ending = ""
        if terminated:
            ending = (
                "\\r\\n" if shown[end : end + 2] == b"\r\n" else ("\\n" if shown[end : end + 1] == b"\n" else "\\r")
            )
        lines.append(
            {
                "offset": offset,
                "text": capped(raw.decode("utf-8", "replace"), TEXT_CAP),
                "ending": ending,
                "problem": problem_offset is not None and offset == problem_offset,
            }
        )
        if len(lines) >= TRANSCRIPT_LINES:
            break
    return {"lines": lines, "total_bytes": len(body), "shown_bytes": sum(len(line["text"]) for line in lines)}


def chat_evidence(app: AppRecording) -> dict[str, Any] | None:
    if app.chat is None:
        return None
    return {
        "status": app.chat.solo.status,
        "arrivals": arrivals(app.chat.solo),
        "idle_latencies": app.chat.idle_latencies,
        "busy_latencies": app.chat.busy_latencies,
    }


def bigfile_evidence(app: AppRecording) -> dict[str, Any] | None:
    if app.bigfile is None:
        return None
    download = app.bigfile.download
    if download is None:
        return None
    return {
        "status": download.status,
        "seconds": round(download.seconds, 3),
        "received": download.received,
        "rate": download.rate,
        "largest_chunk": download.largest_chunk,
        "stopped_early": download.stopped_early,
        "memory": memory_curve(download.memory),
        "slow_memory": memory_curve(app.bigfile.slow_read.memory),
    }


def reference_again_evidence(app: AppRecording) -> dict[str, Any] | None:
    """The reference downloaded again beside a slow download (a batch's reference is recorded earlier)."""
    again = app.bigfile.reference_timed_again() if app.bigfile else None
    if again is None:
        return None  # no second timing, or none the check could use
    return {
        "received": again.received,
        "rate": again.rate,
        "whole_file_seconds": round(app.bigfile.file_size / again.rate, 3),
    }


def events_evidence(app: AppRecording) -> dict[str, Any] | None:
    if app.events is None:
        return None
    exchange = app.events.solo
    stream = sse.parse(exchange.body)
    problem = stream.first_problem or (stream.unfinished if exchange.error is None else None)
    ends = arrival_at_offsets(exchange.chunks, [event.end for event in stream.events])
    return {
        "status": exchange.status,
        "arrivals": [round(at, 4) for at in ends[:ARRIVALS_CAP]],
        "transcript": transcript(exchange.body, problem.offset if problem else None),
        "problem": {"offset": problem.offset, "message": problem.message} if problem else None,
    }


def measurement(app: AppRecording) -> dict[str, Any]:
    """Which of the app's figures are exact and which are sampled or coarse, in words for every report."""
    exact: list[str] = []
    sampled: list[str] = []
    bigfile = app.bigfile
    traces = (
        [download.memory for download in (bigfile.download, bigfile.slow_read) if download and download.memory]
        if bigfile
        else []
    )
    if any(not trace.exact for trace in traces):
        period = max(trace.sample_period for trace in traces)
        sampled.append(
            f"memory peaks: the largest of samples taken every {period * 1000:g} ms over the app's "
            "processes (no peak the kernel keeps could be reset here; a shorter peak can fall between "
            "two samples)"
        )
    elif traces:
        exact.append("memory peaks: the kernel's own peak over the app's processes, reset before each download")
    disconnect = app.events.disconnect if app.events else None
    if disconnect is not None and disconnect.cpu_uncertainty >= 1e-3:
        sampled.append(
            f"CPU time: counted by the system in steps, up to {disconnect.cpu_uncertainty * 1000:.0f} ms "
            "off over a measurement window; a difference that small is not judged"
        )
    elif disconnect is not None:
        exact.append("CPU time: to the nanosecond, over the app's processes")
    return {"backend": app.backend, "exact": exact, "sampled": sampled}


def crashes(app: AppRecording) -> list[dict[str, Any]]:
    """The exceptions each exercise's server logged, with the learner's own frames only."""
    return [
        {
            "exercise": exercise,
            "exception": capped(crash.exception, TEXT_CAP),
            "file": crash.file,
            "line": crash.line,
            "count": crash.count,
            "traceback": [capped(line, TEXT_CAP) for line in crash.traceback],
        }
        for exercise, logged in app.crashes.items()
        for crash in logged
    ]


def collect(app: AppRecording, reference: AppRecording) -> dict[str, Any]:
    """Evidence per exercise: settings, then the learner's and the reference's side."""
    evidence: dict[str, Any] = {"app": {"log": capped(app.log or app.start.log, LOG_CAP), "crashes": crashes(app)}}
    if app.chat is not None or reference.chat is not None:
        chat = app.chat or reference.chat
        evidence["chat"] = {
            "delay": chat.delay,
            "prompt": chat.solo_prompt,
            "learner": chat_evidence(app),
            "reference": chat_evidence(reference),
        }
    if app.bigfile is not None or reference.bigfile is not None:
        bigfile = app.bigfile or reference.bigfile
        evidence["bigfile"] = {
            "bound": MEMORY_BOUND,
            "size": bigfile.file_size,
            "slow_read_pause": bigfile.slow_read_pause,
            "learner": bigfile_evidence(app),
            "reference": bigfile_evidence(reference),
            "reference_again": reference_again_evidence(app),
        }
    if app.events is not None or reference.events is not None:
        events = app.events or reference.events
        evidence["events"] = {
            "interval": events.interval,
            "count": events.count,
            "learner": events_evidence(app),
            "reference": events_evidence(reference),
        }
    return evidence
