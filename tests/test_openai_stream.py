"""Exercise 5's pure parts: a recorded stream read as the openai package reads it, and the verdicts on it."""

from __future__ import annotations

import json

import pytest

from grader.checkapi import CheckFailed
from grader.exercises.openai.recording import ClientChunk, ClientRun, RawReply
from grader.exercises.openai.stream import completion_problem, read_stream
from grader.exercises.openai.test_openai import judge_client_timing, judge_sequence
from grader.recording import Chunk, Exchange

HEAD = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m"}


def event(choices: list[dict], **extra: object) -> bytes:
    return b"data: " + json.dumps({**HEAD, "choices": choices, **extra}).encode() + b"\n\n"


def token(text: str, first: bool = False, finish: str | None = None) -> bytes:
    delta = {"role": "assistant", "content": text} if first else {"content": text}
    return event([{"index": 0, "delta": delta, "finish_reason": finish}])


USAGE = {"prompt_tokens": 2, "completion_tokens": 2, "total_tokens": 4}
GOOD = [
    token("Hi ", first=True),
    token("there"),
    event([{"index": 0, "delta": {}, "finish_reason": "stop"}]),
    event([], usage=USAGE),
    b"data: [DONE]\n\n",
]


def reply_of(pieces: list[bytes], usage: dict | None = USAGE) -> RawReply:
    exchange = Exchange("POST", "/v1/chat/completions", status=200)
    exchange.chunks = [Chunk(index * 0.1, piece) for index, piece in enumerate(pieces)]
    body = {"model": "m", "messages": [{"role": "user", "content": "Hi there"}], "stream": True}
    return RawReply(json.dumps(body), "Hi there", usage, 0.1, exchange)


def test_a_correct_stream_reads_as_valid_chunks_ending_in_done():
    transcript = read_stream(b"".join(GOOD))
    assert transcript.done and transcript.first_problem is None
    assert transcript.content() == "Hi there"
    assert [chunk.content for chunk in transcript.content_chunks()] == ["Hi ", "there"]


def test_crlf_line_endings_read_the_same():
    assert read_stream(b"".join(GOOD).replace(b"\n", b"\r\n")).content() == "Hi there"


def test_a_chunk_without_a_delta_is_named_by_the_packages_own_type():
    legacy = b"data: " + json.dumps({**HEAD, "choices": [{"index": 0, "text": "Hi"}]}).encode() + b"\n\n"
    problem = read_stream(legacy + b"data: [DONE]\n\n").first_problem
    assert problem is not None and "delta" in problem.problem


def test_data_that_is_not_json_is_a_problem_not_a_crash():
    assert "not JSON" in read_stream(b"data: {oops\n\n").first_problem.problem


def test_a_stream_without_done_is_told_apart():
    assert not read_stream(b"".join(GOOD[:-1])).done


def test_the_sequence_of_a_correct_stream_passes():
    judge_sequence(reply_of(GOOD), read_stream(b"".join(GOOD)))


@pytest.mark.parametrize(
    ("pieces", "said"),
    [
        pytest.param([token("Hi "), *GOOD[1:]], "role", id="no-role"),
        pytest.param([token("Hi there", first=True), *GOOD[2:]], "chunk of its own", id="two-tokens-in-one-chunk"),
        pytest.param([GOOD[0], token("there", finish="stop"), *GOOD[2:]], "finish_reason", id="early-finish"),
        pytest.param([*GOOD[:2], event([], usage=USAGE), GOOD[2], GOOD[4]], "usage", id="usage-not-last"),
    ],
)
def test_each_sequence_fault_is_named(pieces, said):
    with pytest.raises(CheckFailed, match=said):
        judge_sequence(reply_of(pieces), read_stream(b"".join(pieces)))


def client_run(times: list[float]) -> ClientRun:
    chunks = [ClientChunk(at, True, f"t{index} ", None, None, None) for index, at in enumerate(times)]
    return ClientRun("{}", "t0 t1 t2 t3 ", None, True, 0.1, chunks)


def test_the_client_getting_tokens_a_delay_apart_passes():
    judge_client_timing(client_run([0.4, 0.5, 0.6, 0.7]))


def test_the_client_getting_everything_at_once_fails():
    with pytest.raises(CheckFailed, match="1 piece"):
        judge_client_timing(client_run([0.7, 0.7, 0.7, 0.7]))


def test_a_completion_is_validated_against_the_packages_chat_completion():
    good = {
        "id": "c",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "x"}, "finish_reason": "stop"}],
    }
    assert completion_problem(good) == ""
    assert "choices" in completion_problem({**good, "choices": None})
