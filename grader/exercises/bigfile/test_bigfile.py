"""Exercise 2: GET /bigfile streams a large file with bounded memory."""

from __future__ import annotations

import json
import mimetypes
import re
from hashlib import sha256 as hash_of

from grader.checkapi import CheckFailed, Inconclusive, NotApplicable, check, mebibytes, seconds
from grader.checks._common import excerpt, require_answer, require_no_crash, require_status
from grader.exercises.bigfile import TRY_IT
from grader.exercises.bigfile.contract import BIGFILE_DEFAULT_PATH, MEMORY_BOUND
from grader.exercises.bigfile.recording import Download
from grader.recording import Exchange

# Slower than the reference by more than this factor, on the same machine at
# the same time, is a broken download (a tiny chunk size, a sleep per chunk).
THROUGHPUT_FACTOR = 10
# Memory and speed are judged on a download once this much of the file came
# (even if the body broke off later): twice the memory bound, so a server
# that keeps what it reads has shown it.
SERVED_EVIDENCE = 2 * MEMORY_BOUND

# The type of a file whose name mimetypes can't guess a type for (RFC 9110 8.3: unknown bytes).
FALLBACK_TYPE = "application/octet-stream"
# The headers the contract names: a HEAD answer must give each exactly as GET does.
HEAD_SAME_AS_GET = ("content-type", "content-length", "content-disposition", "accept-ranges")
MEMORY_HINT = (
    "Read the file in fixed-size pieces, `file.read(64 * 1024)` in a loop, and yield each piece. "
    '`for chunk in open(path, "rb")` and `yield from file` split at newline bytes: a file without '
    "newlines comes out as one piece as big as the file. `read()` with no size reads it all."
)


def full_download(app) -> Download:
    if app.bigfile.download is None:
        raise NotApplicable("The full download could not be recorded in this run.")
    return app.bigfile.download


def as_exchange(download: Download) -> Exchange:
    return Exchange(
        "GET",
        "/bigfile",
        status=download.status,
        headers=download.headers,
        error=download.error,
        received=download.received,
        broken=download.broken,
    )


@check("bigfile.status", points=1, reproduce=TRY_IT)
def test_bigfile_status(app):
    """GET /bigfile answers 200"""
    download = full_download(app)
    if download.stopped_early and download.status is None:
        raise CheckFailed(f"GET /bigfile sent no answer: the grader {download.stopped_early}.")
    require_status(as_exchange(download), 200, "GET /bigfile", app.crash("bigfile"), body=False)


@check(
    "bigfile.headers",
    points=2,
    depends=("bigfile.status",),
    hint=(
        'Set them yourself: `headers={"Content-Length": str(size), "Content-Disposition": '
        "f'attachment; filename=\"{name}\"'}`, with size from `os.path.getsize` and name from `os.path.basename`."
    ),
    reproduce="curl -sS -D - -o /dev/null http://127.0.0.1:8000/bigfile",
)
def test_bigfile_headers(app):
    """Content-Length, Content-Type (octet-stream when it can't be guessed) and Content-Disposition fit the file"""
    bigfile = app.bigfile
    download = full_download(app)
    length = download.header("content-length")
    if length != str(bigfile.file_size):
        raise CheckFailed(
            f"Expected Content-Length: {bigfile.file_size} (the file's size), got {length or '(none)'}. "
            "Without it the browser can't show download progress."
        )
    expected_type = mimetypes.guess_type(bigfile.file_name)[0] or FALLBACK_TYPE
    got_type = media_type_of(download.header("content-type"))
    if got_type != expected_type:
        raise CheckFailed(
            f"The file is called {bigfile.file_name!r}, so Content-Type should be {expected_type} "
            f"(mimetypes.guess_type), got {got_type or '(none)'}."
        )
    disposition = download.header("content-disposition") or ""
    if not disposition_names(disposition, bigfile.file_name):
        raise CheckFailed(
            f'Expected Content-Disposition: attachment; filename="{bigfile.file_name}", got {disposition or "(none)"}.'
        )
    judge_fallback_type(app)


def media_type_of(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def judge_fallback_type(app) -> None:
    """A file whose type can't be guessed (no suffix) is served as application/octet-stream."""
    bigfile = app.bigfile
    exchange = bigfile.untyped
    if exchange is None:
        raise NotApplicable("The server serving a file with no suffix could not be probed in this run.")
    name = bigfile.untyped_name
    what = f"GET /bigfile with BIGFILE_PATH naming {name!r} (a file with no suffix)"
    require_status(exchange, 200, what, app.crash("bigfile"), body=False)
    got_type = media_type_of(exchange.header("content-type"))
    if got_type != FALLBACK_TYPE:
        raise CheckFailed(
            f"{what}: mimetypes.guess_type can't guess a type for that name, so Content-Type should be "
            f"{FALLBACK_TYPE}, got {got_type or '(none)'}. Given no type, or a text type, a browser may show "
            "unknown bytes instead of saving them. To see it, serve a copy of the sample with no suffix: "
            "BIGFILE_PATH=sample-data/bigfile.",
            hint=(
                f'`mimetypes.guess_type(name)[0] or "{FALLBACK_TYPE}"`: guess_type gives None for such a name. '
                "(FileResponse left to guess by itself said text/plain before Starlette 1.1: give it `media_type=`.)"
            ),
        )


def disposition_names(header: str, name: str) -> bool:
    """attachment with filename="name" (or the RFC 6266 filename*=UTF-8''name)."""
    kind, _, params = header.partition(";")
    if kind.strip().lower() != "attachment":
        return False
    plain = re.search(r'filename\s*=\s*"([^"]*)"', params) or re.search(r"filename\s*=\s*([^;\s]+)", params)
    extended = re.search(r"filename\*\s*=\s*UTF-8''([^;\s]+)", params, re.IGNORECASE)
    return bool((plain and plain.group(1) == name) or (extended and extended.group(1) == name))


@check(
    "bigfile.integrity",
    points=2,
    depends=("bigfile.status",),
    hint='Open the file in binary mode (`"rb"`), yield every piece in order, and stop at the end of the file.',
    reproduce=(
        "curl -sS -o /tmp/download.bin http://127.0.0.1:8000/bigfile && cmp /tmp/download.bin sample-data/bigfile.bin"
    ),
)
def test_bigfile_integrity(app):
    """The body is the file's exact bytes"""
    bigfile = app.bigfile
    download = full_download(app)
    if download.stopped_early:
        raise NotApplicable("The download was stopped before the end (see bigfile.throughput).")
    if download.error:
        require_no_crash(download, "GET /bigfile", app.crash("bigfile"))
        raise CheckFailed(f"The download broke off after {download.received:,} bytes: {download.error}.")
    if download.received != bigfile.file_size:
        raise CheckFailed(f"Expected {bigfile.file_size:,} bytes, received {download.received:,}.")
    if download.sha256 != bigfile.file_sha256:
        raise CheckFailed(
            f"Received {download.received:,} bytes, the right number, but not the file's bytes "
            f"(sha256 {download.sha256[:16]}... instead of {bigfile.file_sha256[:16]}...)."
        )


# Where the peak is sampled (no kernel peak to reset), a download seen fewer
# times than this is too short to show a peak: the 256 MiB file is read from
# the page cache in a fraction of a second, so a few samples can miss it.
MIN_SAMPLES = 5


def judge_memory(download: Download, situation: str, earlier: Download | None = None) -> None:
    """Fail when the server's memory grew past the bound while serving ``download``.

    ``earlier``: a download the same server served before this one. Growth
    counts from the lower of the two starting points: what an earlier
    download left in memory (a reader thread still filling a queue) would
    otherwise raise this one's starting point and hide its growth.
    """
    memory = download.memory
    if memory is None:
        raise NotApplicable("The server's memory could not be read.")
    before = memory.before
    if earlier is not None and earlier.memory is not None:
        before = min(before, earlier.memory.before)
    growth = memory.peak - before
    if growth <= MEMORY_BOUND:
        if not memory.exact and len(memory.samples) < MIN_SAMPLES and download.received > MEMORY_BOUND:
            # Sampled, and over so soon that a file read whole could have come and gone between two samples.
            raise Inconclusive(
                f"The server's memory could only be sampled here (every {memory.sample_period * 1000:g} ms), and "
                f"the download was over after {len(memory.samples)} samples: too few to say it stayed bounded."
            )
        return
    message = (
        f"{situation}, the resident memory of your server and the processes it started grew by "
        f"{mebibytes(growth)} "
        f"(from {mebibytes(before)} to {mebibytes(memory.peak)}); the limit is {mebibytes(MEMORY_BOUND)}."
    )
    if download.largest_chunk > MEMORY_BOUND:
        message += f" One piece of the body was {mebibytes(download.largest_chunk)}: the file was sent as one block."
    raise CheckFailed(message, evidence={"samples": memory.samples, "growth": growth})


def require_served(app, download: Download, what: str, enough: int) -> None:
    """A memory verdict can pass only on a download that served the file: a server that sent nothing read nothing.

    Served means ``enough`` bytes came (whatever went wrong after), or the
    body was still coming, unbroken, when the grader stopped waiting.
    """
    if download.received >= enough:
        return
    if download.stopped_early and download.received > 0 and not download.broken:
        return  # slow, but serving the file all along
    require_no_crash(download, what, app.crash("bigfile"))
    if download.stopped_early:
        raise NotApplicable("Nothing came before the grader gave up (see bigfile.throughput).")
    raise CheckFailed(
        f"{what} delivered {download.received:,} of the file's {app.bigfile.file_size:,} bytes"
        f"{f' ({download.error})' if download.error else ''}, so the memory it takes to serve the file "
        "was not measured. See bigfile.integrity.",
        hint="Serve the file BIGFILE_PATH names, all of it: open that path, not another, in your generator.",
    )


@check("bigfile.memory", points=4, depends=("bigfile.status",), hint=MEMORY_HINT, reproduce=TRY_IT)
def test_bigfile_memory(app):
    """Serving a 256 MiB file raises the server's memory by at most 32 MiB"""
    download = full_download(app)
    # Growth past the bound is evidence enough to fail; passing needs the file served.
    # The slow read came first on the same server: growth counts from before it
    # (unless the download had a server of its own, see bigfile/run.py).
    earlier = None if app.bigfile.download_own_server else app.bigfile.slow_read
    judge_memory(download, f"Serving a {mebibytes(app.bigfile.file_size)} file with no newline byte", earlier)
    require_served(app, download, "GET /bigfile", min(app.bigfile.file_size, SERVED_EVIDENCE))


@check(
    "bigfile.backpressure",
    timed=True,
    points=3,
    depends=("bigfile.status",),
    hint=(
        "Let the server pull pieces from your generator: don't read ahead into a queue or a list in a "
        "background thread. StreamingResponse only asks for the next piece once the client took the last."
    ),
    reproduce="curl -sS --limit-rate 1M -o /dev/null http://127.0.0.1:8000/bigfile",
)
def test_bigfile_backpressure(app):
    """Memory stays bounded while a client reads slowly"""
    slow = app.bigfile.slow_read
    what = "GET /bigfile (read slowly)"
    require_answer(as_exchange(slow), what, app.crash("bigfile"), body=False)
    judge_memory(slow, f"While a client read 1 MiB and then paused for {app.bigfile.slow_read_pause:g} s")
    require_served(app, slow, what, min(max(app.bigfile.slow_read_first, 1), app.bigfile.file_size))


@check(
    "bigfile.throughput",
    timed=True,
    points=1,
    depends=("bigfile.status",),
    hint="Use pieces of 64 KiB or more and don't sleep between them: tiny pieces cost a system call each.",
    reproduce="curl -sS -o /dev/null -w '%{speed_download} bytes/s\\n' http://127.0.0.1:8000/bigfile",
)
def test_bigfile_throughput(app, reference):
    """The download is not much slower than the reference's"""
    download, reference_download = full_download(app), full_download(reference)
    reference_rate, where = reference_download.rate, "on the same machine"
    took = f"the reference took {seconds(reference_download.seconds)} for the whole file {where}"
    again = app.bigfile.reference_timed_again()
    if again is not None and again.rate < reference_rate:
        # Recorded earlier on a quieter machine: judge by the reference measured beside this download.
        reference_rate, where = again.rate, "measured at the same time"
        took = f"the reference ran at {again.rate / 2**20:.1f} MiB/s, {where}"
    if download.received < min(app.bigfile.file_size, SERVED_EVIDENCE):
        require_no_crash(download, "GET /bigfile", app.crash("bigfile"))  # no rate to judge: name the crash
    if download.stopped_early:
        raise CheckFailed(f"The download was too slow to wait for: the grader {download.stopped_early} ({took}).")
    rate = download.rate
    if rate * THROUGHPUT_FACTOR >= reference_rate:
        return
    raise CheckFailed(
        f"The download ran at {rate / 2**20:.1f} MiB/s, more than {THROUGHPUT_FACTOR} times slower than "
        f"the reference's {reference_rate / 2**20:.1f} MiB/s, {where}.",
        evidence={"rate": rate, "reference_rate": reference_rate},
    )


@check(
    "bigfile.missing",
    points=1,
    # Without a working /bigfile route every path is a 404: that proves nothing.
    depends=("bigfile.status",),
    hint=(
        "Check that the file exists before you start streaming (`os.path.isfile`) and "
        "`raise HTTPException(status_code=404, detail=...)` when it doesn't."
    ),
    reproduce="BIGFILE_PATH=/no/such/file uvicorn starter.app:app  # then: curl -i http://127.0.0.1:8000/bigfile",
)
def test_bigfile_missing(app):
    """A missing file gives 404 with a JSON detail, not 500"""
    exchange = app.bigfile.missing
    require_status(exchange, 404, "GET /bigfile when the file does not exist", app.crash("bigfile"))
    try:
        detail = json.loads(exchange.body).get("detail")
    except (ValueError, AttributeError):
        detail = None
    if detail is None:
        raise CheckFailed(f'The 404 should have a JSON body like {{"detail": "..."}}; got {excerpt(exchange.body)}.')


@check(
    "bigfile.default-path",
    points=1,
    depends=("bigfile.status",),
    hint=(
        f'`os.environ.get("BIGFILE_PATH", "{BIGFILE_DEFAULT_PATH}")` inside the endpoint: a relative path is '
        "found from the folder the server was started in."
    ),
    # From the kit's folder, where `streamgrade sample-file` writes BIGFILE_DEFAULT_PATH.
    reproduce=(
        "streamgrade sample-file && env -u BIGFILE_PATH uvicorn starter.app:app  "
        "# then: curl -sS -o /tmp/d.bin http://127.0.0.1:8000/bigfile"
    ),
)
def test_bigfile_default_path(app):
    """Without BIGFILE_PATH, the file served is sample-data/bigfile.bin in the folder the server started in"""
    bigfile = app.bigfile
    exchange = bigfile.default_path
    if exchange is None:
        raise NotApplicable("The server started without BIGFILE_PATH could not be probed in this run.")
    what = f"GET /bigfile from a server started without BIGFILE_PATH, in a folder holding {BIGFILE_DEFAULT_PATH}"
    body = exchange.body
    if (
        exchange.status == 200
        and not exchange.truncated
        and len(body) == bigfile.default_path_size
        and hash_of(body).hexdigest() == bigfile.default_path_sha256
    ):
        return
    download = bigfile.download
    if download is not None and download.stopped_early and exchange.error:
        raise NotApplicable("Even the small file could not be downloaded in time (see bigfile.throughput).")
    if download is not None and not download.stopped_early and download.sha256 != bigfile.file_sha256:
        # The file is told by its bytes, and this app changes (or breaks off) every file it serves.
        raise NotApplicable("The bytes of a file don't come through unchanged (see bigfile.integrity).")
    require_status(exchange, 200, what)
    raise CheckFailed(
        f"{what}: expected that file's {bigfile.default_path_size:,} bytes, received {exchange.received:,} "
        "bytes that are not its content. When BIGFILE_PATH is not set, serve "
        f"{BIGFILE_DEFAULT_PATH}, relative to the folder the server was started in.",
    )


@check(
    "bigfile.range",
    points=2,
    bonus=True,
    depends=("bigfile.status",),
    hint=(
        "Parse `Range: bytes=a-b`, `a-` and `-n`; answer 206 with Content-Range: bytes first-last/size, "
        "seek to `first` and send last-first+1 bytes; 416 with Content-Range: bytes */size past the end."
    ),
    reproduce="curl -sS -D - -H 'Range: bytes=0-99' -o /dev/null http://127.0.0.1:8000/bigfile",
)
def test_bigfile_range(app):
    """Extra credit: Range requests give 206 with the exact slice, or 416"""
    bigfile = app.bigfile
    accept = (full_download(app).header("accept-ranges") or "").lower()
    if accept != "bytes":
        raise CheckFailed(f"Expected Accept-Ranges: bytes on the full download, got {accept or '(none)'}.")
    if not bigfile.ranges:
        # The full download offered ranges but the first GET did not, so no
        # range request was sent: never pass on requests that were not made.
        raise CheckFailed(
            f"{bigfile.ranges_skipped or 'No range request was made'}, so the range requests were not tried. "
            "Send Accept-Ranges: bytes on every GET /bigfile."
        )
    size = bigfile.file_size
    for probe in bigfile.ranges:
        exchange = probe.exchange
        what = f"GET /bigfile with Range: {probe.range_header}"
        if probe.expected is None:
            require_status(exchange, 416, what, app.crash("bigfile"))
            if exchange.header("content-range") != f"bytes */{size}":
                raise CheckFailed(
                    f"{what}: expected Content-Range: bytes */{size}, got {exchange.header('content-range')}."
                )
            continue
        first, last = probe.expected
        require_status(exchange, 206, what, app.crash("bigfile"))
        expected_range = f"bytes {first}-{last}/{size}"
        if exchange.header("content-range") != expected_range:
            raise CheckFailed(
                f"{what}: expected Content-Range: {expected_range}, got {exchange.header('content-range')}."
            )
        if exchange.header("content-length") != str(last - first + 1):
            raise CheckFailed(
                f"{what}: expected Content-Length: {last - first + 1}, got {exchange.header('content-length')}."
            )
        if exchange.body != probe.expected_body:
            raise CheckFailed(
                f"{what}: the body is not bytes {first} to {last} of the file ({len(exchange.body)} bytes came)."
            )


@check(
    "bigfile.head",
    points=1,
    bonus=True,
    depends=("bigfile.status",),
    hint='`@app.api_route("/bigfile", methods=["GET", "HEAD"])`, and for HEAD a Response with the headers only.',
    reproduce="curl -I http://127.0.0.1:8000/bigfile",
)
def test_bigfile_head(app):
    """Extra credit: HEAD gives the same headers as GET and no body"""
    bigfile = app.bigfile
    exchange = bigfile.head
    require_status(exchange, 200, "HEAD /bigfile", app.crash("bigfile"))
    if exchange.header("content-length") != str(bigfile.file_size):
        raise CheckFailed(
            f"HEAD /bigfile should announce Content-Length: {bigfile.file_size}, "
            f"got {exchange.header('content-length')}."
        )
    # The headers that describe the file; Date and the like may differ between two answers.
    get = full_download(app)
    for name in HEAD_SAME_AS_GET:
        if exchange.header(name) != get.header(name):
            raise CheckFailed(
                f"HEAD /bigfile answered {name}: {exchange.header(name) or '(none)'}, but GET /bigfile answered "
                f"{name}: {get.header(name) or '(none)'}. HEAD should give the same headers as GET, without the body.",
                evidence={"head": exchange.headers, "get": get.headers},
            )
