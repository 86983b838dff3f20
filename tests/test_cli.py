"""The command's manners: typos, the kit's folder as a target, JSON on standard output, exit codes."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys

import pytest
from helpers import REFERENCE_APP, ROOT


def streamgrade(*arguments: str, cwd=ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "grader", *arguments], capture_output=True, text=True, cwd=cwd, timeout=120
    )


@pytest.mark.parametrize(("typed", "meant"), [("chek", "check"), ("bach", "batch"), ("sample-fiel", "sample-file")])
def test_a_mistyped_command_suggests_the_right_one(typed: str, meant: str):
    done = streamgrade(typed)
    assert done.returncode == 2
    assert f"did you mean {meant}?" in done.stderr
    assert done.stdout == ""


def test_a_target_that_looks_like_a_word_is_still_a_target(tmp_path):
    # A folder named like a command's typo is the learner's target, not a typo.
    (tmp_path / "chek").mkdir()
    (tmp_path / "chek" / "app.py").write_text("this is not python(\n")
    done = streamgrade("chek", "--exercise", "chat", "--no-html", cwd=tmp_path)
    assert "did you mean" not in done.stderr
    assert "app.starts" in done.stdout


def test_help_lists_the_exit_codes():
    for arguments in (["--help"], ["check", "--help"]):
        done = streamgrade(*arguments)
        assert done.returncode == 0
        assert "exit codes:" in done.stdout
        for code in ("0 ", "1 ", "2 ", "3 ", "130"):
            assert f"\n  {code}" in done.stdout


@pytest.mark.slow
def test_the_kits_folder_is_graded_as_its_starter_and_json_dash_goes_to_standard_output():
    done = streamgrade("check", ".", "--exercise", "chat", "--no-html", "--json", "-")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)  # nothing but the JSON on standard output
    assert result["target"].endswith("starter/app.py")
    assert "Score:" in done.stderr  # what a person reads still shows, on the other stream


@pytest.mark.slow
def test_try_shows_each_token_as_it_arrives_then_stops_the_app():
    done = streamgrade("try", "chat", "reference/app.py")
    assert done.returncode == 0, done.stderr
    port = int(re.search(r"on http://127\.0\.0\.1:(\d+);", done.stdout).group(1))
    pieces = re.findall(r"^\s+([\d.]+) s  '(\w+) ?'$", done.stdout, re.MULTILINE)
    assert [word for _, word in pieces] == ["one", "two", "three", "four"]
    times = [float(at) for at, _ in pieces]
    assert times == sorted(times) and times[-1] - times[0] >= 3 * 0.5 * 0.9  # three delays of 0.5 s, as sent
    assert "end of the body" in done.stdout
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()  # stopped


@pytest.mark.slow
def test_try_on_the_untouched_starter_shows_the_501_whole_and_what_it_means():
    done = streamgrade("try", "events")
    assert done.returncode == 0, done.stderr
    assert "HTTP 501" in done.stdout
    assert "501 is the starter's placeholder: this route is not written yet (see exercises/03-events.md)" in done.stdout
    assert """  '{"detail":"Not implemented yet: see exercises/03-events.md"}'\n""" in done.stdout  # not cut mid-word
    assert re.search(r"end of the body: 1 piece, \d+ bytes\n", done.stdout), done.stdout


@pytest.mark.slow
def test_try_a_route_that_is_not_there_says_what_404_means(tmp_path):
    (tmp_path / "app.py").write_text("from fastapi import FastAPI\napp = FastAPI()\n")
    done = streamgrade("try", "chat", str(tmp_path / "app.py"))
    assert done.returncode == 0, done.stderr
    assert "HTTP 404" in done.stdout and "no route of your app answers this path" in done.stdout


def test_a_long_piece_is_cut_at_a_space_and_says_how_much_more_came():
    from grader.tryit import SHOWN_PIECE, piece_text

    words = ("word " * 100).encode()
    shown = piece_text(words)
    assert shown.startswith("'word word") and shown.endswith("' and 340 more characters"), shown
    assert len(shown) <= SHOWN_PIECE + 40 and "wor'" not in shown
    event = b'id: 1\ndata: {"seq": 1, "time": "2026-12-01T18:05:48.531998+00:00"}\n\n'
    assert piece_text(event) == repr(event.decode())  # an event is shown whole, its blank line too


@pytest.mark.slow
def test_try_an_app_that_does_not_start_says_so(tmp_path):
    (tmp_path / "app.py").write_text("import no_such_module_here\n")
    done = streamgrade("try", "chat", str(tmp_path / "app.py"))
    assert done.returncode == 1
    assert "Your app did not start" in done.stdout
    assert "no_such_module_here" in done.stdout


@pytest.mark.slow
def test_try_the_download_shows_its_progress_and_the_servers_memory():
    done = streamgrade("try", "bigfile", "reference/app.py")
    assert done.returncode == 0, done.stderr
    assert re.search(r"bytes \(100%\), server memory \d+ MiB", done.stdout), done.stdout
    assert "end of the body" in done.stdout


def test_a_grader_that_fails_to_record_says_so_and_exits_3_not_a_silent_zero(monkeypatch, capsys):
    import grader.probes.run
    from grader.cli import main

    async def broken(*args, **kwargs):
        raise RuntimeError("recording broke")

    monkeypatch.setattr(grader.probes.run, "record_sides", broken)
    code = main(["check", str(REFERENCE_APP), "--exercise", "chat", "--no-html"])
    out, err = capsys.readouterr()
    assert code == 3
    assert "[app.starts, not counted, error]" in out and "recording broke" in out
    assert "could not judge your app" in err


def test_the_command_line_parses_before_the_heavy_imports():
    """pytest, the checks, the renderers and the exercises' probes are imported by the commands:
    `check` starts the fork server first."""
    script = (
        "import sys, grader.cli; grader.cli.build_parser(); "
        "print(sorted({'pytest', 'grader.plugin', 'jinja2'} & set(sys.modules)), "
        "sorted(m for m in sys.modules if m.startswith('grader.exercises.')))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[] []"


def test_the_hint_commands_example_is_a_check():
    from grader.cli import HINT_EXAMPLE
    from grader.exercises import registry

    assert HINT_EXAMPLE in registry()[0].steps
