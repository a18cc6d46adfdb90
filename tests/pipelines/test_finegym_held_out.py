"""The FineGym demo's settings learn on a look they were not chosen on (issue 36, part 3).

The settings (``conf/base/globals.yml``: ``finegym``) were chosen on the demo's studio style only.
This test writes FineGym-layout data in the generator's other style, ``broadcast`` (a light,
jointed figure on a dark textured set, a camera that pans and shakes, a score box, Gym99 classes
with a long tail; ``synthetic.render.broadcast_appearance``), runs ``kedro run
--pipelines=finegym`` on it with the demo's settings unchanged, and reads both taxonomies'
``metrics.json``: the trained encoder against the same architecture untrained and against the
raw-pixel reference, scored by the same probe on the same frames.

Measured 2026-12-07 on a 2-core CPU (experiments/LOG.md, "FineGym against its pixels"): Gym99
0.723 trained, 0.566 untrained, 0.670 pixels; Gym288 0.288, 0.190, 0.340. Gym288 is above its
untrained self but below the pixels at the demo's budget, so only Gym99 is held to the pixels.
"""

import json

import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from carl_pipeline.synthetic import generate_finegym
from tests.conftest import make_project, newest

pytestmark = pytest.mark.slow

#: The demo's settings, quiet: nothing here changes what is trained or how it is scored.
QUIET = """
finegym:
  ingest: {num_workers: 0, progress: false}
""" + "".join(f"""
finegym_{taxonomy}:
  train: {{optim: {{progress: false}}}}
  evaluate: {{alignment_height: 32, progress: false}}
""" for taxonomy in ("gym99", "gym288"))

#: Least gain over the untrained encoder (issue 36), and whether the pixels must be beaten.
MARGINS = {"gym99": (0.10, True), "gym288": (0.05, False)}


def test_finegym_demo_settings__learn_on_the_held_out_broadcast_style(tmp_path, monkeypatch):
    raw = tmp_path / "raw"
    generate_finegym(raw / "finegym", style="broadcast", seed=5)  # the demo's counts and sizes
    project = make_project(tmp_path / "project", QUIET, raw)
    (project / "conf/local/tracking.yml").write_text("enabled: false\n")
    monkeypatch.chdir(project)
    bootstrap_project(project)
    with KedroSession.create(project_path=project) as session:
        session.run(pipeline_names=["finegym"])
    for taxonomy, (margin, above_pixels) in MARGINS.items():
        metrics = json.loads(newest(project / f"data/08_reporting/finegym_{taxonomy}/metrics.json").read_text())
        key = f"{taxonomy}_accuracy"
        trained, untrained, pixels = metrics["trained"][key], metrics["untrained"][key], metrics["pixels"][key]
        assert trained - untrained >= margin, (taxonomy, trained, untrained)
        if above_pixels:
            assert trained > pixels, (taxonomy, trained, pixels)
