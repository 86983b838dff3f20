"""End to end: grade two apps, open their reports in headless Chromium, read them as a person would."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from helpers import REFERENCE_APP, ROOT, STARTER_APP

from grader import browser
from grader.exercises.chat.probe import TIMING_TOKENS
from grader.render.classreport import render_index
from grader.results import GradeResult

BANK = Path(__file__).parent / "bank"
CHROMIUM = browser.find_chromium()
# Grades apps, then opens their reports in a browser.
pytestmark = [pytest.mark.slow, pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed")]


class VisibleText(HTMLParser):
    """The text a reader sees (not CSS, not tooltips), and the elements drawn."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.tags: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag in ("style", "title"):
            self._hidden += 1

    def handle_endtag(self, tag):
        if tag in ("style", "title"):
            self._hidden -= 1

    def handle_data(self, data):
        if not self._hidden:
            self.parts.append(data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.parts).split())


def open_in_chromium(page: Path, profile: Path) -> tuple[VisibleText, Path]:
    assert CHROMIUM is not None
    common = browser.command(CHROMIUM, profile)
    dom = subprocess.run([*common, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=60)
    assert dom.returncode == 0, dom.stderr[-2000:]
    screenshot = page.with_suffix(".png")
    subprocess.run(
        [*common, "--window-size=1000,1600", f"--screenshot={screenshot}", page.as_uri()],
        capture_output=True,
        timeout=60,
        check=True,
    )
    reader = VisibleText()
    reader.feed(dom.stdout)
    return reader, screenshot


PHONE_WIDTH = 390  # CSS pixels: a common phone's viewport


def widest_at(page: Path, width: int, profile: Path) -> tuple[int, int]:
    """The page's scrolling width and its viewport's width when shown ``width`` pixels wide.

    Headless Chromium keeps its window at least 500 pixels wide, so the page
    is shown in a frame of ``width`` inside another page, whose script reads
    the frame's widths once it has loaded (the report itself has no script).
    """
    frame = page.with_name(page.stem + f".at{width}.html")
    frame.write_text(
        f'<!DOCTYPE html><body style="margin:0"><iframe id="page" src="{page.name}" '
        f'style="width:{width}px;height:800px;border:0"></iframe><script>'
        "document.getElementById('page').addEventListener('load', () => {"
        "  const root = document.getElementById('page').contentDocument.documentElement;"
        "  document.body.dataset.widths = root.scrollWidth + ' ' + root.clientWidth;"
        "});</script></body>",
        encoding="utf-8",
    )
    dom = subprocess.run(
        [
            *browser.command(CHROMIUM, profile),
            "--allow-file-access-from-files",  # the outer page reads the frame's widths
            "--virtual-time-budget=5000",
            "--dump-dom",
            frame.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    found = re.search(r'data-widths="(\d+) (\d+)"', dom.stdout)
    assert found, dom.stderr[-2000:]
    return int(found.group(1)), int(found.group(2))


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("reports")
    pages = {}
    for name, target, only in (
        ("reference", REFERENCE_APP, ["--exercise", "chat"]),
        ("buffered", BANK / "chat_buffered.py", ["--exercise", "chat"]),
        ("starter", STARTER_APP, []),
    ):
        page = folder / f"{name}.html"
        command = [sys.executable, "-m", "grader", "check", str(target), *only, "--html", str(page)]
        command += ["--json", str(page.with_suffix(".json"))]
        finished = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=120)
        assert finished.returncode == 0, finished.stderr
        assert f"Report: {page}" in finished.stdout
        pages[name] = page
    results = {
        name: GradeResult.from_dict(json.loads(page.with_suffix(".json").read_text())) for name, page in pages.items()
    }
    pages["class"] = folder / "index.html"
    pages["class"].write_text(
        render_index(results, {}, ["chat", "bigfile", "events"], "A class", "."), encoding="utf-8"
    )
    return pages


def test_the_reference_report_shows_full_marks_and_a_timeline(reports, tmp_path):
    seen, screenshot = open_in_chromium(reports["reference"], tmp_path / "profile")
    assert "Score: 15 / 15" in seen.text
    assert "✓ passed · Tokens arrive one by one" in seen.text
    # One bar per token of the timed stream, for both apps.
    assert seen.tags.count("svg") == 1 and seen.tags.count("rect") >= 2 * TIMING_TOKENS
    assert screenshot.stat().st_size > 20_000  # a drawn page, not a blank one


def test_a_faulty_report_shows_the_failure_and_its_hint(reports, tmp_path):
    seen, _ = open_in_chromium(reports["buffered"], tmp_path / "profile")
    assert "Score: 8 / 15" in seen.text  # incremental failed, its two children skipped
    assert "✗ failed · Tokens arrive one by one" in seen.text
    assert "Hint: Return a StreamingResponse over a generator" in seen.text
    assert "your app: 1 token arrivals" in seen.text


def test_the_starter_report_draws_no_evidence_for_routes_not_written_yet(reports, tmp_path):
    seen, _ = open_in_chromium(reports["starter"], tmp_path / "profile")
    assert "svg" not in seen.tags  # no 501 body drawn as tokens, no memory chart of a 61-byte answer
    assert "framing problem" not in seen.text and "token arrivals" not in seen.text
    for route in ("GET /chat-stream", "GET /bigfile", "GET /events"):
        assert f"No evidence to draw yet: {route} answered 501 Not Implemented" in seen.text
    assert "How the app was run: as your own program (sandbox off" in seen.text
    assert "`" not in seen.text  # code is shown as code


@pytest.mark.parametrize("name", ["reference", "buffered", "starter", "class"])
def test_a_page_fits_a_phone_screen(reports, name, tmp_path):
    scrolling, viewport = widest_at(reports[name], PHONE_WIDTH, tmp_path / "profile")
    assert viewport <= PHONE_WIDTH and scrolling <= viewport, f"{name}: {scrolling} px wide in a {viewport} px screen"


def test_a_report_stays_under_a_megabyte(reports):
    for page in reports.values():
        assert page.stat().st_size < 1024 * 1024
