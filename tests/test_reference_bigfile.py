"""The reference meets exercise 2: GET /bigfile streams a file with bounded memory."""

from __future__ import annotations

import time

import httpx
import pytest
from helpers import sha256

# The bytes, statuses and headers are checked in process (conftest.py says
# why that is enough for them); chunks and memory over TCP, marked slow.

MEMORY_BOUND = 32 * 1024 * 1024  # the contract's bound for a 256 MiB file


@pytest.mark.anyio
async def test_it_serves_the_exact_bytes_with_download_headers(reference_in_process, small_file):
    response = await reference_in_process.get("/bigfile")
    assert response.status_code == 200
    assert len(response.content) == small_file.size
    assert sha256(response.content) == small_file.sha256
    assert b"\n" not in response.content  # the case that breaks line iteration
    assert response.headers["content-length"] == str(small_file.size)
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-disposition"] == 'attachment; filename="sample data.bin"'
    assert response.headers["accept-ranges"] == "bytes"


@pytest.mark.slow
def test_the_body_arrives_in_many_chunks(reference):
    with httpx.Client(base_url=reference.base_url) as client, client.stream("GET", "/bigfile") as response:
        chunks = sum(1 for _ in response.iter_raw())
    assert chunks > 16


@pytest.mark.anyio
async def test_a_missing_file_is_a_404_with_a_json_detail(reference_in_process, monkeypatch, tmp_path):
    monkeypatch.setenv("BIGFILE_PATH", str(tmp_path / "missing.bin"))  # read at each request
    response = await reference_in_process.get("/bigfile")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert isinstance(response.json()["detail"], str)


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        pytest.param("bytes=0-99", 0, 99, id="first-hundred"),
        pytest.param("bytes=1000-1000", 1000, 1000, id="one-byte"),
        pytest.param("bytes=5000000-", 5000000, None, id="open-ended"),
        pytest.param("bytes=-500", -500, None, id="suffix"),
        pytest.param("bytes=100-999999999999", 100, None, id="end-past-the-file"),
    ],
)
@pytest.mark.anyio
async def test_a_range_gives_206_and_the_exact_slice(reference_in_process, small_file, header, first, last):
    data = small_file.read()
    first = first % small_file.size
    last = small_file.size - 1 if last is None else last
    response = await reference_in_process.get("/bigfile", headers={"Range": header})
    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes {first}-{last}/{small_file.size}"
    assert response.headers["content-length"] == str(last - first + 1)
    assert response.content == data[first : last + 1]


@pytest.mark.parametrize("header", ["bytes=999999999-", "bytes=-0"])
@pytest.mark.anyio
async def test_an_unsatisfiable_range_gives_416(reference_in_process, small_file, header):
    response = await reference_in_process.get("/bigfile", headers={"Range": header})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{small_file.size}"


@pytest.mark.parametrize("header", ["pages=1-2", "bytes=10-5", "bytes=0-1,5-6"])
@pytest.mark.anyio
async def test_a_range_it_does_not_handle_gives_the_whole_file(reference_in_process, small_file, header):
    response = await reference_in_process.get("/bigfile", headers={"Range": header})
    assert response.status_code == 200
    assert len(response.content) == small_file.size


@pytest.mark.anyio
async def test_head_gives_the_headers_and_no_body(reference_in_process, small_file):
    response = await reference_in_process.head("/bigfile")
    assert response.status_code == 200
    assert response.headers["content-length"] == str(small_file.size)
    assert response.headers["content-disposition"] == 'attachment; filename="sample data.bin"'
    assert response.content == b""


@pytest.mark.slow
def test_memory_stays_bounded_serving_256_mib(reference_large, large_file):
    meter = reference_large.meter
    if not meter.reset_peak():
        pytest.skip("needs a peak of resident memory the kernel lets us reset (Linux's /proc)")
    before = meter.memory().rss
    received = 0
    with (
        httpx.Client(base_url=reference_large.base_url, timeout=60) as client,
        client.stream("GET", "/bigfile") as response,
    ):
        for chunk in response.iter_raw():
            received += len(chunk)
    assert received == large_file.size
    growth = (meter.memory().peak or 0) - before
    assert growth < MEMORY_BOUND, f"peak resident memory grew by {growth / 2**20:.1f} MiB"


@pytest.mark.slow
def test_memory_stays_bounded_while_the_client_reads_slowly(reference_large):
    meter = reference_large.meter
    if not meter.reset_peak():
        pytest.skip("needs a peak of resident memory the kernel lets us reset (Linux's /proc)")
    before = meter.memory().rss
    with (
        httpx.Client(base_url=reference_large.base_url, timeout=60) as client,
        client.stream("GET", "/bigfile") as response,
    ):
        stream = response.iter_raw()
        next(stream)
        # The slow reader: stop reading for a second. A server without
        # back-pressure would push the whole file into its send buffer
        # in far less time than that.
        time.sleep(1.0)
        growth = (meter.memory().peak or 0) - before
    assert growth < MEMORY_BOUND, f"peak resident memory grew by {growth / 2**20:.1f} MiB"
