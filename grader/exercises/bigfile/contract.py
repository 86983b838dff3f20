"""Exercise 2's contract as data: the file GET /bigfile serves and the memory it may cost."""

from __future__ import annotations

# Serving a 256 MiB file may raise the server's resident memory by at most this.
BIGFILE_SIZE = 256 * 1024 * 1024
MEMORY_BOUND = 32 * 1024 * 1024
# The file served when BIGFILE_PATH is not set, relative to the folder the server starts in.
BIGFILE_DEFAULT_PATH = "sample-data/bigfile.bin"
# How much of the reference's download is timed again beside a slow download
# in a batch: a quarter of the file gives its speed for a quarter of the CPU.
REMEASURE_BYTES = 64 * 1024 * 1024
