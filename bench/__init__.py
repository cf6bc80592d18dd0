"""Benchmarks, run from the repository root as modules (`python -m bench.sql_copy`; `make bench` runs them all):
they import cdk_data_tier and each other like any package, with no sys.path edits."""
