"""Benchmarks of MLSuite against what users would otherwise run, and their results (`python -m bench`)."""
