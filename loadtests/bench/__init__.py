"""The overhead benchmark behind `make bench` (see docs/benchmarks.md)."""
