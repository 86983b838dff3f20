# Looks for the instructor's secrets everywhere an app can: its environment, /proc/self/environ after
# making itself dumpable again, every byte of its own memory (the stack and heap it was forked with),
# and the environment and command line of every process it can see. Says what it found in its log and
# in every reply, so that a leak would reach the report.
import ctypes
import os
import re

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

# The test puts "SGCANARY" and 32 hex digits in the grader's environment. The pattern below can't
# match its own text, so any match in memory is a copy of a secret, or of the decoy made at run time.
PATTERN = re.compile(rb"SGCANARY[0-9a-f]{32}")
DECOY = b"SGCANARY" + b"0" * 32  # made here: proves the memory scan finds what is there
PR_SET_DUMPABLE = 4


def scan_memory() -> set[bytes]:
    found: set[bytes] = set()
    with open("/proc/self/maps") as maps, open("/proc/self/mem", "rb", buffering=0) as memory:
        for line in maps:
            fields = line.split()
            if "r" not in fields[1] or line.rstrip().endswith(("[vvar]", "[vsyscall]", "[vvar_vclock]")):
                continue
            start, end = (int(value, 16) for value in fields[0].split("-"))
            position, tail = start, b""
            while position < end:
                try:
                    memory.seek(position)
                    chunk = memory.read(min(1 << 20, end - position))
                except (OSError, ValueError, OverflowError):
                    break
                if not chunk:
                    break
                found |= set(PATTERN.findall(tail + chunk))
                tail = chunk[-48:]
                position += len(chunk)
    return found


# Another process's environment is read into this one buffer and wiped after it is counted: a copy
# left in this process's memory would be found by its next scan of its own memory (the route scans
# again), which would then quote, as its own, a secret it read from another process.
BUFFER = bytearray(4 * 1024 * 1024)


def count_in(path: str) -> int:
    """Secrets (not the decoy) in the file at ``path``, counted without keeping a copy of any."""
    with open(path, "rb", buffering=0) as file:
        size = 0
        while size < len(BUFFER):
            read = file.readinto(memoryview(BUFFER)[size:])
            if not read:
                break
            size += read
    view = memoryview(BUFFER)
    try:
        return sum(1 for match in PATTERN.finditer(BUFFER, 0, size) if view[match.start() : match.end()] != DECOY)
    finally:
        view.release()
        BUFFER[:size] = bytes(size)


def scan_processes() -> int:
    found = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            for name in ("environ", "cmdline"):
                try:
                    found += count_in(f"/proc/{entry}/{name}")
                except OSError:
                    continue
    return found


def look() -> str:
    ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)
    with open("/proc/self/environ", "rb") as environ:
        found = set(PATTERN.findall(environ.read()))
    found |= set(PATTERN.findall("\0".join(f"{k}={v}" for k, v in os.environ.items()).encode()))
    memory = scan_memory()
    own = sorted(value.decode() for value in (found | memory) - {DECOY})
    # Other processes' secrets are counted, not quoted: below isolation, root (CAP_SYS_PTRACE) reads any
    # process, which no level but isolate prevents; the test asserts this count where it must be 0.
    others = scan_processes()
    return (
        f"secret-scan: decoy found in memory: {'yes' if DECOY in memory else 'no'}; "
        f"secrets found in its own environment and memory: {len(own)} {' '.join(own)}; "
        f"in other processes: {others};"
    )


SAID = look()
print(SAID, flush=True)
app = FastAPI()


@app.get("/chat-stream")
def chat_stream(prompt: str):
    return PlainTextResponse(f"{prompt} {SAID} {look()}")
