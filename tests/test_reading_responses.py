"""Reading what an app sends: every read is capped, under a deadline, asks for identity and is never decoded.

An app that answers /openapi.json (the readiness and loop-latency probes'
path) with a gzip bomb or an endless body must cost the grading process no
more memory than a correct app does, and its grade must finish.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from helpers import REFERENCE_APP, ROOT

# Grades apps over real sockets.
pytestmark = pytest.mark.slow

# Zeros deflate about a thousand to one: half a MiB on the wire, 512 MiB once decoded.
BOMB_SIZE = 512 * 1024 * 1024
# A grading process's peak may vary from run to run by allocator noise, far
# less than this; a decoded bomb adds hundreds of MiB.
MEMORY_FACTOR = 1.5

# The reference app with its /openapi.json replaced; the rest answers as the contract says.
HOSTILE_OPENAPI = {
    "gzip_bomb": """
from pathlib import Path
from starlette.responses import Response

BOMB = (Path(__file__).parent / "bomb.gz").read_bytes()
app.router.routes = [route for route in app.router.routes if getattr(route, "path", "") != "/openapi.json"]


@app.get("/openapi.json")
def openapi_bomb():
    # Compressed whether or not the client asked for it.
    return Response(BOMB, media_type="application/json", headers={"Content-Encoding": "gzip"})
""",
    "endless_body": """
from starlette.responses import StreamingResponse

app.router.routes = [route for route in app.router.routes if getattr(route, "path", "") != "/openapi.json"]


@app.get("/openapi.json")
def openapi_endless():
    def forever():
        block = b"[" * 65536
        while True:
            yield block

    return StreamingResponse(forever(), media_type="application/json")
""",
}


def gzip_of_zeros(size: int) -> bytes:
    """A gzip member of ``size`` zero bytes, made in blocks (never ``size`` bytes in memory)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(1 << 20)
    parts = [packer.compress(block) for _ in range(size // len(block))]
    return b"".join(parts) + packer.flush()


def grade_peak(app: Path, results: Path) -> tuple[dict, int]:
    """Grade ``app`` in a fresh process tree; its result and the tree's peak resident KiB.

    The chat and events exercises: between them, every probe that reads /openapi.json
    (readiness, loop latency, the disconnect probe's last look).
    """
    grade = [
        sys.executable,
        "-m",
        "grader",
        "check",
        str(app),
        "--exercise",
        "chat",
        "--exercise",
        "events",
        "--json",
        str(results),
        "--no-html",
    ]
    measure = (
        "import resource, subprocess, sys; subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, timeout=300); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    finished = subprocess.run(
        [sys.executable, "-c", measure, *grade], capture_output=True, text=True, cwd=ROOT, timeout=330
    )
    assert finished.returncode == 0, finished.stderr
    return json.loads(results.read_text()), int(finished.stdout.split()[-1])


@pytest.fixture(scope="module")
def correct_peak(tmp_path_factory) -> int:
    folder = tmp_path_factory.mktemp("correct")
    _, peak = grade_peak(REFERENCE_APP, folder / "results.json")
    return peak


@pytest.mark.parametrize("name", sorted(HOSTILE_OPENAPI))
def test_a_hostile_openapi_answer_costs_the_grader_no_memory_and_the_grade_finishes(tmp_path, correct_peak, name):
    app = tmp_path / "app.py"
    app.write_text(REFERENCE_APP.read_text() + HOSTILE_OPENAPI[name])
    (tmp_path / "bomb.gz").write_bytes(gzip_of_zeros(BOMB_SIZE))
    result, peak = grade_peak(app, tmp_path / "results.json")
    statuses = {check["id"]: check["status"] for check in result["checks"]}
    # The probes only needed an answer, and got one: every verdict is the reference's own.
    assert set(statuses.values()) == {"passed"}, statuses
    assert peak <= MEMORY_FACTOR * correct_peak, f"{peak / 1024:.0f} MiB against {correct_peak / 1024:.0f} MiB"
