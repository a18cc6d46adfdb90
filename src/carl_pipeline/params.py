"""Parameter blocks, validated where they enter a node (Kedro builds these from ``conf/``).

Each field's meaning and the paper's value are also written beside it in ``conf/*/parameters_*.yml``.
A bad value fails before any work with a message that names the field.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, RootModel, field_validator, model_validator

from carl_pipeline.augment import FRAMINGS, AugmentConfig
from carl_pipeline.checks import check_choice
from carl_pipeline.evaluation import EvalConfig
from carl_pipeline.losses import LossConfig
from carl_pipeline.losses.config import nest_settings
from carl_pipeline.models import EncoderConfig
from carl_pipeline.training import OptimConfig, PretrainConfig, SamplingConfig, TrainSettings


class _Block(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("framing", check_fields=False)
    @classmethod
    def _known_framing(cls, value: str | None) -> str | None:
        if value is None:  # only an Optional framing gets here with None: the model's framing decides
            return value
        check_choice("framing", value, list(FRAMINGS))
        return value


FrameSize = tuple[int, int]


class _IngestCommon(_Block):
    num_workers: int = Field(2, ge=0, description="processes converting videos; 0 or 1 converts in the node's process")
    progress: bool = True
    # Check every frame of an already converted pack against its checksum before skipping it.
    verify_existing: bool = True
    # processes (this machine's process pool) or dask (a Dask distributed cluster).
    executor: str = "processes"
    # The Dask scheduler, e.g. tcp://10.0.0.5:8786; null with executor dask: a LocalCluster of
    # num_workers worker processes.
    scheduler_address: str | None = None

    @field_validator("executor")
    @classmethod
    def _known_executor(cls, value: str) -> str:
        from carl_pipeline.ingest.jobs import EXECUTORS

        check_choice("executor", value, list(EXECUTORS))
        return value

    @field_validator("pixels", check_fields=False)
    @classmethod
    def _known_pixels(cls, value: str) -> str:
        from carl_pipeline.ingest.frames import PIXELS

        check_choice("pixels", value, list(PIXELS))
        return value

    @field_validator("frame_size", check_fields=False)
    @classmethod
    def _positive_size(cls, value):
        if value is not None and (value[0] <= 0 or value[1] <= 0):
            raise ValueError(f"frame_size must be [height, width] > 0, got {list(value)}")
        return value


class PouringIngestParams(_IngestCommon):
    """How Pouring TFRecords become frame packs."""

    frame_size: FrameSize | None = None
    fps: float = Field(30.0, gt=0)
    splits: tuple[str, ...] = ("train", "val", "test")
    pixels: str = "project"  # project or released (carl_pipeline.ingest.frames.PIXELS)


class PennActionIngestParams(_IngestCommon):
    """How Penn Action frame folders become frame packs."""

    frame_size: FrameSize | None = None
    fps: float = Field(30.0, gt=0)
    splits: tuple[str, ...] = ("train", "val")
    pixels: str = "project"  # project or released (carl_pipeline.ingest.frames.PIXELS)
    phase_label_dir: str = ""
    skip_actions: tuple[str, ...] = ("strum_guitar", "jump_rope")
    label_length_tolerance: float = Field(0.1, ge=0)


class VideoFolderIngestParams(_IngestCommon):
    """How a folder of your own videos becomes frame packs."""

    frame_size: FrameSize | None = None
    fps: float | None = Field(25.0, gt=0)
    suffixes: tuple[str, ...] = (".mp4", ".mkv", ".webm", ".avi", ".mov", ".m4v")
    jpeg_quality: int = Field(90, ge=1, le=100)


class ElementLists(_Block):
    train: str
    val: str


class FineGymIngestParams(_IngestCommon):
    """How FineGym events are cut from the raw videos."""

    frame_size: FrameSize = (360, 640)
    fps: float = Field(25.0, gt=0)
    jpeg_quality: int = Field(90, ge=1, le=100)
    annotation_file: str = "finegym_annotation_info_v1.0.json"
    video_dir: str = "videos"
    element_lists: dict[str, ElementLists] = Field(default_factory=lambda: {
        "gym99": ElementLists(train="gym99_train_element_v1.0.txt", val="gym99_val_element.txt"),
        "gym288": ElementLists(train="gym288_train_element_v1.0.txt", val="gym288_val_element.txt"),
    })
    event_types: tuple[int, ...] | None = None

    @field_validator("element_lists")
    @classmethod
    def _both_taxonomies(cls, value):
        missing = {"gym99", "gym288"} - set(value)
        if missing:
            raise ValueError(f"element_lists needs entries for {sorted(missing)}")
        return value


class TrainParams(_Block):
    """Everything training reads: architecture, temporal sampling, augmentation, loss,
    optimisation, and which videos it trains on.

    The blocks are the plain dataclasses of the packages (validated field by field here, extra
    keys refused). The clip length has one name, ``sampling.num_steps``: the encoder's
    ``train_length`` is set from it and may not be given in ``model``.
    """

    model: EncoderConfig
    sampling: SamplingConfig
    augment: AugmentConfig
    loss: LossConfig
    optim: OptimConfig
    # Self-supervised frame pretraining of the backbone before CARL (epochs 0: none).
    pretrain: PretrainConfig = PretrainConfig()
    splits: tuple[str, ...] = ("train",)
    # Train only on videos with at least one frame labelled in this label column (FineGym: gym99
    # or gym288, one training per taxonomy as the released configs); null: every video of the
    # splits (for FineGym, the union of both taxonomies' events). Labels are never read otherwise.
    labelled_by: str | None = None

    def settings(self) -> TrainSettings:
        """The settings bundle ``carl_pipeline.training.train`` takes."""
        return TrainSettings(self.model, self.sampling, self.augment, self.optim, self.loss)

    @model_validator(mode="before")
    @classmethod
    def _clip_length_set_once(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        if isinstance(data.get("loss"), dict):  # each loss's own block (loss.tcc: {...}) into loss.settings
            data = {**data, "loss": nest_settings(data["loss"])}
        model, sampling = data.get("model") or {}, data.get("sampling") or {}
        num_steps = (sampling.num_steps if isinstance(sampling, SamplingConfig)
                     else sampling.get("num_steps", SamplingConfig.num_steps))
        if isinstance(model, EncoderConfig):
            return {**data, "model": dataclasses.replace(model, train_length=num_steps)}
        if "train_length" in model:
            raise ValueError("model.train_length is not a parameter: the clip length is set once, as "
                             "sampling.num_steps (the encoder's train_length is taken from it)")
        return {**data, "model": {**model, "train_length": num_steps}}


class TrainChanges(_Block):
    """What a baseline changes in a dataset's ``train`` block (``compare_<dataset>``): any of its
    blocks, each a mapping of the keys to change. A misspelt block fails here; a misspelt key
    inside one fails when the changes are applied (``baseline_settings``), naming the field."""

    model: dict[str, Any] = Field(default_factory=dict)
    sampling: dict[str, Any] = Field(default_factory=dict)
    augment: dict[str, Any] = Field(default_factory=dict)
    loss: dict[str, Any] = Field(default_factory=dict)
    optim: dict[str, Any] = Field(default_factory=dict)
    pretrain: dict[str, Any] = Field(default_factory=dict)
    splits: tuple[str, ...] | None = None
    labelled_by: str | None = None

    def as_changes(self) -> dict[str, Any]:
        """The nested keys to lay over the ``train`` block (empty blocks and unset values left out)."""
        return {k: v for k, v in self.model_dump().items() if v not in ({}, None)}


class CompareChanges(RootModel[dict[str, TrainChanges]]):
    """A dataset's ``compare`` block: per algorithm, what to change beyond its row's own
    comparison defaults (``Algorithm.baseline_changes``); an algorithm with no entry is compared
    with its row's defaults alone, so a new row needs no conf."""

    @field_validator("root")
    @classmethod
    def _registered(cls, value: dict[str, TrainChanges]) -> dict[str, TrainChanges]:
        from carl_pipeline.losses import algorithm_names

        for name in value:
            check_choice("compare: algorithm", name, algorithm_names())
        return value

    def __getitem__(self, algorithm: str) -> TrainChanges:
        return self.root[algorithm]

    def items(self):
        return self.root.items()

    def get(self, algorithm: str, default: TrainChanges | None = None) -> TrainChanges | None:
        return self.root.get(algorithm, default)


class EmbeddingSettings(_Block):
    """What every pipeline that embeds videos and shows them shares: the datasets' evaluation
    (``<dataset>.evaluate``) and the own-videos report (``videos.report``)."""

    # How a stored frame becomes the square input: resize_crop, squash or native_crop (see
    # carl_pipeline.augment.eval_transform, the one place that says which dataset uses which).
    framing: str = "resize_crop"
    # Input side for extraction; null: the training image size stored in the checkpoint.
    image_size: int | None = None
    # Where frames are embedded: auto (CUDA when present), cpu, cuda, cuda:N or mps.
    device: str = "auto"
    # Autocast on CUDA while embedding: auto (bf16 where supported, else fp16), bf16, fp16 (the
    # released evaluate.py) or fp32; a CPU embeds in float32 unless bf16 is asked for (1.6x where
    # the CPU has native bf16; carl_pipeline.embedding.embedding_dtype).
    precision: str = "auto"
    # Two videos to align in the alignment video; null: the first two (validation) videos.
    alignment_pair: tuple[str, str] | None = None
    alignment_height: int = Field(160, ge=16)
    # Neighbours shown per query frame in the retrieval video or sheet.
    retrieval_neighbours: int = Field(5, ge=1)
    progress: bool = True

    @field_validator("precision")
    @classmethod
    def _known_precision(cls, value: str) -> str:
        from carl_pipeline.embedding.extract import PRECISIONS

        check_choice("precision", value, list(PRECISIONS))
        return value


class EvaluateParams(EmbeddingSettings):
    """Embedding extraction, the evaluation protocol and the reports of a dataset."""

    protocol: EvalConfig
    untrained_seed: int = 0
    # A model scored by the evaluate_released_<dataset> pipeline without training: a checkpoint
    # released by CARL's authors, or any model videos.model takes (carl_pipeline.record.open_checkpoint).
    checkpoint: str | None = None
    # Its training clip length T (scales the position encoding); null: from the file's cfg, else 240.
    checkpoint_train_length: int | None = Field(None, ge=1)
    # Retrieval video: the frame stride of queries and candidates (released evaluate_finegym.py:
    # K 5, time_stride 10).
    retrieval_stride: int = Field(10, ge=1)
    # The raw-pixel reference (metrics.json: pixels): each frame a side x side grey image, scored
    # by the same protocol; null: not computed.
    pixels_side: int | None = Field(32, ge=4)


class ExternalEmbeddingsParams(_Block):
    """Frame embeddings made elsewhere, scored by ``evaluate_embeddings_<dataset>``
    (``carl_pipeline.embedding.external``)."""

    # A folder of released pickles or .npy files, or an embeddings-table .parquet file; null: none.
    path: str | None = None
    # auto, released_pickles, npy or table (auto: by what path holds).
    layout: str = "auto"
    # What made them, for the report (e.g. "CARL released FineGym Gym99 model").
    method: str = "external"


class VideosReportParams(EmbeddingSettings):
    """What the ``videos`` pipeline shows: an alignment video and a retrieval sheet."""

    # null: the model's own framing where it says (an exported model), else resize_crop.
    framing: str | None = None

    # Retrieval sheet: query frames taken evenly from the first video, neighbours shown per query.
    retrieval_queries: int = Field(6, ge=1)
    retrieval_neighbours: int = Field(4, ge=1)


class VideosLabelsParams(_Block):
    """Label by example (``videos.labels``): phase labels of some videos, carried to the others
    (``carl_pipeline.labels``)."""

    # A CSV (video_id,frame_index,phase or video_id,phase,start_frame,end_frame) or a folder of
    # <video_id>.npy; null: no labelling.
    path: str | None = None
    # The phase names in order (for named phases; numbered phases are ordered as numbers).
    phases: list[str] | None = None
    # auto (drop_dtw when the labels mark background, else dtw), dtw (align to each labelled
    # video, every frame matched, phases kept in order: trimmed videos), drop_dtw (frames may be
    # dropped as background: untrimmed videos) or nn (soft nearest neighbours).
    method: str = "auto"
    # Softmax temperature of the cosine similarities (nn votes, and every confidence).
    temperature: float = Field(0.1, gt=0)
    # drop_dtw: a frame's drop cost, drop_scale times this percentile of the labelled phase
    # frames' cosine distances to their nearest frame of the video (what matching the action
    # costs there).
    drop_percentile: float = Field(95.0, ge=0, le=100)
    drop_scale: float = Field(3.0, gt=0)
    # drop_dtw: the frames the votes keep take their phase from an in-order alignment to the
    # phases' mean embeddings over the labelled videos; false: the votes' phases.
    phase_template: bool = True
    # Long videos: above max_cells frame pairs, align at half the length first and compute only a
    # band of band_radius frames around that path (memory linear in the lengths).
    band_radius: int = Field(32, ge=1)
    max_cells: int = Field(4_000_000, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _a_path_alone(cls, value):
        """``videos.labels=labels.csv`` (the file alone) means ``videos.labels.path=labels.csv``."""
        if isinstance(value, str):
            return {"path": value}
        return value

    @field_validator("method")
    @classmethod
    def _known_method(cls, value: str) -> str:
        from carl_pipeline.labels import METHODS

        check_choice("method", value, list(METHODS))
        return value


class SearchIndexParams(_Block):
    """How the library's search index is built (``carl_pipeline.search.FrameIndex``)."""

    # Libraries of fewer frames get an exact index; larger ones an inverted file (IVF).
    exact_below: int = Field(200_000, ge=1)
    # IVF cells; null: 2 sqrt(frames).
    nlist: int | None = Field(None, ge=1)
    # IVF cells searched per query: recall against speed.
    nprobe: int = Field(64, ge=1)


class QueryParams(_Block):
    """Query frames for the search (``videos.query``)."""

    # A video of the library and frame indices of it; null frames: default_queries frames evenly.
    # On the command line, frames separated by spaces: --params="videos.query.frames=0 40".
    video_id: str | None = None
    frames: list[int] | None = None
    # Or an image file (embedded as a one-frame video); used instead of video_id when set.
    image: str | None = None
    neighbours: int = Field(5, ge=1)
    # Leave the query's own video out of its results.
    other_videos_only: bool = True
    # With neither video_id nor image: this many frames evenly from the first video.
    default_queries: int = Field(4, ge=1)

    @field_validator("frames", mode="before")
    @classmethod
    def _frames_from_text(cls, value):
        if isinstance(value, str):  # kedro's --params splits on commas: "0 40" is two frames
            try:
                return [int(part) for part in value.replace(";", " ").split()]
            except ValueError as error:
                raise ValueError(f"frames must be frame indices, e.g. '0 40', got {value!r}") from error
        if isinstance(value, int):
            return [value]
        return value


class DiscoverPhases(_Block):
    """``videos.discover_phases``: phases found in every video with no labels
    (``carl_pipeline.labels.discover``). ``videos.discover_phases=5`` (the number alone) means
    ``videos.discover_phases.k=5``."""

    # The number of phases to find, at least 2; null: no discovery.
    k: int | None = Field(None, ge=2)
    # Sub-states per phase (a phase's beginning, middle and end kept apart; fewer where a video
    # is shorter than k x this). 4: chosen on the Pouring demo's training videos.
    states_per_phase: int = Field(4, ge=1)
    # Re-alignments at most after the flat start (it stops when no frame moves).
    max_iterations: int = Field(20, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _a_number_alone(cls, value):
        if value is None or (isinstance(value, int) and not isinstance(value, bool)):
            return {"k": value}
        return value


class ModelSource(RootModel[str]):
    """``videos.model``: ``train``, or the path of a model to use as it is (a carl.pt or its
    versioned folder, a run folder, a released CARL checkpoint, an exported model's folder;
    ``carl_pipeline.record.open_checkpoint`` says what it found there)."""

    model_config = ConfigDict(frozen=True)

    @field_validator("root")
    @classmethod
    def _not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("videos.model is empty: 'train' or the path of a model")
        return value

    @property
    def trains(self) -> bool:
        return self.root == "train"

