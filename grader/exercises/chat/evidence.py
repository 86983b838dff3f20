"""What the report shows of the chat exercise: when each token arrived, and the loop's latency."""

from __future__ import annotations

from typing import Any

from grader.excerpts import arrivals
from grader.recording import AppRecording


def side(app: AppRecording) -> dict[str, Any] | None:
    if app.chat is None:
        return None
    return {
        "status": app.chat.solo.status,
        "arrivals": arrivals(app.chat.solo),
        "idle_latencies": app.chat.idle_latencies,
        "busy_latencies": app.chat.busy_latencies,
    }


def evidence(app: AppRecording, reference: AppRecording) -> dict[str, Any] | None:
    chat = app.chat or reference.chat
    if chat is None:
        return None
    return {"delay": chat.delay, "prompt": chat.solo_prompt, "learner": side(app), "reference": side(reference)}
