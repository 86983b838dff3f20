"""Checks are pure functions of recordings: judged here on synthetic ones, no server."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from helpers import DELAY, PROMPT, chat_app, paced_tokens, stream

from grader.checkapi import CheckFailed, Inconclusive, NotApplicable
from grader.exercises.bigfile import test_bigfile as bigfile_checks
from grader.exercises.bigfile.recording import BigfileRecording, Download
from grader.exercises.chat import test_chat as chat_checks
from grader.exercises.chat.recording import TimedReply
from grader.exercises.events import test_events as events_checks
from grader.exercises.events.recording import DisconnectRecording, EventsMore, EventsRecording
from grader.recording import AppRecording, Chunk, Crash, Exchange, MemoryTrace, StartRecording

MiB = 2**20


REFERENCE_CHAT = chat_app(stream(paced_tokens()))


def test_tokens_spread_over_time_are_incremental():
    chat_checks.test_chat_incremental(chat_app(stream(paced_tokens())))


def test_a_buffered_reply_is_not_incremental():
    buffered = stream([(1.0, PROMPT.encode())])
    with pytest.raises(CheckFailed, match="arrived in 1 piece"):
        chat_checks.test_chat_incremental(chat_app(buffered))


def test_one_pair_of_tokens_merged_by_noise_is_still_incremental():
    times = paced_tokens()
    merged = [times[0], (times[2][0], times[1][1] + times[2][1]), *times[3:]]
    chat_checks.test_chat_incremental(chat_app(stream(merged)))


def test_a_first_token_one_delay_late_fails_relative_to_the_reference():
    late = chat_app(stream(paced_tokens(first=DELAY)))
    with pytest.raises(CheckFailed, match="should be sent at once"):
        chat_checks.test_chat_first_token(late, REFERENCE_CHAT)


def test_a_slow_machine_moves_the_first_token_bound_with_the_reference():
    slow_reference = chat_app(stream(paced_tokens(first=0.08)))
    chat_checks.test_chat_first_token(chat_app(stream(paced_tokens(first=0.15))), slow_reference)


@pytest.mark.parametrize(("delay", "passes"), [(0.2, True), (0.25, True), (0.4, False), (0.1, False)])
def test_pacing_follows_the_requested_delay(delay, passes):
    app = chat_app(stream(paced_tokens(delay=delay)))
    if passes:
        chat_checks.test_chat_pacing(app)
    else:
        with pytest.raises(CheckFailed, match="median"):
            chat_checks.test_chat_pacing(app)


def test_slow_probes_while_streaming_mean_a_blocked_loop():
    blocked = chat_app(stream(paced_tokens()), busy=[0.3, 0.25, 0.2, 0.15, 0.1, 0.3, 0.2, 0.1])
    with pytest.raises(CheckFailed, match="blocks the event loop"):
        chat_checks.test_chat_nonblocking(blocked, REFERENCE_CHAT)
    chat_checks.test_chat_nonblocking(chat_app(stream(paced_tokens()), busy=[0.004] * 8), REFERENCE_CHAT)


def test_an_app_slow_to_answer_before_its_streams_is_judged_by_that_wait_too():
    # A loaded machine: the reference's small requests waited 250 ms, this app's 626 ms while its
    # streams ran (a correct app behind a BaseHTTPMiddleware, Linux, load average 13).
    reference = chat_app(stream(paced_tokens()), busy=[0.25] * 8)
    loaded = chat_app(stream(paced_tokens()), busy=[0.626] * 8)
    with pytest.raises(CheckFailed, match="blocks the event loop"):
        chat_checks.test_chat_nonblocking(loaded, reference)  # against the reference's wait alone
    loaded.chat.idle_latencies = [0.9, 0.4, 0.35]  # before its streams: the first also built the schema
    chat_checks.test_chat_nonblocking(loaded, reference)
    # A blocked loop still fails: its requests wait for the sleeps, far past twice its own idle wait.
    blocked = chat_app(stream(paced_tokens()), busy=[1.04] * 8)
    blocked.chat.idle_latencies = [0.22, 0.1, 0.15]
    with pytest.raises(CheckFailed, match="before its streams opened in 100 ms"):
        chat_checks.test_chat_nonblocking(blocked, reference)


def concurrent_streams(arrivals: list[list[float]], busy: float = 0.004) -> AppRecording:
    """Streams asked for three tokens 0.2 s apart, sent at the same moment, whose pieces arrived at ``arrivals``."""
    app = chat_app(stream(paced_tokens()), busy=[busy] * 8)
    app.chat.concurrent_prompt = "a b c"
    app.chat.concurrent = [stream([(at, b"x ") for at in times]) for times in arrivals]
    return app


SIDE_BY_SIDE = [0.001, 0.2, 0.4]
# Each sleep of each stream held the server: one stream moves at a time.
TAKING_TURNS = [[0.001, 0.2, 0.8], [0.002, 0.4, 1.0], [0.003, 0.6, 1.2]]


@pytest.mark.parametrize(
    ("arrivals", "passes"),
    [
        ([SIDE_BY_SIDE, [0.002, 0.201, 0.401], [0.003, 0.202, 0.402]], True),
        ([[0.001, 0.4, 0.8], [0.002, 0.401, 0.801], [0.003, 0.402, 0.802]], True),  # paced twice too slow
        ([[0.2, 0.4, 0.6], [0.201, 0.401, 0.601], [0.202, 0.402, 0.602]], True),  # a wait before the first token
        ([SIDE_BY_SIDE, [0.002, 0.35, 0.401], [0.003, 0.202, 0.55]], True),  # two pieces read late on a busy machine
        ([[0.2 * n + 0.001 * i for n in range(5)] for i in range(3)], True),  # words and spaces apart, on time
        ([[0.2 * n + 0.001 * i for n in range(22)] for i in range(3)], True),  # more pieces than asked, side by side
        # Started a tenth of a second apart (a correct app's sync generators, their threads late on a loaded
        # machine): most pieces arrive alone, but the streams did not take longer together.
        ([[0.1 * i + 0.2 * n for n in range(3)] for i in range(3)], True),
        (TAKING_TURNS, False),
        ([[0.2, 0.8, 1.4], [0.4, 1.0, 1.6], [0.6, 1.2, 1.8]], False),  # taking turns, sleeping before each token
    ],
)
def test_streams_that_take_turns_mean_a_blocked_loop_whatever_the_reference_waited(arrivals, passes):
    # The reference's small requests waited 300 ms (a loaded machine): the wait alone can't tell.
    slow_reference = chat_app(stream(paced_tokens()), busy=[0.3] * 8)
    app = concurrent_streams(arrivals, busy=0.2)
    if passes:
        chat_checks.test_chat_nonblocking(app, slow_reference)
    else:
        with pytest.raises(CheckFailed, match="took turns"):
            chat_checks.test_chat_nonblocking(app, slow_reference)


# Twice the delay asked for (a sleep twice over), the streams started a tenth
# of a second apart on a loaded machine: every piece arrives alone, and the
# streams span twice what was asked, as this app's stream alone does.
SLOW_STARTED_APART = [[0.1 * i + 0.4 * n for n in range(3)] for i in range(3)]
# The same app taking turns: each of its 0.4 s sleeps holds the server.
SLOW_TAKING_TURNS = [[0.001, 0.4, 1.6], [0.002, 0.8, 2.0], [0.003, 1.2, 2.4]]


def test_an_app_slower_than_asked_is_judged_by_its_own_pace_beside_other_streams():
    slow_reference = chat_app(stream(paced_tokens()), busy=[0.3] * 8)
    app = concurrent_streams(SLOW_STARTED_APART, busy=0.2)
    app.chat.solo = stream(paced_tokens(delay=2 * DELAY))  # alone, it takes twice as long as asked
    chat_checks.test_chat_nonblocking(app, slow_reference)
    # Judged against the waits asked for, those streams would have taken turns.
    app.chat.solo = stream(paced_tokens())
    with pytest.raises(CheckFailed, match="took turns"):
        chat_checks.test_chat_nonblocking(app, slow_reference)
    taking_turns = concurrent_streams(SLOW_TAKING_TURNS, busy=0.2)
    taking_turns.chat.solo = stream(paced_tokens(delay=2 * DELAY))
    with pytest.raises(CheckFailed, match="took turns"):
        chat_checks.test_chat_nonblocking(taking_turns, slow_reference)


def events_beside(arrivals: list[list[float]], solo_interval: float) -> AppRecording:
    """Events asked for at 0.2 s, four alone at ``solo_interval``, three streams of three arriving at ``arrivals``."""
    solo = stream([(0.001 + n * solo_interval, b"id: 1\ndata: {}\n\n") for n in range(4)], "text/event-stream")
    app = events_app(solo)
    events = app.events
    events.concurrent_count, events.concurrent_interval = 3, 0.2
    events.concurrent = [stream([(at, b"id: 1\ndata: {}\n\n") for at in times]) for times in arrivals]
    events.busy_latencies = [0.2] * 8
    return app


def test_events_slower_than_asked_started_apart_are_side_by_side():
    # What CI's portable bank met once: events_double_interval's streams, started apart under load.
    reference = events_app(stream([(0.001, b"")]))
    reference.events.busy_latencies = [0.3] * 8
    events_checks.test_events_nonblocking(events_beside(SLOW_STARTED_APART, 0.4), reference)
    with pytest.raises(CheckFailed, match="took turns"):
        events_checks.test_events_nonblocking(events_beside(SLOW_TAKING_TURNS, 0.4), reference)
    with pytest.raises(CheckFailed, match="took turns"):
        events_checks.test_events_nonblocking(events_beside(TAKING_TURNS, 0.2), reference)


@pytest.mark.parametrize(
    ("content_type", "passes"),
    [
        ("text/plain; charset=utf-8", True),
        ("text/plain", True),
        ("application/json", False),
        ("text/plain; charset=latin-1", False),
    ],
)
def test_chat_media_type_wants_text_plain_in_utf8(content_type, passes):
    app = chat_app(stream(paced_tokens(), content_type=content_type))
    chat_checks.test_chat_status(app)  # the status alone: any media type
    if passes:
        chat_checks.test_chat_media_type(app)
    else:
        with pytest.raises(CheckFailed):
            chat_checks.test_chat_media_type(app)


def events_app(solo: Exchange, disconnect: DisconnectRecording | None = None) -> AppRecording:
    events = EventsRecording(
        interval=0.2,
        count=4,
        solo=solo,
        concurrent=[],
        idle_latencies=[0.002],
        busy_latencies=[0.002],
        resume_from=41,
        resume_count=2,
        resume=solo,
        validation=[],
        disconnect=disconnect or DisconnectRecording(5, 5, 0.5, 0.025, 0.001, True),
    )
    return AppRecording("app", StartRecording(True, 0.5), recordings={"events": events})


def sse_stream(body: bytes) -> Exchange:
    return stream([(0.001, body)], content_type="text/event-stream")


def test_framing_points_at_the_first_bad_line():
    body = b'id: 1\ndata: {"seq": 1}\n\nData: {"seq": 2}\n\n'
    with pytest.raises(CheckFailed, match=r"At byte 24 .*did you mean 'data"):
        events_checks.test_events_framing(events_app(sse_stream(body)))


def test_framing_flags_an_event_left_without_its_blank_line():
    body = b'id: 1\ndata: {"seq": 1}\n\nid: 2\ndata: {"seq": 2}\n'
    with pytest.raises(CheckFailed, match="ended before the blank line"):
        events_checks.test_events_framing(events_app(sse_stream(body)))


def test_framing_accepts_crlf_comments_and_retry():
    body = b'retry: 3000\r\n\r\n: ping\r\n\r\nid: 1\r\ndata: {"seq": 1}\r\n\r\n'
    events_checks.test_events_framing(events_app(sse_stream(body)))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"seq": 1, "time": "2026-01-01T00:00:00"}', "no time zone"),
        (b'{"seq": "1", "time": "2026-01-01T00:00:00+00:00"}', "integer seq"),
        (b"seq=1", "not JSON"),
        (b'{"seq": 1, "time": "2026-01-01T02:00:00+02:00"}', "not UTC"),
    ],
)
def test_payload_problems_are_named(data, message):
    with pytest.raises(CheckFailed, match=message):
        events_checks.test_events_payload(events_app(sse_stream(b"id: 1\ndata: " + data + b"\n\n")))


def timed_events(arrivals: list[float]) -> Exchange:
    body = [(at, f'id: {n}\ndata: {{"seq": {n}}}\n\n'.encode()) for n, at in enumerate(arrivals, start=1)]
    return stream(body, content_type="text/event-stream")


def test_events_sent_one_by_one_too_fast_are_incremental_even_when_the_first_is_read_late():
    # A fixed 0.2 s sleep at interval=0.36, its first event read 75 ms late on a
    # loaded machine (measured): 0.525 s from first to last. Sent one by one all the
    # same; the wrong gaps are events.pacing's verdict, not this one's.
    app = events_app(timed_events([0.875, 1.0, 1.229, 1.4]))
    app.events.interval = 0.36
    events_checks.test_events_incremental(app)


def test_events_sent_in_two_bursts_are_not_incremental():
    app = events_app(timed_events([0.01, 0.012, 1.0, 1.002]))
    app.events.interval = 0.36
    with pytest.raises(CheckFailed, match="2 burst"):
        events_checks.test_events_incremental(app)


def stamped_events(stamps: list[float], arrivals: list[float]) -> AppRecording:
    """Events whose time fields say ``stamps`` (seconds after the request) and that arrived at ``arrivals``."""
    start = 1_800_000_000.0
    body = []
    for n, (stamp, at) in enumerate(zip(stamps, arrivals, strict=True), start=1):
        time = datetime.fromtimestamp(start + stamp, UTC).isoformat()
        body.append((at, f'id: {n}\ndata: {{"seq": {n}, "time": "{time}"}}\n\n'.encode()))
    app = events_app(stream(body, content_type="text/event-stream"))
    app.events.solo.sent_wall = start
    app.events.interval = 0.36
    return app


def test_one_stall_in_delivery_does_not_make_per_event_times_look_taken_once():
    # Measured on the reference at a load average of 40: stamps 0.361 s apart,
    # arrivals 0.652, 0.067 and 0.373 s apart.
    stamps = [0.01, 0.371, 0.732, 1.094]
    events_checks.test_events_live_timestamps(stamped_events(stamps, [0.02, 0.672, 0.739, 1.112]))


def test_a_time_taken_once_fails_live_timestamps():
    with pytest.raises(CheckFailed, match="not taken per event"):
        events_checks.test_events_live_timestamps(stamped_events([0.01] * 4, [0.02, 0.38, 0.74, 1.1]))


def stamped_stream(stamps: list[float], arrivals: list[float]) -> Exchange:
    return stamped_events(stamps, arrivals).events.solo


def with_default(stamps: list[float], arrivals: list[float]) -> AppRecording:
    """Events paced right at interval=0.36, and ``?count=2`` with no interval stamped and read as given."""
    app = stamped_events([0.01, 0.371, 0.732, 1.094], [0.012, 0.373, 0.734, 1.096])
    default = stamped_stream(stamps, arrivals)
    default.sent_wall = app.events.solo.sent_wall
    app.events.more = EventsMore(default=default, default_count=2, accepted=[], unexpected_ids=[])
    return app


def test_a_wrong_default_interval_fails_pacing_though_a_stall_stretched_its_one_gap():
    # A 0.5 s default, its second event read 200 ms late: the arrivals alone
    # (0.69 s apart) pass as 1 s within the tolerance; the events' times don't.
    app = with_default([0.001, 0.501], [0.003, 0.693])
    with pytest.raises(CheckFailed, match=r"no interval parameter.*were made \(by their `time`\) a median 500 ms"):
        events_checks.test_events_pacing(app, app)


def test_a_right_default_interval_read_late_passes_pacing():
    # The grader's loop stalled 420 ms on the second read: arrivals 1.42 s apart, times 1.0 s.
    app = with_default([0.001, 1.001], [0.003, 1.423])
    events_checks.test_events_pacing(app, app)


def test_times_taken_once_leave_pacing_to_the_arrivals():
    # events.live-timestamps fails such times; the pacing is judged on when the events came.
    right = with_default([0.001, 0.001], [0.003, 1.004])
    events_checks.test_events_pacing(right, right)
    wrong = with_default([0.001, 0.001], [0.003, 0.504])
    with pytest.raises(CheckFailed, match=r"the events came a median 501 ms"):
        events_checks.test_events_pacing(wrong, wrong)


def quiet_after(quiet_cpu: float, streaming_cpu: float = 0.025) -> AppRecording:
    return events_app(sse_stream(b"data: x\n\n"), DisconnectRecording(5, 5, 0.5, streaming_cpu, quiet_cpu, True))


def test_a_server_still_busy_after_disconnect_fails():
    reference = quiet_after(0.001)
    with pytest.raises(CheckFailed, match="still producing events for nobody"):
        events_checks.test_events_disconnect(quiet_after(0.015), reference)
    events_checks.test_events_disconnect(quiet_after(0.003), reference)


def test_a_cpu_difference_within_the_readings_steps_is_inconclusive_not_failed():
    # CPU time counted in 10 ms steps (the portable backend): 20 ms over the allowance can be the steps alone.
    def coarse(quiet_cpu: float) -> AppRecording:
        disconnect = DisconnectRecording(5, 5, 1.5, 0.05, quiet_cpu, True, cpu_uncertainty=0.01)
        return events_app(sse_stream(b"data: x\n\n"), disconnect)

    reference = coarse(0.0)  # allowed: 0.0 + 0.3 * 0.05 = 0.015
    with pytest.raises(Inconclusive, match="too coarse to tell"):
        events_checks.test_events_disconnect(coarse(0.03), reference)
    with pytest.raises(CheckFailed, match="still producing events for nobody"):
        events_checks.test_events_disconnect(coarse(0.05), reference)
    events_checks.test_events_disconnect(coarse(0.01), reference)


def test_one_cpu_tick_over_a_bound_below_a_tick_is_decided_by_the_wakeups():
    # Measured on the portable backend (10 ms ticks, 1.5 s windows): the reference
    # streams on 20 to 30 ms of CPU (bound 0 + 0.3 x 30 = 9 ms) and a correct server
    # reads one tick (10 ms) after the clients left in some runs.
    def ticks(quiet_cpu: float, quiet_wakeups: int) -> AppRecording:
        disconnect = DisconnectRecording(
            5,
            5,
            1.5,
            0.03,
            quiet_cpu,
            True,
            cpu_uncertainty=0.01,
            interval=0.02,
            idle_window=0.25,
            idle_wakeups=3,
            streaming_wakeups=90,
            quiet_wakeups=quiet_wakeups,
        )
        return events_app(sse_stream(b"data: x\n\n"), disconnect)

    reference = ticks(0.0, 15)
    events_checks.test_events_disconnect(ticks(0.01, 16), reference)
    # A producer left running still fails by its wake-ups, whatever the ticks say.
    with pytest.raises(CheckFailed, match="woke up 80 times"):
        events_checks.test_events_disconnect(ticks(0.01, 80), reference)
    # And CPU beyond the ticks' reach fails by itself.
    with pytest.raises(CheckFailed, match="still producing events for nobody"):
        events_checks.test_events_disconnect(ticks(0.05, 16), reference)


def woken(quiet: int, idle: int = 3, quiet_cpu: float = 0.006) -> AppRecording:
    """A disconnect recording with wake-ups: 5 streams at 0.01 s, idle over 0.25 s, quiet over 0.5 s."""
    return events_app(
        sse_stream(b"data: x\n\n"),
        DisconnectRecording(
            5,
            5,
            0.5,
            0.02,
            quiet_cpu,
            True,
            interval=0.01,
            idle_window=0.25,
            idle_wakeups=idle,
            streaming_wakeups=60,
            quiet_wakeups=quiet,
        ),
    )


def test_cheap_work_left_running_after_disconnect_fails_by_its_wakeups():
    # Measured on a producer that only queues a number: 48 to 50 wake-ups in
    # 0.5 s against the reference's 5, with CPU under the CPU bound.
    reference = woken(5, quiet_cpu=0.001)
    with pytest.raises(CheckFailed, match="woke up 48 times"):
        events_checks.test_events_disconnect(woken(48), reference)
    events_checks.test_events_disconnect(woken(8), reference)


def test_an_app_that_wakes_up_on_its_own_when_idle_is_no_leak():
    # A heartbeat of its own: 20 wake-ups in 0.25 s before any stream opened.
    events_checks.test_events_disconnect(woken(45, idle=20), woken(5, quiet_cpu=0.001))


def test_streams_that_end_by_themselves_give_the_disconnect_no_evidence():
    ended = events_app(
        sse_stream(b"data: x\n\n"),
        DisconnectRecording(5, 5, 0.5, 0.02, 0.0, True, ended_early=["it ended"] * 5, interval=0.01),
    )
    with pytest.raises(CheckFailed, match="could not be seen"):
        events_checks.test_events_disconnect(ended, quiet_after(0.001))


def test_a_server_that_stops_answering_after_disconnect_fails():
    wedged = events_app(sse_stream(b"data: x\n\n"), DisconnectRecording(5, 5, 0.5, 0.02, 0.0, False))
    with pytest.raises(CheckFailed, match="stopped answering"):
        events_checks.test_events_disconnect(wedged, quiet_after(0.001))


@pytest.mark.parametrize(
    "stamp", [b"2026-01-01T00:00:00+00:00", b"2026-01-01T00:00:00Z", b"2026-01-01T00:00:00.5-00:00"]
)
def test_a_utc_time_passes_whichever_way_it_says_utc(stamp):
    data = b'{"seq": 1, "time": "' + stamp + b'"}'
    events_checks.test_events_payload(events_app(sse_stream(b"id: 1\ndata: " + data + b"\n\n")))


def with_unexpected_ids(*answers: tuple[str, Exchange]) -> AppRecording:
    app = events_app(sse_stream(b""))
    app.events.more = EventsMore(default=sse_stream(b""), default_count=2, accepted=[], unexpected_ids=list(answers))
    return app


def test_an_unexpected_last_event_id_starts_from_one_and_never_gives_a_500():
    huge = "1" * 25
    from_one = sse_stream(b"id: 1\ndata: {}\n\nid: 2\ndata: {}\n\n")
    after_huge = sse_stream(f"id: {int(huge) + 1}\ndata: {{}}\n\n".encode())
    events_checks.test_events_unexpected_id(with_unexpected_ids(("abc", from_one), (huge, after_huge)))
    events_checks.test_events_unexpected_id(with_unexpected_ids(("-3", from_one), (huge, from_one)))
    crashed = Exchange("GET", "/events", status=500, chunks=[Chunk(0.001, b"Internal Server Error")])
    with pytest.raises(CheckFailed, match="status 500"):
        events_checks.test_events_unexpected_id(with_unexpected_ids(("abc", crashed)))
    negative = sse_stream(b"id: -2\ndata: {}\n\n")
    with pytest.raises(CheckFailed, match="start at event 1"):
        events_checks.test_events_unexpected_id(with_unexpected_ids(("-3", negative)))


def chat_with(paced: list[TimedReply], solo: Exchange | None = None) -> AppRecording:
    app = chat_app(solo or stream(paced_tokens()))
    app.chat.paced = paced
    return app


def timed_replies(*firsts: float) -> list[TimedReply]:
    """Replies at the default delay and at 0.5 s whose first tokens came at ``firsts``."""
    return [
        TimedReply("a b", delay, stream([(first, b"a "), (first + (delay or DELAY), b"b")]))
        for first, delay in zip(firsts, (None, 0.5), strict=True)
    ]


def test_one_stalled_first_token_among_the_timed_replies_is_no_wait_before_it():
    # The solo stream's first token 150 ms late on a loaded machine (bound 4 + 100 ms),
    # the second server's replies at once: a stall, not a wait before the first token.
    reference = chat_with(timed_replies(0.004, 0.004), stream(paced_tokens(first=0.004)))
    chat_checks.test_chat_first_token(
        chat_with(timed_replies(0.005, 0.006), stream(paced_tokens(first=0.15))), reference
    )


def test_a_wait_before_the_first_token_fails_on_most_timed_replies():
    reference = chat_with(timed_replies(0.004, 0.004), stream(paced_tokens(first=0.004)))
    sleeps_first = chat_with(timed_replies(0.2, 0.5), stream(paced_tokens(first=DELAY)))
    with pytest.raises(CheckFailed, match="3 of 3 timed replies were late"):
        chat_checks.test_chat_first_token(sleeps_first, reference)


def test_pacing_is_timed_on_the_contracts_tokens_not_on_the_pieces_written():
    # A word and its space sent as two pieces, each DELAY after the other: a token every 2 x DELAY.
    pieces = [piece for token in (b"a", b"b", b"c", b"d", b"e", b"f") for piece in (token, b" ")][:-1]
    split = stream([(0.002 + index * DELAY, piece) for index, piece in enumerate(pieces)])
    with pytest.raises(CheckFailed, match="median 400 ms"):
        chat_checks.test_chat_pacing(chat_app(split))
    # One token sent in two pieces at once is still one token on time.
    halves = [
        (at + extra, half)
        for at, token in paced_tokens()
        for extra, half in ((0, token[:1]), (0.001, token[1:]))
        if half
    ]
    chat_checks.test_chat_pacing(chat_app(stream(halves)))


def test_pacing_is_judged_at_every_delay_asked_for_and_at_the_default():
    second = TimedReply("x y z", 0.4, stream([(0.002, b"x "), (0.402, b"y "), (0.802, b"z")]))
    default = TimedReply(
        "Hello from FastAPI!",
        None,
        stream([(0.002, b"Hello "), (0.202, b"from "), (0.402, b"FastAPI!")]),
        prompt_sent=False,
    )
    chat_checks.test_chat_pacing(chat_with([default, second]))
    fixed = TimedReply("x y z", 0.4, stream([(0.002, b"x "), (0.202, b"y "), (0.402, b"z")]))
    with pytest.raises(CheckFailed, match=r"Asked for delay=0\.4"):
        chat_checks.test_chat_pacing(chat_with([default, fixed]))
    wrong_default = TimedReply(
        "Hello from FastAPI!",
        None,
        stream([(0.002, b"Hello "), (0.102, b"from "), (0.202, b"FastAPI!")]),
        prompt_sent=False,
    )
    with pytest.raises(CheckFailed, match="With no delay parameter"):
        chat_checks.test_chat_pacing(chat_with([wrong_default, second]))


def bigfile_app(download: Download) -> AppRecording:
    missing = Exchange("GET", "/bigfile", status=404, headers=[("content-type", "application/json")])
    recording = BigfileRecording(
        file_name="download-1234.bin",
        file_size=256 * MiB,
        file_sha256="ab" * 32,
        download=download,
        slow_read=download,
        slow_read_pause=0.8,
        missing=missing,
        ranges=[],
        head=missing,
    )
    return AppRecording("app", StartRecording(True, 0.5), recordings={"bigfile": recording})


def a_download(growth: int = 2 * MiB, largest: int = 65536, **headers: str) -> Download:
    header_list = [
        ("content-length", str(256 * MiB)),
        ("content-type", "application/octet-stream"),
        ("content-disposition", 'attachment; filename="download-1234.bin"'),
    ]
    header_list += [(name.replace("_", "-"), value) for name, value in headers.items()]
    memory = MemoryTrace(True, 40 * MiB, 40 * MiB + growth)
    return Download(200, header_list, 256 * MiB, "ab" * 32, 1.0, 4096, largest, memory)


def test_memory_growth_within_32_mib_passes_and_beyond_fails():
    bigfile_checks.test_bigfile_memory(bigfile_app(a_download(growth=31 * MiB)))
    with pytest.raises(CheckFailed, match=r"grew by 256\.0 MiB.*one block"):
        bigfile_checks.test_bigfile_memory(bigfile_app(a_download(growth=256 * MiB, largest=256 * MiB)))


def test_memory_an_earlier_slow_read_left_behind_does_not_hide_the_downloads_growth():
    # The slow read left 260 MiB in a queue; the full download starts from
    # there and its own peak is no higher: growth counts from before the slow read.
    app = bigfile_app(a_download())
    app.bigfile.slow_read = a_download(growth=260 * MiB)
    app.bigfile.download.memory = MemoryTrace(True, 300 * MiB, 300 * MiB)
    with pytest.raises(CheckFailed, match=r"grew by 260\.0 MiB \(from 40\.0 MiB"):
        bigfile_checks.test_bigfile_memory(app)


def test_memory_of_a_download_on_a_server_of_its_own_counts_from_that_servers_start():
    # Recorded alone, the download had a server of its own, beside the slow read:
    # the other server's lower starting point is not this one's.
    app = bigfile_app(a_download())
    app.bigfile.slow_read = a_download()
    app.bigfile.slow_read.memory = MemoryTrace(True, 30 * MiB, 30 * MiB)
    app.bigfile.download.memory = MemoryTrace(True, 50 * MiB, 70 * MiB)
    app.bigfile.download_own_server = True
    bigfile_checks.test_bigfile_memory(app)  # 20 MiB from its own start
    app.bigfile.download_own_server = False  # one server: 40 MiB from before the slow read
    with pytest.raises(CheckFailed, match=r"grew by 40\.0 MiB \(from 30\.0 MiB"):
        bigfile_checks.test_bigfile_memory(app)


def sampled(growth: int, samples: int) -> Download:
    download = a_download()
    trace = [(index * 0.02, 40 * MiB + growth) for index in range(samples)]
    download.memory = MemoryTrace(False, 40 * MiB, 40 * MiB + growth, trace, 0.02)
    return download


def test_sampled_memory_judges_like_the_kernels_peak_when_the_download_was_seen_often():
    bigfile_checks.test_bigfile_memory(bigfile_app(sampled(2 * MiB, samples=40)))
    with pytest.raises(CheckFailed, match=r"grew by 256\.0 MiB"):
        bigfile_checks.test_bigfile_memory(bigfile_app(sampled(256 * MiB, samples=40)))
    # Sampled growth over the bound is a real reading, however few the samples: it fails.
    with pytest.raises(CheckFailed):
        bigfile_checks.test_bigfile_memory(bigfile_app(sampled(256 * MiB, samples=2)))


def test_a_download_too_short_for_sampled_memory_is_inconclusive_not_passed():
    with pytest.raises(Inconclusive, match="too few to say"):
        bigfile_checks.test_bigfile_memory(bigfile_app(sampled(2 * MiB, samples=2)))
    # The kernel's peak needs no samples.
    bigfile_checks.test_bigfile_memory(bigfile_app(a_download(growth=2 * MiB)))


def test_unreadable_memory_is_not_the_learners_failure():
    download = a_download()
    download.memory = None
    with pytest.raises(NotApplicable):
        bigfile_checks.test_bigfile_memory(bigfile_app(download))


def test_memory_never_passes_on_a_download_that_served_nothing():
    # A wrong path opened in the generator: 200, then the body broke off at once.
    empty = a_download()
    empty.received, empty.error, empty.broken = 0, "the server closed the connection", True
    crashed = bigfile_app(empty)
    for check in (bigfile_checks.test_bigfile_memory, bigfile_checks.test_bigfile_backpressure):
        with pytest.raises(CheckFailed, match="delivered 0 of the file's"):
            check(crashed)
    crashed.crashes["bigfile"] = [Crash("FileNotFoundError: [Errno 2] No such file", "/kit/app.py", 13, ["x"])]
    with pytest.raises(CheckFailed, match=r"your app raised an error\.\nFileNotFoundError.*\(app\.py, line 13\)"):
        bigfile_checks.test_bigfile_memory(crashed)


def test_memory_is_judged_on_a_slow_download_that_was_still_serving():
    slow = a_download()
    slow.received, slow.stopped_early = 3 * MiB, "stopped after 7.0 s with 3,145,728 bytes received"
    bigfile_checks.test_bigfile_memory(bigfile_app(slow))
    hungry = a_download(growth=256 * MiB)
    hungry.received, hungry.stopped_early = 0, "stopped after 7.0 s with 0 bytes received"
    with pytest.raises(CheckFailed, match="grew by 256"):  # growth is evidence enough to fail
        bigfile_checks.test_bigfile_memory(bigfile_app(hungry))


@pytest.mark.parametrize(
    ("header", "passes"),
    [
        ('attachment; filename="download-1234.bin"', True),
        ("attachment; filename=download-1234.bin", True),
        ("attachment; filename*=UTF-8''download-1234.bin", True),
        ('inline; filename="download-1234.bin"', False),
        ('attachment; filename="other.bin"', False),
    ],
)
def test_content_disposition_must_name_the_file_as_an_attachment(header, passes):
    assert bigfile_checks.disposition_names(header, "download-1234.bin") is passes


def test_a_download_ten_times_slower_than_the_reference_fails():
    slow = a_download()
    slow.seconds = 12.0
    with pytest.raises(CheckFailed, match="times slower"):
        bigfile_checks.test_bigfile_throughput(bigfile_app(slow), bigfile_app(a_download()))


def test_ranges_never_pass_on_requests_that_were_not_made():
    # The full download offers ranges, but the first GET did not, so the
    # probe sent no range request: the check must not pass on an empty list.
    app = bigfile_app(a_download(accept_ranges="bytes"))
    app.bigfile.ranges_skipped = "GET /bigfile answered without Accept-Ranges: bytes (got (none))"
    with pytest.raises(CheckFailed, match="range requests were not tried"):
        bigfile_checks.test_bigfile_range(app)
    app.bigfile.ranges_skipped = ""
    with pytest.raises(CheckFailed, match="range requests were not tried"):
        bigfile_checks.test_bigfile_range(app)


def test_throughput_is_judged_against_the_slower_of_the_two_reference_downloads():
    reference = bigfile_app(a_download())  # 1.0 s
    learner = a_download()
    learner.seconds = 12.0
    app = bigfile_app(learner)
    app.bigfile.reference_again = a_download()
    app.bigfile.reference_again.seconds = 2.0  # the machine got busier: 6 times slower passes
    bigfile_checks.test_bigfile_throughput(app, reference)
    app.bigfile.reference_again.seconds = 0.5  # faster than recorded: the recorded time judges
    with pytest.raises(CheckFailed, match="on the same machine"):
        bigfile_checks.test_bigfile_throughput(app, reference)
    app.bigfile.reference_again.seconds, app.bigfile.reference_again.error = 2.0, "ReadError"  # broke: not a measure
    with pytest.raises(CheckFailed, match="on the same machine"):
        bigfile_checks.test_bigfile_throughput(app, reference)


def test_head_must_give_the_headers_get_gives():
    app = bigfile_app(a_download(accept_ranges="bytes"))
    get_headers = app.bigfile.download.headers
    app.bigfile.head = Exchange("HEAD", "/bigfile", status=200, headers=list(get_headers))
    bigfile_checks.test_bigfile_head(app)
    app.bigfile.head = Exchange("HEAD", "/bigfile", status=200, headers=[("content-length", str(256 * MiB))])
    with pytest.raises(CheckFailed, match="content-type"):
        bigfile_checks.test_bigfile_head(app)


def openai_stream(first: float, delay: float, tokens: int = 4):
    """A raw reply of exercise 5 whose first token arrives ``first`` s after the request, the rest ``delay`` apart."""
    import json as json_module

    from grader.exercises.openai.recording import RawReply

    def event(content: str) -> bytes:
        chunk = {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": content}}]}
        return f"data: {json_module.dumps(chunk)}\n\n".encode()

    chunks = [Chunk(first + index * delay, event(f"t{index} ")) for index in range(tokens)]
    chunks.append(Chunk(first + tokens * delay, b"data: [DONE]\n\n"))
    exchange = Exchange("POST", "/v1/chat/completions", status=200, chunks=chunks)
    return RawReply(body="{}", reply="", usage=None, delay=delay, exchange=exchange)


def openai_app(*firsts: float, delay: float = 0.25):
    from types import SimpleNamespace

    replies = [openai_stream(first, delay) for first in firsts]
    recorded = SimpleNamespace(timed=lambda: replies)
    return SimpleNamespace(openai=recorded)


def test_openai_one_stalled_first_token_among_the_timed_replies_is_no_wait_before_it():
    from grader.exercises.openai import test_openai as openai_checks

    openai_checks.test_openai_first_token(openai_app(0.2, 0.005, 0.004), openai_app(0.003, 0.004, 0.004))


def test_openai_a_wait_before_the_first_token_fails_on_most_timed_replies():
    from grader.exercises.openai import test_openai as openai_checks

    with pytest.raises(CheckFailed, match="3 of 3 timed replies were late"):
        openai_checks.test_openai_first_token(openai_app(0.25, 0.25, 0.25), openai_app(0.003, 0.004, 0.004))
