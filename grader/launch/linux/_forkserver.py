"""The fork server's process: imports the web stack once, then forks a launcher per app.

A new interpreter that imports uvicorn and FastAPI costs about 0.5 s of CPU;
a grading starts six servers, a batch three per submission. Forking a
process that has them imported already costs a few milliseconds. The fork
server is single-threaded (forking is safe) and never imports an app: each
child becomes a launcher (``_launch.py``) in a session of its own, with the
environment, folder and file descriptors the grader sent.

Usage: python -P -u -m grader.launch.linux._forkserver FD [LISTENING_FD]
(FD: a SOCK_SEQPACKET Unix socket to the grader; LISTENING_FD: one others may connect to)
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import sys

# What every server imports, done once here. The app's own imports are left
# to the server: they are the app's code and run in its sandbox.
import anyio  # noqa: F401
import fastapi  # noqa: F401
import fastapi.responses  # noqa: F401
import h11  # noqa: F401
import starlette.responses  # noqa: F401
import uvicorn  # noqa: F401
import uvicorn.lifespan.on  # noqa: F401
import uvicorn.loops.asyncio  # noqa: F401
import uvicorn.protocols.http.h11_impl  # noqa: F401

from grader.launch import _serve  # noqa: F401
from grader.launch.linux import _launch, reaper
from grader.launch.spec import LaunchSpec

MAX_REQUEST = 1 << 20


def main(argv: list[str]) -> None:
    """Serve the owner on the socket in ``argv[0]``; with ``argv[1]``, also anyone who connects there.

    A batch shares its fork server with its grading processes that way:
    they connect to the socket path in ``STREAMGRADE_FORKSERVER``. The server
    ends when its owner closes its end.
    """
    owner = socket.socket(fileno=int(argv[0]))
    # Launchers are watched through pidfds and report how they ended on their
    # status pipe, so the kernel may reap them at once: no zombies here.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    # What a killed launcher leaves comes here, not to init: it stays in the
    # grader's tree for the sweeps, and (SIGCHLD ignored) is reaped the moment
    # it dies, so no zombie holds a place in a submission's process limit.
    reaper.become_subreaper()
    waiting = selectors.DefaultSelector()
    waiting.register(owner, selectors.EVENT_READ)
    listener = None
    if len(argv) > 1:
        listener = socket.socket(fileno=int(argv[1]))
        waiting.register(listener, selectors.EVENT_READ)
    while True:
        for key, _ in waiting.select():
            channel = key.fileobj
            if channel is listener:
                connection, _ = listener.accept()
                waiting.register(connection, selectors.EVENT_READ)
                continue
            if not serve_one(channel):
                if channel is owner:
                    return  # the grader or batch that started it has gone
                waiting.unregister(channel)
                channel.close()


def serve_one(channel: socket.socket) -> bool:
    """Fork a launcher for one request on ``channel``; False when the other end has closed."""
    try:
        data, fds, _, _ = socket.recv_fds(channel, MAX_REQUEST, 3)
    except OSError:
        return False
    if not data:
        return False
    request = json.loads(data)
    pid = os.fork()
    if pid == 0:
        become_launcher(request, fds)
    for fd in fds:
        os.close(fd)
    try:
        channel.send(json.dumps({"pid": pid}).encode())
    except OSError:
        return False
    return True


def become_launcher(request: dict, fds: list[int]) -> None:
    """In the forked child: a process like one the grader would have started itself. Never returns."""
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the launcher waits for its children
        os.setsid()  # its own session and process group, as start_new_session gives
        listener, status, log = fds
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(devnull)
        os.close(log)
        # Nothing of the fork server's: holding its sockets would keep it alive after its owner has gone.
        _launch.keep_only([listener, status])
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        spec = LaunchSpec.from_json(request["spec"]).with_fds(listener, status)
    except BaseException:  # noqa: BLE001  (a child must never return into the server's loop)
        os._exit(_launch.SETUP_FAILED)
    _launch.run(spec)
    os._exit(_launch.SETUP_FAILED)


if __name__ == "__main__":
    main(sys.argv[1:])
