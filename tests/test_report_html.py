"""The HTML report is a pure function of the results: every status, every figure, hostile text made harmless."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import pytest

from grader.launch.sandbox import Protections
from grader.render.html import render_html
from grader.results import CheckResult, GradeResult, Measurement

MiB = 2**20
HOSTILE = '<script>alert(1)</script><img src=x onerror="alert(2)"></svg><svg onload=alert(3)>'


class TagCollector(HTMLParser):
    """Every start tag and attribute, as a browser's parser would see them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def tags_of(page: str) -> list[tuple[str, dict[str, str | None]]]:
    collector = TagCollector()
    collector.feed(page)
    return collector.tags


def a_check(check_id: str, status: str, **fields) -> CheckResult:
    return CheckResult(
        id=check_id, exercise=check_id.split(".")[0], title=f"Title of {check_id}", status=status, max_score=2, **fields
    )


def evidence(body_text: str = 'id: 1\r\ndata: {"seq": 1}\r\n\r\nData: x\n\n', log: str = "server log") -> dict:
    return {
        "app": {"log": log},
        "chat": {
            "delay": 0.2,
            "prompt": "one two",
            "learner": {"arrivals": [[1.0, "one two"]], "idle_latencies": [0.002], "busy_latencies": [0.002]},
            "reference": {
                "arrivals": [[0.001, "one "], [0.201, "two"]],
                "idle_latencies": [0.002],
                "busy_latencies": [0.002],
            },
        },
        "bigfile": {
            "bound": 32 * MiB,
            "size": 256 * MiB,
            "slow_read_pause": 0.5,
            "learner": {
                "seconds": 1.2,
                "received": 256 * MiB,
                "rate": 200 * MiB,
                "largest_chunk": 256 * MiB,
                "stopped_early": None,
                "memory": {
                    "growth": 256 * MiB,
                    "before": 40 * MiB,
                    "peak": 296 * MiB,
                    "reset_ok": True,
                    "points": [[0.0, 0], [0.5, 256 * MiB]],
                },
                "slow_memory": None,
            },
            "reference": {
                "seconds": 1.0,
                "received": 256 * MiB,
                "rate": 256 * MiB,
                "largest_chunk": 65536,
                "stopped_early": None,
                "memory": {
                    "growth": 2 * MiB,
                    "before": 40 * MiB,
                    "peak": 42 * MiB,
                    "reset_ok": True,
                    "points": [[0.0, 0], [1.0, 2 * MiB]],
                },
                "slow_memory": {"growth": MiB, "before": 0, "peak": MiB, "reset_ok": True, "points": []},
            },
        },
        "events": {
            "interval": 0.2,
            "count": 4,
            "learner": {
                "arrivals": [0.001, 0.2],
                "problem": {"offset": 28, "message": "unknown field name 'Data'"},
                "transcript": {
                    "lines": [
                        {"offset": 0, "text": "id: 1", "ending": "\\r\\n", "problem": False},
                        {"offset": 7, "text": body_text, "ending": "\\n", "problem": True},
                    ],
                    "total_bytes": 40,
                    "shown_bytes": 40,
                },
            },
            "reference": {
                "arrivals": [0.001, 0.2, 0.4, 0.6],
                "problem": None,
                "transcript": {"lines": [], "total_bytes": 0, "shown_bytes": 0},
            },
        },
    }


def a_result(checks: list[CheckResult], **fields) -> GradeResult:
    defaults = {
        "target": "app.py",
        "reference": "reference/app.py",
        "grader_version": "0.1.0",
        "started_at": "2026-11-25T12:00:00+00:00",
        "duration": 4.2,
        "exercises": ["chat", "bigfile", "events"],
        "evidence": evidence(),
    }
    return GradeResult(checks=checks, **{**defaults, **fields})


EVERY_STATUS = [
    a_check("app.starts", "passed"),
    a_check("chat.incremental", "failed", message="arrived in 1 piece", hint="yield each token", reproduce="curl -N x"),
    a_check("chat.pacing", "skipped", message="Not checked, because chat.incremental did not pass."),
    a_check("bigfile.memory", "inconclusive", message="the reference failed too", reference_status="failed"),
    a_check("events.framing", "error", message="The grader itself failed", traceback="Traceback: KeyError"),
    a_check("bigfile.range", "passed", bonus=True),
]


def test_every_status_shows_a_mark_and_a_word_not_only_a_colour():
    page = render_html(a_result(EVERY_STATUS))
    for words in [
        "✓ passed",
        "✗ failed",
        "- not checked",
        "? inconclusive (not counted)",
        "! grader error (not counted)",
    ]:
        assert words in page
    assert "yield each token" in page and "curl -N x" in page
    assert "Traceback: KeyError" in page


def test_the_top_shows_target_date_version_score_and_subtotals():
    page = render_html(a_result(EVERY_STATUS, notes=["chat.pacing was not counted"]))
    assert "app.py" in page and "2026-11-25T12:00:00+00:00" in page and "0.1.0" in page
    assert re.search(r"Score: 2 / 6\s*<small>\+ extra credit 2 / 2", page)
    assert "chat.pacing was not counted" in page


def test_every_evidence_kind_is_drawn_as_inline_svg():
    page = render_html(a_result(EVERY_STATUS))
    svgs = [attrs for tag, attrs in tags_of(page) if tag == "svg"]
    assert len(svgs) == 3  # chat timeline, memory chart, events timeline
    assert "limit 32.0 MiB" in page and "peak growth 256.0 MiB" in page
    assert '<span class="eol">\\r\\n</span>' in page
    assert "<mark>" in page and "unknown field name" in page
    assert "is the server still answering?" in page


def test_the_page_is_self_contained():
    page = render_html(a_result(EVERY_STATUS))
    for tag, attrs in tags_of(page):
        for name, value in attrs.items():
            if name in ("src", "href") and value:
                assert value.startswith("#"), f"<{tag} {name}={value}> leaves the page"
    assert "<script" not in page
    assert "http://" not in page.replace("http://www.w3.org", "") and "https://" not in page


@pytest.mark.parametrize("where", ["message", "hint", "title", "transcript", "log", "target"])
def test_hostile_text_from_the_app_is_escaped(where):
    check = a_check("app.starts", "failed", message="ok", hint="ok")
    fields = {}
    if where in ("message", "hint", "title"):
        setattr(check, where, HOSTILE)
    if where == "target":
        fields["target"] = HOSTILE
    body = HOSTILE if where == "transcript" else "data: x"
    page = render_html(a_result([check, *EVERY_STATUS[1:]], evidence=evidence(body_text=body, log=HOSTILE), **fields))
    tags = tags_of(page)
    assert not [tag for tag, _ in tags if tag in ("script", "img")]
    assert not [attrs for _, attrs in tags if any(name.startswith("on") for name in attrs)]
    assert "&lt;script&gt;" in page


def test_a_huge_log_is_capped_by_the_evidence_not_the_renderer():
    from grader.excerpts import LOG_CAP, capped

    huge = "x" * (50 * 1024 * 1024)
    kept = capped(huge, LOG_CAP)
    assert len(kept) < LOG_CAP + 100 and "more characters not shown" in kept
    starts = a_check("app.starts", "failed", message="crashed")
    page = render_html(a_result([starts], evidence=evidence(log=kept)))
    assert len(page.encode()) < 1024 * 1024


def test_invalid_utf8_in_a_body_becomes_replacement_characters():
    from grader.excerpts import transcript

    shown = transcript(b"data: \xff\xfe\n\n", None)
    assert shown.lines[0].text == "data: \ufffd\ufffd"


def test_a_report_without_evidence_still_renders():
    starts = a_check("app.starts", "failed", message="The server could not be started.")
    skipped = a_check("chat.status", "skipped", message="Not checked, because app.starts did not pass.")
    page = render_html(a_result([starts, skipped], evidence={"app": {"log": "SyntaxError: boom"}}))
    assert "SyntaxError: boom" in page
    assert "<svg" not in page


SAMPLED = Measurement(
    backend="portable",
    exact=[],
    sampled=["memory peaks: the largest of samples taken every 20 ms over the app's processes"],
)


def test_every_report_says_which_backend_measured_and_what_was_sampled():
    from grader.render.json import render_json
    from grader.render.terminal import render_terminal

    result = a_result(EVERY_STATUS, measurement=SAMPLED)
    page = render_html(result)
    assert "How the app was measured: the portable backend" in page
    assert "Sampled: memory peaks: the largest of samples taken every 20 ms" in page
    assert "Measured with the portable backend:" in render_terminal(result)
    assert '"backend": "portable"' in render_json(result)
    exact = a_result(
        EVERY_STATUS, measurement=Measurement(backend="linux", exact=["CPU time: to the nanosecond"], sampled=[])
    )
    assert "Exact: CPU time: to the nanosecond" in render_html(exact)
    assert "Measured with" not in render_terminal(exact)  # exact figures, the usual case: nothing to add


def with_learner_status(status: int) -> dict:
    """The evidence of an app whose every route answered ``status`` to the request the evidence draws."""
    drawn = evidence()
    for name in ("chat", "bigfile", "events"):
        drawn[name]["learner"]["status"] = status
        drawn[name]["reference"]["status"] = 200
    return drawn


@pytest.mark.parametrize(
    ("status", "said"),
    [
        (501, "answered 501 Not Implemented, the starter's placeholder"),
        (404, "answered 404 Not Found, so no route of your app answers this path"),
        (500, "answered 500 Internal Server Error instead of a stream"),
    ],
)
def test_a_route_that_answered_an_error_gets_no_evidence_panels_but_a_sentence(status, said):
    page = render_html(a_result(EVERY_STATUS, evidence=with_learner_status(status)))
    assert "<svg" not in page and "<mark>" not in page  # no timeline, no memory chart, no transcript
    assert "framing problem" not in page and "token arrivals" not in page and "Largest piece" not in page
    assert "is the server still answering?" not in page
    for route in ("GET /chat-stream", "GET /bigfile", "GET /events"):
        assert f"{route} {said}".replace("'", "&#39;") in page


def test_a_route_that_answered_200_is_drawn():
    page = render_html(a_result(EVERY_STATUS, evidence=with_learner_status(200)))
    assert len([tag for tag, _ in tags_of(page) if tag == "svg"]) == 3 and "No evidence to draw" not in page


def test_code_in_titles_and_hints_is_shown_as_code_not_as_backticks():
    check = a_check(
        "chat.pacing",
        "failed",
        message="m",
        hint="Call `await asyncio.sleep(delay)` once per token; `<b>` stays text.",
    )
    check.title = "Tokens come `delay` seconds apart"
    page = render_html(a_result([check]))
    assert "<strong>Tokens come <code>delay</code> seconds apart</strong>" in page
    assert "Call <code>await asyncio.sleep(delay)</code> once per token; <code>&lt;b&gt;</code> stays text." in page
    assert "`" not in page


def test_the_memory_chart_names_both_axes_and_the_piece_size_says_whose_it_is():
    page = render_html(a_result(EVERY_STATUS))
    memory = page[page.index("the server's memory during the download") :]
    assert ">memory growth</text>" in memory and ">0 MiB</text>" in memory and ">100 MiB</text>" in memory
    assert ">time since the download began</text>" in memory
    assert "Largest piece the client read" in page and "not the size of the pieces your app yielded" in page
    assert page.count(">time since the request was sent</text>") == 2  # the chat and the events timelines


@pytest.mark.parametrize(
    ("level", "said"),
    [
        ("off", "as your own program (sandbox off: no limits, no isolation)"),
        ("limits", "with limits on memory, processes, CPU time and files"),
        ("isolate", "isolated and with limits"),
    ],
)
def test_how_the_app_was_run_is_said_in_words(level, said):
    protections = Protections(level=level, in_force=[], not_in_force=[])
    page = render_html(a_result(EVERY_STATUS, protections=protections))
    assert f"<summary>How the app was run: {said}" in page


def test_the_class_score_chart_names_both_axes():
    from grader.render.classreport import render_index

    page = render_index({"ann": a_result(EVERY_STATUS)}, {}, ["chat", "bigfile", "events"], "A class", "students")
    chart = page[page.index("<svg") : page.index("</svg>")]
    assert ">students</text>" in chart and ">score, in points (each bar: a tenth of the maximum)</text>" in chart


def visible_text(page: str) -> str:
    """The page's text with tags and extra spaces gone (style and all: enough to find a sentence)."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def test_what_a_browser_received_is_shown_per_connection_for_both_apps():
    shown = evidence()
    shown["events"]["learner"]["browser"] = {"first": ["1", "2"], "reconnected": True, "sent_back": "2", "then": ["1"]}
    shown["events"]["reference"]["browser"] = {
        "first": ["1", "2"],
        "reconnected": True,
        "sent_back": "2",
        "then": ["3", "4"],
    }
    text = visible_text(render_html(a_result(EVERY_STATUS, evidence=shown)))
    assert "what a browser's EventSource received" in text
    assert "your app 1, 2 Last-Event-ID: 2 1" in text and "reference 1, 2 Last-Event-ID: 2 3, 4" in text


def test_no_browser_panel_where_no_browser_ran():
    text = visible_text(render_html(a_result(EVERY_STATUS)))
    assert "EventSource received" not in text


@pytest.mark.parametrize(("named", "log_shown"), [(False, True), (True, False)])
def test_a_500_shows_the_servers_log_unless_the_check_named_the_exception(named, log_shown):
    from grader.recording import Crash
    from grader.results import crash_details, names_a_crash

    crash = Crash("NameError: name 'time' is not defined", "app.py", 12, ["Traceback", "NameError"])
    details = crash_details(crash) if named else {}
    assert names_a_crash(details) is not log_shown
    failed = a_check("chat.status", "failed", message="GET /chat-stream was answered with 500", evidence=details)
    page = render_html(a_result([a_check("app.starts", "passed"), failed], evidence=evidence(log="the log")))
    assert ("What the server printed" in page) is log_shown
