"""Benchmarks of compressor against the plain tools (python -m benchmarks.run --quick)."""
