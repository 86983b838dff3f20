"""Renderers: pure functions from a GradeResult to text."""
