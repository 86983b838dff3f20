"""Probe exercise 4: a dozen small GETs, none of them timed, so they run beside the timing probes at no cost.

Each answer is recorded as it came (status, headers as sent, raw body): the
checks judge what a client would see. The redirect is not followed.
"""

from __future__ import annotations

import random

from grader.exercises.responses.contract import BYTES, HELLO, OLD_PAGE, PAGE, SQUARES, SQUARES_STREAM
from grader.exercises.responses.recording import Asked, ResponsesRecording
from grader.probes.context import ProbeContext
from grader.probes.http import local_client, record_exchange

# Seconds one answer may take: each is a few hundred bytes, made at once.
ANSWER_TIMEOUT = 5.0
GREETED = ["Ada", "Grace", "Linus", "Guido", "Barbara", "Alan", "Margaret", "Dennis"]
# Spaces at both ends, quotes (which a JSON string escapes) and non-ASCII
# letters (which a wrong encoding mangles): the page says any name works.
AWKWARD_NAME = ' Zoë "the" 世界 '
# Rows and byte counts drawn per run, so no answer can be written out by
# hand; byte counts past 255, so the count wraps around and the bytes above
# 127 (which are not UTF-8 on their own) are sent.
ROWS = (4, 9)
COUNTS = (300, 1000)


def draw(rng: random.Random) -> tuple[str, str, str]:
    """This run's name, rows and byte count."""
    return rng.choice(GREETED), str(rng.randint(*ROWS)), str(rng.randint(*COUNTS))


async def probe_responses(base_url: str, rng: random.Random) -> ResponsesRecording:
    name, rows, count = draw(rng)
    async with local_client(base_url, ANSWER_TIMEOUT) as client:

        async def ask(path: str, parameter: str, values: list[str | None]) -> list[Asked]:
            return [
                Asked(
                    value,
                    await record_exchange(
                        client,
                        path,
                        params=None if value is None else {parameter: value},
                        timeout=ANSWER_TIMEOUT,
                    ),
                )
                for value in values
            ]

        hello = await ask(HELLO, "name", [name, AWKWARD_NAME, None])
        page = await record_exchange(client, PAGE, timeout=ANSWER_TIMEOUT)
        squares = await ask(SQUARES, "rows", [rows, None])
        squares_stream = await ask(SQUARES_STREAM, "rows", [rows, None])
        counting = await ask(BYTES, "n", [count, None])
        old_page = await record_exchange(client, OLD_PAGE, timeout=ANSWER_TIMEOUT)
    return ResponsesRecording(base_url, hello, page, squares, squares_stream, counting, old_page)


async def probe(ctx: ProbeContext, earlier: None) -> ResponsesRecording:
    """The whole exercise, on its one server."""
    return await probe_responses(ctx.main.base_url, ctx.rng())
