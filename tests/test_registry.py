"""The exercise registry: every folder is registered, and each record agrees with its checks."""

from __future__ import annotations

import asyncio
import importlib
import random
import subprocess
import sys

import pytest

from grader.batch.config import known_checks
from grader.exercises import FOLDER, NAMES, check_modules, registry
from grader.render.csv import render_csv
from grader.results import GradeResult


def check_ids(module_name: str) -> set[str]:
    module = importlib.import_module(module_name)
    return {
        mark.args[0]
        for value in vars(module).values()
        for mark in getattr(value, "pytestmark", [])
        if mark.name == "check"
    }


def test_every_exercise_folder_is_registered_under_its_own_name():
    folders = {path.parent.name for path in FOLDER.glob("*/__init__.py")}
    assert folders == set(NAMES)
    assert [exercise.name for exercise in registry()] == list(NAMES)


def test_each_exercise_owns_the_checks_in_its_folder_and_the_batch_knows_them_all():
    known = set(known_checks())
    for exercise in registry():
        ids = check_ids(exercise.checks_module)
        assert ids, exercise.name
        assert all(identifier.startswith(exercise.name + ".") for identifier in ids), ids
        assert ids <= known
        assert exercise.checks.is_file()
    assert known == {identifier for module in check_modules() for identifier in check_ids(module)}


def test_every_hint_step_names_a_check_of_its_exercise():
    for exercise in registry():
        assert set(exercise.steps) <= check_ids(exercise.checks_module), exercise.name


def test_the_csv_has_a_column_per_registered_exercise():
    header = render_csv(
        {
            "x": GradeResult(
                target="x",
                reference="r",
                grader_version="0",
                started_at="",
                duration=0.0,
                exercises=list(NAMES),
                checks=[],
            )
        },
        [],
    ).splitlines()[0]
    assert header.split(",")[5 : 5 + len(NAMES)] == [f"{name}_score" for name in NAMES]


def test_an_exchange_can_send_a_method_headers_and_a_body():
    """What a POST exercise needs: the request as sent is kept beside the answer."""
    import asyncio

    import httpx

    from grader.probes.http import record_exchange

    def echo(request: httpx.Request) -> httpx.Response:
        said = f"{request.method} {request.headers['content-type']} ".encode() + request.content
        return httpx.Response(201, stream=httpx.ByteStream(said))

    async def send():
        async with httpx.AsyncClient(transport=httpx.MockTransport(echo), base_url="http://app") as client:
            return await record_exchange(
                client,
                "/v1/chat/completions",
                method="POST",
                headers={"Content-Type": "application/json"},
                body=b'{"stream": true}',
                timeout=5,
            )

    exchange = asyncio.run(send())
    assert exchange.status == 201 and exchange.body == b'POST application/json {"stream": true}'
    assert exchange.method == "POST" and exchange.request_body == b'{"stream": true}'
    assert exchange.request_headers == {"Content-Type": "application/json"}


def test_a_saved_reference_reads_back_as_the_very_recording_typed_per_exercise(tmp_path):
    from grader.exercises.chat.recording import ChatRecording
    from grader.recording import (
        AppRecording,
        Calibration,
        Chunk,
        Exchange,
        StartRecording,
        load_calibration,
        save_calibration,
    )

    raw = Exchange("GET", "/chat-stream", status=200, chunks=[Chunk(0.25, b"\x00\xff not utf-8")], headers=[("a", "b")])
    chat = ChatRecording(0.22, [("p", raw)], "p", raw, [raw], [0.001], [0.002], [("-1", raw)])
    recording = AppRecording("reference", StartRecording(True, 0.3), recordings={"chat": chat})
    save_calibration(tmp_path / "reference.json", Calibration(9, ["chat"], recording))
    loaded = load_calibration(tmp_path / "reference.json")
    assert loaded.recording == recording and loaded.seed == 9 and loaded.exercises == ["chat"]
    assert isinstance(loaded.recording.chat, ChatRecording) and loaded.recording.chat.content[0] == ("p", raw)


def test_a_saved_reference_of_the_wrong_shape_is_refused_with_a_value_error(tmp_path):
    import pytest

    from grader.recording import load_calibration

    path = tmp_path / "reference.json"
    for text in ('{"seed": 1}', "not json", '{"seed": 1, "exercises": [], "recording": {"__type__": "Popen"}}'):
        path.write_text(text)
        with pytest.raises(ValueError):
            load_calibration(path)


@pytest.mark.slow
@pytest.mark.parametrize("exercise", [exercise for exercise in registry() if exercise.timed], ids=lambda e: e.name)
def test_an_exercises_timed_streams_split_the_references_whole_answer_into_its_pieces(exercise, reference):
    """bench/run.py's timing precision pairs each piece's end with the app's hand-off: the ends must be the answer's."""
    streams = asyncio.run(exercise.timed(reference.base_url, random.Random(7)))
    assert streams
    for stream in streams:
        assert stream.exchange.status == 200 and stream.exchange.error is None
        assert len(stream.ends) >= 2 and stream.ends == sorted(set(stream.ends))
        assert stream.ends[-1] == stream.exchange.received  # the last piece ends with the answer


# Run in a fresh interpreter: whether a package is imported is the point.
WARM_UP = """
import sys
from grader.exercises import warm_up
from grader.exercises.openai.probe import prefetching
warm_up({names!r})
print("openai" in sys.modules or prefetching.cache_info().currsize > 0)
if {names!r} == ["openai"]:
    prefetching().result(timeout=120)
    print("openai" in sys.modules, prefetching() is prefetching())
"""


def warmed(names: list[str]) -> list[str]:
    script = WARM_UP.format(names=names)
    finished = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=180)
    assert finished.returncode == 0, finished.stderr
    return finished.stdout.split()


def test_a_grade_without_exercise_5_never_imports_the_openai_package():
    assert warmed(["chat", "bigfile", "events", "responses"]) == ["False"]


def test_exercise_5_warms_up_once_per_process_in_the_background():
    # Started as the grading process starts; the run's OpenaiRun then waits for the same import.
    assert warmed(["openai"]) == ["True", "True", "True"]
