"""What the fork server does once so that no app's server does it again: declare a route, describe the API.

FastAPI imports part of itself and of pydantic (``pydantic.v1``, for one)
the first time a route is declared, and builds validators and the OpenAPI
schema (which the grader asks for to see that a server answers) on first
use. Done here, in the fork server, every app's server inherits it: the
reference's import took 55 ms of CPU in each server before, 12 ms after,
and a grade starts twenty of them. Only library code and routes of the
grader's own run here: nothing of an app, nothing secret.

No ``from __future__ import annotations``: FastAPI reads the routes'
annotations as objects, and strings would have to be resolved in this
module's globals.
"""

from typing import Annotated

from fastapi import FastAPI, Header, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel


class Body(BaseModel):
    text: str = ""
    items: list[dict[str, str]] = []


def query_route(
    request: Request,
    q: Annotated[str, Query(min_length=1)] = "x",
    n: float = 0.5,
    h: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    return StreamingResponse(iter([b""]), media_type="text/plain")


async def body_route(payload: Body) -> dict[str, str]:
    return {"text": payload.text}


def warm_up() -> None:
    """Build an app with a route of each common kind, describe it, and throw it away; never fail."""
    try:
        app = FastAPI()
        app.add_api_route("/query", query_route, methods=["GET"])
        app.add_api_route("/body", body_route, methods=["POST"])
        app.openapi()
    except Exception:  # a newer FastAPI that declares routes differently: only the saving is lost
        pass
