"""Exercise 1: GET /chat-stream streams a reply token by token."""

from __future__ import annotations

import re

from grader.checkapi import CheckFailed, check, seconds
from grader.checks._common import (
    LOOP_ALLOWANCE,
    excerpt,
    judge_first_at_once,
    judge_loop_health,
    judge_pacing,
    require_answer,
    require_status,
)
from grader.contract import TOKEN_PATTERN
from grader.timing import bursts

TRY_IT = "curl -N 'http://127.0.0.1:8000/chat-stream?prompt=one%20two%20three%20four&delay=0.5'"


def token_bursts(app):
    chat = app.chat
    return bursts(chat.solo.chunks, quiet=chat.delay / 2)


@check("chat.status", points=1, reproduce="curl -i 'http://127.0.0.1:8000/chat-stream?delay=0'")
def test_chat_status(app):
    """GET /chat-stream answers 200"""
    require_status(app.chat.solo, 200, "GET /chat-stream")


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
        "Split with `re.findall(r\"\\S+\\s*|\\s+\", prompt)` and yield each token as it is: "
        "`prompt.split()` loses spaces, and adding your own spaces adds some."
    ),
    reproduce="curl -N 'http://127.0.0.1:8000/chat-stream?prompt=%20%20two%20%20spaces%20%C3%A9&delay=0'",
)
def test_chat_content(app):
    """The reply is exactly the prompt, spaces and non-ASCII text included"""
    chat = app.chat
    for prompt, exchange in [*chat.content, (chat.solo_prompt, chat.solo)]:
        require_status(exchange, 200, f"GET /chat-stream?prompt={prompt!r}")
        if exchange.body != prompt.encode("utf-8"):
            raise CheckFailed(
                f"For the prompt {prompt!r} the reply should be exactly the same text; "
                f"it was {excerpt(exchange.body)}.",
                evidence={"prompt": prompt, "body": exchange.body.decode("utf-8", "replace")},
            )


@check(
    "chat.incremental",
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
    expected = len(TOKEN_PATTERN.findall(chat.solo_prompt))
    arrived = token_bursts(app)
    require_answer(chat.solo, "GET /chat-stream")
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
    points=2,
    depends=("chat.incremental",),
    hint="Wait between tokens, not before the first one: sleep after a yield, or skip the sleep for token 1.",
    reproduce=TRY_IT,
)
def test_chat_first_token(app, reference):
    """The first token is sent at once"""
    reference_chunks = reference.chat.solo.chunks
    judge_first_at_once(
        app.chat.solo.chunks[0].at, reference_chunks[0].at if reference_chunks else 0.0, app.chat.delay, "token"
    )


@check(
    "chat.pacing",
    points=2,
    depends=("chat.incremental",),
    hint="Wait exactly `delay` seconds between two tokens: `await asyncio.sleep(delay)` once per token.",
    reproduce=TRY_IT,
)
def test_chat_pacing(app):
    """Tokens come `delay` seconds apart"""
    judge_pacing([chunk.at for chunk in token_bursts(app)], app.chat.delay, "delay", "token")


@check(
    "chat.nonblocking",
    points=3,
    depends=("chat.status",),
    reproduce=TRY_IT + "  # and meanwhile: curl http://127.0.0.1:8000/openapi.json",
)
def test_chat_nonblocking(app, reference):
    """Other requests are answered promptly while streams run"""
    chat = app.chat
    for exchange in chat.concurrent:
        require_answer(exchange, "A concurrent GET /chat-stream")
    judge_loop_health(
        chat.busy_latencies, reference.chat.busy_latencies, chat.delay * LOOP_ALLOWANCE,
        f"{len(chat.concurrent)} streams",
    )  # fmt: skip


@check(
    "chat.validation",
    points=1,
    hint="Declare the limits on the parameter: `delay: Annotated[float, Query(ge=0, le=5)] = 0.2`.",
    reproduce="curl -i 'http://127.0.0.1:8000/chat-stream?delay=9'",
)
def test_chat_validation(app):
    """A delay outside 0..5 is rejected with 422"""
    for value, exchange in app.chat.validation:
        require_answer(exchange, f"GET /chat-stream?delay={value}")
        if exchange.status != 422:
            raise CheckFailed(
                f"GET /chat-stream?delay={value} was answered with {exchange.status}; expected 422, "
                "because a delay must be between 0 and 5 seconds.",
                reproduce=f"curl -i 'http://127.0.0.1:8000/chat-stream?delay={value}'",
            )
