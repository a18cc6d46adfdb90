"""Which videos an encoder trains on (``carl_pipeline.training.videos``)."""


import pandas as pd
import pytest


def test_training_videos__finegym_taxonomy_trains_on_its_labelled_events_only():
    from carl_pipeline.training.videos import training_videos

    index = pd.DataFrame({"video_id": ["a", "b", "c", "d"], "split": ["train", "train", "train", "val"]})
    labels = pd.DataFrame({"video_id": ["a", "a", "b", "c", "d"], "frame_index": [0, 1, 0, 0, 0],
                           "gym99": [-1, 3, -1, 5, 2], "gym288": [7, -1, 1, -1, 2]})
    assert training_videos(index, labels, ["train"], "gym99") == ["a", "c"]
    assert training_videos(index, labels, ["train"], "gym288") == ["a", "b"]
    assert training_videos(index, labels, ["train"]) == ["a", "b", "c"]  # the union
    with pytest.raises(ValueError, match="no label column 'gym101'"):
        training_videos(index, labels, ["train"], "gym101")
