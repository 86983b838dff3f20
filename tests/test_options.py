"""The grading options are declared once: the CLI, the plugin and a batch's child command line agree."""

from __future__ import annotations

import pytest

from grader import options
from grader.cli import build_parser


def test_a_batch_childs_command_line_reads_back_as_the_same_options():
    given = {
        "exercise": ["chat", "events"],
        "reference": "ref/app.py",
        "seed": 41,
        "start_timeout": 2.5,
        "sandbox": "limits",
        "limits": '{"memory": 1}',
        "isolation_problem": "",
        "reference_dir": "/x",
        "reference_recording": "/r.json",
        "save_reference": None,
    }
    parsed = build_parser().parse_args(["check", "app.py", *options.arguments(given)])
    assert options.values_of(parsed) == given


def test_every_grading_option_is_the_plugins_too(pytestconfig):
    for option in options.OPTIONS:
        assert pytestconfig.getoption("streamgrade_" + option.dest, default="absent") != "absent", option.name


def test_an_option_that_is_not_declared_is_refused():
    with pytest.raises(TypeError, match="not a grading option: exercises"):
        options.arguments({"exercises": ["chat"]})
