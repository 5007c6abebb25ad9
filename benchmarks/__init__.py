"""The pytest-benchmark suite: ``pytest benchmarks`` (see the README's "Benchmarks" section)."""
