"""The learner's kit as package data: the exercise pages, the starter and the reference solution.

In the checkout they are the top-level folders ``exercises/``, ``starter/``
and ``reference/``; ``pyproject.toml`` maps them into the installed package
as ``grader.kit.exercises``, ``grader.kit.starter`` and
``grader.kit.reference``, so a wheel carries them and nothing moves for
someone working in the checkout. Found with ``importlib.resources`` (a wheel
or an editable install); run from a checkout that is not installed, the
folders beside ``grader/``.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

# The kit's parts, by folder name in the checkout.
PARTS = ("exercises", "starter", "reference")
CHECKOUT = Path(__file__).resolve().parent.parent.parent


def folder(part: str) -> Traversable:
    """The kit's ``part`` (one of PARTS), wherever this copy of streamgrade has it."""
    if part not in PARTS:
        raise ValueError(f"{part!r} is not a part of the kit ({', '.join(PARTS)})")
    try:
        return resources.files(f"{__name__}.{part}")
    except ModuleNotFoundError:  # a checkout on sys.path, not installed
        return CHECKOUT / part


def reference_app() -> Path:
    """The reference solution's app.py, as a file the grader can start."""
    app = folder("reference") / "app.py"
    # Installs unpack to folders, so this is a real file; a zipped install is not supported.
    return Path(str(app))


# What `streamgrade init` writes, relative to the learner's folder, from which part of the kit.
LEARNER_README = "learner-readme.md"


def kit_files() -> dict[str, Traversable]:
    """Each file of a learner's kit by its path in the learner's folder: the pages, the starter, a README."""
    files: dict[str, Traversable] = {"README.md": resources.files(__name__) / LEARNER_README}
    for entry in sorted(folder("exercises").iterdir(), key=lambda entry: entry.name):
        if entry.name.endswith(".md"):
            files[f"exercises/{entry.name}"] = entry
    files["starter/app.py"] = folder("starter") / "app.py"
    return files


class KitExists(Exception):
    """The folder already holds files the kit would overwrite."""

    def __init__(self, existing: list[str]) -> None:
        super().__init__(", ".join(existing))
        self.existing = existing


def write_kit(destination: Path) -> list[str]:
    """Write a learner's kit into ``destination``; the paths written. Overwrites nothing.

    Every path is checked before the first is written, so a refusal leaves
    the folder as it was.
    """
    files = kit_files()
    if destination.exists() and not destination.is_dir():
        raise NotADirectoryError(f"{destination} is a file, not a folder")
    existing = [name for name in files if (destination / name).exists()]
    if existing:
        raise KitExists(existing)
    for name, source in files.items():
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        # Exclusive creation: a file that appeared since the check is not overwritten either.
        with target.open("xb") as written:
            written.write(source.read_bytes())
    return list(files)
