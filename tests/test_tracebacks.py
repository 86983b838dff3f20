"""The learner's part of a server's tracebacks: their frames and exception, the machinery trimmed."""

from __future__ import annotations

from grader.tracebacks import crashes, describe, learner_traceback

UVICORN = """INFO:     127.0.0.1:5000 - "GET /chat-stream HTTP/1.1" 200 OK
ERROR:    Exception in ASGI application
Traceback (most recent call last):
  File "/venv/lib/python3.11/site-packages/uvicorn/protocols/http/h11_impl.py", line 411, in run_asgi
    result = await app(  # type: ignore[func-returns-value]
             ^^^^^^^^^^
  File "/venv/lib/python3.11/site-packages/starlette/concurrency.py", line 46, in _next
    return next(iterator)
  File "/home/ann/kit/app.py", line 16, in tokens
    time.sleep(delay)
    ^^^^
NameError: name 'time' is not defined
"""


def test_a_crash_keeps_the_learners_frame_and_exception_only():
    [crash] = crashes(UVICORN)
    assert (crash.exception, crash.file, crash.line) == (
        "NameError: name 'time' is not defined",
        "/home/ann/kit/app.py",
        16,
    )
    assert crash.traceback == [
        "Traceback (most recent call last):",
        '  File "/home/ann/kit/app.py", line 16, in tokens',
        "    time.sleep(delay)",
        "    ^^^^",
        "NameError: name 'time' is not defined",
    ]
    assert describe(crash).startswith("NameError: name 'time' is not defined (app.py, line 16)\n  Traceback")


def test_the_same_crash_on_every_request_is_one_crash_counted():
    [crash] = crashes(UVICORN * 3)
    assert crash.count == 3


def test_an_exception_raised_in_code_the_app_called_has_no_file_of_its_own():
    log = """Traceback (most recent call last):
  File "/venv/lib/python3.11/site-packages/starlette/responses.py", line 250, in stream_response
    async for chunk in self.body_iterator:
TypeError: 'int' object is not iterable
"""
    [crash] = crashes(log)
    assert crash.file == "" and "in code your app called" in describe(crash)


def test_a_traceback_cut_off_by_the_logs_cap_is_no_crash():
    log = UVICORN.rsplit("NameError", 1)[0] + "\n[... 5000 bytes of output left out ...]\nINFO: more\n"
    assert crashes(log) == []


def test_an_exception_group_is_read_through_its_margin():
    log = """  + Exception Group Traceback (most recent call last):
  |   File "/venv/lib/python3.11/site-packages/anyio/_backends/_asyncio.py", line 767, in __aexit__
  |     raise BaseExceptionGroup(
  | ExceptionGroup: unhandled errors in a TaskGroup (1 sub-exception)
  +-+---------------- 1 ----------------
    | Traceback (most recent call last):
    |   File "/srv/app.py", line 9, in stream
    |     yield 1 / 0
    | ZeroDivisionError: division by zero
    +------------------------------------
"""
    found = {crash.exception: crash for crash in crashes(log)}
    assert found["ZeroDivisionError: division by zero"].line == 9


def test_a_start_up_traceback_loses_the_import_machinery():
    log = """Traceback (most recent call last):
  File "<frozen importlib._bootstrap>", line 1204, in _gcd_import
  File "/work/grader/launch/_serve.py", line 20, in main
    app = load()
  File "/home/ann/kit/app.py", line 3
    def broken(:
               ^
SyntaxError: invalid syntax
"""
    assert learner_traceback(log) == [
        "Traceback (most recent call last):",
        '  File "/home/ann/kit/app.py", line 3',
        "    def broken(:",
        "               ^",
        "SyntaxError: invalid syntax",
    ]
