"""Allocates a known amount while serving /bigfile: for the memory-accuracy benchmark.

$STREAMGRADE_BENCH_ALLOCATE_MIB MiB are allocated and touched (so they are
resident) when the request starts, held while a small body streams slowly,
and freed at the end.
"""

import os
import time

from fastapi import FastAPI
from fastapi.responses import StreamingResponse

app = FastAPI()
MIB = 1024 * 1024


@app.get("/bigfile")
def bigfile():
    size = int(os.environ["STREAMGRADE_BENCH_ALLOCATE_MIB"]) * MIB

    def body():
        block = bytearray(size)
        for offset in range(0, size, 4096):
            block[offset] = 1  # touch every page, so all of it is resident
        for _ in range(20):
            time.sleep(0.02)  # hold it while the grader samples
            yield b"x" * 1024
        del block

    return StreamingResponse(body(), media_type="application/octet-stream")
