"""The events exercise's part of a recording run: a headless browser's EventSource beside the probes."""

from __future__ import annotations

from grader.exercises.events.browser_probe import BrowserSession
from grader.launch import RunningApp
from grader.probes.context import ExerciseRun, RunSettings

BROWSED = "events-more"  # the server the browser's page reads


class EventsRun(ExerciseRun):
    """The browser starts first, beside the servers: its start-up (seconds on a
    loaded machine) then overlaps theirs and the probes' instead of adding to
    them. Its page reads each app's second events server."""

    def __init__(self, settings: RunSettings) -> None:
        super().__init__(settings)
        self.browsing = BrowserSession(list(settings.labels))
        self.browsing.start()

    def started(self, label: str, servers: dict[str, RunningApp] | None) -> None:
        server = (servers or {}).get(BROWSED)
        self.browsing.app_runs(label, server.base_url if server else None)

    async def close(self) -> None:
        await self.browsing.stop()
