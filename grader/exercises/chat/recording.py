"""What the chat probes record."""

from __future__ import annotations

from dataclasses import dataclass, field

from grader.recording import Exchange


@dataclass
class TimedReply:
    """A reply whose tokens are timed: sent with ``delay``, or with no delay parameter (None: the default)."""

    prompt: str  # what the reply should be (the default prompt when none was sent)
    delay: float | None
    exchange: Exchange
    prompt_sent: bool = True


@dataclass
class ChatRecording:
    delay: float  # the solo stream's delay, drawn per run
    content: list[tuple[str, Exchange]]  # (prompt, exchange) pairs sent with a tiny delay
    solo_prompt: str
    solo: Exchange  # one stream alone on the server: timing evidence
    concurrent: list[Exchange]  # several streams at once, while the server is probed
    idle_latencies: list[float]  # /openapi.json answered before the streams
    busy_latencies: list[float]  # ... and while they ran
    validation: list[tuple[str, Exchange]]  # (delay value, exchange) for delays that must be refused
    concurrent_delay: float = 0.2
    concurrent_prompt: str = ""  # what the concurrent streams were asked to send
    # Recorded on a second server at the same time (see probes/chat.py
    # probe_chat_more): a reply with no parameters at all, one at a second
    # delay drawn per run, and the allowed range's ends.
    paced: list[TimedReply] = field(default_factory=list)
    accepted: list[tuple[str, Exchange]] = field(default_factory=list)  # (delay value, exchange): must be 200

    def timed(self) -> list[TimedReply]:
        """Every reply whose pacing is judged: the solo stream first."""
        return [TimedReply(self.solo_prompt, self.delay, self.solo), *self.paced]
