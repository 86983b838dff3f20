"""Starting apps in a child process: targets, start failures, and clean stops."""

from __future__ import annotations

import importlib
import io
import os
from pathlib import Path

import httpx
import pytest
from helpers import REFERENCE_APP, ROOT

from grader.launch import AppStartError, TargetError, features, resolve_target, running_app
from grader.launch.server import CapturedLog


def write_app(folder: Path, source: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "app.py"
    path.write_text(source)
    return path


def test_a_target_may_be_a_file_a_folder_or_a_module():
    assert resolve_target(str(REFERENCE_APP)).import_string == "app:app"
    assert resolve_target("reference", cwd=ROOT).app_dir == REFERENCE_APP.parent
    module = resolve_target("reference.app:app", cwd=ROOT)
    assert (module.app_dir, module.import_string) == (ROOT, "reference.app:app")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("missing.py", "no such file"),
        ("tests", "no app.py"),
        ("not a target", "not a file"),
        ("pyproject.toml", "expected a Python file"),
    ],
)
def test_a_bad_target_says_what_is_wrong(spec, message):
    with pytest.raises(TargetError, match=message):
        resolve_target(spec, cwd=ROOT)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("source", "in_log"),
    [
        pytest.param("def broken(:\n", "SyntaxError", id="syntax-error"),
        pytest.param(
            "from fastapi import FastAPI\napplication = FastAPI()\n", 'Attribute "app" not found', id="no-app"
        ),
        pytest.param("import no_such_module_here\n", "ModuleNotFoundError", id="bad-import"),
    ],
)
def test_an_app_that_cannot_start_gives_its_log(tmp_path, source, in_log):
    target = resolve_target(str(write_app(tmp_path, source)))
    with pytest.raises(AppStartError) as caught, running_app(target):
        pass
    assert "exited with code" in str(caught.value)
    assert in_log in caught.value.log


@pytest.mark.slow
def test_an_app_whose_import_hangs_times_out(tmp_path):
    target = resolve_target(str(write_app(tmp_path, "import time\ntime.sleep(60)\n")))
    with (
        pytest.raises(AppStartError, match="did not answer within 1 s") as caught,
        running_app(target, start_timeout=1.0),
    ):
        pass
    assert "--start-timeout" in str(caught.value)  # the message says how to give it longer


@pytest.mark.slow
def test_stopping_kills_the_processes_the_app_started(tmp_path):
    source = (
        "import subprocess, sys\n"
        "from fastapi import FastAPI\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        "app = FastAPI()\n"
        "@app.get('/child')\n"
        "def pid():\n"
        "    return child.pid\n"
    )
    target = resolve_target(str(write_app(tmp_path, source)))
    with running_app(target) as app:
        child_pid = httpx.get(f"{app.base_url}/child").json()
        os.kill(child_pid, 0)  # alive while the app runs
    # Killed with its group; reaped by init (or lingering as a zombie, or dead and being reaped, until then).
    state = Path(f"/proc/{child_pid}/stat")
    assert not state.exists() or state.read_text().split(") ")[1].startswith(("Z", "X"))


def test_a_captured_log_keeps_its_head_and_tail():
    flood = b"".join(b"line %06d\n" % number for number in range(100_000))
    log = CapturedLog(io.BufferedReader(io.BytesIO(flood)))
    log.wait_closed(timeout=5)
    text = log.text()
    assert text.startswith("line 000000")
    assert text.endswith("line 099999")
    assert "bytes of output left out" in text
    assert len(text) < 70_000


EXITS = """
import os, signal
from fastapi import FastAPI
app = FastAPI()
@app.get("/exit/{code}")
def leave(code: int):
    os._exit(code)
@app.get("/killed")
def killed():
    os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.slow
@pytest.mark.parametrize("through", ["fork server", "new interpreter"])
@pytest.mark.parametrize(("path", "code"), [("/exit/3", 3), ("/killed", -9)])
def test_the_grader_learns_how_the_server_ended(tmp_path, monkeypatch, through, path, code):
    if through == "new interpreter":  # where the fork server can't be used
        monkeypatch.setattr(
            "grader.launch.linux.forkserver.ForkServer.spawn", lambda *args: (_ for _ in ()).throw(OSError("none"))
        )
    with running_app(resolve_target(str(write_app(tmp_path, EXITS)))) as app:
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"{app.base_url}{path}", timeout=10)
        assert app.process.wait(timeout=10) == code
        assert not app.is_alive()


@pytest.mark.slow
def test_an_app_that_exits_with_the_setup_failure_code_is_still_blamed_for_it(tmp_path):
    # Exit code 70 is what the launcher uses when the sandbox can't be set up; the app can't borrow it.
    target = resolve_target(str(write_app(tmp_path, "import os\nos._exit(70)\n")))
    with pytest.raises(AppStartError) as caught:
        running_app(target).__enter__()
    assert "exited with code 70" in str(caught.value)
    assert "sandbox" not in str(caught.value)


@pytest.mark.slow
@pytest.mark.parametrize("through", ["fork server", "new interpreter", "portable"])
def test_starting_an_app_writes_no_bytecode_into_its_folder(tmp_path, monkeypatch, through):
    # The fork server starts without PYTHONDONTWRITEBYTECODE (it keeps only harmless variables):
    # each app it forks must still honour its own, or its import leaves __pycache__ beside app.py.
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)
    if through != "portable" and features.detect().missing_for_linux():
        pytest.skip("needs the Linux backend (its fork server)")
    if through == "new interpreter":
        monkeypatch.setattr(
            "grader.launch.linux.forkserver.ForkServer.spawn", lambda *args: (_ for _ in ()).throw(OSError("none"))
        )
    (tmp_path / "helper.py").write_text("GREETING = 'hello'\n")
    app_file = write_app(tmp_path, "from fastapi import FastAPI\nfrom helper import GREETING\napp = FastAPI()\n")
    backend = importlib.import_module("grader.launch.portable" if through == "portable" else "grader.launch")
    app = backend.start_app(resolve_target(str(app_file)))
    try:
        httpx.get(f"{app.base_url}/openapi.json", timeout=10).raise_for_status()
    finally:
        app.stop()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["app.py", "helper.py"]
