"""The architecture pictures are drawn from the templates: the committed .dot sources must match them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from docgen.assembly import stacks
from docgen.diagram import dot_source
from docgen.topology import read

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_committed_dot_is_current(env, request):
    synthesized = request.getfixturevalue(env)
    committed = (ROOT / "docs" / f"architecture-{env}.dot").read_text()
    assert committed == dot_source(synthesized.outdir, env), f"docs/architecture-{env}.dot is stale: run `make diagram`"


def test_prod_picture_shows_every_tier_store_and_rule(prod):
    topo = read(stacks(prod.outdir, "prod"))
    labels = [n.label for n in topo.nodes]
    assert sum(label.startswith("NAT gateway") for label in labels) == 3
    tiers = [label for label, parent in topo.clusters.values() if "subnets" in label]
    assert sorted(tiers) == ["data subnets: isolated", "private subnets: private with egress",
                             "public subnets: public"]
    assert sum(label.startswith("standby of") for label in labels) == 3  # the writer and both replicas are Multi-AZ
    assert sum(label.startswith("read replica") for label in labels) == 2
    assert sum(label.startswith("GSI") for label in labels) == 2 and sum(label.startswith("LSI") for label in labels) == 1
    assert sorted(label for label in labels if label.startswith("shard")) == [
        "shard 1 primary", "shard 1 replica 1", "shard 2 primary", "shard 2 replica 1"]
    rules = {(e.src, e.dst, e.label) for e in topo.edges if e.kind == "sg"}
    assert ("Network_BastionHostInstanceC1D7B969", "Database_InstanceWriterE29BEFDF", "tcp 5433") in rules
    assert ("App_AppHostInstanceD7FA2FEA", "Cache_Cache18F6EE16_shard_1", "tcp 6380") in rules
    crossing = {(e.src, e.dst) for e in topo.edges if e.kind == "xstack"}
    assert crossing == {("Database_stack", "Network_stack"), ("Dynamo_stack", "Network_stack"),
                        ("Cache_stack", "Network_stack"), ("App_stack", "Network_stack")}


def test_dev_picture_has_one_nat_and_no_standby(dev):
    labels = [n.label for n in read(stacks(dev.outdir, "dev")).nodes]
    assert sum(label.startswith("NAT gateway") for label in labels) == 1
    assert not any(label.startswith("standby of") for label in labels)


def test_diagram_without_dot_is_one_clear_error(tmp_path):
    result = subprocess.run([sys.executable, "-m", "docgen", "diagram"], cwd=ROOT, capture_output=True, text=True,
                            env={"PATH": str(tmp_path)}, timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "apt-get install graphviz" in result.stderr
