"""Probe GET /events with a real client: an EventSource in headless Chromium.

The page promises that ``new EventSource("/events")`` receives the events
and reconnects by itself, resuming with ``Last-Event-ID``. One browser
serves every app recorded in the run (the learner's and the reference's,
each on its own relay, so each page is same-origin with its own stream): its
start-up, about a second of CPU, is paid once. The page asks for ``count``
events, lets the stream end, and takes ``count`` more after the browser
reconnects; then it posts what it saw. The recording ends when every page has
reported, or when a deadline passes: awaited, never slept.
"""

from __future__ import annotations

import asyncio
import contextlib
import traceback
from string import Template

from grader import browser
from grader.exercises.events.recording import BrowserEvent, BrowserRecording
from grader.exercises.events.sseproxy import RETRY_MS, EventsProxy
from grader.probes.http import now

# Two events a connection: the first stream ends after event 2, the browser
# reconnects with Last-Event-ID: 2, and events 3 and 4 must follow. Quick,
# yet inside the allowed range (not its end: an app that refuses the end
# fails events.validation only).
BROWSER_COUNT = 2
BROWSER_INTERVAL = 0.02
# Chromium starts in 1.5 to 5 s on a loaded 2-core machine; past this the
# browser is taken to be broken (no verdict), not slow.
LOAD_DEADLINE = 30.0
# From the moment the apps run and the page is loaded to its report: the
# streams take about 0.1 s; this leaves room for a server that blocks its
# loop (time.sleep) and for a machine under load. Only a page that never
# reports waits this long.
PAGE_DEADLINE = 10.0
# What of each event's data the page keeps.
DATA_CAP = 200

PAGE = Template("""<!doctype html>
<meta charset="utf-8">
<title>streamgrade: EventSource</title>
<script>
"use strict";
// What the exercise page shows: new EventSource("/events"), onmessage.
const wanted = $wanted;
const seen = {events: [], errors: 0, ended: ""};
const source = new EventSource("events?interval=$interval&count=$count");
let connection = 0;
const now = () => performance.now() / 1000;
function finish(how) {
  if (seen.ended) return;
  seen.ended = how;
  source.close();
  fetch("report", {method: "POST", body: JSON.stringify(seen)});
}
source.onopen = () => { connection += 1; };
source.onmessage = (event) => {
  seen.events.push({id: event.lastEventId, data: String(event.data).slice(0, $cap), connection, at: now()});
  if (seen.events.length >= wanted) finish("complete");
};
source.onerror = () => {
  // An error event comes each time a connection ends: the browser then
  // reconnects by itself (CONNECTING) or gives up (CLOSED).
  seen.errors += 1;
  if (source.readyState === EventSource.CLOSED) finish("closed");
  else if (seen.errors >= 2) finish("ended twice");
};
</script>
""")


def page() -> str:
    return PAGE.substitute(
        wanted=2 * BROWSER_COUNT, interval=f"{BROWSER_INTERVAL:g}", count=BROWSER_COUNT, cap=DATA_CAP
    )


def empty(*, not_run: str = "", problem: str = "") -> BrowserRecording:
    return BrowserRecording(
        count=BROWSER_COUNT, interval=BROWSER_INTERVAL, retry_ms=RETRY_MS, not_run=not_run, problem=problem
    )


async def browse_events(apps: dict[str, asyncio.Future[str | None]]) -> dict[str, BrowserRecording]:
    """For each app (label -> its events server's base URL, once it runs): what a browser's EventSource saw."""
    chromium = browser.find_chromium()
    if chromium is None:
        return {label: empty(not_run=browser.why_missing()) for label in apps}
    stream_timeout = PAGE_DEADLINE
    proxies = {label: EventsProxy(page(), app, stream_timeout) for label, app in apps.items()}
    started = now()
    problem = ""
    try:
        for proxy in proxies.values():
            await proxy.start()
        first, *others = proxies.values()
        first.frames = [proxy.base for proxy in others]
        async with browser.open_page(chromium, first.url) as running:
            exited = asyncio.ensure_future(running.exited())
            try:
                problem = await settle(list(proxies.values()), list(apps.values()), exited)
                if problem and exited.done():
                    tail = running.log_tail().strip()
                    problem += f" (its last words: {tail[-600:]})" if tail else ""
            finally:
                exited.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await exited
    finally:
        for proxy in proxies.values():
            await proxy.close()
    seconds = now() - started
    return {label: recording(proxy, problem, started, seconds) for label, proxy in proxies.items()}


async def settle(proxies: list[EventsProxy], apps: list[asyncio.Future[str | None]], exited: asyncio.Future) -> str:
    """Wait for every page to load and report; what went wrong on the browser's side, or ""."""
    loaded = asyncio.ensure_future(asyncio.gather(*(proxy.loaded.wait() for proxy in proxies)))
    reported = asyncio.ensure_future(asyncio.gather(*(proxy.reported.wait() for proxy in proxies)))
    try:
        await asyncio.wait({loaded, exited}, timeout=LOAD_DEADLINE, return_when=asyncio.FIRST_COMPLETED)
        if exited.done():
            return f"Chromium exited with code {exited.result()} before it loaded the test page"
        if not loaded.done():
            return f"Chromium did not load the test page within {LOAD_DEADLINE:g} s"
        # The page deadline runs from when the apps' servers run (the heavy ones may still be starting).
        await asyncio.gather(*apps)
        await asyncio.wait({reported, exited}, timeout=PAGE_DEADLINE, return_when=asyncio.FIRST_COMPLETED)
        if exited.done() and not reported.done():
            return f"Chromium exited with code {exited.result()} while the test page ran"
        return ""  # a page that did not report is the app's evidence: its streams are recorded
    finally:
        for task in (loaded, reported):
            task.cancel()
        await asyncio.gather(loaded, reported, return_exceptions=True)


def recording(proxy: EventsProxy, problem: str, started: float, seconds: float) -> BrowserRecording:
    result = empty(problem=problem)
    result.streams = proxy.streams
    result.seconds = round(seconds, 3)
    if proxy.page_loaded_at is not None:
        result.load_seconds = round(proxy.page_loaded_at - started, 3)
    report = proxy.report if isinstance(proxy.report, dict) else {}
    result.ended = str(report.get("ended", ""))[:40]
    errors = report.get("errors", 0)
    result.errors = errors if isinstance(errors, int) else 0
    events = report.get("events", [])
    for event in events if isinstance(events, list) else []:
        if isinstance(event, dict):
            with contextlib.suppress(TypeError, ValueError):
                result.events.append(
                    BrowserEvent(
                        id=str(event.get("id", ""))[:DATA_CAP],
                        data=str(event.get("data", ""))[:DATA_CAP],
                        connection=int(event.get("connection", 0)),
                        at=float(event.get("at", 0.0)),
                    )
                )
    return result


class BrowserSession:
    """The browser probe as a run drives it: told when each app's server runs, started when the probes start."""

    def __init__(self, labels: list[str]) -> None:
        loop = asyncio.get_running_loop()
        # Made now: the servers may run before the browser starts.
        self.apps: dict[str, asyncio.Future[str | None]] = {label: loop.create_future() for label in labels}
        self.task: asyncio.Future[dict[str, BrowserRecording]] | None = None

    def start(self) -> None:
        if self.task is None:
            self.task = asyncio.ensure_future(self.browse())

    def app_runs(self, label: str, base_url: str | None) -> None:
        """``label``'s events server answers at ``base_url`` (None: it did not start)."""
        if not self.apps[label].done():
            self.apps[label].set_result(base_url)

    async def browse(self) -> dict[str, BrowserRecording]:
        try:
            return await browse_events(self.apps)
        except Exception as failure:  # the grader's own failure: no verdict, and said why
            last = traceback.format_exception_only(failure)[-1].strip()
            return {label: empty(problem=f"the grader's browser probe failed ({last})") for label in self.apps}

    async def recordings(self) -> dict[str, BrowserRecording]:
        assert self.task is not None
        return await self.task

    async def stop(self) -> None:
        """End the probe, however far it got: the browser is stopped and its profile removed."""
        for label in self.apps:
            self.app_runs(label, None)
        if self.task is not None and not self.task.done():
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
