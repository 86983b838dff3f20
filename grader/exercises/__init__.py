"""The exercises: one folder each, holding its probes and its checks."""
