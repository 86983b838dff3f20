"""streamgrade: a teaching kit and grader for streaming responses in FastAPI."""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
