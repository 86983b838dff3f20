"""The reference solution, logging the moment each piece of an answer is handed to the server.

For the timing-precision benchmark, which goes through every exercise that
declares timed streams (``Exercise.timed``): no route of its own, so a new
exercise is measured without a change here. Each line of
$STREAMGRADE_BENCH_LOG is

    <request number> <method> <path?query as sent> <sha1 of the request body> <bytes sent so far> <wall clock ns>

written when the app sends a part of the body (ASGI's ``http.response.body``)
to the server, just before the server gets it.
"""

import hashlib
import importlib.util
import itertools
import os
import sys
import time

from grader import kit

LOG = open(os.environ["STREAMGRADE_BENCH_LOG"], "a", buffering=1)  # noqa: SIM115 - lives as long as the app

_spec = importlib.util.spec_from_file_location("reference_app", kit.reference_app())
assert _spec is not None and _spec.loader is not None
reference = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = reference  # pydantic resolves the models' annotations in the module, found by its name
_spec.loader.exec_module(reference)


class HandOffs:
    """ASGI middleware: log each body part the app sends, with what identifies its request."""

    def __init__(self, app):
        self.app = app
        self.numbers = itertools.count()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        number = next(self.numbers)
        body = hashlib.sha1()
        sent = 0
        target = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        if scope.get("query_string"):
            target += "?" + scope["query_string"].decode("latin-1")

        async def receiving():
            message = await receive()
            if message["type"] == "http.request":
                body.update(message.get("body", b""))
            return message

        async def sending(message):
            nonlocal sent
            if message["type"] == "http.response.body" and message.get("body"):
                sent += len(message["body"])
                LOG.write(f"{number} {scope['method']} {target} {body.hexdigest()} {sent} {time.time_ns()}\n")
            await send(message)

        await self.app(scope, receiving, sending)


app = HandOffs(reference.app)
