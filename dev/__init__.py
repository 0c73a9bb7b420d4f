"""Developer scripts, run from the repository root as ``python -m dev.<name>``."""
