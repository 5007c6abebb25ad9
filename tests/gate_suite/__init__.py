"""A tiny pytest-benchmark suite the gate's tests really save and compare (run explicitly)."""
