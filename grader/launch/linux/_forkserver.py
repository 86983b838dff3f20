"""The fork server's process: imports the web stack once, then forks a launcher per app.

A new interpreter that imports uvicorn and FastAPI costs about 0.5 s of CPU;
a grading starts six servers, a batch three per submission. Forking a
process that has them imported already costs a few milliseconds. The fork
server is single-threaded (forking is safe) and never imports an app: each
child becomes a launcher (``_launch.py``) in a session of its own, with the
environment, folder and file descriptors the grader sent.

It holds nothing secret for an app to find in the memory it inherits: it is
started with a minimal environment (``sandbox.KEPT_VARIABLES``), and the
environment of each launcher comes in a memfd that only the forked child
reads, so no request leaves a copy of one app's environment (the trusted
reference's, say) in the memory the next app is forked with.

Those who connect to the listening socket (a batch's grading processes) are
checked by their peer credentials: the fork server's own user, a child of
the batch that started it, and no process of its own tree (every app is in
it: the fork server adopts what a killed launcher leaves). They may ask only
for the level the batch grades at or a stronger one; ``off`` only for the
trusted folders the batch named (the reference's).

When a client's connection closes (its grading process ended, however), the
fork server kills every launcher it forked for it, with their trees, and
what was orphaned to it: nothing an app started outlives its grading.

Usage: python -P -u -m grader.launch.linux._forkserver FD [LISTENING_FD POLICY_JSON]
(FD: a SOCK_SEQPACKET Unix socket to the grader; LISTENING_FD: one others may
connect to; POLICY_JSON: ``{"floor": LEVEL, "trusted": [FOLDER, ...]}`` for them)
"""

from __future__ import annotations

import gc
import json
import os
import selectors
import signal
import socket
import struct
import sys

# What every server imports, done once here. The app's own imports are left
# to the server: they are the app's code and run in its sandbox.
import anyio  # noqa: F401
import fastapi
import fastapi.responses  # noqa: F401
import h11  # noqa: F401
import starlette.responses  # noqa: F401
import uvicorn
import uvicorn.lifespan.on
import uvicorn.loops.asyncio
import uvicorn.protocols.http.h11_impl  # noqa: F401

from grader.launch import _serve  # noqa: F401
from grader.launch.linux import _launch, _warmup, reaper
from grader.launch.sandbox import LEVELS
from grader.launch.spec import LaunchSpec

MAX_REQUEST = 1 << 20


FDS = 4  # the listening socket, the status pipe, the log pipe and the environment's memfd


class Client:
    """One connection: whom it may ask for what, and the launchers forked for it."""

    def __init__(self, channel: socket.socket, floor: str = "off", trusted: tuple[str, ...] = ()) -> None:
        self.channel = channel
        self.floor = floor
        self.trusted = trusted
        self.launchers: set[int] = set()

    def refusal(self, request: dict) -> str:
        """Why this client may not have ``request``; empty if it may."""
        try:
            spec = LaunchSpec.from_json(request["spec"])
        except (KeyError, TypeError, ValueError):
            return "a malformed request"
        if spec.level not in LEVELS or not isinstance(request.get("cwd"), str):
            return "a malformed request"
        if LEVELS.index(spec.level) >= LEVELS.index(self.floor):
            return ""
        if spec.level == "off" and spec.app_dir in self.trusted:
            return ""
        return f"level {spec.level} is below this batch's {self.floor} for {spec.app_dir!r}"


def peer_allowed(connection: socket.socket) -> bool:
    """A grading process of the batch that started this server: same user, its child, none of the apps here."""
    pid, uid, _ = struct.unpack(
        "3i", connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    )
    if uid != os.getuid() or pid <= 0:
        return False
    # The batch starts its grading processes itself. Every app is below this server (a subreaper:
    # what a killed launcher orphans comes here), so no app's parent is the batch.
    return pid != os.getpid() and reaper.parent_of(pid) == os.getppid()


def main(argv: list[str]) -> None:
    """Serve the owner on the socket in ``argv[0]``; with ``argv[1:3]``, also the batch's grading processes.

    The server ends when its owner closes its end, after killing whatever it
    launched that still runs.
    """
    owner = Client(socket.socket(fileno=int(argv[0])))
    _warmup.warm_up()
    # What is here now stays as it is: a fork's collector never walks it, so
    # it neither spends its CPU on it nor copies the pages it would touch
    # (every fork's first full collection: 24 ms and 2,800 page faults).
    gc.freeze()
    # Launchers are watched through pidfds and report how they ended on their
    # status pipe, so the kernel may reap them at once: no zombies here.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    # What a killed launcher leaves comes here, not to init: it stays in the
    # grader's tree, is swept at once (below), and (SIGCHLD ignored) is reaped
    # the moment it dies, so no zombie holds a place in a process limit.
    reaper.become_subreaper()
    waiting = selectors.DefaultSelector()
    waiting.register(owner.channel, selectors.EVENT_READ, owner)
    listener, policy = None, {}
    if len(argv) > 2:
        listener = socket.socket(fileno=int(argv[1]))
        policy = json.loads(argv[2])
        waiting.register(listener, selectors.EVENT_READ)
    launchers: dict[int, int] = {}  # pid -> its pidfd, while it runs
    clients: dict[int, Client] = {}  # pid -> whom it was forked for, while it runs
    while True:
        for key, _ in waiting.select():
            if key.fileobj is listener:
                connection, _ = listener.accept()
                if peer_allowed(connection):
                    client = Client(connection, policy["floor"], tuple(policy["trusted"]))
                    waiting.register(connection, selectors.EVENT_READ, client)
                else:
                    connection.close()
                continue
            if isinstance(key.data, int):  # a launcher ended: if it was killed, its orphans are here now
                waiting.unregister(key.fileobj)
                os.close(launchers.pop(key.data))
                clients.pop(key.data).launchers.discard(key.data)  # its pid may be another's next
                sweep(launchers)
                continue
            client = key.data
            alive, pid = serve_one(client)
            if pid is not None:
                try:
                    launchers[pid] = os.pidfd_open(pid)
                    waiting.register(launchers[pid], selectors.EVENT_READ, pid)
                    clients[pid] = client
                except OSError:
                    launchers.pop(pid, None)  # ended already
                    client.launchers.discard(pid)
            if not alive:
                if client is owner:
                    reaper.kill_trees(children())
                    return  # the grader or batch that started it has gone: nothing it launched stays
                waiting.unregister(client.channel)
                client.channel.close()
                reaper.kill_trees(client.launchers & children())
                sweep(launchers)


def children() -> set[int]:
    return reaper.children_of(os.getpid())


def sweep(launchers: dict[int, int]) -> None:
    """Kill every tree below here that is not a running launcher's: an orphan has lost its launcher."""
    reaper.kill_trees(children() - set(launchers))


def serve_one(client: Client) -> tuple[bool, int | None]:
    """Fork a launcher for one request from ``client``: (False when the other end has closed, its pid)."""
    try:
        data, fds, _, _ = socket.recv_fds(client.channel, MAX_REQUEST, FDS)
    except OSError:
        return False, None
    if not data:
        return False, None
    try:
        request = json.loads(data)
        refusal = "" if len(fds) == FDS else "a request without its file descriptors"
        refusal = refusal or client.refusal(request)
    except ValueError:
        refusal = "a malformed request"
    if refusal:
        for fd in fds:
            os.close(fd)
        return send(client, {"refused": refusal}), None
    pid = os.fork()
    if pid == 0:
        become_launcher(request, fds)
    client.launchers.add(pid)
    for fd in fds:
        os.close(fd)
    return send(client, {"pid": pid}), pid


def send(client: Client, reply: dict) -> bool:
    try:
        client.channel.send(json.dumps(reply).encode())
    except OSError:
        return False
    return True


def read_environment(fd: int) -> dict[str, str]:
    with open(fd, "rb") as memfd:
        return json.loads(memfd.read())


def become_launcher(request: dict, fds: list[int]) -> None:
    """In the forked child: a process like one the grader would have started itself. Never returns."""
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the launcher waits for its children
        os.setsid()  # its own session and process group, as start_new_session gives
        listener, status, log, environment = fds
        env = read_environment(environment)  # here, in the child: the server's memory never holds it
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(devnull)
        os.close(log)
        # Nothing of the fork server's: holding its sockets would keep it alive after its owner has gone.
        _launch.keep_only([listener, status])
        os.environ.clear()
        os.environ.update(env)
        # The interpreter read PYTHONDONTWRITEBYTECODE when the fork server started, without it:
        # the app's own (server.app_environment sets it) must hold too, or its import writes
        # __pycache__ into the learner's folder.
        sys.dont_write_bytecode = bool(env.get("PYTHONDONTWRITEBYTECODE"))
        os.chdir(request["cwd"])
        spec = LaunchSpec.from_json(request["spec"]).with_fds(listener, status)
    except BaseException:
        os._exit(_launch.SETUP_FAILED)
    _launch.run(spec)
    os._exit(_launch.SETUP_FAILED)


if __name__ == "__main__":
    main(sys.argv[1:])
