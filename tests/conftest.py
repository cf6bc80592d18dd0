"""Shared fixtures. Fixture modules are plugins so that each area owns its own file."""

from cdk_data_tier.node_runtime import prefer_interpreter_node

# Before any plugin imports aws_cdk: `.venv/bin/python -m pytest` from a shell without the venv on PATH must
# give jsii (and every subprocess) the venv's Node 24, as `make test` does.
prefer_interpreter_node()

pytest_plugins = ["tests.fixtures_synth", "tests.fixtures_twin"]
