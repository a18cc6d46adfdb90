import hashlib

import numpy as np

from carl_pipeline.synthetic import generate_finegym, generate_penn_action, generate_pouring
from carl_pipeline.synthetic.actions import POURING
from carl_pipeline.synthetic.generate import render_action_video
from carl_pipeline.synthetic.render import phase_timeline


def _digest(root):
    return {p.relative_to(root).as_posix(): hashlib.md5(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_generator__same_seed_writes_identical_bytes(tmp_path):
    for name in ("a", "b"):
        generate_pouring(tmp_path / name / "pouring", counts={"train": 1}, frames=(6, 8), size=(24, 24))
        generate_penn_action(tmp_path / name / "penn", actions=("squat",), counts={"train": 1}, frames=(6, 8), size=(24, 24))
        generate_finegym(tmp_path / name / "gym", videos=(("v", 30.0, ".mkv"), ("w", 24.0, ".webm")),
                         events_per_video=1, elements_per_event=(1, 1), size=(24, 32), val_events=1)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")


def test_generator__frame_position_alone_does_not_give_the_phase():
    """Phase by relative position, learnt on 30 timelines, scores well below 100% on 30 others."""
    rng = np.random.default_rng(0)
    bins = 20

    def timelines(n):
        out = []
        for _ in range(n):
            length = int(rng.integers(40, 90))
            phases, _ = phase_timeline(rng, length, len(POURING) - 1)
            out.append((np.minimum((np.arange(length) / length * bins).astype(int), bins - 1), phases))
        return out

    votes = np.zeros((bins, len(POURING) - 1))
    for position, phases in timelines(30):
        np.add.at(votes, (position, phases), 1)
    best = votes.argmax(1)
    test = timelines(30)
    accuracy = np.mean(np.concatenate([best[position] == phases for position, phases in test]))
    assert 0.3 < accuracy < 0.8, accuracy


def test_generator__phases_change_what_the_frames_show():
    rng = np.random.default_rng(3)
    frames, phases = render_action_video(rng, POURING, 60, 48, 48, pouring_props=True)
    assert frames.shape == (60, 48, 48, 3) and frames.dtype == np.uint8
    assert list(np.unique(phases)) == [0, 1, 2, 3, 4] and np.all(np.diff(phases) >= 0)
    first, last = frames[phases == 0].astype(float).mean(0), frames[phases == 3].astype(float).mean(0)
    assert np.abs(first - last).mean() > 1.0  # the figure moves: phases look different


def test_finegym_demo__shaped_like_finegym():
    """The shipped FineGym demo (data/01_raw/finegym): several raw videos in mixed containers at
    frame rates other than the 25 fps ingestion resamples to, all four event types, at least 60
    labelled events of which at least 24 validation events in each taxonomy, idle frames between
    elements, Gym288 refining Gym99 and elements of Gym288 only, so the taxonomies' trainings
    see different events. Reads the published files only."""
    import json
    from pathlib import Path

    import av

    from carl_pipeline.ingest.finegym import read_element_list
    from carl_pipeline.synthetic.actions import gym99_of

    root = Path(__file__).resolve().parents[2] / "data/01_raw/finegym"
    videos = sorted((root / "videos").iterdir())
    assert len(videos) >= 4 and {v.suffix for v in videos} == {".mp4", ".mkv", ".webm"}
    rates = set()
    for video in videos:
        with av.open(str(video)) as container:
            rates.add(round(float(container.streams.video[0].average_rate), 2))
    assert 25.0 not in rates and len(rates) >= 2, rates
    annotations = json.loads((root / "finegym_annotation_info_v1.0.json").read_text())
    assert {e["event"] for v in annotations.values() for e in v.values()} == {1, 2, 3, 4}
    lists = {(t, s): read_element_list(root / f"{t}_{name}.txt")
             for t in ("gym99", "gym288") for s, name in (("train", "train_element_v1.0"), ("val", "val_element"))}

    def events(elements):
        return {name.rsplit("_A_", 1)[0] for name in elements}

    assert len(events(lists["gym288", "train"]) | events(lists["gym288", "val"])) >= 60
    assert min(len(events(lists[t, "val"])) for t in ("gym99", "gym288")) >= 24
    for split in ("train", "val"):
        gym99, gym288 = lists["gym99", split], lists["gym288", split]
        assert set(gym99) < set(gym288)  # every Gym99 element is a Gym288 one, not the reverse
        assert all(gym99_of(gym288[name]) == label for name, label in gym99.items())
        assert events(gym99) != events(gym288)  # events of Gym288-only elements
    # Elements do not cover their events: idle (unlabelled) stretches lie between and around them.
    for video_id, video in annotations.items():
        for key, event in video.items():
            (start, end), = event["timestamps"]
            covered = sum(b - a for s in event["segments"].values() for a, b in s["timestamps"])
            assert covered < end - start, (video_id, key)


def test_finegym_broadcast_style__another_look_and_a_long_tail_of_classes(tmp_path):
    """The held-out FineGym style (issue 36): the same layout and taxonomies as the demo's, but a
    light figure on a dark set with a score box in a corner, and the Gym99 classes drawn with a
    long tail; an unknown style is refused by name."""
    import json

    import av
    import pytest

    from carl_pipeline.ingest.finegym import read_element_list
    from carl_pipeline.synthetic.actions import gym99_of

    kwargs = dict(videos=(("v", 30.0, ".mp4"),), events_per_video=30, elements_per_event=(1, 1), size=(36, 64),
                  val_events=1, seed=3)
    studio, broadcast = (generate_finegym(tmp_path / style, style=style, **kwargs) for style in ("studio", "broadcast"))
    for root in (studio, broadcast):
        assert json.loads((root / "finegym_annotation_info_v1.0.json").read_text())["v"]

    def first_frame(root):
        with av.open(str(root / "videos" / "v.mp4")) as container:
            return next(container.decode(video=0)).to_ndarray(format="rgb24").astype(float)

    look, other = first_frame(studio), first_frame(broadcast)
    assert look.mean() > 120 and other.mean() < 90  # a lit wall against a dark set
    # The score box: a dark panel holding light blocks, in the top-left or bottom-left corner.
    corners = [other[:8, 2:18], other[-8:, 2:18]]
    assert any((c.max() > 180) and (np.median(c) < 60) for c in corners)
    classes = [gym99_of(c) for c in read_element_list(broadcast / "gym288_train_element_v1.0.txt").values()]
    counts = np.bincount([c for c in classes if c is not None], minlength=4)
    assert counts[0] > counts[3], counts  # class 0 drawn 4x as often as class 3
    with pytest.raises(ValueError, match="unknown FineGym style 'tv'"):
        generate_finegym(tmp_path / "x", style="tv", **kwargs)
