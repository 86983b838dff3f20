"""Exercise 2: GET /bigfile streams a 256 MiB file without holding it in memory."""

from __future__ import annotations

from grader.exercises import Exercise, Probe, Step
from grader.exercises.bigfile import evidence, probe, report, run
from grader.exercises.bigfile.recording import BigfileRecording
from grader.probes.context import HEAVY, TIMING

TRY_IT = "curl -sS -D - -o /tmp/download.bin http://127.0.0.1:8000/bigfile"

EXERCISE = Exercise(
    name="bigfile",
    title="Exercise 2: /bigfile (exercises/02-bigfile.md)",
    route="GET /bigfile",
    page="exercises/02-bigfile.md",
    recording=BigfileRecording,
    # The light part (a slow reader, ranges, HEAD, a missing file) beside the
    # timing probes, on its own servers; the full-speed downloads after them
    # (recorded alone: beside the light part, on a fourth server).
    probes=(Probe(TIMING, run.probe), Probe(HEAVY, run.probe_download)),
    heavy=True,
    servers=("", "more", "untyped"),
    overlap_servers=("download",),
    sample=run.SAMPLE,
    setup=run.BigfileRun,
    answered=lambda recording: recording.slow_read.status,
    evidence=evidence.evidence,
    evidence_type=evidence.BigfileEvidence,
    figures=report.figures,
    floor=probe.floor,
    measured=evidence.measured,
    try_it=TRY_IT,
    serve="streamgrade sample-file && BIGFILE_PATH=sample-data/bigfile.bin uvicorn starter.app:app",
    steps={
        "bigfile.status": Step("what your route returns for GET /bigfile", (1,)),
        "bigfile.headers": Step("the headers your response sets: the report names the one that is wrong", (1,)),
        "bigfile.integrity": Step("how the file is opened and read: every byte, in order, to the end", (2,)),
        "bigfile.memory": Step("how much of the file your code holds at once", (2, 3, 4)),
        "bigfile.backpressure": Step("who decides when the next piece is read: the client, or a loop of yours", (5,)),
        "bigfile.throughput": Step("the size of the pieces you yield", (2,)),
        "bigfile.missing": Step("what happens before the first byte when the file is not there", (6,)),
        "bigfile.default-path": Step("the path you use when BIGFILE_PATH is not set, and what it is relative to", (6,)),
        "bigfile.range": Step("the Range header: which bytes it asks for", (7,)),
        "bigfile.head": Step("the methods your route accepts"),
    },
)
