"""The SSE parser reads streams as a browser's EventSource does, and keeps the evidence."""

from __future__ import annotations

import time

import pytest

from grader import sse


def datas(body: bytes) -> list[str]:
    return [event.data for event in sse.parse(body).events]


# The examples of the WHATWG spec, section "Event stream interpretation".
def test_spec_example_stock_ticker():
    body = b"data: YHOO\ndata: +2\ndata: 10\n\n"
    assert datas(body) == ["YHOO\n+2\n10"]


def test_spec_example_four_blocks():
    body = b": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n"
    stream = sse.parse(body)
    assert [event.data for event in stream.events] == ["first event", "second event"]
    assert [event.last_event_id for event in stream.events] == ["1", ""]
    assert stream.comments == ["test stream"]
    # The third block never gets its blank line: the browser drops it.
    assert stream.unfinished is not None
    assert body[stream.unfinished.offset :].startswith(b"data:  third event")


def test_spec_example_empty_data():
    body = b"data\n\ndata\ndata\n\ndata:\n"
    assert datas(body) == ["", "\n"]


def test_spec_example_space_after_colon_is_optional():
    assert datas(b"data:test\n\ndata: test\n\n") == ["test", "test"]


@pytest.mark.parametrize(
    "ending", [pytest.param(b"\n", id="LF"), pytest.param(b"\r\n", id="CRLF"), pytest.param(b"\r", id="CR")]
)
def test_every_line_ending_frames_the_same_events(ending):
    body = ending.join([b"id: 1", b"data: a", b"", b"id: 2", b"data: b", b"", b""])
    stream = sse.parse(body)
    assert [(event.id_field, event.data) for event in stream.events] == [("1", "a"), ("2", "b")]
    assert stream.problems == [] and stream.unfinished is None
    assert stream.events[-1].end == len(body)


def test_a_crlf_split_across_reads_is_one_line_ending():
    # The parser sees the whole recorded body, so chunk boundaries can't split a CRLF.
    body = b"data: a\r" + b"\n\r\n"
    assert datas(body) == ["a"]


def test_comments_and_retry_are_allowed():
    stream = sse.parse(b"retry: 3000\n\n: ping\n\nid: 1\ndata: x\n\n")
    assert stream.retry == 3000
    assert stream.comments == ["ping"]
    assert stream.problems == []
    assert [event.data for event in stream.events] == ["x"]


def test_a_leading_bom_is_skipped():
    assert datas(b"\xef\xbb\xbfdata: a\n\n") == ["a"]


def test_event_type_defaults_to_message():
    stream = sse.parse(b"data: a\n\nevent: tick\ndata: b\n\n")
    assert [event.type for event in stream.events] == ["message", "tick"]


def test_the_last_event_id_carries_over_but_the_own_id_does_not():
    stream = sse.parse(b"id: 7\ndata: a\n\ndata: b\n\n")
    assert [event.last_event_id for event in stream.events] == ["7", "7"]
    assert [event.id_field for event in stream.events] == ["7", None]


def test_a_missing_blank_line_merges_two_events():
    stream = sse.parse(b'id: 1\ndata: {"seq": 1}\nid: 2\ndata: {"seq": 2}\n\n')
    assert [event.data for event in stream.events] == ['{"seq": 1}\n{"seq": 2}']


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        pytest.param(b"Data: x", "did you mean 'data: ...'", id="capitalised"),
        pytest.param(b'data={"seq": 1}', "did you mean 'data: ...'", id="equals-sign"),
        pytest.param(b"retry: soon", "whole number of milliseconds", id="bad-retry"),
        pytest.param(b"banana: x", "unknown field name 'banana'", id="unknown"),
    ],
)
def test_ignored_lines_are_reported_where_they_start(line, expected):
    body = b"data: ok\n\n" + line + b"\n\n"
    stream = sse.parse(body)
    problem = stream.first_problem
    assert problem is not None
    assert problem.offset == len(b"data: ok\n\n")
    assert expected in problem.message


def test_invalid_utf8_is_replaced_and_reported():
    stream = sse.parse(b"data: \xff\n\n")
    assert stream.events[0].data == "\ufffd"
    assert "not valid UTF-8" in stream.first_problem.message


def test_a_stream_cut_in_mid_line_is_unfinished():
    stream = sse.parse(b"data: a\n\ndata: b")
    assert datas(b"data: a\n\ndata: b") == ["a"]
    assert stream.unfinished.offset == len(b"data: a\n\n")
    assert "middle of a line" in stream.unfinished.message


def test_an_id_with_nul_is_ignored():
    stream = sse.parse(b"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n")
    assert [event.last_event_id for event in stream.events] == ["1", "1"]
    assert "NUL" in stream.first_problem.message


def test_event_offsets_cover_the_event():
    body = b": hi\n\nid: 1\ndata: a\n\n"
    event = sse.parse(body).events[0]
    assert body[event.start : event.end] == b"id: 1\ndata: a\n\n"


# A recorded body is capped at 1 MiB (recording.BODY_CAP); twice that leaves margin.
PATHOLOGICAL_SIZE = 2 * 1024 * 1024
# Linear time: a body of bare line endings may cost a constant factor more
# than the same size of ordinary events (it has more lines), and four times
# the bytes about four times the time. A quadratic splitter takes sixteen.
AGAINST_NORMAL = 3.0
FOUR_TIMES_THE_BYTES = 8.0


def parse_cpu_seconds(body: bytes) -> float:
    """The CPU time of parsing ``body``, best of two: CPU, not wall time, so other processes' load counts less."""
    times = []
    for _ in range(2):
        started = time.process_time()
        sse.parse(body)
        times.append(time.process_time() - started)
    return min(times)


def repeated(pattern: bytes, size: int) -> bytes:
    return (pattern * (size // len(pattern) + 1))[:size]


@pytest.fixture(scope="module")
def normal_parse_seconds() -> float:
    """Ordinary short events (the most lines an honest stream has per byte), measured once."""
    return parse_cpu_seconds(repeated(b"data: x\n\n", PATHOLOGICAL_SIZE))


@pytest.mark.parametrize(
    "pattern",
    [
        pytest.param(b"\r", id="bare-CR"),
        pytest.param(b"\n", id="bare-LF"),
        pytest.param(b"\r\r\n", id="CR-then-CRLF"),
        pytest.param(b"x", id="one-endless-line"),
    ],
)
def test_the_line_splitter_takes_linear_time_on_pathological_bodies(pattern, normal_parse_seconds):
    normal = normal_parse_seconds
    whole = parse_cpu_seconds(repeated(pattern, PATHOLOGICAL_SIZE))
    quarter = parse_cpu_seconds(repeated(pattern, PATHOLOGICAL_SIZE // 4))
    assert whole <= AGAINST_NORMAL * normal, f"{whole:.2f} s against {normal:.2f} s for ordinary events"
    assert whole <= FOUR_TIMES_THE_BYTES * max(quarter, 0.01), f"{whole:.2f} s against {quarter:.2f} s for a quarter"
