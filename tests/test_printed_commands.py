"""Every command the grader prints works when pasted in the kit's folder: run against the reference.

The commands are taken from what the terminal report prints for each check
(``try_it_lines``) and from the first run's welcome, then run by a shell in a
copy of the kit whose starter is the reference solution, on port 8000 as
printed (in network and process namespaces of their own, so nothing else on
the machine holds that port or shows in `pgrep`).
"""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REFERENCE_APP, ROOT

from grader.exercises import check_modules
from grader.render.terminal import START_APP, starts_the_app, try_it_lines
from grader.results import CheckResult

# Each way of starting the app is started and every command after it run (a slow download or an endless
# stream for 5 s): about a minute, more on a loaded machine.
# Runs the commands the grader prints, against served apps.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

RUNNER = Path(__file__).parent / "printed_commands.py"
THEN = "  # then: "
MEANWHILE = "  # and meanwhile: "


def printed_checks() -> list[CheckResult]:
    """Every check that prints a command, as a failure."""
    found = []
    for module in map(importlib.import_module, check_modules()):
        for function in vars(module).values():
            for mark in getattr(function, "pytestmark", []):
                if mark.name == "check" and mark.kwargs.get("reproduce"):
                    identifier = mark.args[0]
                    found.append(
                        CheckResult(
                            identifier,
                            identifier.split(".")[0],
                            identifier,
                            "failed",
                            1.0,
                            reproduce=mark.kwargs["reproduce"],
                        )
                    )
    return found


def case_for(lines: list[str]) -> dict:
    """What the printed lines ask a learner to run: the command that serves the app, then the requests."""
    first = lines[0].removeprefix("Try it: ")
    if first.startswith("start your app"):
        start = re.fullmatch(r"start your app in another terminal \((.+)\), then:", first).group(1)
        command = lines[1].strip()
    else:
        start, _, command = first.partition(THEN)
    command = re.sub(r"  # (?!and meanwhile: ).*$", "", command)  # a comment for the reader
    return {"start": start, "commands": [part for part in command.split(MEANWHILE) if part]}


def cases() -> list[dict]:
    """One case per way of starting the app, with every command printed after it."""
    found: dict[str, dict] = {START_APP: {"start": START_APP, "commands": [], "checks": ["first run"]}}
    for check in printed_checks():
        case = case_for(try_it_lines(check, ""))
        grouped = found.setdefault(case["start"], {"start": case["start"], "commands": [], "checks": []})
        grouped["commands"] += [command for command in case["commands"] if command not in grouped["commands"]]
        grouped["checks"].append(check.id)
    return list(found.values())


def page_case(page: Path) -> dict:
    """A page's "Try it by hand": the block that starts the app, then every other block and inline curl."""
    section = page.read_text(encoding="utf-8").partition("## Try it by hand")[2].split("\n## ", 1)[0]
    start, commands = "", []
    for block in re.findall(r"```console\n(.*?)```", section, re.DOTALL):
        if any(starts_the_app(line) for line in block.splitlines()):
            start = " && ".join(line for line in block.splitlines() if line.strip())
        else:
            commands.append(block.strip())
    commands += re.findall(r"`(curl [^`]+)`", re.sub(r"```.*?```", "", section, flags=re.DOTALL))
    return {"start": start, "commands": commands, "checks": [page.name]}


# The numbered pages, each about an app the learner starts; testing-in-process.md starts none
# (its example runs in tests/test_in_process.py).
PAGES = sorted((ROOT / "exercises").glob("[0-9]*.md"))


def test_every_check_with_a_command_is_covered():
    covered = {check for case in cases() for check in case["checks"]}
    assert {"app.starts", "chat.status", "bigfile.integrity", "bigfile.missing", "events.disconnect"} <= covered
    assert {"responses.bytes", "responses.length"} <= covered


# A network of its own (port 8000 free whatever else runs here) and processes of its own (a page's
# `pgrep -f 'uvicorn starter.app'` finds this server only, as on a learner's machine).
UNSHARE = ["unshare", "--net", "--pid", "--fork", "--mount-proc"]


def namespaces() -> list[str] | None:
    """A prefix that runs a command in namespaces of its own, or None where they can't be made."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return None
    probe = subprocess.run([*UNSHARE, "ip", "link", "set", "lo", "up"], capture_output=True)
    return None if probe.returncode else [*UNSHARE, "sh", "-c", 'ip link set lo up && exec "$0" "$@"']


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    prefix = namespaces()
    if prefix is None:
        pytest.skip("needs network and process namespaces (root and unshare): port 8000 free, pgrep finding one app")
    kit = tmp_path_factory.mktemp("kit")
    (kit / "starter").mkdir()
    shutil.copyfile(REFERENCE_APP, kit / "starter" / "app.py")
    # A script a page asks the learner to save ("Save this as `try_openai.py`"), saved as the page says,
    # since a check's printed command runs it.
    for page in PAGES:
        for name, script in re.findall(r"Save this as `([\w.-]+)`.*?```python\n(.*?)```", page.read_text(), re.DOTALL):
            (kit / name).write_text(script)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    every = cases() + [page_case(page) for page in PAGES]
    done = subprocess.run(
        [*prefix, sys.executable, str(RUNNER), str(kit)],
        input=json.dumps(every),
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_every_printed_command_works_against_the_reference(ran):
    for outcome in ran:
        assert outcome["up"], f"{outcome['start']!r} did not serve the app:\n{outcome['log']}"
        for run in outcome["runs"]:
            said = f"{run['command']!r} (after {outcome['start']!r}) printed:\n{run['stdout']}\n{run['stderr']}"
            # Stopped by the time limit while it worked: a stream with no end, or a download read slowly on purpose.
            streaming = run["code"] == 124 and (run["stdout"] or "--limit-rate" in run["command"])
            assert run["code"] == 0 or streaming, said
            assert "curl: (" not in run["stderr"], said
            if re.search(r"curl .*(-i|-I|-D -)\b", run["command"]):
                assert "HTTP/1.1 " in run["stdout"], said  # headers are the point: they are shown


def test_every_page_says_how_to_start_the_app_apart_from_the_requests():
    for page in PAGES:
        case = page_case(page)
        assert case["start"], f"{page.name}: no command that starts the app"
        assert case["commands"], f"{page.name}: no request to try"


def test_the_missing_file_command_shows_the_404(ran):
    missing = next(outcome for outcome in ran if outcome["start"].startswith("BIGFILE_PATH=/no/such/file"))
    assert "HTTP/1.1 404" in missing["runs"][0]["stdout"]


def test_every_report_says_what_to_start_before_a_command():
    from grader.render.gradescope import test_output
    from grader.render.html import render_html
    from grader.results import GradeResult

    check = CheckResult(
        "bigfile.range", "bigfile", "Range", "failed", 1.0, reproduce="curl -I http://127.0.0.1:8000/bigfile"
    )
    result = GradeResult("starter/app.py", "reference/app.py", "0", "now", 1.0, ["bigfile"], [check])
    serve = "streamgrade sample-file &amp;&amp; BIGFILE_PATH=sample-data/bigfile.bin uvicorn starter.app:app"
    assert f"(start your app first: <code>{serve}</code>)" in render_html(result)
    assert "start the app first, in the kit's folder: `streamgrade sample-file && BIGFILE_PATH" in test_output(check)
    terminal = try_it_lines(check, "")
    assert terminal[0] == f"Try it: start your app in another terminal ({serve.replace('&amp;', '&')}), then:"
