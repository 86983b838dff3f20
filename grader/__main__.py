"""``python -m grader`` is ``streamgrade``."""

from grader.cli import run

run()
