"""Exercise 1's contract as data: what GET /chat-stream uses when a parameter is absent, and the delays it accepts."""

from __future__ import annotations

CHAT_DEFAULT_PROMPT = "Hello from FastAPI!"
CHAT_DEFAULT_DELAY = 0.2
CHAT_DELAY_LIMITS = ("0", "5")
