"""Shared fixtures. Fixture modules are plugins so that each area owns its own file."""

pytest_plugins = ["tests.fixtures_synth", "tests.fixtures_twin"]
