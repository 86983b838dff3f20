"""Exercise: bigfile."""
