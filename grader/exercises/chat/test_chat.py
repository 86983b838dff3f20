"""Exercise 1: GET /chat-stream streams a reply token by token."""

from __future__ import annotations

import re

from grader.checkapi import CheckFailed, NotApplicable, check, seconds
from grader.checks._common import (
    LOOP_ALLOWANCE,
    STREAM_EVIDENCE,
    FirstPiece,
    excerpt,
    judge_first_pieces,
    judge_loop_health,
    judge_pacing,
    judge_side_by_side,
    pace_alone,
    require_answer,
    require_status,
)
from grader.contract import TOKEN_PATTERN, token_ends
from grader.exercises.chat import TRY_IT
from grader.exercises.chat.contract import CHAT_DEFAULT_DELAY, CHAT_DEFAULT_PROMPT
from grader.exercises.chat.recording import TimedReply
from grader.recording import Exchange
from grader.timing import arrival_at_offsets, bursts


def token_bursts(app):
    chat = app.chat
    return bursts(chat.solo.chunks, quiet=chat.delay / 2)


def token_arrivals(exchange: Exchange, prompt: str, delay: float) -> list[float]:
    """When each of the contract's tokens had fully arrived.

    Timed by the contract's tokens, not by the pieces the app wrote: an app
    that sends a word and its space as two pieces, each `delay` after the
    other, delivers a token every 2 x delay. When the reply is not the prompt
    (chat.content's concern) there are no tokens to find: the bursts stand in.
    """
    if exchange.body == prompt.encode("utf-8"):
        return arrival_at_offsets(exchange.chunks, token_ends(prompt))
    return [chunk.at for chunk in bursts(exchange.chunks, quiet=delay / 2)]


def asked_for(reply: TimedReply) -> str:
    if reply.delay is None:
        return f"With no delay parameter (the default is {CHAT_DEFAULT_DELAY:g} s)"
    return f"Asked for delay={reply.delay:g}"


def request_of(reply: TimedReply) -> str:
    if not reply.prompt_sent:
        return "GET /chat-stream (no parameters)"
    return f"GET /chat-stream?prompt={reply.prompt!r}&delay={reply.delay:g}"


@check("chat.status", points=1, reproduce="curl -i 'http://127.0.0.1:8000/chat-stream?delay=0'")
def test_chat_status(app):
    """GET /chat-stream answers 200"""
    require_status(app.chat.solo, 200, "GET /chat-stream", app.crash("chat"), body=False)


# Judged on its own: a reply whose bytes and timing are right earns their
# points whatever it is labelled (curl and fetch() read the bytes either way).
@check(
    "chat.media-type",
    points=1,
    depends=("chat.status",),
    hint='Give StreamingResponse a media_type: `StreamingResponse(..., media_type="text/plain")`.',
    reproduce="curl -i 'http://127.0.0.1:8000/chat-stream?delay=0'",
)
def test_chat_media_type(app):
    """The reply is labelled Content-Type text/plain in utf-8"""
    exchange = app.chat.solo
    content_type = exchange.header("content-type") or "(none)"
    if exchange.media_type != "text/plain":
        raise CheckFailed(f"Expected Content-Type text/plain; charset=utf-8, got {content_type}.")
    charset = re.search(r"charset=([\w-]+)", content_type, re.IGNORECASE)
    if charset and charset.group(1).lower().replace("_", "-") not in ("utf-8", "utf8"):
        raise CheckFailed(f"Expected the utf-8 charset, got {content_type}.")


@check(
    "chat.content",
    points=2,
    depends=("chat.status",),
    hint=(
        'Split with `re.findall(r"\\S+\\s*|\\s+", prompt)` and yield each token as it is: '
        "`prompt.split()` loses spaces, and adding your own spaces adds some."
    ),
    reproduce="curl -N 'http://127.0.0.1:8000/chat-stream?prompt=%20%20two%20%20spaces%20%C3%A9&delay=0'",
)
def test_chat_content(app):
    """The reply is exactly the prompt (the default one when none is given), spaces and non-ASCII included"""
    chat = app.chat
    for prompt, exchange in [*chat.content, (chat.solo_prompt, chat.solo)]:
        require_status(exchange, 200, f"GET /chat-stream?prompt={prompt!r}", app.crash("chat"))
        if exchange.body != prompt.encode("utf-8"):
            raise CheckFailed(
                f"For the prompt {prompt!r} the reply should be exactly the same text; "
                f"it was {excerpt(exchange.body)}.",
                evidence={"prompt": prompt, "body": exchange.body.decode("utf-8", "replace")},
            )
    for reply in chat.paced:
        require_status(reply.exchange, 200, request_of(reply), app.crash("chat"))
        if reply.exchange.body != reply.prompt.encode("utf-8"):
            said = (
                "With no prompt parameter the reply should be the default prompt"
                if not reply.prompt_sent
                else "For the prompt"
            )
            raise CheckFailed(
                f"{said} {reply.prompt!r}; it was {excerpt(reply.exchange.body)}.",
                hint=f'The default goes in the signature: `prompt: str = "{CHAT_DEFAULT_PROMPT}"`.'
                if not reply.prompt_sent
                else "",
                evidence={"prompt": reply.prompt, "body": reply.exchange.body.decode("utf-8", "replace")},
            )


@check(
    "chat.incremental",
    timed=True,
    points=3,
    depends=("chat.status",),
    hint=(
        "Return a StreamingResponse over a generator that yields each token as soon as it is ready. "
        "Building the whole reply first (a list, a joined string) sends it all at the end."
    ),
    reproduce=TRY_IT,
)
def test_chat_incremental(app):
    """Tokens arrive one by one, spread over time, not all at the end"""
    chat = app.chat
    require_answer(chat.solo, "GET /chat-stream", app.crash("chat"))
    expected = len(TOKEN_PATTERN.findall(chat.solo_prompt))
    arrived = token_bursts(app)
    spread = arrived[-1].at - arrived[0].at if arrived else 0.0
    wanted_spread = (expected - 1) * chat.delay
    # Half the tokens as separate bursts, over half the expected time: a
    # buffered reply is one burst; noise can merge a pair, never most.
    if len(arrived) >= max(3, expected // 2) and spread >= wanted_spread / 2:
        return
    raise CheckFailed(
        f"Asked for {expected} tokens {chat.delay:g} s apart, so they should arrive one by one over "
        f"about {wanted_spread:g} s. They arrived in {len(arrived)} piece(s) over {seconds(spread)}: "
        "the reply is being collected before it is sent.",
        evidence={"arrivals": [[round(chunk.at, 4), chunk.data.decode("utf-8", "replace")] for chunk in arrived]},
    )


@check(
    "chat.first-token",
    timed=True,
    points=2,
    depends=("chat.incremental",),
    hint="Wait between tokens, not before the first one: sleep after a yield, or skip the sleep for token 1.",
    reproduce=TRY_IT,
)
def test_chat_first_token(app, reference):
    """The first token is sent at once"""
    # Judged on every timed reply: the solo stream, and the second server's at
    # the default delay and at a second drawn delay.
    judge_first_pieces(
        [
            FirstPiece(
                reply,
                reply.exchange.chunks[0].at if reply.exchange.chunks else None,
                reference_reply.exchange.chunks[0].at if reference_reply.exchange.chunks else None,
                CHAT_DEFAULT_DELAY if reply.delay is None else reply.delay,
            )
            for reply, reference_reply in zip(app.chat.timed(), reference.chat.timed(), strict=False)
        ],
        "token",
        request_of,
    )


@check(
    "chat.pacing",
    timed=True,
    points=2,
    depends=("chat.incremental",),
    hint=(
        "Wait exactly `delay` seconds between two tokens (`await asyncio.sleep(delay)` once per token, with the "
        "delay that was asked for, 0.2 when none was), and yield each token whole, its spaces included."
    ),
    reproduce=TRY_IT,
)
def test_chat_pacing(app):
    """Tokens come `delay` seconds apart, at two delays drawn per run and at the default"""
    for reply in app.chat.timed():
        require_status(reply.exchange, 200, request_of(reply), app.crash("chat"))
        period = CHAT_DEFAULT_DELAY if reply.delay is None else reply.delay
        times = token_arrivals(reply.exchange, reply.prompt, period)
        if len(times) < 2:
            raise CheckFailed(
                f"{request_of(reply)}: the reply came in one piece, so no gap between tokens could be timed.",
                evidence={"arrivals": times},
            )
        judge_pacing(times, period, "delay", "token", asked=asked_for(reply))


@check(
    "chat.nonblocking",
    timed=True,
    points=3,
    depends=("chat.status",),
    reproduce=TRY_IT + "  # and meanwhile: curl http://127.0.0.1:8000/openapi.json",
)
def test_chat_nonblocking(app, reference):
    """Other requests are answered promptly while streams run"""
    chat = app.chat
    # Evidence first: the streams must have run while the small requests were sent.
    wanted = (len(TOKEN_PATTERN.findall(chat.concurrent_prompt)) - 1) * chat.concurrent_delay
    for exchange in chat.concurrent:
        require_answer(exchange, "A concurrent GET /chat-stream", app.crash("chat"))
        if exchange.broken:
            raise CheckFailed(
                f"A concurrent GET /chat-stream broke off after {exchange.received:,} bytes: {exchange.error}."
            )
        # ended_at is None for a stream still running when the grader stopped waiting: it ran long enough.
        if exchange.ended_at is not None and exchange.ended_at < wanted * STREAM_EVIDENCE:
            raise NotApplicable(
                f"The concurrent streams ended after {seconds(exchange.ended_at)}, before the "
                f"{chat.concurrent_delay:g} s waits between their tokens could run ({seconds(wanted)} expected): "
                "whether other requests wait while streams run could not be seen. See chat.pacing."
            )
    judge_loop_health(
        chat.busy_latencies,
        reference.chat.busy_latencies,
        chat.concurrent_delay * LOOP_ALLOWANCE,
        f"{len(chat.concurrent)} streams",
        chat.idle_latencies,
    )
    alone = (len(TOKEN_PATTERN.findall(chat.solo_prompt)) - 1) * chat.delay
    pace = pace_alone(chat.solo, alone)
    judge_side_by_side(chat.concurrent, chat.concurrent_delay, wanted, "streams", pace)


@check(
    "chat.validation",
    points=1,
    hint="Declare the limits on the parameter: `delay: Annotated[float, Query(ge=0, le=5)] = 0.2` "
    "(ge and le include the ends).",
    reproduce="curl -i 'http://127.0.0.1:8000/chat-stream?delay=9'",
)
def test_chat_validation(app):
    """A delay from 0 to 5 (both included) is accepted, anything else is rejected with 422"""
    for value, exchange in app.chat.accepted:
        require_answer(exchange, f"GET /chat-stream?delay={value}", app.crash("chat"))
        if exchange.status != 200:
            raise CheckFailed(
                f"GET /chat-stream?prompt=x&delay={value} was answered with {exchange.status}; expected 200, "
                f"because {value} is one end of the allowed range, 0 to 5 with both ends included."
            )
    for value, exchange in app.chat.validation:
        require_answer(exchange, f"GET /chat-stream?delay={value}", app.crash("chat"))
        if exchange.status != 422:
            raise CheckFailed(
                f"GET /chat-stream?delay={value} was answered with {exchange.status}; expected 422, "
                "because a delay must be a number between 0 and 5 seconds.",
                reproduce=f"curl -i 'http://127.0.0.1:8000/chat-stream?delay={value}'",
            )
