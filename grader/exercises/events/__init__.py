"""Exercise: events."""
