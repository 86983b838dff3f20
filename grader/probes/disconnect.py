"""What a server does after its clients leave: open streams, drop them, and meter the server before, during and after.

Shared by the exercises whose streams must stop when the client goes
(exercise 3's endless events, exercise 5's long chat replies); each says how
to open one of its streams.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field

import httpx

from grader.launch import Meter
from grader.probes.http import answer, broke_off, describe_http_error, local_client

CPU_WINDOW = 0.5
# Where CPU time is counted in steps (the portable backend: 10 ms clock ticks
# on Linux and macOS, 15.6 ms on Windows), the window is at least this many
# steps long. The reference burns about 3% of a core while streaming here, a
# leaking app as much after the clients left: over 150 steps that is 4.5
# steps, over twice the two steps a difference of readings of both apps may
# be off by, so a leak still fails outside the uncertainty.
CPU_WINDOW_STEPS = 150
# The server's own background activity, measured before the streams open
# (and scaled to CPU_WINDOW): an app may wake up on its own (a heartbeat
# task), which is no leak. Half a window: wake-ups of an idle server are few.
IDLE_WINDOW = 0.25


@dataclass
class DisconnectRecording:
    """What a server did before, while and after clients left its streams."""

    streams: int
    events_before_disconnect: int
    window: float
    streaming_cpu: float  # server CPU seconds over one window while clients read
    quiet_cpu: float  # ... over one window after they left
    answers_after: bool  # the server still answered a request afterwards
    error: str | None = None
    # Seconds: how far quiet_cpu may be from the truth (the meter's resolution; 0 for exact readings).
    cpu_uncertainty: float = 0.0
    # Streams that ended by themselves before the client left, and how
    # (nothing was left to stop: the disconnect was not exercised on them).
    ended_early: list[str] = field(default_factory=list)
    broken: bool = False  # one of them broke off (a crash, usually)
    refused: int | None = None  # the status of an endless stream answered with another status than 200
    interval: float = 0.0  # the interval the endless streams asked for
    # Wake-ups of the server's threads (context switches, see launch.measure.Meter.wakeups):
    # over idle_window before the streams opened, and over one window while
    # clients read and after they left.
    idle_window: float = 0.0
    idle_wakeups: int = 0
    streaming_wakeups: int = 0
    quiet_wakeups: int = 0


def how_measured(disconnect: DisconnectRecording | None) -> tuple[list[str], list[str]]:
    """How the CPU time after the clients left was measured, for the report: (exact, sampled) sentences."""
    if disconnect is None:
        return [], []
    if disconnect.cpu_uncertainty >= 1e-3:
        return [], [
            f"CPU time: counted by the system in steps, up to {disconnect.cpu_uncertainty * 1000:.0f} ms "
            "off over a measurement window; a difference that small is not judged"
        ]
    return ["CPU time: to the nanosecond, over the app's processes"], []


OpenStream = Callable[[httpx.AsyncClient], AbstractAsyncContextManager[httpx.Response]]


async def activity_over(meter: Meter, seconds: float) -> tuple[float, int]:
    """The app's CPU seconds and wake-ups over ``seconds``."""
    cpu_before, wakeups_before = meter.cpu_seconds(), meter.wakeups()
    await asyncio.sleep(seconds)  # the measurement window itself
    return max(0.0, meter.cpu_seconds() - cpu_before), max(0, meter.wakeups() - wakeups_before)


async def probe_leaving(
    base_url: str, meter: Meter, open_stream: OpenStream, *, streams: int, interval: float
) -> DisconnectRecording:
    """Open ``streams`` streams (each paced at ``interval``), leave them, and compare the server's activity."""
    window = max(CPU_WINDOW, CPU_WINDOW_STEPS * meter.cpu_resolution)
    received = 0
    streaming_cpu = quiet_cpu = 0.0
    idle_wakeups = streaming_wakeups = quiet_wakeups = 0
    error = None
    ended_early: list[str] = []
    broken = False
    refused = None
    clients = [local_client(base_url, 5) for _ in range(streams)]
    try:
        _, idle_wakeups = await activity_over(meter, IDLE_WINDOW)
        contexts = [open_stream(client) for client in clients]
        async with asyncio.timeout(5):
            responses = [await context.__aenter__() for context in contexts]
            refused = next((response.status_code for response in responses if response.status_code != 200), None)
            readers = [response.aiter_raw() for response in responses]
            for reader in readers:
                # Wait for the first bytes, so the streams are really running.
                await anext(reader)
                received += 1
        # Keep reading while measuring, so the server isn't held up by full buffers.
        drain = [asyncio.ensure_future(drain_forever(reader)) for reader in readers]
        streaming_cpu, streaming_wakeups = await activity_over(meter, window)
        # A stream that ended by itself has nothing left for a disconnect to stop.
        ended = [task.result() for task in drain if task.done()]
        ended_early = [how for how, _ in ended]
        broken = any(broke for _, broke in ended)
        for task in drain:
            task.cancel()
        await asyncio.gather(*drain, return_exceptions=True)
        for context in contexts:
            await context.__aexit__(None, None, None)
        for client in clients:
            await client.aclose()
        await asyncio.sleep(0.1)  # give the server a moment to notice the disconnects
        quiet_cpu, quiet_wakeups = await activity_over(meter, window)
    except StopAsyncIteration:
        error = "a stream ended before its first bytes"
    except TimeoutError:
        error = "a stream sent nothing within 5 s"
    except (httpx.HTTPError, OSError) as failure:
        error = describe_http_error(failure) if isinstance(failure, httpx.HTTPError) else str(failure)
        broken = broke_off(failure)
    finally:
        for client in clients:
            await client.aclose()

    async with local_client(base_url, 3) as client:
        answers_after = await answer(client, "/openapi.json", timeout=3) is not None
    return DisconnectRecording(
        streams=streams,
        events_before_disconnect=received,
        window=window,
        streaming_cpu=streaming_cpu,
        quiet_cpu=quiet_cpu,
        answers_after=answers_after,
        error=error,
        # A difference of two readings counted in steps is off by less than one step, for each process.
        cpu_uncertainty=meter.cpu_resolution * max(1, meter.process_count()),
        ended_early=ended_early,
        broken=broken,
        refused=refused,
        interval=interval,
        idle_window=IDLE_WINDOW,
        idle_wakeups=idle_wakeups,
        streaming_wakeups=streaming_wakeups,
        quiet_wakeups=quiet_wakeups,
    )


async def drain_forever(reader: AsyncIterator[bytes]) -> tuple[str, bool]:
    """Read until cancelled; a stream that ends first says how (and whether it broke off)."""
    try:
        async for _ in reader:
            pass
    except httpx.HTTPError as failure:
        return describe_http_error(failure), broke_off(failure)
    return "it ended", False
