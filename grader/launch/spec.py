"""What a launcher is asked to start: typed, and turned into JSON only to cross into another process."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace

from grader.launch.sandbox import Limits


@dataclass(frozen=True)
class LaunchSpec:
    app_dir: str
    import_string: str
    level: str = "off"  # a sandbox.LEVELS name
    limits: Limits = field(default_factory=Limits)
    cgroup_procs: list[str] = field(default_factory=list)  # the cgroup.procs files the launcher joins
    root: str | None = None  # where an isolated app's file-system view is mounted
    readonly: list[str] = field(default_factory=list)  # folders the app must read besides its own
    work_dir: str = ""  # the folder the server starts in; the app's own when empty
    user_namespace: bool = False  # isolate without root: a user namespace first (linux/userns.py)
    # The launcher's ends of the listening socket and of the status pipe, once they are known.
    fd: int = -1
    status_fd: int = -1

    def with_fds(self, fd: int, status_fd: int) -> LaunchSpec:
        return replace(self, fd=fd, status_fd=status_fd)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> LaunchSpec:
        data = json.loads(text)
        return cls(**{**data, "limits": Limits(**data["limits"])})
