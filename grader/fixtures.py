"""The fixtures a check asks for: ``app`` and ``reference``, each recorded once per grading.

A plugin module of its own, registered by ``grader.plugin`` only while it
grades, so a project that merely has streamgrade installed gets no fixture
named ``app``. Plain functions, not methods of the grading session: pytest
deprecates session-scoped fixtures defined as instance methods
(``PytestRemovedIn10Warning``), and a check run under ``filterwarnings =
error`` would fail on it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from grader.recording import AppRecording

if TYPE_CHECKING:
    from grader.plugin import GradingSession

SESSION_PLUGIN = "streamgrade-session"


def grading_session(config: pytest.Config) -> GradingSession:
    session = config.pluginmanager.get_plugin(SESSION_PLUGIN)
    assert session is not None, "the app and reference fixtures exist only while grading"
    return session


@pytest.fixture(scope="session")
def app(pytestconfig: pytest.Config) -> AppRecording:
    """What the app under test did, recorded once for every check."""
    return grading_session(pytestconfig).recordings()[0]


@pytest.fixture(scope="session")
def reference(pytestconfig: pytest.Config) -> AppRecording:
    """What the reference solution did in the same run."""
    return grading_session(pytestconfig).recordings()[1]
