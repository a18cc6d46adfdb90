import numpy as np
import pandas as pd
import pytest

from carl_pipeline.evaluation import (
    EvalConfig,
    alignment_breakdown,
    alignment_pair_counts,
    dtw_path,
    evaluate_table,
    finegym_accuracy,
    kendalls_tau,
    kendalls_tau_ceiling,
    label_alignment_tau,
    phase_classification,
    phase_coordinates,
    phase_progression,
    progression_targets,
    retrieval_ap,
    tau_ceiling,
)


def _time_embedding(n, dim=8, noise=0.0, seed=0):
    """A curve that moves steadily through embedding space as the video goes on."""
    t = np.linspace(0, 1, n)[:, None]
    freqs = np.arange(1, dim // 2 + 1)[None, :]
    x = np.concatenate([np.sin(np.pi * t * freqs / 2), np.cos(np.pi * t * freqs / 2)], axis=1)
    return x + np.random.default_rng(seed).normal(0, noise, x.shape)


def test_kendalls_tau__aligned_videos_give_one_reversed_give_minus_one():
    videos = [_time_embedding(50, seed=s) for s in range(3)]
    assert kendalls_tau(videos, stride=1) == pytest.approx(1.0)
    assert kendalls_tau([videos[0], videos[1][::-1]], stride=1) == pytest.approx(-1.0)
    assert kendalls_tau(videos, stride=5) == pytest.approx(1.0)
    # different lengths: several frames share a neighbour (ties), still almost 1
    assert kendalls_tau([_time_embedding(n) for n in (40, 55, 70)], stride=1) > 0.99


@pytest.mark.parametrize("n, m", [(5, 3), (6, 4), (7, 2), (4, 4)])
def test_kendalls_tau_ceiling__no_alignment_of_two_videos_scores_more(n, m):
    # Every possible match of one video's frames to the other's, in or out of order, both ways:
    # the best tau is the ceiling, and matching by relative time reaches it.
    import itertools

    from scipy.stats import kendalltau

    def best(queries, candidates):
        return np.nanmax([kendalltau(np.arange(queries), match).statistic
                          for match in itertools.product(range(candidates), repeat=queries)])

    ceiling = kendalls_tau_ceiling([n, m], stride=1)
    assert ceiling == pytest.approx((best(n, m) + best(m, n)) / 2)
    assert (ceiling == pytest.approx(1.0)) == (n == m)  # only videos of one length can align with no tie
    by_time = kendalls_tau([np.linspace(0, 1, n)[:, None], np.linspace(0, 1, m)[:, None]], stride=1)
    assert by_time == pytest.approx(ceiling)


def test_tau_ceiling__relative_time_reaches_it_and_an_embedding_of_the_phase_alone_does_not():
    lengths = [42, 48, 55, 60, 73, 81]
    labels = [np.repeat([0, 1, 2], [n // 2, n // 4, n - n // 2 - n // 4]) for n in lengths]
    time = [(f"v{i}", "val", np.linspace(0, 1, n)[:, None], y) for i, (n, y) in enumerate(zip(lengths, labels))]
    ceiling = tau_ceiling(_table(time), EvalConfig())
    assert kendalls_tau([x for _, _, x, _ in time], stride=5) == pytest.approx(ceiling, abs=2e-3)
    phase_only = [y[:, None].astype(float) for y in labels]  # knows the phase, not the time within it
    assert kendalls_tau(phase_only, stride=5) < ceiling - 0.05  # many ties


def test_kendalls_tau__random_embeddings_score_near_zero():
    rng = np.random.default_rng(0)
    videos = [rng.normal(size=(100, 16)) for _ in range(4)]
    assert abs(kendalls_tau(videos, stride=1)) < 0.15


def test_retrieval_ap__perfect_phase_clusters_give_one_and_mixed_give_chance():
    labels = [np.repeat([0, 1, 2], n) for n in (10, 12, 14)]
    clustered = [np.eye(3)[lab] * 5 + np.random.default_rng(i).normal(0, 0.01, (len(lab), 3)) for i, lab in enumerate(labels)]
    for k in (5, 10, 15):
        assert retrieval_ap(clustered, labels, k, stride=1) == pytest.approx(1.0)
    shuffled = [np.random.default_rng(i).normal(size=(len(lab), 3)) for i, lab in enumerate(labels)]
    assert 0.15 < retrieval_ap(shuffled, labels, 10, stride=1) < 0.55


def test_progression__linear_embedding_of_time_gives_r2_near_one():
    labels = [np.repeat([0, 1, 2], [n // 3, n // 3, n - 2 * (n // 3)]) for n in (30, 45, 60, 36)]
    # an embedding linear in the (normalised) signed distances to the boundaries
    embeddings = [progression_targets(lab, 3) @ np.array([[1.0, 0.2, -0.5], [0.3, -1.0, 0.7]]) for lab in labels]
    assert phase_progression(embeddings[:3], labels[:3], embeddings[3:], labels[3:], 3) == pytest.approx(1.0, abs=1e-6)
    rng = np.random.default_rng(0)
    noise = [rng.normal(size=(len(lab), 3)) for lab in labels]
    assert phase_progression(noise[:3], labels[:3], noise[3:], labels[3:], 3) < 0.2


def test_progression_targets__zero_at_the_boundary():
    targets = progression_targets(np.array([0, 0, 1, 1, 1, 2]), 3)
    assert targets.shape == (6, 2)
    assert targets[1, 0] == 0 and targets[4, 1] == 0 and targets[0, 0] == pytest.approx(-1 / 6)


@pytest.mark.parametrize("classifier", ["logistic_multinomial", "logistic", "svm"])
def test_classification__separable_phases_are_classified(classifier):
    labels = [np.repeat([0, 1, 2], 10) for _ in range(6)]
    embeddings = [np.eye(3)[lab] + np.random.default_rng(i).normal(0, 0.05, (30, 3)) for i, lab in enumerate(labels)]
    scores = phase_classification(embeddings[:4], labels[:4], embeddings[4:], labels[4:], (0.25, 1.0), classifier)
    assert scores == {0.25: pytest.approx(1.0), 1.0: pytest.approx(1.0)}


def test_finegym__linear_classifier_on_separable_embeddings():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(5, 16)) * 3

    def video(seed):
        labels = np.random.default_rng(seed).integers(-1, 5, 60)
        x = centres[np.maximum(labels, 0)] + np.random.default_rng(seed + 100).normal(0, 0.3, (60, 16))
        x[labels < 0] = np.random.default_rng(seed + 200).normal(size=(int((labels < 0).sum()), 16)) * 5
        return x, labels

    train = [video(s) for s in range(8)]
    val = [video(s) for s in range(8, 11)]
    accuracy = finegym_accuracy([v[0] for v in train], [v[1] for v in train], [v[0] for v in val], [v[1] for v in val],
                                num_classes=5, epochs=30)
    assert accuracy > 0.95


def test_dtw_path__is_monotone_and_matches_a_stretched_copy():
    a = _time_embedding(20)
    b = np.repeat(a, 2, axis=0)
    path = dtw_path(a, b)
    assert tuple(path[0]) == (0, 0) and tuple(path[-1]) == (19, 39)
    assert np.all(np.diff(path, axis=0) >= 0)
    assert np.all(np.abs(path[:, 1] // 2 - path[:, 0]) <= 1)


def _dtw_cell_by_cell(a, b):
    """DTW's definition, one cell at a time: the total cost of the cheapest monotone path."""
    from scipy.spatial.distance import cdist

    cost = cdist(a, b, "sqeuclidean")
    total = np.full((len(a) + 1, len(b) + 1), np.inf)
    total[0, 0] = 0.0
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            total[i, j] = cost[i - 1, j - 1] + min(total[i - 1, j - 1], total[i - 1, j], total[i, j - 1])
    return total[-1, -1]


@pytest.mark.parametrize(("n", "m"), [(1, 1), (1, 6), (7, 1), (13, 29), (40, 25)])
def test_dtw_path__is_a_cheapest_path_even_among_ties(n, m):
    rng = np.random.default_rng(n * 100 + m)
    for a, b in [(rng.normal(size=(n, 3)), rng.normal(size=(m, 3))),
                 (rng.integers(0, 2, size=(n, 2)).astype(float), rng.integers(0, 2, size=(m, 2)).astype(float))]:
        path = dtw_path(a, b)  # the integer case has many equally cheap paths
        assert tuple(path[0]) == (0, 0) and tuple(path[-1]) == (n - 1, m - 1)
        assert all(tuple(step) in {(1, 1), (1, 0), (0, 1)} for step in np.diff(path, axis=0))
        cost = ((a[path[:, 0]] - b[path[:, 1]]) ** 2).sum()
        assert cost == pytest.approx(_dtw_cell_by_cell(a, b))


def _table(videos, action=None):
    rows = []
    for video_id, split, embeddings, labels in videos:
        for i, (e, lab) in enumerate(zip(embeddings, labels, strict=True)):
            rows.append({"video_id": video_id, "split": split, "action": action, "frame_index": i, "phase": int(lab),
                         "embedding": e.astype(np.float32)})
    return pd.DataFrame(rows)


def test_evaluate_table__phase_protocol_keys_and_values():
    videos = []
    for v in range(6):
        n = 30 + 5 * v
        labels = np.repeat([0, 1, 2], [n // 3, n // 3, n - 2 * (n // 3)])
        videos.append((f"v{v}", "train" if v < 4 else "val", _time_embedding(n, seed=v), labels))
    metrics = evaluate_table(_table(videos), EvalConfig(stride=1))
    assert set(metrics) == {"classification@0.1", "classification@0.5", "classification@1.0", "progression",
                            "kendalls_tau", "ap@5", "ap@10", "ap@15", "online_progress_error"}
    assert 0 <= metrics["online_progress_error"] < 0.5
    assert metrics["kendalls_tau"] > 0.99 and metrics["classification@1.0"] > 0.8


def test_eval_config__bad_protocol_is_refused():
    with pytest.raises(ValueError, match="task"):
        EvalConfig(task="ucf")


def test_phase_coordinates__phase_plus_progress_through_its_run():
    coordinates = phase_coordinates(np.array([0, 0, 1, 1, 1, 1, 2]))[:, 0]
    np.testing.assert_allclose(coordinates, [0.25, 0.75, 1.125, 1.375, 1.625, 1.875, 2.5])


def test_label_alignment_tau__perfect_alignment_loses_to_relative_time_when_phase_lengths_differ():
    # Two validation videos of the same length whose phases split it differently: aligning by
    # the labels maps the long phase of one onto the short phase of the other (ties), while the
    # relative time alone maps frame k to frame k.
    first, second = np.repeat([0, 1, 2], [20, 5, 15]), np.repeat([0, 1, 2], [5, 20, 15])
    table = _table([("a", "val", np.zeros((40, 2)), first), ("b", "val", np.zeros((40, 2)), second)])
    by_labels = label_alignment_tau(table, EvalConfig(stride=1))
    by_time = kendalls_tau([np.linspace(0, 1, 40)[:, None]] * 2, stride=1)
    assert by_time == pytest.approx(1.0)
    assert 0.5 < by_labels < by_time - 0.01  # 0.98: ties where the long phase meets the short one
    # Equal phase lengths: the labels align frame k to frame k too.
    same = _table([("a", "val", np.zeros((40, 2)), first), ("b", "val", np.zeros((40, 2)), first)])
    assert label_alignment_tau(same, EvalConfig(stride=1)) == pytest.approx(1.0)


def test_alignment_pair_counts__separates_order_errors_from_ties():
    query = np.arange(5.0)[:, None]
    candidates = np.array([0.0, 2.0, 1.0, 3.5])[:, None]  # frames 1 and 2 in the other order
    # query -> candidates: nearest [0, 2, 1, 3, 3], of 10 pairs 8 in order, 1 swapped, 1 tied;
    # candidates -> query: nearest [0, 2, 1, 3], of 6 pairs 5 in order, 1 swapped.
    counts = alignment_pair_counts([query, candidates], stride=1)
    assert counts == pytest.approx({"concordant": 13 / 16, "discordant": 2 / 16, "tied": 1 / 16})
    assert alignment_pair_counts([query, query + 0.1], stride=1) == {"concordant": 1.0, "discordant": 0.0, "tied": 0.0}


def test_alignment_breakdown__labels_have_ties_and_no_errors_relative_time_neither():
    first, second = np.repeat([0, 1, 2], [20, 5, 15]), np.repeat([0, 1, 2], [5, 20, 15])
    time = np.linspace(0, 1, 40)[:, None]
    table = _table([("a", "val", time, first), ("b", "val", time, second)])
    by_time = alignment_breakdown(table, EvalConfig(stride=1))
    by_labels = alignment_breakdown(table, EvalConfig(stride=1), by_labels=True)
    assert by_time == pytest.approx({"concordant": 1.0, "discordant": 0.0, "tied": 0.0})
    assert by_labels["discordant"] == 0.0 and by_labels["tied"] > 0.01


def test_trained_scores__this_versions_block_or_an_older_outputs():
    from carl_pipeline.evaluation import trained_scores

    assert trained_scores({"trained": {"ap@5": 0.7}, "untrained": {}}) == {"ap@5": 0.7}
    assert trained_scores({"carl": {"ap@5": 0.6}, "untrained": {}}) == {"ap@5": 0.6}  # metrics.json before 2026-12-02
    with pytest.raises(KeyError, match=r"they hold \['model', 'untrained'\]"):
        trained_scores({"untrained": {}, "model": {}})


def test_evaluation__importing_it_loads_no_model_code():
    """The metrics read an embeddings table: importing them must not load the encoder (nor the
    project's torch.nn modules), so that scoring embeddings made elsewhere needs no model."""
    import subprocess
    import sys

    script = ("import sys; import carl_pipeline.evaluation, carl_pipeline.embedding.table; "
              "loaded = [m for m in sys.modules if m.startswith(('carl_pipeline.models', 'carl_pipeline.training', "
              "'carl_pipeline.embedding.extract', 'torchvision'))]; print(loaded); assert not loaded, loaded")
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)


def test_evaluate_table__actions_scores_only_those_videos_and_a_missing_action_is_named():
    """protocol.actions: the released Kinetics-400 run scores its model on baseball_pitch only."""
    videos = []
    for v in range(8):
        n = 30 + 5 * v
        labels = np.repeat([0, 1, 2], [n // 3, n // 3, n - 2 * (n // 3)])
        # pitch videos move with time; squat videos are noise: mixing them in would lower the scores
        x = _time_embedding(n, seed=v) if v % 2 == 0 else np.random.default_rng(v).normal(size=(n, 8))
        videos.append((f"v{v}", "train" if v < 4 else "val", x, labels))
    table = _table(videos)
    table["action"] = np.where(table["video_id"].isin(["v0", "v2", "v4", "v6"]), "baseball_pitch", "squat")
    pitch = evaluate_table(table[table["action"] == "baseball_pitch"], EvalConfig(stride=1))
    assert evaluate_table(table, EvalConfig(stride=1, actions=("baseball_pitch",))) == pitch
    assert evaluate_table(table, EvalConfig(stride=1))["kendalls_tau"] < pitch["kendalls_tau"]
    assert tau_ceiling(table, EvalConfig(stride=1, actions=("baseball_pitch",))) == \
        tau_ceiling(table[table["action"] == "baseball_pitch"], EvalConfig(stride=1))
    with pytest.raises(ValueError, match=r"\['golf_swing'\], which have no videos here; the actions are \['baseball_pitch', 'squat'\]"):
        evaluate_table(table, EvalConfig(actions=("golf_swing",)))
