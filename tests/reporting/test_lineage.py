"""The lineage picture: drawn from a pipeline's nodes, every node and dataset in it, in the order
the data flows; and the docs' picture is today's ``pouring`` pipeline."""

import os

import pytest

from carl_pipeline.reporting import lineage_figure, lineage_layers
from tests.conftest import PROJECT_ROOT


class _Node:
    def __init__(self, name, inputs, outputs):
        self.name, self.inputs, self.outputs = name, inputs, outputs


def test_lineage_layers__each_vertex_right_of_all_it_needs():
    nodes = [_Node("b", ["x", "params:p"], ["y"]), _Node("a", ["raw"], ["x"]), _Node("c", ["x", "y"], ["z"])]
    layers = lineage_layers(nodes)
    at = {vertex: number for number, vertices in enumerate(layers) for vertex in vertices}
    assert at[("dataset", "raw")] == 0 and at[("node", "a")] == 1 and at[("dataset", "x")] == 2
    assert at[("node", "c")] > at[("dataset", "y")] > at[("node", "b")] > at[("dataset", "x")]
    assert ("dataset", "params:p") not in at and ("dataset", "params:p") in {
        v for layer in lineage_layers(nodes, parameters=True) for v in layer}
    with pytest.raises(ValueError, match="cycle"):
        lineage_layers([_Node("a", ["x"], ["y"]), _Node("b", ["y"], ["x"])])


def test_lineage_figure__the_docs_picture_is_todays_pouring_pipeline(tmp_path):
    """Every node and dataset of ``pouring`` is drawn; the picture is written where the docs show
    it when ``CARL_REDRAW_DOCS=1`` (how docs/images/lineage_pouring.png was made)."""
    from kedro.framework.project import pipelines
    from kedro.framework.startup import bootstrap_project

    bootstrap_project(PROJECT_ROOT)
    pipeline = pipelines["pouring"]
    figure = lineage_figure(pipeline.nodes, "the pouring pipeline (kedro run)", namespace="pouring")
    drawn = {text.get_text() for text in figure.axes[0].texts}
    expected = {n.name.removeprefix("pouring.") for n in pipeline.nodes}
    expected |= {d.removeprefix("pouring.") for d in pipeline.datasets() if not d.startswith("params:")}
    assert expected <= drawn, sorted(expected - drawn)
    target = PROJECT_ROOT / "docs/images/lineage_pouring.png" if os.environ.get("CARL_REDRAW_DOCS") else \
        tmp_path / "lineage.png"
    figure.savefig(target, dpi=110)
    assert target.stat().st_size > 10_000
