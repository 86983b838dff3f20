"""The bank's expected verdicts: for each faulty app in tests/bank/, the checks it must not pass.

Each faulty app breaks the contract in one way learners really do; every
check of its exercise has an exact expected status: the ones listed here,
and `passed` for all others. test_grading_bank.py grades the bank against
them; the portable backend, the sandbox and docs/CONTRACT.md are held to
them too.
"""

from __future__ import annotations

from grader.browser import find_chromium

FAULTY = {
    "chat_buffered": {"chat.incremental": "failed", "chat.first-token": "skipped", "chat.pacing": "skipped"},
    "chat_collect_then_yield": {"chat.incremental": "failed", "chat.first-token": "skipped", "chat.pacing": "skipped"},
    # Its delay=5 reply takes 5 s to come: the range's end is still accepted.
    "chat_buffered_sleep_after": {
        "chat.incremental": "failed",
        "chat.first-token": "skipped",
        "chat.pacing": "skipped",
    },
    "chat_double_delay": {"chat.pacing": "failed"},
    "chat_no_validation": {"chat.validation": "failed"},
    # Raises after its first token: every check that reads a stream names the exception.
    "chat_name_error": {
        "chat.content": "failed",
        "chat.incremental": "failed",
        "chat.first-token": "skipped",
        "chat.pacing": "skipped",
        "chat.nonblocking": "failed",
    },
    "chat_sleep_first": {"chat.first-token": "failed"},
    "chat_split_spaces": {"chat.content": "failed"},
    "chat_time_sleep_async": {"chat.nonblocking": "failed"},
    "chat_wrong_default_prompt": {"chat.content": "failed"},
    "chat_wrong_default_delay": {"chat.pacing": "failed"},
    "chat_fixed_delay": {"chat.pacing": "failed"},
    "chat_split_pieces": {"chat.pacing": "failed"},
    "chat_delay_five_refused": {"chat.validation": "failed"},
    "chat_delay_zero_refused": {"chat.validation": "failed"},
    "chat_delay_parsed_by_hand": {"chat.validation": "failed"},
    # The bytes and their timing are right: only the label is wrong.
    "chat_wrong_media_type": {"chat.media-type": "failed"},
    "bigfile_inline": {"bigfile.headers": "failed"},
    # Memory is measured over the app's whole process tree, not its server alone.
    "bigfile_child_reads_whole": {"bigfile.memory": "failed", "bigfile.backpressure": "failed"},
    # Served 0 bytes: no memory verdict without a download that delivered the file.
    "bigfile_opens_wrong_path": {
        "bigfile.integrity": "failed",
        "bigfile.memory": "failed",
        "bigfile.backpressure": "failed",
        "bigfile.throughput": "failed",
        # No download delivers a file: which one the default path names can't be told.
        "bigfile.default-path": "skipped",
    },
    "bigfile_line_iteration": {"bigfile.memory": "failed", "bigfile.backpressure": "failed"},
    "bigfile_missing_500": {"bigfile.missing": "failed"},
    "bigfile_no_headers": {"bigfile.headers": "failed"},
    "bigfile_read_ahead": {"bigfile.memory": "failed", "bigfile.backpressure": "failed"},
    "bigfile_read_all": {"bigfile.memory": "failed", "bigfile.backpressure": "failed"},
    "bigfile_tiny_chunks": {"bigfile.integrity": "skipped", "bigfile.throughput": "failed"},
    # The default path's file is told by its bytes, which this app changes too.
    "bigfile_text_mode": {"bigfile.integrity": "failed", "bigfile.default-path": "skipped"},
    "bigfile_yield_from": {"bigfile.memory": "failed", "bigfile.backpressure": "failed"},
    "bigfile_range_past_end": {"bigfile.range": "failed"},
    "bigfile_range_ignored": {"bigfile.range": "failed"},
    "bigfile_range_start_past_end": {"bigfile.range": "failed"},
    "bigfile_head_partial_headers": {"bigfile.head": "failed"},
    "bigfile_default_path_wrong": {"bigfile.default-path": "failed"},
    "bigfile_type_without_fallback": {"bigfile.headers": "failed"},
    # Its first stream never ends: the browser has no reason to reconnect.
    "events_count_ignored": {"events.count": "failed", "events.browser": "skipped"},
    # A 500 before the body: nothing of the stream can be judged.
    # (the allowed ranges' ends get the same 500).
    "events_500_before_body": {"events.headers": "failed", "events.cache": "failed", "events.validation": "failed"},
    # The endless streams die by themselves: no disconnect was exercised.
    "events_endless_crashes": {"events.disconnect": "failed"},
    # A browser's onmessage never sees an event with an event field.
    "events_event_field": {
        "events.payload": "failed",
        "events.live-timestamps": "skipped",
        "events.browser": "failed",
    },
    "events_ignores_last_event_id": {"events.resume": "failed", "events.browser": "failed"},
    "events_leaks_after_disconnect": {"events.disconnect": "failed"},
    # Cheap leaked work: judged by the server's wake-ups, which cheap work does not shrink.
    "events_producer_never_cancelled": {"events.disconnect": "failed"},
    "events_naive_time": {"events.payload": "failed", "events.live-timestamps": "skipped"},
    # A browser reads no event from it: what the events hold can't be judged.
    "events_no_blank_line": {
        "events.framing": "failed",
        "events.payload": "skipped",
        "events.count": "skipped",
        "events.incremental": "skipped",
        "events.pacing": "skipped",
        "events.live-timestamps": "skipped",
        "events.resume": "skipped",
        "events.unexpected-id": "skipped",
        "events.browser": "skipped",
    },
    # Caching is judged on its own: the stream itself earns its points.
    "events_no_cache_header": {"events.cache": "failed"},
    "events_time_once": {"events.live-timestamps": "failed"},
    "events_time_sleep_async": {"events.nonblocking": "failed", "events.disconnect": "failed"},
    "events_wrong_media_type": {"events.headers": "failed"},
    "events_no_validation": {"events.validation": "failed"},
    "events_double_interval": {"events.pacing": "failed"},
    "events_wrong_default_interval": {"events.pacing": "failed"},
    "events_fixed_interval": {"events.pacing": "failed"},
    "events_utc_offset": {"events.payload": "failed", "events.live-timestamps": "skipped"},
    "events_resume_endless": {"events.count": "failed"},
    "events_int_last_event_id": {"events.unexpected-id": "failed"},
    "events_interval_floor_refused": {"events.validation": "failed"},
    "events_interval_ceiling_refused": {"events.validation": "failed"},
    "events_count_one_refused": {"events.validation": "failed"},
    # Exercise 4: each fault fails the one check that owns what it breaks.
    "responses_str_text": {"responses.text": "failed"},
    "responses_text_no_media_type": {"responses.text": "failed"},
    "responses_text_newline": {"responses.text": "failed"},
    "responses_text_default_name": {"responses.text": "failed"},
    "responses_html_as_str": {"responses.html": "failed"},
    "responses_html_as_text": {"responses.html": "failed"},
    "responses_csv_as_text": {"responses.csv": "failed"},
    "responses_csv_from_zero": {"responses.csv": "failed"},
    "responses_csv_no_disposition": {"responses.attachment": "failed"},
    # A 500 (FastAPI decodes the bytes to make JSON of them): only the bytes' check reads that answer.
    "responses_bytes_returned": {"responses.bytes": "failed"},
    "responses_bytes_as_text": {"responses.bytes": "failed"},
    "responses_redirect_307": {"responses.redirect": "failed"},
    "responses_redirect_hardcoded_host": {"responses.redirect": "failed"},
    "responses_csv_streamed": {"responses.length": "failed"},
    "responses_stream_whole": {"responses.length": "failed"},
    # Exercise 5: what a chunk holds is read only once the official client read the stream (openai.chunks).
    "openai_no_done": {"openai.client": "failed", "openai.chunks": "skipped"},
    "openai_wrong_chunk_shape": {"openai.client": "failed", "openai.chunks": "skipped"},
    # Nothing comes before the whole reply is made: the long streams left before their first byte
    # show nothing of what happens after a disconnect.
    "openai_buffered": {
        "openai.client": "failed",
        "openai.chunks": "skipped",
        "openai.incremental": "failed",
        "openai.first-token": "skipped",
        "openai.pacing": "skipped",
        "openai.disconnect": "skipped",
    },
    "openai_no_role": {"openai.chunks": "failed"},
    "openai_no_finish_reason": {"openai.client": "failed", "openai.chunks": "skipped"},
    "openai_usage_missing": {"openai.client": "failed", "openai.chunks": "skipped"},
    "openai_non_stream_shape": {"openai.non-stream": "failed"},
    "openai_500_on_malformed": {"openai.malformed": "failed"},
    "openai_keeps_generating": {"openai.disconnect": "failed"},
    # A blocked loop serves the long streams one token at a time: none of them gets going within the probe's limit.
    "openai_blocks_loop": {"openai.nonblocking": "failed", "openai.disconnect": "skipped"},
}
# Bonus checks the faulty bigfile apps don't attempt (all but those built on the reference's download).
NO_BONUS = {"bigfile.range": "failed", "bigfile.head": "failed"}
WITH_BONUS = {
    "bigfile_range_past_end",
    "bigfile_range_ignored",
    "bigfile_range_start_past_end",
    "bigfile_head_partial_headers",
    "bigfile_default_path_wrong",
}
EVENTS_AFTER_HEADERS = [
    "events.framing",
    "events.payload",
    "events.count",
    "events.incremental",
    "events.pacing",
    "events.live-timestamps",
    "events.nonblocking",
    "events.resume",
    "events.unexpected-id",
    "events.disconnect",
    "events.browser",
]


# Without a browser, events.browser is not run: skipped, and not counted.
BROWSER = find_chromium() is not None
NOT_RUN = {} if BROWSER else {"events.browser": "skipped"}


def expected_misses(name: str, browser: bool = BROWSER) -> dict[str, str]:
    """Every check of a faulty bank app's exercise that does not pass, with its status (``browser``: Chromium ran)."""
    expected = dict(FAULTY[name])
    if not browser and name.startswith("events_"):
        expected["events.browser"] = "skipped"
    if name.startswith("bigfile_") and name not in WITH_BONUS:
        expected = {**NO_BONUS, **expected}
    if expected.get("events.headers") == "failed":
        expected.update(dict.fromkeys(EVENTS_AFTER_HEADERS, "skipped"))
    return expected
