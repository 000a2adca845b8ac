"""fieldbot's benchmark suite: ``python -m bench [--quick]`` (see docs/PERFORMANCE.md)."""
