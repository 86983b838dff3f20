"""The portable backend (macOS, Windows; forced here on Linux) judges every bank app as the Linux backend does.

Two ways: the whole bank graded in batches under ``STREAMGRADE_BACKEND=portable``
(the statuses must equal the table in bank_verdicts.py, check for check), and the
command run with Linux's facilities taken away before the grader is imported
(no os.fork, /proc, resource, SOCK_SEQPACKET or pidfd), as on a system that
never had them: it picks the portable backend by itself, grades, and leaves
no process behind.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid

import psutil
import pytest
from bank_verdicts import FAULTY, NO_BONUS, NOT_RUN, expected_misses
from helpers import BANK, REFERENCE_APP, ROOT

from grader.launch import features

# One batch per exercise, so each app is judged on its own exercise (as the
# bank test does), with the correct apps among them.
CORRECT = {  # name -> the checks it misses (extra credit it does not attempt)
    "correct_sync_generators": NO_BONUS,
    "correct_fileresponse": {},
    "correct_fastapi_sse": NOT_RUN,
    "correct_sse_starlette_crlf": NOT_RUN,
    "correct_behind_middleware": {},
    "correct_responses_classes": {},
    "correct_responses_response_class": {},
    "correct_responses_files": {},
    "correct_openai_sse_starlette": {},
    "correct_openai_fastapi_sse": {},
    "correct_openai_sync_generator": {},
}
BATCHES = {
    "chat": [name for name in FAULTY if name.startswith("chat_")] + ["correct_behind_middleware"],
    "bigfile": [name for name in FAULTY if name.startswith("bigfile_")]
    + ["correct_sync_generators", "correct_fileresponse"],
    "events": [name for name in FAULTY if name.startswith("events_")]
    + ["correct_fastapi_sse", "correct_sse_starlette_crlf"],
    "responses": [name for name in FAULTY if name.startswith("responses_")]
    + ["correct_responses_classes", "correct_responses_response_class", "correct_responses_files"],
    "openai": [name for name in FAULTY if name.startswith("openai_")]
    + ["correct_openai_sse_starlette", "correct_openai_fastapi_sse", "correct_openai_sync_generator"],
}
BATCH_TIMEOUT = 1200  # seconds for one exercise's batch; a batch of 13 apps takes about 2 minutes


def portable_environment() -> dict[str, str]:
    return {**os.environ, features.BACKEND_VARIABLE: "portable"}


@pytest.fixture(scope="module")
def portable_bank(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """Every bank app's results.json, graded by ``streamgrade batch`` with the portable backend."""
    results: dict[str, dict] = {}
    for exercise, names in BATCHES.items():
        root = tmp_path_factory.mktemp(f"portable-{exercise}")
        submissions = root / "class"
        submissions.mkdir()
        for name in names:
            shutil.copyfile(BANK / f"{name}.py", submissions / f"{name}.py")
        config = root / "grading.toml"
        config.write_text(f'exercises = ["{exercise}"]\n[sandbox]\nlevel = "off"\n')
        command = [
            sys.executable,
            "-m",
            "grader",
            "batch",
            str(submissions),
            "--out",
            str(root / "out"),
            "--config",
            str(config),
        ]
        finished = subprocess.run(
            command, capture_output=True, text=True, cwd=ROOT, timeout=BATCH_TIMEOUT, env=portable_environment()
        )
        assert finished.returncode == 0, finished.stdout + finished.stderr
        for name in names:
            results[name] = json.loads((root / "out" / "students" / name / "results.json").read_text())
    return results


def misses(results: dict) -> dict[str, str]:
    return {check["id"]: check["status"] for check in results["checks"] if check["status"] != "passed"}


# The first test to ask for portable_bank waits for every batch.
BANK_TIMEOUT = pytest.mark.timeout(len(BATCHES) * BATCH_TIMEOUT)


@pytest.mark.slow
@BANK_TIMEOUT
@pytest.mark.parametrize("name", sorted(FAULTY) + sorted(CORRECT))
def test_the_portable_backend_gives_the_linux_verdicts(portable_bank, name):
    results = portable_bank[name]
    expected = CORRECT[name] if name in CORRECT else expected_misses(name)
    got = misses(results)
    # What each differing check said, with the notes, as text (pytest cuts a repr short): a flip
    # under this load is then read from CI's log alone.
    said = "\n".join(
        f"{check['id']}: {check.get('message')}"
        for check in results["checks"]
        if got.get(check["id"]) != expected.get(check["id"])
    )
    assert got == expected, "\n".join([said, *results["notes"]])
    assert results["measurement"]["backend"] == "portable"


@pytest.mark.slow
@BANK_TIMEOUT
def test_the_portable_report_says_what_was_sampled(portable_bank):
    measured = portable_bank["bigfile_read_all"]["measurement"]
    assert any("sampled every 20 ms" in text or "every 20 ms" in text for text in measured["sampled"])
    assert measured["exact"] == []


# Run as ``python -c BOOTSTRAP ARGS...``: takes away what only Linux has, then
# runs the grader's command as ``python -m grader`` would. psutil keeps /proc
# and resource (it is how psutil works on Linux, as it uses other means
# elsewhere); the grader's own code gets FileNotFoundError and ImportError.
BOOTSTRAP = r"""
import builtins, io, os, signal, socket, sys

import psutil  # first: on Linux psutil itself imports resource and reads /proc (it uses other means elsewhere)

for module, names in ((os, ("fork", "forkpty", "pidfd_open", "register_at_fork")),
                      (socket, ("SOCK_SEQPACKET",)), (signal, ("pidfd_send_signal",))):
    for name in names:
        if hasattr(module, name):
            delattr(module, name)
for name in ("resource", "fcntl"):
    sys.modules[name] = None  # import resource: ImportError, as on Windows


def hidden(path):
    try:
        text = os.fsdecode(path) if not isinstance(path, int) else ""
    except TypeError:
        return False
    if not (text == "/proc" or text.startswith("/proc/")):
        return False
    caller = sys._getframe(2).f_globals.get("__name__", "")
    return not caller.startswith("psutil")


def guard(function):
    def guarded(path, *args, **kwargs):
        if hidden(path):
            raise FileNotFoundError(2, "No such file or directory (hidden for this test)", str(path))
        return function(path, *args, **kwargs)
    return guarded


def exists_guard(function):
    def guarded(path, *args, **kwargs):
        return False if hidden(path) else function(path, *args, **kwargs)
    return guarded


builtins.open = io.open = guard(builtins.open)
os.open, os.scandir, os.listdir, os.stat = (guard(os.open), guard(os.scandir), guard(os.listdir),
                                            guard(os.stat))
os.path.exists, os.path.isdir, os.path.isfile = (exists_guard(os.path.exists), exists_guard(os.path.isdir),
                                                 exists_guard(os.path.isfile))

import runpy

sys.argv = ["streamgrade", *sys.argv[1:]]
runpy.run_module("grader", run_name="__main__", alter_sys=True)
"""


def without_linux(*args: str, marker: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key != features.BACKEND_VARIABLE}
    env["STREAMGRADE_TEST_MARKER"] = marker  # inherited by the apps (sandbox off): finds what is left
    return subprocess.run(
        [sys.executable, "-c", BOOTSTRAP, *args], capture_output=True, text=True, cwd=ROOT, timeout=300, env=env
    )


def marked(marker: str) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter():
        try:
            if process.environ().get("STREAMGRADE_TEST_MARKER") == marker:
                found.append(process)
        except psutil.Error:
            continue
    return found


@pytest.mark.slow
def test_without_linux_facilities_the_reference_gets_full_marks(tmp_path):
    marker = uuid.uuid4().hex
    output = tmp_path / "results.json"
    finished = without_linux("check", str(REFERENCE_APP), "--json", str(output), marker=marker)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    results = json.loads(output.read_text())
    assert misses(results) == {}
    assert results["total"] == results["score"] + 3 == results["max_score"] + 3  # with the extra credit
    assert results["measurement"]["backend"] == "portable"
    assert "Measured with the portable backend" in finished.stdout
    assert marked(marker) == []


@pytest.mark.slow
def test_without_linux_facilities_a_faulty_app_gets_its_verdicts(tmp_path):
    marker = uuid.uuid4().hex
    output = tmp_path / "results.json"
    name = "bigfile_child_reads_whole"
    finished = without_linux(
        "check", str(BANK / f"{name}.py"), "--exercise", "bigfile", "--json", str(output), marker=marker
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert misses(json.loads(output.read_text())) == expected_misses(name)
    assert marked(marker) == []


def test_the_bootstrap_really_takes_linux_away():
    probe = (
        "from grader.launch import features; f = features.detect(); "
        "print(f.missing_for_linux(), features.backend_name())"
    )
    bootstrap = BOOTSTRAP.split("import runpy")[0] + probe
    finished = subprocess.run([sys.executable, "-c", bootstrap], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.strip() == (
        "['os.fork', '/proc', 'SOCK_SEQPACKET', 'pidfd', 'the resource module'] portable"
    )


def test_without_linux_facilities_no_linux_module_is_imported():
    probe = (
        "import grader.cli, grader.plugin, grader.probes.run, grader.batch.runner, grader.watch; "
        "from grader import launch; launch.backend(); "
        "print(sorted(name for name in sys.modules if name.startswith('grader.launch.linux')))"
    )
    bootstrap = BOOTSTRAP.split("import runpy")[0] + probe
    finished = subprocess.run([sys.executable, "-c", bootstrap], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.strip() == "[]"


def test_an_unknown_backend_is_a_usage_error(tmp_path):
    env = {**os.environ, features.BACKEND_VARIABLE: "bsd"}
    finished = subprocess.run(
        [sys.executable, "-m", "grader", "check", str(REFERENCE_APP)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        env=env,
    )
    assert finished.returncode == 2
    assert "STREAMGRADE_BACKEND='bsd'" in finished.stderr
    assert "Traceback" not in finished.stderr


@pytest.mark.slow
def test_the_hidden_option_chooses_the_backend_as_the_variable_does(tmp_path):
    output = tmp_path / "results.json"
    env = {key: value for key, value in os.environ.items() if key != features.BACKEND_VARIABLE}
    command = [
        sys.executable,
        "-m",
        "grader",
        "check",
        str(REFERENCE_APP),
        "--backend",
        "portable",
        "--exercise",
        "chat",
        "--json",
        str(output),
        "--no-html",
    ]
    finished = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=120, env=env)
    assert finished.returncode == 0, finished.stderr
    assert json.loads(output.read_text())["measurement"]["backend"] == "portable"


def test_the_linux_backend_is_chosen_where_it_can_run():
    if features.detect().missing_for_linux():
        pytest.skip(f"this system has no {features.detect().missing_for_linux()}")
    env = {key: value for key, value in os.environ.items() if key != features.BACKEND_VARIABLE}
    probe = "from grader.launch import features; print(features.backend_name())"
    finished = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, env=env)
    assert finished.stdout.strip() == "linux"


@pytest.mark.slow
def test_a_single_process_app_is_measured_the_same_by_both_meters(reference):
    # The portable meter's reading of the Linux backend's server: the same process, the same resident memory.
    from grader.launch.portable import TreeMeter

    if not hasattr(reference.meter, "reset_peak") or features.backend_name() != "linux":
        pytest.skip("compares with the Linux backend's reading")
    linux = reference.meter.memory().rss
    portable = TreeMeter(reference.pid).memory().rss
    assert abs(linux - portable) <= 2 * 2**20  # the same process, read a moment apart


CHILD_WORKS = """
import subprocess, sys
from fastapi import FastAPI

app = FastAPI()
WORK = "import time; block = bytearray(96 * 2**20); [block.__setitem__(i, 1) for i in range(0, len(block), 4096)]; " \\
       "end = time.process_time() + 0.6\\nwhile time.process_time() < end: pass\\nprint('done', flush=True); " \\
       "time.sleep(30)"
children = []

@app.get("/work")
def work():
    child = subprocess.Popen([sys.executable, "-c", WORK], stdout=subprocess.PIPE)
    children.append(child)
    child.stdout.readline()  # its CPU is spent and its memory still held
    return {"child": child.pid}
"""


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["linux", "portable"])
def test_both_meters_count_the_work_of_a_child_process(backend, tmp_path):
    import importlib

    import httpx

    from grader.launch import resolve_target

    if backend == "linux" and features.detect().missing_for_linux():
        pytest.skip("needs the Linux backend")
    modules = {"linux": "grader.launch.linux.backend", "portable": "grader.launch.portable"}
    module = importlib.import_module(modules[backend])
    (tmp_path / "app.py").write_text(CHILD_WORKS)
    app = module.start_app(resolve_target(str(tmp_path / "app.py")))
    try:
        cpu_before, memory_before = app.meter.cpu_seconds(), app.meter.memory().rss
        httpx.get(f"{app.base_url}/work", timeout=30).raise_for_status()
        # The child's 0.6 s of CPU and 96 MiB count as the app's, though its server did neither.
        assert app.meter.cpu_seconds() - cpu_before >= 0.5
        assert app.meter.memory().rss - memory_before >= 90 * 2**20
        assert app.meter.process_count() >= 2
    finally:
        app.stop()
    assert app.leftovers == 0
