"""Benchmark suite of Tierdesk: `make bench` (see bench/run.py and BENCHMARKS.md)."""
