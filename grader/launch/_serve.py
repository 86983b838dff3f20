"""Child-process entry point: serve an app with uvicorn on a socket the grader bound.

Runs in the app's process, never the grader's. ``uvicorn --fd`` would do,
but it rebuilds the socket as AF_UNIX, so asyncio doesn't set TCP_NODELAY on
the connections and Nagle's algorithm holds small writes back for up to
40 ms: noise in every timing the grader measures. Here the socket keeps its
real family.

Usage: python -m grader.launch._serve FD APP_DIR MODULE:ATTRIBUTE
(FD "-": the socket comes from ``socket.share`` on standard input, where
children inherit no descriptors: Windows)
"""

from __future__ import annotations

import socket
import sys

import uvicorn


def inherited_socket(fd: str) -> socket.socket:
    """The launcher's listening socket: shared through standard input ("-", Windows), or a descriptor."""
    if fd == "-" and sys.platform == "win32":
        return socket.fromshare(sys.stdin.buffer.read())
    return socket.socket(fileno=int(fd))  # family and type detected from the descriptor


def main(argv: list[str]) -> None:
    fd, app_dir, import_string = argv[0], argv[1], argv[2]
    sys.path.insert(0, app_dir)
    listener = inherited_socket(fd)
    config = uvicorn.Config(
        import_string,
        # Pinned so that behaviour doesn't depend on which optional speedups
        # (uvloop, httptools) happen to be installed.
        loop="asyncio",
        http="h11",
        lifespan="auto",
        access_log=False,
        log_level="warning",
    )
    uvicorn.Server(config).run(sockets=[listener])


if __name__ == "__main__":
    main(sys.argv[1:])
