"""What the report shows of the chat exercise: when each token arrived, and the loop's latency."""

from __future__ import annotations

from dataclasses import dataclass

from grader.excerpts import Arrival, LearnerAnswered, arrivals
from grader.recording import AppRecording


@dataclass(frozen=True, kw_only=True)
class TokenSide:
    """One app's stream of tokens, and how fast its server answered a small request, idle and while streaming."""

    arrivals: list[Arrival]
    idle_latencies: list[float]
    busy_latencies: list[float]
    status: int | None = None  # what the stream's request was answered (None in results saved before it was kept)


@dataclass(frozen=True, kw_only=True)
class ChatEvidence(LearnerAnswered):
    delay: float
    prompt: str
    learner: TokenSide | None
    reference: TokenSide | None


def side(app: AppRecording) -> TokenSide | None:
    if app.chat is None:
        return None
    return TokenSide(
        status=app.chat.solo.status,
        arrivals=arrivals(app.chat.solo),
        idle_latencies=app.chat.idle_latencies,
        busy_latencies=app.chat.busy_latencies,
    )


def evidence(app: AppRecording, reference: AppRecording) -> ChatEvidence | None:
    chat = app.chat or reference.chat
    if chat is None:
        return None
    return ChatEvidence(delay=chat.delay, prompt=chat.solo_prompt, learner=side(app), reference=side(reference))
