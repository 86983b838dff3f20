"""The starter runs, documents itself, and answers 501 until each exercise is done."""

from __future__ import annotations

import httpx
import pytest

# Talks to the starter served by uvicorn over TCP.
pytestmark = pytest.mark.slow


def test_it_serves_its_openapi_schema(starter):
    with httpx.Client(base_url=starter.base_url) as client:
        schema = client.get("/openapi.json").json()
    assert {"/chat-stream", "/bigfile", "/events", "/hello", "/old-page"} <= set(schema["paths"])


@pytest.mark.parametrize(
    ("route", "exercise_file"),
    [
        ("/chat-stream", "exercises/01-chat-stream.md"),
        ("/bigfile", "exercises/02-bigfile.md"),
        ("/events", "exercises/03-events.md"),
        *(
            (route, "exercises/04-responses.md")
            for route in ("/hello", "/page", "/squares.csv", "/squares-stream.csv", "/bytes", "/old-page")
        ),
    ],
)
def test_each_route_answers_501_naming_its_exercise(starter, route, exercise_file):
    with httpx.Client(base_url=starter.base_url) as client:
        response = client.get(route)
    assert response.status_code == 501
    assert exercise_file in response.json()["detail"]


def test_the_openai_route_answers_501_whatever_the_body(starter):
    # A body the route would refuse gets 501 too: the untouched starter passes nothing of exercise 5.
    with httpx.Client(base_url=starter.base_url) as client:
        for body in (b"{}", b"not json", b'{"model": "m", "messages": [{"role": "user", "content": "hi"}]}'):
            response = client.post("/v1/chat/completions", content=body, headers={"Content-Type": "application/json"})
            assert response.status_code == 501
            assert "exercises/05-openai-stream.md" in response.json()["detail"]
