"""`streamgrade init`: a learner's kit from the installed package, never over their work."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from helpers import ROOT

from grader import kit


def init(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "grader", "init", *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )


def test_init_writes_the_pages_the_starter_and_a_readme(tmp_path):
    finished = init("my-streaming", cwd=tmp_path)
    assert finished.returncode == 0, finished.stderr
    kit_folder = tmp_path / "my-streaming"
    written = sorted(str(path.relative_to(kit_folder)) for path in kit_folder.rglob("*") if path.is_file())
    pages = sorted(f"exercises/{page.name}" for page in (ROOT / "exercises").glob("*.md"))
    assert written == sorted(["README.md", "starter/app.py", *pages])
    assert (kit_folder / "starter" / "app.py").read_bytes() == (ROOT / "starter" / "app.py").read_bytes()
    for page in pages:
        assert (kit_folder / page).read_bytes() == (ROOT / page).read_bytes()
    readme = (kit_folder / "README.md").read_text()
    assert "streamgrade" in readme and "starter/app.py" in readme and ".venv" in readme
    assert "cd my-streaming && streamgrade" in finished.stdout


def test_init_refuses_to_overwrite_and_leaves_everything_as_it_was(tmp_path):
    (tmp_path / "starter").mkdir()
    (tmp_path / "starter" / "app.py").write_text("# my work\n")
    finished = init(cwd=tmp_path)
    assert finished.returncode == 2
    assert "this folder already has starter/app.py" in finished.stderr and "nothing was written" in finished.stderr
    assert "Traceback" not in finished.stderr
    assert (tmp_path / "starter" / "app.py").read_text() == "# my work\n"
    assert sorted(path.name for path in tmp_path.rglob("*")) == ["app.py", "starter"]


def test_init_into_a_file_says_so(tmp_path):
    (tmp_path / "taken").write_text("")
    finished = init("taken", cwd=tmp_path)
    assert finished.returncode == 1 and "not a folder" in finished.stderr and "Traceback" not in finished.stderr


def test_the_kit_is_found_through_the_package_in_this_install():
    assert kit.reference_app().read_bytes() == (ROOT / "reference" / "app.py").read_bytes()
    assert {entry.name for entry in kit.folder("exercises").iterdir()} >= {"01-chat-stream.md", "03-events.md"}


def test_every_folder_of_the_package_ships_in_the_wheel():
    """pyproject lists the packages (the kit's are mapped in from outside grader/): a new folder must be added."""
    import tomllib

    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {
        ".".join(path.relative_to(ROOT).parts)
        for path in [ROOT / "grader", *(ROOT / "grader").rglob("*")]
        if path.is_dir() and (any(path.glob("*.py")) or path.name == "templates")
    }
    assert folders <= set(setuptools["packages"]), folders - set(setuptools["packages"])
    for package, folder in setuptools["package-dir"].items():
        assert package in setuptools["packages"] and (ROOT / folder).is_dir()


def test_a_refused_init_suggests_a_folder_that_is_free(tmp_path):
    assert init("my-streaming", cwd=tmp_path).returncode == 0
    refused = init("my-streaming", cwd=tmp_path)
    assert refused.returncode == 2
    suggested = refused.stderr.rsplit("streamgrade init ", 1)[1].strip()
    assert suggested == "my-streaming-2"
    assert init(suggested, cwd=tmp_path).returncode == 0


# How each shell activates a virtual environment made with `python -m venv .venv`.
ACTIVATE = {
    "POSIX shells": ". .venv/bin/activate",
    "PowerShell": ".venv\\Scripts\\Activate.ps1",
    "the Command Prompt": ".venv\\Scripts\\activate.bat",
}


def test_both_readmes_name_one_right_activation_per_shell_and_no_other():
    from importlib import resources

    readmes = {
        "README.md": (ROOT / "README.md").read_text(encoding="utf-8"),
        "the kit's README": (resources.files("grader") / "kit" / "learner-readme.md").read_text(encoding="utf-8"),
    }
    for name, text in readmes.items():
        for shell, command in ACTIVATE.items():
            assert command in text, f"{name} does not say how {shell} activates the environment"
        right = {command.removeprefix(". ") for command in ACTIVATE.values()}
        named = set(re.findall(r"\.venv[\\/](?:[Ss]cripts|bin)[\\/][\w.]+", text))
        assert named <= right, f"{name} names another activation: {named - right}"


def test_the_windows_commands_in_the_readme_run_in_windows_powershell_5():
    """Windows PowerShell 5, the one Windows ships, has no `&&`: a Windows block gives one command a line."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    windows = readme.partition("On Windows (PowerShell):")[2].partition("```console")[2].partition("```")[0]
    assert "Activate.ps1" in windows and "&&" not in windows
