"""The ``streamgrade`` command."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from grader import __version__
from grader.samplefile import parse_size, write_sample_file

DEFAULT_SAMPLE_PATH = "sample-data/bigfile.bin"
DEFAULT_SAMPLE_SIZE = "64M"

USAGE_NOTE = """\
streamgrade: practise streaming responses in FastAPI, and grade them.

The exercises are in exercises/ (start with 01-chat-stream.md); your code goes
in starter/app.py. Run your app by hand with:

    uvicorn starter.app:app --reload

Commands:
    streamgrade sample-file [PATH] [--size 64M]
        make a file for the download exercise (default: sample-data/bigfile.bin)

The grading command (streamgrade check) is being built; until it lands, the
exercise pages show how to check each endpoint by hand with curl.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="streamgrade", description="Streaming exercises for FastAPI.")
    parser.add_argument("--version", action="version", version=f"streamgrade {__version__}")
    commands = parser.add_subparsers(dest="command")
    sample = commands.add_parser("sample-file", help="make a large file with no newline bytes")
    sample.add_argument("path", nargs="?", default=DEFAULT_SAMPLE_PATH)
    sample.add_argument("--size", default=DEFAULT_SAMPLE_SIZE, help="e.g. 64M, 256M, 1G (default 64M)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "sample-file":
        try:
            size = parse_size(args.size)
        except ValueError as error:
            parser.error(str(error))
        path = Path(args.path)
        try:
            digest = write_sample_file(path, size)
        except OSError as error:
            print(f"streamgrade: could not write {path}: {error.strerror}", file=sys.stderr)
            return 1
        print(f"Wrote {size:,} bytes to {path} (sha256 {digest}).")
        print(f"Serve it with: BIGFILE_PATH={path} uvicorn starter.app:app")
        return 0
    print(USAGE_NOTE, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
