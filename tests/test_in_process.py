"""What an in-process test (httpx.ASGITransport) sees of a streaming endpoint, and what it cannot.

exercises/testing-in-process.md tells learners this; these tests keep it true.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time

import pytest
from helpers import REFERENCE_APP, ROOT

DELAY = 0.05


@pytest.mark.anyio
async def test_the_content_is_exact_but_the_first_piece_comes_after_the_last_token(reference_in_process):
    started = time.perf_counter()
    async with reference_in_process.stream(
        "GET", "/chat-stream", params={"prompt": "one two three", "delay": DELAY}
    ) as response:
        pieces = [(time.perf_counter() - started, piece) async for piece in response.aiter_raw()]
    assert b"".join(piece for _, piece in pieces) == b"one two three"
    # Over a socket the first token comes at once. In process the transport
    # waits for the whole body: not even the first byte before both delays
    # (asyncio.sleep never wakes early).
    assert pieces[0][0] >= 2 * DELAY


@pytest.mark.anyio
async def test_a_streamed_answer_has_no_length_and_no_chunked_framing_in_process(reference_in_process):
    streamed = await reference_in_process.get("/squares-stream.csv")
    assert streamed.status_code == 200
    assert "content-length" not in streamed.headers
    # Chunked framing is the server's doing: only a socket shows it
    # (test_reference_responses.py checks it over TCP).
    assert "transfer-encoding" not in streamed.headers


def test_the_pages_example_passes_on_the_reference(tmp_path):
    page = (ROOT / "exercises" / "testing-in-process.md").read_text()
    example = re.search(r"```python\n(.*?)```", page, re.DOTALL)
    assert example is not None, "the page has no Python example"
    (tmp_path / "test_app.py").write_text(example.group(1))
    shutil.copyfile(REFERENCE_APP, tmp_path / "app.py")
    finished = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_app.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
