"""End to end: grade two apps, open their reports in headless Chromium, read them as a person would."""

from __future__ import annotations

import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import REFERENCE_APP, ROOT

from grader.exercises.chat.probe import TIMING_TOKENS

BANK = Path(__file__).parent / "bank"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed")
# What this machine's closed network and a root user need (see the env notes).
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


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
    common = [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}"]
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


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("reports")
    pages = {}
    for name, target in (("reference", REFERENCE_APP), ("buffered", BANK / "chat_buffered.py")):
        page = folder / f"{name}.html"
        command = [sys.executable, "-m", "grader", "check", str(target), "--exercise", "chat", "--html", str(page)]
        finished = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=120)
        assert finished.returncode == 0, finished.stderr
        assert f"Report: {page}" in finished.stdout
        pages[name] = page
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


def test_a_report_stays_under_a_megabyte(reports):
    for page in reports.values():
        assert page.stat().st_size < 1024 * 1024
