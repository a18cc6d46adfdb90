"""Embeddings made elsewhere, scored with the project's protocol: CARL's released FineGym pickles
(written here as the released ``evaluate_finegym.py:get_embeddings_dataset`` writes them), per-video
``.npy`` files and an embeddings table give the scores the project's own table gives."""

import pickle

import numpy as np
import pytest
import torch

from carl_pipeline.embedding import embeddings_table, read_external_embeddings
from carl_pipeline.evaluation import EvalConfig, evaluate_table
from carl_pipeline.evaluation.report import score_external_embeddings
from carl_pipeline.ingest import ConversionPlan, build_video_index, plan_finegym, run_conversion
from carl_pipeline.params import EvaluateParams, ExternalEmbeddingsParams
from carl_pipeline.video import FrameStore

PROTOCOL = EvalConfig(task="finegym", finegym_labels=("gym288",), finegym_epochs=8)
PARAMS = EvaluateParams(protocol=PROTOCOL, progress=False, device="cpu")


@pytest.fixture(scope="module")
def finegym(tiny_raw, tmp_path_factory):
    """The tiny FineGym events' index and labels, and made-up 8-d embeddings that carry the
    Gym288 label (so the probe has something to find) with noise."""
    jobs, failures = plan_finegym(tiny_raw / "finegym", frame_size=(18, 32))
    store = FrameStore(tmp_path_factory.mktemp("finegym_store") / "frames")
    run_conversion(ConversionPlan(tuple(jobs), progress=False, failures=tuple(failures)), store)
    index, labels = build_video_index(store)
    rng = np.random.default_rng(0)
    embeddings = {}
    for video_id, rows in labels.groupby("video_id"):
        signal = np.eye(8)[np.clip(rows.sort_values("frame_index")["gym288"].to_numpy() + 1, 0, 7)]
        embeddings[video_id] = (signal + 0.3 * rng.normal(size=signal.shape)).astype(np.float32)
    return index, labels, embeddings


def _write_released_pickles(folder, index, labels, embeddings):
    """As released: ``<LOGDIR>/finegym_eval_{train,val}set/<name>.pkl``, torch tensors inside."""
    for video_id, split in index[["video_id", "split"]].itertuples(index=False):
        subfolder = folder / f"finegym_eval_{split}set"
        subfolder.mkdir(parents=True, exist_ok=True)
        frame_label = labels[labels["video_id"] == video_id].sort_values("frame_index")["gym288"].to_numpy()
        data = {"embs": torch.from_numpy(embeddings[video_id]).half(),  # the released AMP writes fp16
                "labels": torch.tensor(frame_label).float(), "seq_len": len(frame_label), "name": video_id}
        with open(subfolder / f"{video_id}.pkl", "wb") as f:
            pickle.dump(data, f)


def _score(index, labels, path, layout="auto"):
    external = ExternalEmbeddingsParams(path=str(path), layout=layout)
    return score_external_embeddings(external.path, external.layout, external.method, index, labels, PARAMS.protocol)


def test_released_pickles__score_as_the_projects_own_table_holding_the_same_numbers(finegym, tmp_path):
    index, labels, embeddings = finegym
    _write_released_pickles(tmp_path / "logdir", index, labels, embeddings)
    table, report, metrics = _score(index, labels, tmp_path / "logdir")
    # the pickles hold fp16: the project's table holding those same numbers
    same_numbers = {k: v.astype(np.float16).astype(np.float32) for k, v in embeddings.items()}
    own = evaluate_table(embeddings_table(same_numbers, index, labels), PROTOCOL)
    assert metrics["trained"] == own and 0 <= own["gym288_accuracy"] <= 1
    assert report["scored"] == sorted(index["video_id"]) and report["unmatched"] == report["wrong_length"] == []
    assert report["labels_disagree"] == []  # the pickles' own labels are the dataset's
    assert metrics["join"]["scored"] == len(index) and metrics["model"]["algorithm"] == "external"


def test_released_pickles__an_unknown_name_and_a_wrong_length_are_reported_by_name_the_rest_scored(finegym, tmp_path):
    index, labels, embeddings = finegym
    _write_released_pickles(tmp_path / "logdir", index, labels, embeddings)
    train_ids = sorted(index.loc[index["split"] == "train", "video_id"])
    short = train_ids[0]
    with open(tmp_path / "logdir/finegym_eval_trainset" / f"{short}.pkl", "wb") as f:
        pickle.dump({"embs": torch.from_numpy(embeddings[short][:-3]), "labels": torch.zeros(len(embeddings[short]) - 3),
                     "seq_len": len(embeddings[short]) - 3, "name": short}, f)
    with open(tmp_path / "logdir/finegym_eval_valset/nosuchvideo_E_000001_000002.pkl", "wb") as f:
        pickle.dump({"embs": torch.zeros(5, 8), "labels": torch.zeros(5), "seq_len": 5,
                     "name": "nosuchvideo_E_000001_000002"}, f)
    (tmp_path / "logdir/finegym_eval_valset/broken.pkl").write_bytes(b"not a pickle")

    table, report, metrics = _score(index, labels, tmp_path / "logdir")
    assert [u["name"] for u in report["unmatched"]] == ["nosuchvideo_E_000001_000002"]
    assert [(w["name"], w["frames"], w["expected"]) for w in report["wrong_length"]] == \
        [(short, len(embeddings[short]) - 3, len(embeddings[short]))]
    assert [u["file"].rsplit("/", 1)[1] for u in report["unreadable"]] == ["broken.pkl"]
    assert report["not_embedded"] == {"train": [short]} and short not in set(table["video_id"])
    rest = {k: v.astype(np.float16).astype(np.float32) for k, v in embeddings.items() if k != short}
    assert metrics["trained"] == evaluate_table(embeddings_table(rest, index, labels), PROTOCOL)


def test_npy_files_and_an_embeddings_table__score_as_the_pickles_do(finegym, tmp_path):
    index, labels, embeddings = finegym
    for video_id, values in embeddings.items():
        np.save(tmp_path / f"{video_id}.npy", values)
    _, report, from_npy = _score(index, labels, tmp_path)
    own_table = embeddings_table(embeddings, index, labels)
    own = evaluate_table(own_table, PROTOCOL)
    assert from_npy["trained"] == own and report["scored"] == sorted(embeddings)
    own_table.to_parquet(tmp_path / "embeddings.parquet")
    _, _, from_table = _score(index, labels, tmp_path / "embeddings.parquet")
    assert from_table["trained"] == own


def test_external__nothing_matching_or_no_path_is_an_error_that_says_so(finegym, tmp_path):
    index, labels, _ = finegym
    np.save(tmp_path / "someone_else.npy", np.zeros((4, 8), np.float32))
    with pytest.raises(ValueError, match="none of the 1 external entries matches"):
        _score(index, labels, tmp_path)
    with pytest.raises(ValueError, match="external.path is null"):
        score_external_embeddings(None, "auto", "external", index, labels, PARAMS.protocol)
    with pytest.raises(FileNotFoundError, match="no external embeddings there"):
        read_external_embeddings(tmp_path / "missing")


def test_released_pickles__labels_that_disagree_with_the_datasets_are_reported_by_name(finegym, tmp_path):
    """Pickles made for another taxonomy or another cut carry other labels: reported, the
    dataset's labels scored."""
    index, labels, embeddings = finegym
    _write_released_pickles(tmp_path / "logdir", index, labels, embeddings)
    video_id, split = index[["video_id", "split"]].iloc[0]
    file = tmp_path / f"logdir/finegym_eval_{split}set/{video_id}.pkl"
    with open(file, "rb") as f:
        data = pickle.load(f)
    data["labels"] = data["labels"] + 1
    with open(file, "wb") as f:
        pickle.dump(data, f)
    _, report, metrics = _score(index, labels, tmp_path / "logdir")
    assert report["labels_disagree"] == [{"name": video_id, "column": "gym288", "frames": len(embeddings[video_id])}]
    assert metrics["join"]["labels_disagree"] == 1 and report["scored"] == sorted(index["video_id"])


class _WritesAMarker:
    """A hostile pickle: loading it calls ``exec`` (pickle's ``__reduce__``)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f"open({self.marker!r}, 'w').write('ran')",)


def test_released_pickles__a_crafted_pkl_runs_nothing_and_is_reported_by_name(finegym, tmp_path):
    index, labels, embeddings = finegym
    _write_released_pickles(tmp_path / "logdir", index, labels, embeddings)
    victim = sorted(index.loc[index["split"] == "train", "video_id"])[0]
    marker = tmp_path / "marker"
    for protocol in (2, 4):
        with open(tmp_path / f"logdir/finegym_eval_trainset/{victim}.pkl", "wb") as f:
            pickle.dump({"embs": torch.from_numpy(embeddings[victim]), "name": victim,
                         "labels": _WritesAMarker(marker)}, f, protocol=protocol)
        table, report, metrics = _score(index, labels, tmp_path / "logdir")
        assert not marker.exists()
        assert [u["file"].rsplit("/", 1)[1] for u in report["unreadable"]] == [f"{victim}.pkl"]
        assert ".exec is not a type the released embeddings hold" in report["unreadable"][0]["error"]
        assert victim not in report["scored"] and len(report["scored"]) == len(index) - 1


@pytest.mark.parametrize("damage, error", [
    ("nan", "1 values are NaN or infinite (in 1 frames, the first frame 3)"),
    ("inf", "2 values are NaN or infinite (in 1 frames, the first frame 0)"),
    ("wide", "embeddings of 16 dimensions, where {others} other entries have 8"),
    ("zero", "at least one dimension")])
def test_embeddings_that_are_not_finite_or_of_another_width_are_reported_not_scored(finegym, tmp_path, damage, error):
    index, labels, embeddings = finegym
    folder = tmp_path / "npy"
    folder.mkdir()
    victim = sorted(index.loc[index["split"] == "train", "video_id"])[0]
    for video_id, embedding in embeddings.items():
        embedding = embedding.copy()
        if video_id == victim and damage == "nan":
            embedding[3, 1] = np.nan
        elif video_id == victim and damage == "inf":
            embedding[0, :2] = [np.inf, -np.inf]
        elif video_id == victim and damage == "wide":
            embedding = np.concatenate([embedding, embedding], axis=1)
        elif video_id == victim and damage == "zero":
            embedding = embedding[:, :0]
        np.save(folder / f"{video_id}.npy", embedding)
    table, report, metrics = _score(index, labels, folder)
    assert [u["file"].rsplit("/", 1)[1] for u in report["unreadable"]] == [f"{victim}.npy"]
    assert error.format(others=len(index) - 1) in report["unreadable"][0]["error"]
    assert victim not in report["scored"] and len(report["scored"]) == len(index) - 1
    assert np.isfinite(metrics["trained"]["gym288_accuracy"])
