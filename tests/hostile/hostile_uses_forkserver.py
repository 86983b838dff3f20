# Connects to the batch's fork server (outside isolation its socket is in the temp folder, owned by
# the user the app runs as) and asks it for a launcher of its own, unsandboxed, whose process would
# run outside the app's tree and cgroup. Says in its log what came of it.
import glob
import json
import os
import socket

from fastapi import FastAPI

MARKER = "@MARKER@"


def parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as stat:
        text = stat.read()
    return int(text[text.rfind(")") + 2 :].split()[1])


def try_forkserver() -> str:
    # Its own batch's: the launcher's parent is the fork server, whose parent is the batch (the folder's PID).
    try:
        batch = parent_of(parent_of(parent_of(os.getpid())))
    except (OSError, ValueError, IndexError):
        return "fork-server: no socket found"
    paths = glob.glob(f"/tmp/streamgrade-forkserver-{batch}-*/forkserver")
    if not paths:
        return "fork-server: no socket found"
    said = []
    for path in paths:
        try:
            channel = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            channel.settimeout(5)
            channel.connect(path)
            here = os.path.dirname(os.path.abspath(__file__))
            spec = json.dumps(
                {
                    "app_dir": here,
                    "import_string": "nothing:app",
                    "level": "off",
                    "limits": {},
                    "cgroup_procs": [],
                    "root": None,
                    "readonly": [],
                }
            )
            request = json.dumps({"spec": spec, "cwd": here, "env": {"STREAMGRADE_HOSTILE": MARKER}}).encode()
            environment = os.memfd_create("env")
            os.write(environment, json.dumps({"STREAMGRADE_HOSTILE": MARKER, "PATH": "/usr/bin:/bin"}).encode())
            os.lseek(environment, 0, 0)
            _read_end, write_end = os.pipe()  # the read end stays open: writes to it must not fail
            socket.send_fds(channel, [request], [write_end, write_end, write_end, environment])
            reply = channel.recv(4096)
            said.append(
                f"fork-server: spawned {reply.decode()}"
                if b'"pid"' in reply
                else f"fork-server: refused ({reply.decode() or 'connection closed'})"
            )
        except OSError as error:
            said.append(f"fork-server: refused ({error})")
    return "; ".join(said)


print(try_forkserver(), flush=True)
app = FastAPI()
