"""Benchmarks: scripts that print the figures web4os claims (see bench/README.md)."""
