"""Probe GET /events: framing, pacing, defaults, ranges, resuming, and what happens after a disconnect."""

from __future__ import annotations

import asyncio
import dataclasses
import random

from grader.exercises import Floor
from grader.exercises.events.contract import EVENTS_COUNT_MINIMUM, EVENTS_DEFAULT_INTERVAL, EVENTS_INTERVAL_LIMITS
from grader.exercises.events.recording import DisconnectRecording, EventsMore, EventsRecording
from grader.exercises.events.run import EventsRun
from grader.launch import Meter
from grader.probes.context import ProbeContext
from grader.probes.disconnect import CPU_WINDOW, IDLE_WINDOW, probe_leaving
from grader.probes.http import local_client, probe_latencies, record_exchange

# The solo stream: four events at an interval drawn per run from the seed,
# never the default (1 s). A fixed sleep of the 0.2 s the usual notes use is
# 130 ms or more off, beyond the pacing tolerance (35 %: 116 ms and more; the
# default interval, timed on a second server, catches it by far too); a fixed
# 1 s fails as well. Long gaps keep the tolerance far above a loaded machine's
# noise (at 0.1 s it was not). Four events, three gaps: a stream that sends
# the first event and then the rest at once has a median gap of 0 (with two
# gaps the median would be half the wait, and pass).
TIMING_INTERVALS = (0.33, 0.36)
TIMING_COUNT = 4
# The streams that load the server while its event loop is probed; their
# pacing is not judged.
CONCURRENT_INTERVAL = 0.2
CONCURRENT_STREAMS = 3
CONCURRENT_COUNT = 3
# The disconnect probe: endless streams at a fast interval make a leaked
# producer cost as much as possible, so it shows. Not the allowed range's end
# (0.01): an app that refuses the end fails events.validation for it, and its
# disconnect behaviour must still be seen.
DISCONNECT_STREAMS = 5
DISCONNECT_INTERVAL = 0.02
DISCONNECT_EVENTS = 3
RESUME_COUNT = 2
# Short streams whose ids are read, not timed: fast, yet inside the allowed
# range (not its end, so an app that refuses the end fails the range check only).
QUICK_INTERVAL = "0.02"
REFUSED_PARAMETERS = ({"interval": "0.001"}, {"interval": "61"}, {"count": "0"}, {"count": "1.5"})
# The allowed ranges' ends, each with count=1 or 2 so no wait is needed
# (only the status is read).
ACCEPTED_PARAMETERS = (
    {"interval": EVENTS_INTERVAL_LIMITS[0], "count": "2"},
    {"interval": EVENTS_INTERVAL_LIMITS[1], "count": EVENTS_COUNT_MINIMUM},
)
# Last-Event-ID values a server never sent: not a number, negative, and
# larger than any 64-bit integer. None may give a 500.
UNEXPECTED_IDS = ("not-a-number", "-3", "1" * 25)
# No interval parameter: two events, one default gap (1 s), on a second server.
DEFAULT_COUNT = 2


async def probe_events(base_url: str, rng: random.Random) -> EventsRecording:
    """Everything but the disconnect probe, which runs later (probe_disconnect)."""
    interval = rng.choice(TIMING_INTERVALS)
    # Twice the stream's length and a margin: an app that ignores count is
    # cut off soon after, instead of holding the run up.
    stream_timeout = max(interval, CONCURRENT_INTERVAL) * TIMING_COUNT * 2 + 1.5
    async with local_client(base_url, stream_timeout) as client:
        params = {"interval": str(interval), "count": str(TIMING_COUNT)}
        solo = await record_exchange(client, "/events", params=params, timeout=stream_timeout)

        idle = await probe_latencies(client, count=3, window=0.03, timeout=5)
        concurrent_params = {"interval": str(CONCURRENT_INTERVAL), "count": str(CONCURRENT_COUNT)}
        streams = [
            record_exchange(client, "/events", params=concurrent_params, timeout=stream_timeout)
            for _ in range(CONCURRENT_STREAMS)
        ]
        window = (CONCURRENT_COUNT - 1) * CONCURRENT_INTERVAL
        busy_task = asyncio.ensure_future(probe_latencies(client, count=6, window=window, timeout=stream_timeout))
        concurrent = await asyncio.gather(*streams)
        busy = await busy_task

        resume_from = rng.randint(10, 99)
        resume = await record_exchange(
            client,
            "/events",
            params={"interval": QUICK_INTERVAL, "count": str(RESUME_COUNT)},
            headers={"Last-Event-ID": str(resume_from)},
            timeout=2,
        )

        validation = []
        for invalid in REFUSED_PARAMETERS:
            # The status is all that counts: an app that accepts the value
            # starts streaming, and need not be followed.
            exchange = await record_exchange(client, "/events", params=invalid, timeout=5, stop_after_bytes=1)
            validation.append((invalid, exchange))

    return EventsRecording(
        interval=interval,
        count=TIMING_COUNT,
        solo=solo,
        concurrent=list(concurrent),
        idle_latencies=idle,
        busy_latencies=busy,
        resume_from=resume_from,
        resume_count=RESUME_COUNT,
        resume=resume,
        validation=validation,
        concurrent_interval=CONCURRENT_INTERVAL,
        concurrent_count=CONCURRENT_COUNT,
    )


async def probe_events_more(base_url: str) -> EventsMore:
    """On a second server, beside probe_events: the default interval, the ranges' ends, unexpected ids."""
    default_timeout = EVENTS_DEFAULT_INTERVAL * DEFAULT_COUNT * 2 + 1.5
    async with local_client(base_url, default_timeout) as client:
        default = await record_exchange(
            client, "/events", params={"count": str(DEFAULT_COUNT)}, timeout=default_timeout
        )
        accepted = []
        for params in ACCEPTED_PARAMETERS:
            exchange = await record_exchange(client, "/events", params=params, timeout=5, stop_after_bytes=1)
            accepted.append((dict(params), exchange))
        unexpected = []
        for value in UNEXPECTED_IDS:
            exchange = await record_exchange(
                client,
                "/events",
                params={"interval": QUICK_INTERVAL, "count": "2"},
                headers={"Last-Event-ID": value},
                timeout=2,
            )
            unexpected.append((value, exchange))
    return EventsMore(default=default, default_count=DEFAULT_COUNT, accepted=accepted, unexpected_ids=unexpected)


async def probe_disconnect(base_url: str, meter: Meter) -> DisconnectRecording:
    """Open endless streams, drop them, and compare the server's activity before, during and after."""
    params = {"interval": str(DISCONNECT_INTERVAL)}
    return await probe_leaving(
        base_url,
        meter,
        lambda client: client.stream("GET", "/events", params=params),
        streams=DISCONNECT_STREAMS,
        interval=DISCONNECT_INTERVAL,
    )


async def probe(ctx: ProbeContext, earlier: None) -> EventsRecording:
    """Everything but the disconnect: the timed streams on its server, the defaults and ranges' ends beside it."""
    recording, more = await asyncio.gather(
        probe_events(ctx.main.base_url, ctx.rng()),
        probe_events_more(ctx.server("more").base_url),
    )
    return dataclasses.replace(recording, more=more)


async def probe_last(ctx: ProbeContext, earlier: EventsRecording) -> EventsRecording:
    """What happens after clients disconnect, last on the same server (a server this breaks spoils nothing
    else); then what the browser saw, on the second server, since the probes began."""
    disconnect = await probe_disconnect(ctx.main.base_url, ctx.main.meter)
    assert isinstance(ctx.run, EventsRun)
    seen = await ctx.run.browsing.recordings()
    return dataclasses.replace(earlier, disconnect=disconnect, browser=seen[ctx.label])


def floor() -> Floor:
    """The waits before the disconnect probe (as chat's), then the disconnect's windows."""
    streams = max(
        (TIMING_COUNT - 1) * max(TIMING_INTERVALS) + (CONCURRENT_COUNT - 1) * CONCURRENT_INTERVAL,
        (DEFAULT_COUNT - 1) * EVENTS_DEFAULT_INTERVAL,
    )
    # The disconnect: the idle baseline, the streaming window, the settle, the
    # quiet window (alone too, after the timing probes: a window it waits out).
    disconnect = IDLE_WINDOW + 2 * CPU_WINDOW + 0.1
    return Floor(timing=streams, heavy=disconnect, alone=streams + disconnect)
