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


def scan_processes() -> set[bytes]:
    found: set[bytes] = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            for name in ("environ", "cmdline"):
                try:
                    with open(f"/proc/{entry}/{name}", "rb") as file:
                        found |= set(PATTERN.findall(file.read()))
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
    others = len(scan_processes() - {DECOY})
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
