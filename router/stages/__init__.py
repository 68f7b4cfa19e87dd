"""The chain of stages a request passes, and each stage's plumbing."""
