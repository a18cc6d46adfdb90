"""A pipeline's lineage as a picture: its nodes and the datasets between them, left to right in
the order the data flows (what ``kedro viz`` shows in a browser, drawn here so that the docs'
picture is made from the pipeline of the day: ``tests/reporting/test_lineage.py`` redraws it).

Takes any nodes with ``name``, ``inputs`` and ``outputs`` (a Kedro ``Pipeline``'s ``nodes``): no
Kedro import.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from matplotlib.figure import Figure


def lineage_layers(nodes: Iterable[Any], parameters: bool = False) -> list[list[tuple[str, str]]]:
    """The lineage's vertices in layers: ``[[("dataset" | "node", name), ...], ...]``, each vertex
    one layer right of everything it needs (the longest path to it), each layer sorted by name.
    ``parameters``: keep the ``params:`` inputs (left out by default: they are not data)."""
    nodes = list(nodes)
    needs: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for node in nodes:
        key = ("node", node.name)
        needs[key] = {("dataset", d) for d in node.inputs if parameters or not d.startswith("params:")}
        for output in node.outputs:
            needs.setdefault(("dataset", output), set()).add(key)
        for vertex in needs[key]:
            needs.setdefault(vertex, set())
    layer: dict[tuple[str, str], int] = {}

    def depth(vertex, seen=()):
        if vertex not in layer:
            if vertex in seen:
                raise ValueError(f"the pipeline has a cycle through {vertex[1]}")
            layer[vertex] = 1 + max((depth(v, (*seen, vertex)) for v in needs[vertex]), default=-1)
        return layer[vertex]

    for vertex in needs:
        depth(vertex)
    layers: list[list[tuple[str, str]]] = [[] for _ in range(max(layer.values(), default=-1) + 1)]
    for vertex, number in layer.items():
        layers[number].append(vertex)
    return [sorted(vertices, key=lambda v: v[1]) for vertices in layers]


def _short(name: str, namespace: str | None) -> str:
    return name.removeprefix(f"{namespace}.") if namespace else name


def lineage_figure(nodes: Sequence[Any], title: str = "", namespace: str | None = None) -> Figure:
    """The lineage of ``nodes``, top to bottom: nodes as blue boxes, datasets as grey ones, an
    arrow from what a node reads to it and from it to what it writes; names shown without
    ``namespace``."""
    nodes = list(nodes)
    layers = lineage_layers(nodes)
    widest = max((len(vertices) for vertices in layers), default=1)
    fig = Figure(figsize=(max(6.0, 2.3 * widest), max(3.0, 0.55 * len(layers) + 0.6)))
    ax = fig.subplots()
    where = {}
    for y, vertices in enumerate(layers):
        for i, vertex in enumerate(vertices):
            where[vertex] = ((widest - len(vertices)) / 2 + i, y)
    for node in nodes:
        target = where[("node", node.name)]
        ends = [(where[("dataset", d)], target) for d in node.inputs if ("dataset", d) in where]
        ends += [(target, where[("dataset", d)]) for d in node.outputs]
        for start, end in ends:
            ax.annotate("", xy=(end[0], end[1] - 0.22), xytext=(start[0], start[1] + 0.22),
                        arrowprops={"arrowstyle": "->", "color": "0.6", "lw": 0.6})
    for (kind, name), (x, y) in where.items():
        ax.text(x, y, _short(name, namespace), ha="center", va="center", fontsize=7,
                bbox={"boxstyle": "round,pad=0.3" if kind == "dataset" else "square,pad=0.3",
                      "fc": "#eeeeee" if kind == "dataset" else "#cfe2f3",
                      "ec": "0.6" if kind == "dataset" else "#3d85c6"})
    ax.set_xlim(-0.7, widest - 0.3)
    ax.set_ylim(len(layers) - 0.5, -0.5)
    ax.axis("off")
    ax.set_title(title or "lineage (blue: nodes, grey: datasets)", fontsize=9)
    fig.tight_layout()
    return fig
