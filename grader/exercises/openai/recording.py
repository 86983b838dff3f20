"""What the exercise's probes observed, as plain data: checks read these and nothing else."""

from __future__ import annotations

from dataclasses import dataclass, field

from grader.probes.disconnect import DisconnectRecording
from grader.recording import Exchange


@dataclass
class RawReply:
    """A request sent over a plain socket, with what the reply should be, and the response as it arrived."""

    body: str  # the JSON body sent, as text (shown in a reproduce command)
    reply: str  # the content the reply should hold: the last user message
    usage: dict[str, int] | None  # the usage it should report, when the body asked for it
    delay: float | None  # the delay asked for; None: not sent (the default)
    exchange: Exchange


@dataclass
class ClientChunk:
    """One chunk as the official client handed it to its caller, read the way the page's example reads it."""

    at: float  # seconds after the call began
    has_choices: bool
    content: str | None
    role: str | None
    finish_reason: str | None
    usage: dict[str, int] | None


@dataclass
class ClientRun:
    """One ``client.chat.completions.create(...)`` through the official ``openai`` package."""

    body: str  # the JSON body the call sends (for the learner's reproduce command)
    reply: str
    usage: dict[str, int] | None  # the usage expected; None when not asked for
    stream: bool
    delay: float
    chunks: list[ClientChunk] = field(default_factory=list)  # stream: every chunk the client yielded
    # stream false: what the returned chat.completion held (None if the call raised).
    completion: dict | None = None
    # What the client raised, as its caller sees it: "UnprocessableEntityError: Error code: 422".
    error: str | None = None
    error_status: int | None = None  # for an API status error, the HTTP status
    seconds: float = 0.0


@dataclass
class OpenaiRecording:
    delay: float  # the solo stream's delay, drawn per run
    content: list[RawReply]  # streams sent with a tiny delay: shape, sequence, [DONE]
    solo: RawReply  # one stream alone on the server: timing evidence
    concurrent: list[Exchange]  # several streams at once while the server is probed
    idle_latencies: list[float]
    busy_latencies: list[float]
    concurrent_delay: float = 0.2
    concurrent_reply: str = ""
    # On a second server at the same time (probes.probe_openai_more).
    clients: list[ClientRun] = field(default_factory=list)  # the official client, streaming
    completion: ClientRun | None = None  # the official client, stream false
    raw_completion: RawReply | None = None  # stream false over a plain socket: the JSON as sent
    malformed: list[tuple[str, RawReply]] = field(default_factory=list)  # (what is wrong, request)
    refused: ClientRun | None = None  # the official client sending messages=[]
    paced: list[RawReply] = field(default_factory=list)  # the default delay and a second one
    # On a third server (probes.probe_openai_disconnect).
    disconnect: DisconnectRecording | None = None

    def timed(self) -> list[RawReply]:
        """Every stream whose pacing is judged: the solo stream first."""
        return [self.solo, *self.paced]
