"""JUnit XML, one testsuite per submission, for CI systems.

The common Ant/Jenkins form (``tests/junit.xsd`` checks it): every testcase
has a classname, a name and a time; failure and error carry a message and
the text; skipped carries a message.
"""

from __future__ import annotations

import datetime
from xml.etree import ElementTree

from grader.results import GradeResult


def render_junit(result: GradeResult, name: str) -> str:
    counts = {
        status: sum(check.status == status for check in result.checks)
        for status in ("failed", "error", "skipped", "inconclusive")
    }
    suite = ElementTree.Element(
        "testsuite",
        {
            "name": f"streamgrade.{name}",
            "tests": str(len(result.checks)),
            "failures": str(counts["failed"]),
            "errors": str(counts["error"]),
            "skipped": str(counts["skipped"] + counts["inconclusive"]),
            "time": f"{result.duration:.3f}",
        },
    )
    try:  # Ant's form has no zone: the time is UTC
        started = datetime.datetime.fromisoformat(result.started_at).astimezone(datetime.UTC)
        suite.set("timestamp", started.strftime("%Y-%m-%dT%H:%M:%S"))
    except ValueError:
        pass  # no usable start time: the attribute is optional
    if result.name:
        properties = ElementTree.SubElement(suite, "properties")
        ElementTree.SubElement(properties, "property", {"name": "submission", "value": result.name})
    for check in result.checks:
        case = ElementTree.SubElement(
            suite,
            "testcase",
            {
                "classname": check.exercise,
                "name": check.id,
                "time": f"{check.duration:.3f}",
            },
        )
        text = "\n".join(part for part in (check.message, check.hint and f"Hint: {check.hint}") if part)
        if check.status == "failed":
            ElementTree.SubElement(case, "failure", {"message": check.title}).text = text
        elif check.status == "error":
            ElementTree.SubElement(case, "error", {"message": check.title}).text = check.traceback or text
        elif check.status in ("skipped", "inconclusive"):
            said = f"not counted: {check.why_not_counted}. {check.message}" if not check.counted else check.message
            ElementTree.SubElement(case, "skipped", {"message": said[:200]})
    # XML 1.0 can't hold most control characters: drop them rather than write a broken file.
    xml = ElementTree.tostring(suite, encoding="unicode")
    cleaned = "".join(char for char in xml if char in "\t\n\r" or ord(char) >= 0x20)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + cleaned + "\n"
