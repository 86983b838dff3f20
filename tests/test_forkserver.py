"""The fork server every app is forked from: what its memory holds, whom it serves, what it refuses."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import httpx
import pytest

from grader.launch.linux.backend import start_app
from grader.launch.linux.forkserver import ForkServer, shared
from grader.launch.sandbox import Policy
from grader.launch.server import resolve_target

# Starts apps through the fork server.
pytestmark = pytest.mark.slow

APP = "from fastapi import FastAPI\napp = FastAPI()\n"


def memory_holds(pid: int, needle: bytes) -> bool:
    """Whether any readable byte of process ``pid``'s memory is ``needle`` (needs ptrace rights over it)."""
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", buffering=0) as memory:
        for line in maps:
            fields = line.split()
            if "r" not in fields[1] or line.rstrip().endswith(("[vvar]", "[vsyscall]", "[vvar_vclock]")):
                continue
            start, end = (int(value, 16) for value in fields[0].split("-"))
            try:
                memory.seek(start)
                if needle in memory.read(end - start):
                    return True
            except (OSError, ValueError, OverflowError):
                continue
    return False


def test_the_fork_server_holds_no_secret_after_starting_an_app_with_one(tmp_path, monkeypatch):
    secret = f"streamgrade-secret-{uuid.uuid4().hex}"
    monkeypatch.setenv("INSTRUCTOR_TOKEN", secret)
    (tmp_path / "app.py").write_text(APP + "import os\n@app.get('/env')\ndef env():\n    return dict(os.environ)\n")
    # At off the app gets the grader's environment (the reference does): the fork server must not keep it.
    app = start_app(resolve_target(str(tmp_path / "app.py")), policy=Policy("off"))
    try:
        seen = httpx.get(f"{app.base_url}/env", timeout=10).json()
        assert seen["INSTRUCTOR_TOKEN"] == secret, "the secret reached the app it was meant for"
        server = shared().pid
        assert server is not None
        with open(f"/proc/{server}/environ", "rb") as environ:
            assert b"INSTRUCTOR_TOKEN" not in environ.read()
        assert memory_holds(server, b"uvicorn"), "the scan reads the fork server's memory"
        assert not memory_holds(server, secret.encode())
    finally:
        app.stop()


CLIENT = textwrap.dedent("""
    import json, os, socket, sys
    path, level, app_dir, fork = sys.argv[1:5]
    if fork == "grandchild" and os.fork() != 0:
        _, status = os.wait()
        sys.exit(os.waitstatus_to_exitcode(status))
    channel = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    channel.settimeout(10)
    try:
        channel.connect(path)
        environment = os.memfd_create("env")
        os.write(environment, b"{}")
        read_end, write_end = os.pipe()
        spec = json.dumps({"level": level, "app_dir": app_dir, "import_string": "app:app", "limits": {}})
        socket.send_fds(channel, [json.dumps({"spec": spec, "cwd": "/"}).encode()],
                        [write_end, write_end, write_end, environment])
        print(channel.recv(4096).decode() or "closed")
    except OSError as error:
        print(f"closed ({error})")
""")


@pytest.fixture
def batch_server():
    """A fork server shared the way a batch shares it: level limits, the reference's folder trusted."""
    server = ForkServer()
    server.start(share=True, floor="limits", trusted=["/reference"])
    try:
        yield server
    finally:
        server.stop()


def ask(server: ForkServer, level: str, app_dir: str, fork: str = "child") -> str:
    finished = subprocess.run(
        [sys.executable, "-c", CLIENT, server.address(), level, app_dir, fork],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return finished.stdout.strip()


def test_a_batchs_fork_server_refuses_a_level_below_the_batchs(batch_server):
    reply = json.loads(ask(batch_server, "off", "/submission"))
    assert "below this batch's limits" in reply["refused"]


def test_a_batchs_fork_server_refuses_a_malformed_request(batch_server):
    assert "malformed" in json.loads(ask(batch_server, "everything", "/submission"))["refused"]


def test_a_batchs_fork_server_serves_its_own_children_only(batch_server):
    # The same request: answered for a child of the batch (here: of this test), refused for its grandchild.
    assert "refused" in json.loads(ask(batch_server, "off", "/submission"))  # answered, if only to refuse
    assert ask(batch_server, "off", "/submission", fork="grandchild").startswith("closed")


def test_the_reference_may_run_unsandboxed_from_a_batchs_fork_server(batch_server):
    # Allowed: the launcher is forked (and fails at once on the test's pipes, which is not what is tested).
    reply = json.loads(ask(batch_server, "off", "/reference"))
    assert "pid" in reply


def test_the_fork_server_starts_with_no_secret_in_its_environment(monkeypatch):
    monkeypatch.setenv("INSTRUCTOR_TOKEN", "secret")
    server = ForkServer()
    server.start()
    try:
        # Empty until the kernel has set up the new program (Popen returns a little before that).
        deadline = time.monotonic() + 10
        while not (environ := Path(f"/proc/{server.pid}/environ").read_bytes()) and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        server.stop()
    assert b"INSTRUCTOR_TOKEN" not in environ
    assert re.search(rb"(^|\0)PATH=", environ)


def test_the_fork_servers_warm_up_leaves_an_apps_routes_nothing_to_import():
    """Declaring a route and describing the API import nothing more after the warm-up: every fork inherits it."""
    script = textwrap.dedent(
        """
        import sys
        from typing import Annotated
        from fastapi import FastAPI, Query
        from fastapi.responses import StreamingResponse
        from grader.launch.linux import _warmup

        _warmup.warm_up()
        before = set(sys.modules)
        app = FastAPI()

        @app.get("/chat")
        def chat(prompt: str = "hello", delay: Annotated[float, Query(ge=0, le=5)] = 0.2) -> StreamingResponse:
            return StreamingResponse(iter([prompt]), media_type="text/plain")

        app.openapi()
        print(sorted(set(sys.modules) - before))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_a_failing_warm_up_does_not_stop_the_fork_server(monkeypatch):
    from grader.launch.linux import _warmup

    def broken() -> None:
        raise TypeError("a FastAPI that declares routes differently")

    monkeypatch.setattr(_warmup, "FastAPI", broken)
    _warmup.warm_up()  # nothing raised: only the saving is lost
