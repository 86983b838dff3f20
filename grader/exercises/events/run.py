"""The events exercise's part of a recording run: a headless browser's EventSource beside the probes."""

from __future__ import annotations

from grader.exercises.events.browser_probe import BrowserSession
from grader.launch import RunningApp
from grader.probes.context import ExerciseRun, RunSettings

BROWSED = "events-more"  # the server the browser's page reads


class EventsRun(ExerciseRun):
    """The browser starts as the first probes do, and is awaited after the last phase.

    Its start-up (about a second of CPU, more on a loaded machine) then
    overlaps the probes' waits. Started with the servers, as it was, it took
    CPU from their start and from the openai import that every timing probe
    waits for: a grade of the reference took a median of 0.2 s longer. Its
    page reads each app's second events server.
    """

    def __init__(self, settings: RunSettings) -> None:
        super().__init__(settings)
        self.browsing = BrowserSession(list(settings.labels))

    def probes_begin(self) -> None:
        self.browsing.start()

    def started(self, label: str, servers: dict[str, RunningApp] | None) -> None:
        server = (servers or {}).get(BROWSED)
        self.browsing.app_runs(label, server.base_url if server else None)

    async def close(self) -> None:
        await self.browsing.stop()
