"""docs/architecture-<env>.{dot,svg,png}: the Topology of each environment drawn with graphviz.

The .dot text is deterministic and committed (the test compares it); the SVG and PNG are rendered from it by
graphviz's `dot` binary, which only `make diagram` needs.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import graphviz

from docgen.assembly import stacks
from docgen.topology import Topology, read

EDGE_STYLE = {
    "sg": {"color": "firebrick", "fontcolor": "firebrick"},
    "xstack": {"color": "royalblue", "fontcolor": "royalblue", "style": "dashed", "penwidth": "2"},
    "replication": {"color": "darkgreen", "fontcolor": "darkgreen"},
    "route": {"color": "gray40", "fontcolor": "gray40", "style": "dotted"},
    "index": {"color": "gray40", "arrowhead": "none"},
}
LEGEND = ("red: security-group rule (port) · blue dashed: cross-stack reference · green: replication · "
          "dotted: route")


class DotMissing(RuntimeError):
    """graphviz's `dot` binary is not installed."""


def to_graph(topo: Topology) -> graphviz.Digraph:
    graph = graphviz.Digraph(name=f"architecture_{topo.env}")
    graph.attr(compound="true", rankdir="LR", fontname="Helvetica", newrank="true",
               label=f"cdk-data-tier {topo.env}, from the synthesized templates\n{LEGEND}", labelloc="t")
    graph.attr("node", fontname="Helvetica", fontsize="10", shape="box", style="rounded")
    graph.attr("edge", fontname="Helvetica", fontsize="9")

    def fill(target: graphviz.Digraph, cluster: str) -> None:
        for node in topo.nodes:
            if node.cluster == cluster:
                target.node(node.id, node.label, shape=node.shape)
        for child, (label, parent) in topo.clusters.items():
            if parent == cluster:
                with target.subgraph(name=child) as sub:
                    sub.attr(label=label, style="rounded", color="gray50")
                    fill(sub, child)

    fill(graph, "")
    for edge in topo.edges:
        attrs = dict(EDGE_STYLE[edge.kind])
        if edge.lhead:
            attrs["lhead"] = edge.lhead
        if edge.ltail:
            attrs["ltail"] = edge.ltail
        graph.edge(edge.src, edge.dst, edge.label, **attrs)
    return graph


def dot_source(outdir: Path, env: str) -> str:
    return to_graph(read(stacks(outdir, env))).source


def require_dot() -> None:
    if shutil.which("dot") is None:
        raise DotMissing("graphviz's `dot` is not installed: apt-get install graphviz (Debian/Ubuntu), "
                         "brew install graphviz (macOS); the Python package alone cannot render")


def write_all(assemblies: dict[str, Path], docs: Path) -> Iterator[Path]:
    require_dot()
    for env, outdir in assemblies.items():
        source = dot_source(outdir, env)
        dot = docs / f"architecture-{env}.dot"
        dot.write_text(source)
        yield dot
        for fmt in ("svg", "png"):
            target = docs / f"architecture-{env}.{fmt}"
            target.write_bytes(graphviz.Source(source).pipe(format=fmt))
            yield target
