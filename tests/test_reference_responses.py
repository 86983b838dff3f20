"""The reference meets exercise 4: answers sent whole, with their media types and headers, and one streamed."""

from __future__ import annotations

import csv
import io

import httpx
import pytest

# Content, status and headers: the reference in process (conftest.py says why
# that is enough for them). Only chunked framing needs the server's socket.


@pytest.mark.parametrize(
    ("params", "text"),
    [
        pytest.param({"name": "Ada"}, "Hello, Ada!", id="a-name"),
        pytest.param({}, "Hello, world!", id="the-default"),
        pytest.param({"name": 'Zoë "the" 世界 '}, 'Hello, Zoë "the" 世界 !', id="quotes-spaces-non-ascii"),
    ],
)
@pytest.mark.anyio
async def test_hello_answers_exactly_the_text(reference_in_process, params, text):
    response = await reference_in_process.get("/hello", params=params)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.content == text.encode("utf-8")
    assert response.headers["content-length"] == str(len(response.content))


@pytest.mark.anyio
async def test_page_is_an_html_page_with_its_heading(reference_in_process):
    response = await reference_in_process.get("/page")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.text.startswith("<!DOCTYPE html>")
    assert "<h1>Responses</h1>" in response.text


@pytest.mark.parametrize("path", ["/squares.csv", "/squares-stream.csv"])
@pytest.mark.parametrize(("params", "rows"), [({"rows": "5"}, 5), ({}, 3)])
@pytest.mark.anyio
async def test_squares_is_a_csv_download(reference_in_process, path, params, rows):
    response = await reference_in_process.get(path, params=params)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="squares.csv"'
    table = list(csv.reader(io.StringIO(response.text)))
    assert table == [["n", "square"], *([str(n), str(n * n)] for n in range(1, rows + 1))]


@pytest.mark.slow
def test_the_complete_csv_has_a_length_and_the_streamed_one_is_chunked(reference):
    with httpx.Client(base_url=reference.base_url, headers={"Accept-Encoding": "identity"}) as client:
        complete = client.get("/squares.csv", params={"rows": "7"})
        streamed = client.get("/squares-stream.csv", params={"rows": "7"})
    assert complete.content == streamed.content
    assert complete.headers["content-length"] == str(len(complete.content))
    assert "transfer-encoding" not in complete.headers
    assert "content-length" not in streamed.headers
    assert streamed.headers["transfer-encoding"] == "chunked"


@pytest.mark.parametrize(("params", "n"), [({"n": "700"}, 700), ({}, 256), ({"n": "0"}, 0)])
@pytest.mark.anyio
async def test_bytes_counts_up_from_zero(reference_in_process, params, n):
    response = await reference_in_process.get("/bytes", params=params)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.content == bytes(i % 256 for i in range(n))
    assert response.headers["content-length"] == str(n)


@pytest.mark.anyio
async def test_old_page_moved_permanently_to_page(reference_in_process):
    response = await reference_in_process.get("/old-page")
    assert response.status_code == 301
    assert response.headers["location"] == "/page"
    followed = await reference_in_process.get("/old-page", follow_redirects=True)
    assert followed.url.path == "/page" and "<h1>Responses</h1>" in followed.text
