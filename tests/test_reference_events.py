"""The reference meets exercise 3: GET /events sends Server-Sent Events."""

from __future__ import annotations

import contextlib
import itertools
import json
import statistics
import time
from datetime import datetime

import httpx
import pytest
from helpers import Recording, record

from grader import sse
from grader.launch import Meter

# Framing, ids and validation: in process (conftest.py says why that is
# enough for them); pacing and disconnects over TCP, marked slow.

INTERVAL = 0.1


def arrival_times(recording: Recording, events: list[sse.Event]) -> list[float]:
    """When each event was complete at the client: the arrival of the chunk holding its end."""
    times, offset, chunks = [], 0, iter(recording.chunks)
    at = 0.0
    for event in events:
        while offset < event.end:
            at, chunk = next(chunks)
            offset += len(chunk)
        times.append(at)
    return times


@pytest.mark.anyio
async def test_it_sends_well_framed_numbered_events(reference_in_process):
    response = await reference_in_process.get("/events", params={"interval": 0.01, "count": 3})
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == "text/event-stream"
    assert "no-cache" in response.headers["cache-control"]

    stream = sse.parse(response.content)
    assert stream.problems == []
    assert stream.unfinished is None
    assert [event.id_field for event in stream.events] == ["1", "2", "3"]
    assert {event.type for event in stream.events} == {"message"}
    assert b"event:" not in response.content
    for seq, event in enumerate(stream.events, start=1):
        payload = json.loads(event.data)
        assert payload["seq"] == seq
        assert datetime.fromisoformat(payload["time"]).utcoffset().total_seconds() == 0


@pytest.mark.slow
def test_events_are_paced_by_the_interval_with_live_timestamps(reference):
    with httpx.Client(base_url=reference.base_url) as client:
        recording = record(client, "/events", params={"interval": INTERVAL, "count": 5})
    events = sse.parse(recording.body).events
    arrived = arrival_times(recording, events)
    stamped = [datetime.fromisoformat(json.loads(event.data)["time"]).timestamp() for event in events]

    # The first event comes at once, long before the last is due.
    assert arrived[0] < (arrived[-1] - arrived[0]) / 2
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrived)]
    assert INTERVAL * 0.75 <= statistics.median(gaps) <= INTERVAL * 3
    # Timestamps are taken per event: their gaps follow the arrival gaps.
    stamp_gaps = [later - earlier for earlier, later in itertools.pairwise(stamped)]
    assert INTERVAL * 0.75 <= statistics.median(stamp_gaps) <= INTERVAL * 3


@pytest.mark.anyio
async def test_last_event_id_resumes_after_that_event(reference_in_process):
    response = await reference_in_process.get(
        "/events", params={"interval": 0.01, "count": 2}, headers={"Last-Event-ID": "41"}
    )
    events = sse.parse(response.content).events
    assert [event.id_field for event in events] == ["42", "43"]
    assert [json.loads(event.data)["seq"] for event in events] == [42, 43]


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"interval": "0.009"}, id="interval-too-small"),
        pytest.param({"interval": "60.5"}, id="interval-too-large"),
        pytest.param({"count": "0"}, id="count-zero"),
        pytest.param({"count": "two"}, id="count-not-a-number"),
    ],
)
@pytest.mark.anyio
async def test_invalid_parameters_are_rejected(reference_in_process, params):
    response = await reference_in_process.get("/events", params=params)
    assert response.status_code == 422


def cpu_used_during(meter: Meter, seconds: float) -> float:
    before = meter.cpu_seconds()
    time.sleep(seconds)  # the measurement window itself
    return meter.cpu_seconds() - before


@pytest.mark.slow
def test_the_stream_stops_when_the_client_disconnects(reference):
    window = 0.5
    idle = cpu_used_during(reference.meter, window)
    # Five streams, as the grader's probe opens: one stream at 0.01 s costs
    # the server about 5 ms of CPU in the window, too close to an idle
    # server's own noise (about 1 ms) for a comparison to be stable.
    with httpx.Client(base_url=reference.base_url) as client, contextlib.ExitStack() as streams:
        readers = []  # kept: a line iterator that is dropped closes its response
        for _ in range(5):
            response = streams.enter_context(client.stream("GET", "/events", params={"interval": 0.01}))
            readers.append(response.iter_lines())
            assert next(readers[-1]).startswith("id: ")
        streaming = cpu_used_during(reference.meter, window)
    # After the clients are gone, endless streams must cost (almost) nothing
    # beyond an idle server: a leaked producer would cost what streaming did.
    quiet = cpu_used_during(reference.meter, window)
    assert streaming - idle > 0
    assert quiet - idle < (streaming - idle) / 3
