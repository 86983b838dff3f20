"""Exercise 5's figures for the HTML report (its report.html.j2 draws them)."""

from __future__ import annotations

from dataclasses import dataclass

from grader.excerpts import Transcript
from grader.exercises.chat.report import TokenFigures, token_figures
from grader.exercises.openai.evidence import ChunkProblem, ClientSeen, OpenaiEvidence


@dataclass(frozen=True, kw_only=True)
class OpenaiFigures(TokenFigures):
    """Exercise 1's token timeline and loop table (the same kind of evidence), and the learner's stream."""

    transcript: Transcript | None
    problem: ChunkProblem | None
    client: ClientSeen | None
    done: bool


def figures(evidence: OpenaiEvidence) -> OpenaiFigures:
    tokens = token_figures(evidence.delay, evidence.learner, evidence.reference)
    learner = evidence.learner
    return OpenaiFigures(
        timeline=tokens.timeline,
        probes=tokens.probes,
        transcript=learner.transcript if learner else None,
        problem=learner.problem if learner else None,
        client=learner.client if learner else None,
        done=learner.done if learner else True,
    )
