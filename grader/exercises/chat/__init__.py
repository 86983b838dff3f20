"""Exercise: chat."""
