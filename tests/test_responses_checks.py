"""Exercise 4's checks are pure functions of recordings: judged here on synthetic answers, no server.

Each case starts from the answers the contract asks for and changes one
thing, written the ways correct apps write it (they must pass) or the ways
learners get it wrong (they must fail the check that owns it, with a message
that names what came).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from grader.checkapi import CheckFailed, NotApplicable
from grader.exercises.responses import evidence
from grader.exercises.responses import test_responses as checks
from grader.exercises.responses.contract import counting_bytes, hello_text
from grader.exercises.responses.recording import Asked, ResponsesRecording
from grader.recording import AppRecording, Chunk, Crash, Exchange, StartRecording

ORIGIN = "http://127.0.0.1:43210"
CSV_5 = b"n,square\r\n1,1\r\n2,4\r\n3,9\r\n4,16\r\n5,25\r\n"
CSV_3 = b"n,square\r\n1,1\r\n2,4\r\n3,9\r\n"
DISPOSITION = ("content-disposition", 'attachment; filename="squares.csv"')


def answer(path: str, body: bytes, *headers: tuple[str, str], status: int = 200, streamed: bool = False) -> Exchange:
    framing = ("transfer-encoding", "chunked") if streamed else ("content-length", str(len(body)))
    return Exchange(
        "GET",
        path,
        status=status,
        headers=[*headers, framing],
        chunks=[Chunk(0.001, body)] if body else [],
        received=len(body),
    )


def text(path: str, body: bytes, content_type: str = "text/plain; charset=utf-8") -> Exchange:
    return answer(path, body, ("content-type", content_type))


def contracted() -> ResponsesRecording:
    """Every answer as the contract asks for it."""
    csv_type = ("content-type", "text/csv; charset=utf-8")
    return ResponsesRecording(
        origin=ORIGIN,
        hello=[
            Asked("Ada", text("/hello?name=Ada", hello_text("Ada"))),
            Asked(' Zoë "q" ', text("/hello?name=...", hello_text(' Zoë "q" '))),
            Asked(None, text("/hello", hello_text(None))),
        ],
        page=text("/page", b"<!DOCTYPE html><h1>Responses</h1>", "text/html; charset=utf-8"),
        squares=[
            Asked("5", answer("/squares.csv?rows=5", CSV_5, csv_type, DISPOSITION)),
            Asked(None, answer("/squares.csv", CSV_3, csv_type, DISPOSITION)),
        ],
        squares_stream=[
            Asked("5", answer("/squares-stream.csv?rows=5", CSV_5, csv_type, streamed=True)),
            Asked(None, answer("/squares-stream.csv", CSV_3, csv_type, streamed=True)),
        ],
        counting=[
            Asked("300", answer("/bytes?n=300", counting_bytes(300), ("content-type", "application/octet-stream"))),
            Asked(None, answer("/bytes", counting_bytes(None), ("content-type", "application/octet-stream"))),
        ],
        old_page=answer("/old-page", b"", ("location", "/page"), status=301),
    )


JUDGES: dict[str, Callable[[ResponsesRecording], None]] = {
    "text": lambda recording: checks.judge_text(recording, None),
    "html": lambda recording: checks.judge_html(recording, None),
    "csv": lambda recording: checks.judge_csv(recording, None),
    "attachment": checks.judge_attachment,
    "bytes": lambda recording: checks.judge_bytes(recording, None),
    "redirect": lambda recording: checks.judge_redirect(recording, None),
    "length": lambda recording: checks.judge_length(recording, None),
}


def verdicts(recording: ResponsesRecording) -> dict[str, str]:
    """Each judge's verdict, with the failure's message."""
    found = {}
    for name, judge in JUDGES.items():
        try:
            judge(recording)
            found[name] = "passed"
        except CheckFailed as failure:
            found[name] = f"failed: {failure.message}"
        except NotApplicable as reason:
            found[name] = f"skipped: {reason}"
    return found


def changed(**answers) -> ResponsesRecording:
    return dataclasses.replace(contracted(), **answers)


def with_first(field: str, exchange: Exchange) -> ResponsesRecording:
    """The contracted recording with the first answer of ``field`` replaced."""
    recording = contracted()
    asked = getattr(recording, field)
    asked[0] = Asked(asked[0].value, exchange)
    return recording


def assert_only(recording: ResponsesRecording, judge: str, *said: str) -> None:
    got = verdicts(recording)
    assert {name: verdict for name, verdict in got.items() if verdict != "passed"}.keys() == {judge}, got
    for words in said:
        assert words in got[judge], got[judge]


def test_the_contracted_answers_pass_every_check():
    assert set(verdicts(contracted()).values()) == {"passed"}


@pytest.mark.parametrize(
    "recording",
    [
        pytest.param(with_first("hello", text("/hello?name=Ada", b"Hello, Ada!", "text/plain")), id="no-charset"),
        pytest.param(
            changed(page=text("/page", b"\n  <!doctype HTML>\n<H1 class='x'> Responses </H1>", "text/html")),
            id="html-lowercase-doctype-heading-attributes",
        ),
        pytest.param(
            with_first(
                "squares",
                answer(
                    "/squares.csv?rows=5",
                    b"\xef\xbb\xbfn,square\n1,1\n2,4\n3,9\n4,16\n5,25",
                    ("content-type", "text/csv"),
                    DISPOSITION,
                ),
            ),
            id="csv-bom-newlines-no-final-newline",
        ),
        pytest.param(
            with_first(
                "squares",
                answer(
                    "/squares.csv?rows=5",
                    CSV_5,
                    ("content-type", "text/csv"),
                    ("content-disposition", "Attachment; filename*=UTF-8''squares.csv"),
                ),
            ),
            id="disposition-rfc6266-filename-star",
        ),
        pytest.param(
            with_first(
                "squares",
                answer(
                    "/squares.csv?rows=5",
                    CSV_5,
                    ("content-type", "text/csv"),
                    ("content-disposition", "attachment;filename=squares.csv"),
                ),
            ),
            id="disposition-unquoted",
        ),
        pytest.param(
            changed(old_page=answer("/old-page", b"", ("location", f"{ORIGIN}/page"), status=301)),
            id="redirect-absolute-to-this-server",
        ),
    ],
)
def test_correct_variants_pass(recording):
    assert set(verdicts(recording).values()) == {"passed"}, verdicts(recording)


def test_a_str_returned_as_json_is_named():
    json_answer = text("/hello?name=Ada", b'"Hello, Ada!"', "application/json")
    assert_only(with_first("hello", json_answer), "text", "a JSON string, quotes and all")


def test_a_newline_after_the_greeting_fails_text():
    assert_only(with_first("hello", text("/hello?name=Ada", b"Hello, Ada!\n")), "text", "not even a newline")


def test_a_wrong_default_name_says_what_the_default_is():
    recording = contracted()
    recording.hello[2] = Asked(None, text("/hello", b"Hello, World!"))
    assert_only(recording, "text", "no name parameter", "'world'")


@pytest.mark.parametrize(
    ("content_type", "said"),
    [("text/html; charset=utf-8", "expected text/plain"), ("text/plain; charset=latin-1", "UTF-8")],
)
def test_a_wrong_text_label_fails_text(content_type, said):
    assert_only(with_first("hello", text("/hello?name=Ada", b"Hello, Ada!", content_type)), "text", said)


def test_text_with_no_content_type_fails():
    bare = answer("/hello?name=Ada", b"Hello, Ada!")
    assert_only(with_first("hello", bare), "text", "no Content-Type")


@pytest.mark.parametrize(
    ("page", "said"),
    [
        (text("/page", b"<!DOCTYPE html><h1>Responses</h1>"), "expected text/html"),
        (text("/page", b'"<!DOCTYPE html><h1>Responses</h1>"', "application/json"), "JSON string"),
        (text("/page", b"<html><h1>Responses</h1>", "text/html"), "<!DOCTYPE html>"),
        (text("/page", b"<!DOCTYPE html><h2>Responses</h2>", "text/html"), "<h1>Responses</h1>"),
    ],
)
def test_html_faults_fail_html(page, said):
    assert_only(changed(page=page), "html", said)


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (b"n,square\r\n0,0\r\n1,1\r\n2,4\r\n3,9\r\n4,16\r\n5,25\r\n", "line 2 should be '1,1', it is '0,0'"),
        (b"n,square\r\n1,1\r\n2,4\r\n", "ends after 3 line(s)"),
        (b"n, square\r\n1, 1\r\n", "line 1 should be 'n,square'"),
        (b"\xff\xfe", "not UTF-8"),
    ],
)
def test_a_wrong_table_fails_csv(body, said):
    csv_type = ("content-type", "text/csv")
    assert_only(with_first("squares", answer("/squares.csv?rows=5", body, csv_type, DISPOSITION)), "csv", said)


def test_a_csv_labelled_as_text_fails_csv():
    plain = answer("/squares.csv?rows=5", CSV_5, ("content-type", "text/plain; charset=utf-8"), DISPOSITION)
    assert_only(with_first("squares", plain), "csv", "expected text/csv")


@pytest.mark.parametrize(
    ("value", "said"),
    [
        (None, "no Content-Disposition"),
        ('inline; filename="squares.csv"', "'inline' is not 'attachment'"),
        ("attachment", "names no file"),
        ('attachment; filename="squares"', "save it as 'squares'"),
    ],
)
def test_a_missing_or_wrong_disposition_fails_attachment(value, said):
    recording = contracted()
    headers = [("content-type", "text/csv")] + ([("content-disposition", value)] if value else [])
    recording.squares = [Asked("5", answer("/squares.csv?rows=5", CSV_5, *headers))]
    assert_only(recording, "attachment", said)


def test_attachment_is_not_judged_without_a_csv_answer():
    recording = contracted()
    for asked in recording.squares:
        asked.exchange.status = 501
    got = verdicts(recording)
    assert got["attachment"].startswith("skipped") and got["csv"].startswith("failed")


@pytest.mark.parametrize(
    ("body", "content_type", "said"),
    [
        (counting_bytes(300)[:-1], "application/octet-stream", "299 bytes came, where 300 were expected"),
        (bytes(range(128)) + b"\xef\xbf\xbd" * 172, "application/octet-stream", "byte 128 is 239"),
        (counting_bytes(300), "text/plain; charset=utf-8", "expected application/octet-stream"),
    ],
)
def test_wrong_bytes_fail_bytes(body, content_type, said):
    assert_only(with_first("counting", answer("/bytes?n=300", body, ("content-type", content_type))), "bytes", said)


def test_bytes_returned_bare_are_explained_from_the_servers_exception():
    recording = with_first("counting", answer("/bytes?n=300", b"Internal Server Error", status=500))
    crash = Crash("UnicodeDecodeError: 'utf-8' codec can't decode byte 0x80 in position 128", "", 0, [])
    with pytest.raises(CheckFailed) as failure:
        checks.judge_bytes(recording, crash)
    assert "tried to read your bytes as UTF-8 text" in failure.value.message
    assert "response_class" in failure.value.hint


@pytest.mark.parametrize(
    ("status", "location", "said"),
    [
        (307, "/page", "RedirectResponse sends when you give it no status_code"),
        (308, "/page", "contract asks for 301"),
        (200, None, "serves a page at the old address"),
        (301, None, "no Location header"),
        (301, "http://localhost:8000/page", "not to this server"),
        (301, "/page/", "expected /page"),
        (301, "/page?from=old", "expected /page"),
    ],
)
def test_a_wrong_redirect_fails_redirect(status, location, said):
    headers = [("location", location)] if location else []
    assert_only(changed(old_page=answer("/old-page", b"", *headers, status=status)), "redirect", said)


def test_a_complete_answer_sent_chunked_fails_length():
    csv_type = ("content-type", "text/csv")
    streamed = answer("/squares.csv?rows=5", CSV_5, csv_type, DISPOSITION, streamed=True)
    assert_only(with_first("squares", streamed), "length", "came without Content-Length, chunked")


def test_a_content_length_that_is_not_the_body_fails_length():
    recording = with_first("hello", text("/hello?name=Ada", hello_text("Ada")))
    recording.hello[0].exchange.headers[-1] = ("content-length", "99")
    assert_only(recording, "length", "Content-Length: 99, but the body had 11 bytes")


def test_the_streamed_csv_sent_whole_fails_length():
    whole = answer("/squares-stream.csv?rows=5", CSV_5, ("content-type", "text/csv"))
    assert_only(with_first("squares_stream", whole), "length", "it was sent whole")


def test_the_streamed_csv_must_hold_the_table():
    wrong = answer("/squares-stream.csv?rows=5", CSV_3, ("content-type", "text/csv"), streamed=True)
    assert_only(with_first("squares_stream", wrong), "length", "ends after 4 line(s)")


def test_length_is_not_judged_when_no_complete_answer_came():
    recording = contracted()
    for _, exchange in recording.complete():
        exchange.status = 501
    assert verdicts(recording)["length"].startswith("skipped")


def test_a_failed_route_is_left_to_its_own_check_by_length():
    recording = with_first("counting", answer("/bytes?n=300", b"oops", status=500))
    got = verdicts(recording)
    assert got["length"] == "passed" and got["bytes"].startswith("failed")


def test_evidence_shows_each_request_with_both_answers_text_as_text_and_bytes_in_hex():
    learner = with_first("hello", text("/hello?name=Ada", b'"Hello, Ada!"', "application/json"))
    shown = evidence.collect(learner, contracted())
    assert shown is not None
    rows = shown.rows
    assert len(rows) == len(contracted().exchanges()) == 11
    first = rows[0]
    assert first.request == "GET /hello?name=Ada"
    assert first.learner.body == '"Hello, Ada!"' and not first.learner.hex
    assert first.reference.body == "Hello, Ada!"
    assert ("content-type", "application/json") in first.learner.headers
    counted = next(row for row in rows if row.request == "GET /bytes?n=300")
    assert counted.learner.hex and counted.learner.body.startswith("00 01 02")
    assert counted.learner.more and counted.learner.size == 300
    assert ("transfer-encoding", "chunked") in next(row for row in rows if "stream" in row.request).learner.headers
    assert shown.answered == 200


def test_evidence_without_the_learners_recording_shows_the_reference_alone():
    shown = evidence.collect(None, contracted())
    assert shown is not None and all(row.learner is None and row.reference for row in shown.rows)
    assert evidence.collect(None, None) is None


HOSTILE = '<script>alert(1)</script><img src=x onerror="alert(2)">'


def test_the_report_shows_each_request_and_both_answers_with_what_the_app_sent_kept_as_text():
    from grader.render.html import render_html
    from grader.results import CheckResult, GradeResult

    learner = with_first("hello", text("/hello?name=Ada", HOSTILE.encode(), "text/html"))
    learner.old_page.headers.append(("location", HOSTILE))
    shown = evidence.evidence(
        AppRecording("learner", StartRecording(True, 0.1), recordings={"responses": learner}),
        AppRecording("reference", StartRecording(True, 0.1), recordings={"responses": contracted()}),
    )
    check = CheckResult("responses.text", "responses", "GET /hello", "failed", 2.0, message="wrong")
    result = GradeResult("app.py", "reference", "0", "now", 1.0, ["responses"], [check], evidence={"responses": shown})
    page = render_html(result)
    assert "Evidence: what each request was answered" in page
    assert page.count("<code>GET /") == len(contracted().exchanges())
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "location: &lt;script&gt;" in page
    assert "hex</span> 00 01 02" in page  # the bytes, as numbers


def test_the_report_draws_no_table_for_the_starters_501():
    from grader.render.html import render_html
    from grader.results import CheckResult, GradeResult

    learner = contracted()
    for exchange in learner.exchanges():
        exchange.status = 501
    shown = evidence.evidence(
        AppRecording("learner", StartRecording(True, 0.1), recordings={"responses": learner}),
        AppRecording("reference", StartRecording(True, 0.1), recordings={"responses": contracted()}),
    )
    check = CheckResult("responses.text", "responses", "GET /hello", "failed", 2.0, message="501")
    result = GradeResult("app.py", "reference", "0", "now", 1.0, ["responses"], [check], evidence={"responses": shown})
    page = render_html(result)
    assert "Evidence: what each request was answered" not in page
    assert "GET /hello answered 501 Not Implemented, the starter&#39;s placeholder" in page
