# Tries to change the grader's code, the reference, earlier results and other students' files.
import contextlib
import os
from pathlib import Path

from fastapi import FastAPI

MARKER = "@MARKER@"
TARGETS = [Path(path) for path in ["@TAMPER@"] if path]


def grader_files() -> list[Path]:
    try:
        import grader  # the app's process has imported it to serve
    except ImportError:
        return []
    return [path for path in Path(grader.__file__).parent.rglob("*") if path.is_file()]


for target in [*TARGETS, *grader_files()]:
    try:
        if target.is_dir():
            for path in target.rglob("*"):
                if path.is_file():
                    path.write_text("tampered")
        else:
            with open(target, "a") as file:
                file.write("\n# tampered\n")
    except OSError:
        pass
    with contextlib.suppress(OSError):
        os.chmod(target, 0o777)

app = FastAPI()
