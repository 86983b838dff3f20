"""A class with hostile submissions in it, graded in one batch beside correct and faulty ones.

The batch must complete, the others' verdicts must not change, nothing the
hostile apps started may survive, the grader's files and earlier results
must stay as they were, and each hostile app's result must say what
happened. The corpus is in tests/hostile/ (its README says how each app is
bounded).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest
from bank_verdicts import FAULTY
from helpers import REFERENCE_APP, ROOT

import grader
from grader.launch.linux import reaper
from grader.launch.linux.backend import detect_isolation

HOSTILE = Path(__file__).parent / "hostile"
BANK = Path(__file__).parent / "bank"
BANK_APPS = ["correct_sync_generators", "chat_buffered", "chat_time_sleep_async"]
# start_timeout: hostile_allocates must reach its limit before it: without a cgroup (an ordinary
# user's batch) that is the address-space cap at 3 GiB, which took 7 to 18 s to fill on the loaded
# 2-core build machine (the cgroup stops it at 2 GiB).
CONFIG = """
exercises = ["chat"]
[limits]
start_timeout = 30
submission_timeout = 90
"""
ISOLATED, WHY_NOT = detect_isolation()
# Slow: grades hostile apps under the sandbox. A class batch per fixture: the batch's own time
# limit (its subprocess timeout) is the bound, not pytest-timeout's 120 s, which a busy machine
# (load average 50 on 2 cores) exceeded.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
# Graded on their own (below), not in the class batch: it grades slowly on purpose.
APART = {"hostile_outlives"}
SECRET_VARIABLE = "INSTRUCTOR_SECRET_TOKEN"


def canary() -> str:
    """A secret for the grader's environment, in the form hostile_reads_secrets looks for."""
    return "SGCANARY" + uuid.uuid4().hex


def corpus_source(name: str, marker: str, port: int = 0, tamper: str = "") -> str:
    source = (HOSTILE / f"{name}.py").read_text()
    return source.replace("@MARKER@", marker).replace("@PORT@", str(port)).replace("@TAMPER@", tamper)


def every_output(out: Path) -> bytes:
    return b"".join(path.read_bytes() for path in sorted(out.rglob("*")) if path.is_file())


def graded_log(result: dict) -> str:
    """What the app printed, as its result keeps it (with everything else the result holds)."""
    return json.dumps(result)


def digest_tree(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


def marked(marker: str) -> list[int]:
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/environ", "rb") as environ:
                    if marker.encode() in environ.read():
                        found.append(int(entry.name))
            except OSError:
                continue
    return found


class Listener:
    """A TCP listener on 127.0.0.1 that counts who connects."""

    def __init__(self) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(16)
        self.socket.settimeout(0.2)
        self.port = self.socket.getsockname()[1]
        self.connections = 0
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                self.socket.accept()[0].close()
                self.connections += 1
            except OSError:
                continue

    def close(self) -> None:
        self.stopped.set()
        self.thread.join()
        self.socket.close()


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("hostile")
    submissions, out = base / "class", base / "out"
    submissions.mkdir()
    marker = f"streamgrade-hostile-{uuid.uuid4().hex}"
    listener = Listener()

    # An earlier result in OUT, which the tampering app goes after.
    earlier = out / "students" / "earlier_student"
    earlier.mkdir(parents=True)
    (earlier / "results.json").write_text('{"kept": true}')
    (earlier / ".submission-hash").write_text("0")
    tamper_targets = [earlier / "results.json", REFERENCE_APP, submissions]

    names = sorted(path.stem for path in HOSTILE.glob("hostile_*.py") if path.stem not in APART)
    if not ISOLATED:
        # Outside isolation it would really rewrite the grader's files: never run it unconfined.
        names.remove("hostile_tampers")
    for name in names:
        source = corpus_source(name, marker, listener.port, "|".join(str(path) for path in tamper_targets))
        (submissions / f"{name}.py").write_text(source)
    for name in BANK_APPS:
        shutil.copy(BANK / f"{name}.py", submissions / f"{name}.py")
    config = base / "grading.toml"
    config.write_text(CONFIG)

    grader_files = digest_tree(Path(grader.__file__).parent)
    reference = REFERENCE_APP.read_bytes()
    command = [
        sys.executable,
        "-m",
        "grader",
        "batch",
        str(submissions),
        "--out",
        str(out),
        "--config",
        str(config),
        "-j",
        "2",
    ]
    secret = canary()
    try:
        finished = subprocess.run(
            command, capture_output=True, text=True, cwd=ROOT, timeout=900, env={**os.environ, SECRET_VARIABLE: secret}
        )
    finally:
        listener.close()
    results = {}
    for name in [*names, *BANK_APPS]:
        path = out / "students" / name / "results.json"
        results[name] = json.loads(path.read_text()) if path.is_file() else None
    return {
        "finished": finished,
        "results": results,
        "marker": marker,
        "listener": listener,
        "out": out,
        "grader_files_before": grader_files,
        "reference_before": reference,
        "earlier": earlier,
        "secret": secret,
    }


def statuses(result: dict) -> dict[str, str]:
    return {check["id"]: check["status"] for check in result["checks"]}


def says(result: dict) -> str:
    """Everything the result tells the student: notes and the start check's message."""
    return " ".join([*result["notes"], statuses_message(result)])


def statuses_message(result: dict) -> str:
    return next(check["message"] for check in result["checks"] if check["id"] == "app.starts")


def test_the_batch_completes_with_every_submission_graded(graded):
    assert graded["finished"].returncode == 0, graded["finished"].stdout + graded["finished"].stderr
    missing = [name for name, result in graded["results"].items() if result is None]
    assert missing == []


@pytest.mark.parametrize("name", BANK_APPS)
def test_the_other_apps_verdicts_are_unchanged(graded, name):
    expected = {check_id: status for check_id, status in FAULTY.get(name, {}).items()}
    got = statuses(graded["results"][name])
    wrong = {check_id: status for check_id, status in got.items() if status != expected.get(check_id, "passed")}
    assert wrong == {}, says(graded["results"][name])


def test_no_process_the_corpus_started_is_left(graded):
    assert marked(graded["marker"]) == []


def test_the_graders_files_and_earlier_results_are_unchanged(graded):
    assert digest_tree(Path(grader.__file__).parent) == graded["grader_files_before"]
    assert REFERENCE_APP.read_bytes() == graded["reference_before"]
    assert (graded["earlier"] / "results.json").read_text() == '{"kept": true}'


@pytest.mark.skipif(not ISOLATED, reason=f"isolation not available here: {WHY_NOT}")
def test_the_listener_gets_no_connection_under_isolation(graded):
    assert graded["listener"].connections == 0
    assert graded["results"]["hostile_connects"]["protections"]["level"] == "isolate"


def test_each_hostile_result_says_what_happened(graded):
    results = graded["results"]
    assert "at the 2 GiB memory limit" in says(results["hostile_allocates"]) or "ran out of memory" in says(
        results["hostile_allocates"]
    )
    assert statuses(results["hostile_allocates"])["app.starts"] == "failed"
    assert "still running when grading ended; the grader stopped them" in says(results["hostile_daemon"])
    fork_many = says(results["hostile_fork_many"])
    assert "processes" in fork_many and ("were refused" in fork_many or "still running" in fork_many)
    assert "MiB of output" in says(results["hostile_log_flood"])
    assert statuses(results["hostile_log_flood"])["chat.content"] == "passed"  # the flood cost it nothing
    for result in results.values():
        assert result["protections"]["in_force"], "every result says which protections held"


def test_script_from_an_app_never_reaches_a_report_as_markup(graded):
    out = graded["out"]
    for page in [out / "students" / "hostile_script" / "report.html", out / "index.html"]:
        text = page.read_text()
        assert "<script" not in text.lower()
        assert "<img" not in text.lower()  # the app's <img onerror=...> stays text
    assert "&lt;script&gt;" in (out / "students" / "hostile_script" / "report.html").read_text()  # shown, as text


# -- secrets, the fork server, and what outlives a grading ------------------------------------------


def assert_no_secret_reached_an_app(results: dict, out: Path, secret: str, *, others_too: bool) -> None:
    """``others_too``: nor could it read the secret from any other process it can see."""
    said = graded_log(results["hostile_reads_secrets"])
    assert "decoy found in memory: yes" in said, "the app's memory scan ran and finds what is there"
    assert "secrets found in its own environment and memory: 0" in said
    if others_too:
        assert "in other processes: 0;" in said
    assert secret.encode() not in every_output(out)


def test_no_secret_of_the_graders_reaches_an_app_or_an_output(graded):
    isolated = graded["results"]["hostile_reads_secrets"]["protections"]["level"] == "isolate"
    assert_no_secret_reached_an_app(graded["results"], graded["out"], graded["secret"], others_too=isolated)


def test_an_app_cant_have_the_fork_server_start_anything(graded):
    said = graded_log(graded["results"]["hostile_uses_forkserver"])
    assert "fork-server: " in said
    assert "fork-server: spawned" not in said


NOBODY = 65534
SYSTEM_PYTHON = Path("/usr/bin/python3")


def as_nobody_command() -> list[str] | None:
    """A command prefix that runs the grader as an ordinary user, where this test runs as root and can."""
    if os.getuid() != 0 or not shutil.which("setpriv") or not SYSTEM_PYTHON.exists():
        return None
    site = [path for path in sys.path if path.endswith("site-packages") and Path(path).is_dir()]
    probe = subprocess.run(
        [
            "setpriv",
            f"--reuid={NOBODY}",
            f"--regid={NOBODY}",
            "--clear-groups",
            "env",
            "-i",
            f"PYTHONPATH={os.pathsep.join([str(ROOT), *site])}",
            str(SYSTEM_PYTHON),
            "-c",
            "import grader.launch, fastapi, uvicorn, httpx, pytest",
        ],
        capture_output=True,
        cwd="/",
    )
    if probe.returncode != 0:
        return None  # another Python, or the installation is not readable to an ordinary user
    return [
        "setpriv",
        f"--reuid={NOBODY}",
        f"--regid={NOBODY}",
        "--clear-groups",
        "env",
        "-i",
        f"PYTHONPATH={os.pathsep.join([str(ROOT), *site])}",
        f"PATH={os.environ['PATH']}",
    ]


@pytest.fixture(scope="module", params=["off", "limits", "auto as an ordinary user"])
def graded_at(request, tmp_path_factory):
    """A small class graded below isolation, with a secret in the grader's environment.

    As root, the last runs the batch as ``nobody`` (setpriv, the system's Python): ``auto`` must
    isolate the apps through user namespaces where the kernel allows them, else fall back to
    ``limits`` and say why; either way no process of the grader's may give the secret away.
    """
    level, python, prefix, secret = request.param, sys.executable, [], canary()
    base = tmp_path_factory.mktemp(f"hostile-{level.split()[0]}")
    if level.startswith("auto"):
        prefix = as_nobody_command()
        if prefix is None:
            pytest.skip("needs root, setpriv and a system Python 3.11 an ordinary user can run with this installation")
        base = Path(tempfile.mkdtemp(prefix="streamgrade-hostile-nobody-"))
        base.chmod(0o777)
        prefix += [f"HOME={base}", f"{SECRET_VARIABLE}={secret}"]
        python = str(SYSTEM_PYTHON)
    submissions, out = base / "class", base / "out"
    submissions.mkdir()
    marker = f"streamgrade-hostile-{uuid.uuid4().hex}"
    names = ["hostile_reads_secrets", "hostile_uses_forkserver", "hostile_daemon_kills_launcher"]
    if prefix:  # the ordinary user's batch, isolated through user namespaces where the kernel allows them
        names += ["hostile_connects", "hostile_kills_parent"]
    listener = Listener()
    for name in names:
        (submissions / f"{name}.py").write_text(corpus_source(name, marker, listener.port))
    shutil.copy(BANK / "correct_sync_generators.py", submissions / "correct_sync_generators.py")
    config = base / "grading.toml"
    config.write_text(CONFIG)
    command = [
        *prefix,
        python,
        "-m",
        "grader",
        "batch",
        str(submissions),
        "--out",
        str(out),
        "--config",
        str(config),
        "-j",
        "2",
        "--sandbox",
        level.split()[0],
    ]
    try:
        try:
            finished = subprocess.run(
                command,
                capture_output=True,
                text=True,
                cwd=ROOT,
                timeout=600,
                env={**os.environ, SECRET_VARIABLE: secret},
            )
        finally:
            listener.close()
        results = {path.parent.name: json.loads(path.read_text()) for path in out.glob("students/*/results.json")}
        yield {
            "level": level,
            "finished": finished,
            "results": results,
            "out": out,
            "secret": secret,
            "marker": marker,
            "as_root": not prefix,
            "listener": listener,
        }
    finally:
        if prefix:
            shutil.rmtree(base, ignore_errors=True)


def test_below_isolation_no_secret_reaches_an_app_or_an_output(graded_at):
    assert graded_at["finished"].returncode == 0, graded_at["finished"].stderr
    protections = graded_at["results"]["hostile_reads_secrets"]["protections"]
    if graded_at["level"].startswith("auto"):
        if userns_expected():  # isolated through a user namespace, and the report says what that lacks
            assert protections["level"] == "isolate"
            assert any(said.startswith("a user of its own:") for said in protections["not_in_force"])
        else:  # else limits, and why not isolate (no root, and what the kernel refused)
            assert protections["level"] == "limits"
            assert any("user namespace" in said for said in protections["not_in_force"]), "it says why not"
    else:
        assert protections["level"] == graded_at["level"]
    # Root with CAP_SYS_PTRACE reads any process below isolation (docs/SECURITY.md says so): there only
    # the app's own environment, memory and output are promised.
    assert_no_secret_reached_an_app(
        graded_at["results"], graded_at["out"], graded_at["secret"], others_too=not graded_at["as_root"]
    )


def test_below_isolation_the_fork_server_refuses_an_app(graded_at):
    said = graded_log(graded_at["results"]["hostile_uses_forkserver"])
    if graded_at["results"]["hostile_uses_forkserver"]["protections"]["level"] != "isolate":
        assert "fork-server: refused" in said, "the app found the socket, and was refused"
    assert "fork-server: " in said
    assert "fork-server: spawned" not in said


def userns_expected() -> bool:
    """Whether this kernel lets an ordinary user isolate apps (what the sysctls say; the batch's trial decides)."""
    from grader.launch.linux import userns

    return not userns.sysctl_problem() and not userns.apparmor_note()


def test_an_ordinary_users_isolated_batch_keeps_apps_off_the_network_and_the_grader(graded_at):
    if graded_at["as_root"]:
        pytest.skip("the batch run as an ordinary user only")
    assert graded_at["finished"].returncode == 0, graded_at["finished"].stderr
    assert {"hostile_connects", "hostile_kills_parent", "correct_sync_generators"} <= set(graded_at["results"])
    if graded_at["results"]["hostile_connects"]["protections"]["level"] == "isolate":
        assert graded_at["listener"].connections == 0
        # Its launcher and init were out of its sight: the grading went on and judged the app.
        assert statuses(graded_at["results"]["hostile_kills_parent"])["app.starts"] == "passed"


def test_below_isolation_nothing_the_apps_started_is_left(graded_at):
    assert marked(graded_at["marker"]) == []
    assert statuses(graded_at["results"]["correct_sync_generators"])["chat.content"] == "passed"


def slow_class(folder: Path, marker: str) -> list[str]:
    """A class where hostile_outlives is graded second, slowly; the command that grades it one at a time."""
    submissions, out = folder / "class", folder / "out"
    submissions.mkdir()
    (submissions / "hostile_outlives.py").write_text(corpus_source("hostile_outlives", marker))
    shutil.copy(BANK / "correct_sync_generators.py", submissions / "correct_sync_generators.py")
    config = folder / "grading.toml"
    config.write_text(CONFIG)
    # One at a time, in name order: hostile_outlives's is the grading under way once its daemon runs.
    return [
        sys.executable,
        "-m",
        "grader",
        "batch",
        str(submissions),
        "--out",
        str(out),
        "--config",
        str(config),
        "-j",
        "1",
    ]


def test_a_killed_grading_process_leaves_nothing_running(tmp_path):
    """SIGKILL a grading process while its app runs: the batch goes on, and nothing the app started is left."""
    marker = f"streamgrade-hostile-{uuid.uuid4().hex}"
    command, out = slow_class(tmp_path, marker), tmp_path / "out"
    batch = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        grading = wait_for_grading(marker, batch)
        os.kill(grading, signal.SIGKILL)
        stdout, stderr = batch.communicate(timeout=300)
    finally:
        if batch.poll() is None:
            batch.kill()
            batch.communicate()
    assert batch.returncode == 0, stdout + stderr
    assert marked(marker) == []
    result = json.loads((out / "students" / "hostile_outlives" / "results.json").read_text())
    assert "the grading process was killed" in statuses_message(result)
    correct = json.loads((out / "students" / "correct_sync_generators" / "results.json").read_text())
    assert statuses(correct)["chat.content"] == "passed"


def test_a_killed_batch_leaves_nothing_running(tmp_path):
    """SIGKILL the batch itself while an app runs: its grading process and everything it started end too."""
    marker = f"streamgrade-hostile-{uuid.uuid4().hex}"
    batch = subprocess.Popen(
        slow_class(tmp_path, marker), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        grading = wait_for_grading(marker, batch)
        arguments = Path(f"/proc/{grading}/cmdline").read_bytes().decode().split("\0")
        results = Path(arguments[arguments.index("--json") + 1])  # in the batch's scratch folder
        helpers = reaper.descendants([batch.pid])
        batch.kill()
        batch.wait()
        deadline = time.monotonic() + 60
        while reaper.living(helpers) and time.monotonic() < deadline:
            time.sleep(0.05)  # polling /proc: the processes end in other sessions, no event reaches the test
    finally:
        if batch.poll() is None:
            batch.kill()
            batch.wait()
    scratch_left = results.exists()
    shutil.rmtree(results.parent, ignore_errors=True)  # the killed batch could not remove it
    assert not reaper.pid_exists(grading), "the grading process ends with the batch"
    assert not scratch_left, "it was stopped with the batch, not left to finish grading on its own"
    assert reaper.living(helpers) == set(), "the fork server and the launchers end too"
    assert marked(marker) == []


def wait_for_grading(marker: str, batch: subprocess.Popen) -> int:
    """The pid of the batch's grading process under way, once the app's daemon (with ``marker``) runs."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and batch.poll() is None:
        if marked(marker):
            for pid, parent in reaper.parent_map().items():
                try:
                    command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                except OSError:
                    continue
                if parent == batch.pid and b"check" in command:
                    return pid
        time.sleep(0.05)  # polling /proc: no event tells a test that another process forked
    raise AssertionError("the app's daemon never started")


def test_a_learners_check_stops_a_daemon_whose_launcher_was_killed(tmp_path):
    marker = f"streamgrade-hostile-{uuid.uuid4().hex}"
    app = tmp_path / "app.py"
    app.write_text(corpus_source("hostile_daemon_kills_launcher", marker))
    command = [
        sys.executable,
        "-m",
        "grader",
        "check",
        str(app),
        "--sandbox",
        "off",
        "--no-html",
        "--exercise",
        "chat",
        "--json",
        str(tmp_path / "results.json"),
    ]
    finished = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert finished.returncode in (0, 1), finished.stderr
    result = json.loads((tmp_path / "results.json").read_text())
    claimed = "every process the app started is stopped when grading ends" in result["protections"]["in_force"]
    assert claimed
    assert marked(marker) == [], "the claim is true"
