"""Exercise 5: POST /v1/chat/completions speaks OpenAI's chat format to the official client, and streams."""

from __future__ import annotations

import json

from grader.checkapi import CheckFailed, NotApplicable, check, seconds
from grader.checks._common import (
    CRASH_HINT,
    LOOP_ALLOWANCE,
    STREAM_EVIDENCE,
    FirstPiece,
    excerpt,
    judge_first_pieces,
    judge_leak,
    judge_loop_health,
    judge_pacing,
    judge_side_by_side,
    pace_alone,
    require_answer,
    require_status,
)
from grader.contract import TOKEN_PATTERN
from grader.exercises.openai import CURL
from grader.exercises.openai.probe import DEFAULT_DELAY
from grader.exercises.openai.recording import ClientRun, OpenaiRecording, RawReply
from grader.exercises.openai.stream import (
    DONE,
    Transcript,
    completion_problem,
    content_arrivals,
    read_stream,
    token_count,
)
from grader.recording import AppRecording, Crash
from grader.results import crash_details
from grader.timing import bursts, clusters
from grader.tracebacks import describe

POST = "POST /v1/chat/completions"
TRY_OPENAI = "python try_openai.py  # the script under 'Try it by hand' in exercises/05-openai-stream.md"
SHAPE_HINT = (
    'Each event is `data: ` and one JSON object: {"id": ..., "object": "chat.completion.chunk", "created": ..., '
    '"model": ..., "choices": [{"index": 0, "delta": {"content": token}, "finish_reason": null}]}, then a blank '
    "line. Build it as a dict and `json.dumps` it."
)


def recording(app: AppRecording) -> OpenaiRecording:
    openai = getattr(app, "openai", None)
    if openai is None:
        raise NotApplicable("The openai exercise was not recorded in this run.")
    return openai


def crash_of(app: AppRecording) -> Crash | None:
    return app.crash("openai")


def reproduce_raw(reply: RawReply) -> str:
    body = reply.body.replace("'", "'\\''")
    return f"curl -N http://127.0.0.1:8000/v1/chat/completions -H 'Content-Type: application/json' -d '{body}'"


def summary(body_text: str) -> str:
    """A request's body in a few words ("stream, 4 message(s), include_usage, delay 0.22").

    The whole body is in the check's reproduce command.
    """
    body = json.loads(body_text)
    parts = ["stream" if body.get("stream") else "stream false", f"{len(body.get('messages', []))} message(s)"]
    if body.get("stream_options"):
        parts.append("include_usage")
    parts.append(f"delay {body['delay']:g}" if "delay" in body else "no delay")
    return ", ".join(parts)


def what(reply: RawReply) -> str:
    return f"{POST} ({summary(reply.body)})"


def called(run: ClientRun) -> str:
    return f"`client.chat.completions.create(...)` ({summary(run.body)})"


def require_streamed(app: AppRecording, reply: RawReply) -> Transcript:
    """The stream's events, once the request was answered 200 (or fail naming what happened)."""
    require_status(reply.exchange, 200, what(reply), crash_of(app))
    return read_stream(reply.exchange.body)


@check(
    "openai.headers",
    points=1,
    hint='Return `StreamingResponse(generator(), media_type="text/event-stream")` when the body says "stream": true.',
    reproduce=CURL,
)
def test_openai_headers(app):
    """POST /v1/chat/completions with "stream": true answers 200 with Content-Type text/event-stream"""
    solo = recording(app).solo
    exchange = solo.exchange
    if exchange.status == 422:
        raise CheckFailed(
            f"{what(solo)} was answered with 422: your app refused a body that is right. "
            f"What it said: {excerpt(exchange.body)}",
            hint="Compare your pydantic models with the table under 'The request': field names, and which are "
            "optional (stream, stream_options, delay have defaults).",
            reproduce=reproduce_raw(solo),
        )
    require_status(exchange, 200, what(solo), crash_of(app), body=False)
    if exchange.media_type != "text/event-stream":
        raise CheckFailed(
            f"Expected Content-Type text/event-stream for a streamed reply, got {exchange.header('content-type')}."
        )


def client_failure(run: ClientRun, crash: Crash | None) -> str:
    """Why the client's call failed, for a learner: the client's own error, and the app's exception if it logged one."""
    said = f"The official openai client, calling {called(run)}, raised {run.error}."
    if run.error_status == 500 and crash is not None:
        said += f"\nYour app answered 500 because it raised an error:\n{describe(crash)}"
    elif run.error and run.error.startswith(("AttributeError", "IndexError", "KeyError", "TypeError")):
        said += (
            " A program reading the stream the usual way (`chunk.choices[0].delta.content`) fails there: "
            "a chunk lacks a field the client's types have."
        )
    return said


def judge_shape(app: AppRecording, reply: RawReply) -> Transcript:
    """Fail unless every event is a chat.completion.chunk as the openai package defines it, and [DONE] ends it."""
    transcript = require_streamed(app, reply)
    problem = transcript.first_problem
    if problem is not None:
        index = transcript.chunks.index(problem) + 1
        raise CheckFailed(
            f"For {what(reply)}, event {index} is not a chat.completion.chunk as the official openai package "
            f"defines it (its type ChatCompletionChunk says: {problem.problem}). The event's data was: "
            f"{excerpt(problem.data)}",
            hint=SHAPE_HINT,
            evidence={"data": problem.data, "problem": problem.problem},
            reproduce=reproduce_raw(reply),
        )
    if transcript.unfinished:
        raise CheckFailed(
            f"For {what(reply)}, {transcript.unfinished}: each event needs its blank line (`\\n\\n`).",
            hint=SHAPE_HINT,
            reproduce=reproduce_raw(reply),
        )
    if not transcript.done:
        raise CheckFailed(
            f"For {what(reply)}, the stream ended without the end marker `data: {DONE}`. The openai Python "
            "client stops at the end of the body anyway, but other OpenAI clients wait for it, and without it a "
            "stream cut off half-way looks complete.",
            hint='Make `"data: [DONE]\\n\\n"` the last thing your generator yields.',
            reproduce=reproduce_raw(reply),
        )
    return transcript


def judge_client_run(app: AppRecording, run: ClientRun) -> None:
    if run.error is not None:
        raise CheckFailed(
            client_failure(run, crash_of(app)),
            hint=CRASH_HINT if run.error_status == 500 else SHAPE_HINT,
            evidence={"error": run.error},
            reproduce=TRY_OPENAI,
        )
    received = "".join(chunk.content or "" for chunk in run.chunks)
    if received != run.reply:
        raise CheckFailed(
            f"Through the official openai client, the reply to {called(run)} should be the last user message, "
            f"{run.reply!r}; the client received {excerpt(received)}.",
            hint='Reply with the content of the last message whose role is "user", token by token, each in '
            "`choices[0].delta.content`.",
            evidence={"expected": run.reply, "received": received},
            reproduce=TRY_OPENAI,
        )
    reasons = [chunk.finish_reason for chunk in run.chunks if chunk.has_choices]
    if not reasons or reasons[-1] != "stop":
        raise CheckFailed(
            f'The official openai client read no finish_reason "stop" on the last chunk with choices '
            f"(it read {reasons[-1] if reasons else 'no chunk with choices'!r}): a caller can't tell the reply "
            "ended normally.",
            hint='After the last token, yield a chunk whose choice has `"delta": {}` and `"finish_reason": "stop"`.',
            reproduce=TRY_OPENAI,
        )
    if run.usage is None:
        return
    usages = [chunk.usage for chunk in run.chunks if chunk.usage is not None]
    if usages != [run.usage]:
        raise CheckFailed(
            f'Asked for usage (`stream_options={{"include_usage": true}}`), the official openai client read '
            f"{usages or 'no usage'}; expected one usage, {run.usage}, counted with the token pattern over every "
            "message's content (prompt) and over the reply (completion).",
            hint='After the finish_reason chunk, yield one chunk with `"choices": []` and the `usage` object.',
            evidence={"expected": run.usage, "received": usages},
            reproduce=TRY_OPENAI,
        )


def judge_client_timing(run: ClientRun) -> None:
    """A buffered reply reaches the client's caller all at once; a streamed one, token by token."""
    times = [chunk.at for chunk in run.chunks if chunk.content]
    expected = token_count(run.reply)
    arrived = clusters(times, quiet=run.delay / 2)
    wanted = (expected - 1) * run.delay
    spread = times[-1] - times[0] if times else 0.0
    if len(arrived) >= max(2, expected // 2) and spread >= wanted / 2:
        return
    raise CheckFailed(
        f"Asked for {expected} tokens {run.delay:g} s apart, the official openai client handed its caller the "
        f"reply in {len(arrived)} piece(s) over {seconds(spread)}: the user sees nothing, then everything. The "
        "reply is collected before it is sent.",
        hint="Yield each chunk from a generator as soon as its token is made; don't build a list and return it.",
        evidence={"arrivals": [[round(chunk.at, 4), chunk.content] for chunk in run.chunks if chunk.content]},
        reproduce=TRY_OPENAI,
    )


@check("openai.client", timed=True, points=3, depends=("openai.headers",), hint=SHAPE_HINT, reproduce=TRY_OPENAI)
def test_openai_client(app):
    """The official openai client receives the reply token by token, the finish reason, the usage, and [DONE]"""
    openai = recording(app)
    for reply in [*openai.content, openai.solo]:
        judge_shape(app, reply)
    for run in openai.clients:
        judge_client_run(app, run)
    if openai.clients:
        judge_client_timing(openai.clients[0])


def request_of(reply: RawReply) -> dict:
    return json.loads(reply.body)


@check(
    "openai.chunks",
    points=2,
    depends=("openai.client",),
    hint=(
        "Make id and created once per request; put the role in the first delta only; one token per chunk; "
        'finish_reason null until the last chunk with choices; the usage chunk has `"choices": []`.'
    ),
    reproduce=CURL,
)
def test_openai_chunks(app):
    """One chunk per token, the role in the first delta only, one id, created and model, usage last"""
    openai = recording(app)
    for reply in [*openai.content, openai.solo]:
        judge_sequence(reply, read_stream(reply.exchange.body))


def judge_sequence(reply: RawReply, transcript: Transcript) -> None:
    request = request_of(reply)
    values = [chunk.value or {} for chunk in transcript.chunks]

    def fail(message: str) -> None:
        raise CheckFailed(f"For {what(reply)}: {message}", reproduce=reproduce_raw(reply))

    for name in ("id", "created"):
        seen = {json.dumps(value.get(name)) for value in values}
        if len(seen) > 1:
            fail(f"every chunk of one stream should have the same {name}; they had {sorted(seen)[:3]}.")
    models = {value.get("model") for value in values}
    if models != {request["model"]}:
        had = sorted(map(str, models))
        fail(f"every chunk should carry the request's model, {request['model']!r}; they had {had}.")
    with_choices = [chunk for chunk in transcript.chunks if chunk.choices]
    roles = [chunk.delta.get("role") for chunk in with_choices]
    if not roles or roles[0] != "assistant":
        first = excerpt(with_choices[0].data) if with_choices else "missing"
        fail(f'the first chunk\'s delta should carry "role": "assistant"; the first chunk was {first}.')
    if any(role is not None for role in roles[1:]):
        fail("the role should come in the first delta only; a later delta carried one too.")
    contents = [chunk.content for chunk in transcript.content_chunks()]
    tokens = TOKEN_PATTERN.findall(reply.reply)
    if contents != tokens:
        fail(
            f"each token should come in a chunk of its own: the reply's tokens are {tokens[:6]}, "
            f"the chunks carried {contents[:6]}."
        )
    reasons = [chunk.choices[0].get("finish_reason") for chunk in with_choices]
    if any(reason is not None for reason in reasons[:-1]):
        fail(f"finish_reason should be null on every chunk but the last with choices; they were {reasons}.")
    usage_at = [index for index, value in enumerate(values) if value.get("usage") is not None]
    if reply.usage is not None:
        last = transcript.chunks[-1] if transcript.chunks else None
        if usage_at != [len(values) - 1] or last is None or last.choices or (last.value or {}).get("choices") != []:
            fail('the usage should come once, in the last chunk before [DONE], with "choices": [].')


@check(
    "openai.non-stream",
    points=2,
    hint=(
        'With "stream": false return one dict: {"id", "object": "chat.completion", "created", "model", '
        '"choices": [{"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}], '
        '"usage": {...}}. FastAPI sends it as JSON.'
    ),
    reproduce=TRY_OPENAI,
)
def test_openai_non_stream(app):
    """With "stream": false the reply is one chat.completion object the official client reads"""
    openai = recording(app)
    raw = openai.raw_completion
    if raw is None or openai.completion is None:
        raise NotApplicable("The stream-false requests were not recorded in this run.")
    require_status(raw.exchange, 200, what(raw), crash_of(app))
    if raw.exchange.media_type != "application/json":
        raise CheckFailed(
            f"{what(raw)} should be answered as application/json, got {raw.exchange.header('content-type')}.",
            reproduce=reproduce_raw(raw),
        )
    try:
        value = json.loads(raw.exchange.body)
    except ValueError:
        value = None
    problem = completion_problem(value) if isinstance(value, dict) else "not a JSON object"
    if problem:
        raise CheckFailed(
            f"{what(raw)} should be a chat.completion as the official openai package defines it (its type "
            f"ChatCompletion says: {problem}). The body was: {excerpt(raw.exchange.body)}",
            reproduce=reproduce_raw(raw),
        )
    run = openai.completion
    if run.error is not None:
        raise CheckFailed(client_failure(run, crash_of(app)), evidence={"error": run.error}, reproduce=TRY_OPENAI)
    got = run.completion or {}
    expected = {
        "object": "chat.completion",
        "model": json.loads(run.body)["model"],
        "content": run.reply,
        "role": "assistant",
        "finish_reason": "stop",
        "usage": run.usage,
    }
    wrong = {key: got.get(key) for key, value in expected.items() if got.get(key) != value}
    if wrong:
        raise CheckFailed(
            f"Through the official openai client, {called(run)} should give "
            + ", ".join(f"{key} {expected[key]!r}" for key in wrong)
            + "; it gave "
            + ", ".join(f"{key} {value!r}" for key, value in wrong.items())
            + ".",
            evidence={"expected": expected, "received": got},
            reproduce=TRY_OPENAI,
        )


@check(
    "openai.malformed",
    points=1,
    hint=(
        "Let pydantic models refuse what does not fit (FastAPI answers 422 by itself), and check for a user "
        "message before you start: `raise HTTPException(status_code=400, detail=...)`."
    ),
    reproduce=(
        "curl -i http://127.0.0.1:8000/v1/chat/completions -H 'Content-Type: application/json' "
        '-d \'{"model": "fake", "messages": []}\''
    ),
)
def test_openai_malformed(app):
    """A request that makes no sense is answered with a 4xx and a JSON reason, never a 500"""
    openai = recording(app)
    for problem, reply in openai.malformed:
        exchange = reply.exchange
        asked = f"{POST} with {problem} ({excerpt(reply.body, 80)})"
        status = require_answer(exchange, asked, crash_of(app))
        if status == 501:
            raise CheckFailed(f"{asked} was answered with 501, the starter's placeholder: not written yet.")
        if not 400 <= status < 500 or status in (404, 405):
            message = f"{asked} was answered with {status}; expected 400 or 422: the client's request is wrong"
            if status == 200:
                message += ", and a 200 tells it all is well"
            raise CheckFailed(message + f". The body began: {excerpt(exchange.body)}", reproduce=CURL)
        try:
            json.loads(exchange.body)
        except ValueError:
            raise CheckFailed(
                f"{asked} was answered with {exchange.status} and a body that is not JSON "
                f"({excerpt(exchange.body)}): clients read the reason from a JSON body.",
            ) from None
    refused = openai.refused
    if refused is not None and not (refused.error_status and 400 <= refused.error_status < 500):
        raise CheckFailed(
            f"Sending messages=[] through the official openai client should make it raise a 4xx status error; "
            f"it {'raised ' + refused.error if refused.error else 'raised nothing'}.",
            reproduce=TRY_OPENAI,
        )


def arrivals(reply: RawReply, delay: float) -> list[float]:
    """When each token's chunk arrived; when no chunk can be read (another check's failure), the bursts stand in."""
    times = content_arrivals(reply.exchange)
    return times or [chunk.at for chunk in bursts(reply.exchange.chunks, quiet=delay / 2)]


@check(
    "openai.incremental",
    timed=True,
    points=2,
    depends=("openai.headers",),
    hint=(
        "Return a StreamingResponse over a generator that yields each chunk as soon as its token is ready. "
        "Building every chunk first (a list, a joined string) sends them all at the end."
    ),
    reproduce=CURL,
)
def test_openai_incremental(app):
    """Chunks arrive one by one, spread over time, not all at the end"""
    openai = recording(app)
    solo = openai.solo
    require_answer(solo.exchange, what(solo), crash_of(app))
    expected = token_count(solo.reply)
    times = clusters(arrivals(solo, openai.delay), quiet=openai.delay / 2)
    spread = times[-1] - times[0] if times else 0.0
    wanted = (expected - 1) * openai.delay
    # As exercise 1: half the tokens as separate arrivals over half the time.
    if len(times) >= max(3, expected // 2) and spread >= wanted / 2:
        return
    raise CheckFailed(
        f"Asked for {expected} tokens {openai.delay:g} s apart, their chunks should arrive one by one over about "
        f"{wanted:g} s. They arrived in {len(times)} piece(s) over {seconds(spread)}: the reply is being collected "
        "before it is sent.",
        evidence={"arrivals": [round(at, 4) for at in arrivals(solo, openai.delay)]},
    )


@check(
    "openai.first-token",
    timed=True,
    points=1,
    depends=("openai.incremental",),
    hint="Wait between tokens, not before the first one.",
    reproduce=CURL,
)
def test_openai_first_token(app, reference):
    """The first token is sent at once"""
    # Judged on every timed reply (the solo stream, and the second server's at
    # the default delay and at a second drawn delay), as chat.first-token is:
    # the solo stream alone failed a correct app in a portable batch on 2 cores.
    replies: list[FirstPiece[RawReply]] = []
    for reply, reference_reply in zip(recording(app).timed(), recording(reference).timed(), strict=False):
        period = DEFAULT_DELAY if reply.delay is None else reply.delay
        first, reference_first = arrivals(reply, period), arrivals(reference_reply, period)
        replies.append(
            FirstPiece(reply, first[0] if first else None, reference_first[0] if reference_first else None, period)
        )
    judge_first_pieces(replies, "token", what)


@check(
    "openai.pacing",
    timed=True,
    points=2,
    depends=("openai.incremental",),
    hint=(
        "Wait exactly `delay` seconds between two tokens (`await asyncio.sleep(request.delay)`), with the delay "
        "the body asked for, 0.2 when it has none."
    ),
    reproduce=CURL,
)
def test_openai_pacing(app):
    """Tokens come `delay` seconds apart, at two delays drawn per run and at the default"""
    for reply in recording(app).timed():
        period = DEFAULT_DELAY if reply.delay is None else reply.delay
        require_status(reply.exchange, 200, what(reply), crash_of(app))
        times = arrivals(reply, period)
        if len(times) < 2:
            raise CheckFailed(
                f"{what(reply)}: the reply came in one piece, so no gap between tokens could be timed.",
                reproduce=reproduce_raw(reply),
            )
        asked = "With no delay field (the default is 0.2 s)" if reply.delay is None else ""
        judge_pacing(times, period, "delay", "token", asked=asked)


@check(
    "openai.nonblocking",
    timed=True,
    points=2,
    depends=("openai.headers",),
    reproduce=CURL + "  # and meanwhile: curl http://127.0.0.1:8000/openapi.json",
)
def test_openai_nonblocking(app, reference):
    """Other requests are answered promptly while streams run"""
    openai = recording(app)
    wanted = (token_count(openai.concurrent_reply) - 1) * openai.concurrent_delay
    for exchange in openai.concurrent:
        require_answer(exchange, f"A concurrent {POST}", crash_of(app))
        if exchange.ended_at is not None and exchange.ended_at < wanted * STREAM_EVIDENCE:
            raise NotApplicable(
                f"The concurrent streams ended after {seconds(exchange.ended_at)}, before the "
                f"{openai.concurrent_delay:g} s waits between their tokens could run: whether other requests wait "
                "while streams run could not be seen. See openai.pacing."
            )
    judge_loop_health(
        openai.busy_latencies,
        recording(reference).busy_latencies,
        openai.concurrent_delay * LOOP_ALLOWANCE,
        f"{len(openai.concurrent)} streams",
        openai.idle_latencies,
    )
    pace = pace_alone(openai.solo.exchange, (token_count(openai.solo.reply) - 1) * openai.delay)
    judge_side_by_side(openai.concurrent, openai.concurrent_delay, wanted, "streams", pace)


@check(
    "openai.disconnect",
    timed=True,
    points=2,
    depends=("openai.headers",),
    hint=(
        "Produce the tokens in the generator StreamingResponse reads: Starlette stops it when the client leaves. "
        "A background task that fills a queue, or a generator that catches asyncio.CancelledError and carries "
        "on, keeps the model working for nobody."
    ),
    reproduce=CURL + "  # then press Ctrl-C and watch the server's CPU",
)
def test_openai_disconnect(app, reference):
    """After the client disconnects, the server stops generating"""
    gone, reference_gone = recording(app).disconnect, recording(reference).disconnect
    if gone is None or reference_gone is None:
        raise NotApplicable("The disconnect probe could not run in this run.")
    long_streams = f"long streams ({POST}, a 400-token reply at delay {gone.interval:g})"
    if gone.error or gone.ended_early or (gone.refused is not None):
        crash = crash_of(app)
        if crash is not None and (gone.broken or gone.refused == 500):
            raise CheckFailed(
                f"The {long_streams} broke off before the client left: your app raised an error.\n{describe(crash)}",
                hint=CRASH_HINT,
                evidence=crash_details(crash),
            )
        how = gone.error or (
            f"answered {gone.refused}" if gone.refused is not None else f"{len(gone.ended_early)} ended early"
        )
        raise NotApplicable(
            f"The {long_streams} did not run until the clients left ({how}), so what your server does after a "
            "client leaves could not be seen. See openai.pacing and openai.client."
        )
    judge_leak(gone, reference_gone, "tokens", long_streams)
