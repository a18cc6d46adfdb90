"""What the project still reads of what its earlier versions wrote, in one place: each shim with
what it keeps working and the condition under which it goes.

Most keep *run identities* stable. A run folder is keyed by a hash of everything that changes
its weights (``carl_pipeline.training.identity``); a setting added later would change every
earlier run's hash, and a rerun would train again what is already trained. So a setting added
later is left out of the hash at the value every earlier run had, and a renamed one is hashed
under its old name. These go together, at a release that says "runs trained before it retrain
once" (a schema bump of ``carl_pipeline.record.SCHEMA_VERSION``); removing one alone silently
retrains everything.

Imports nothing from the project: every module may read it.
"""

#: EncoderConfig fields added after runs were first identified, with the value every earlier
#: run had: left out of the identity at that value. Goes: at the retrain-once release.
ADDED_LATER_ENCODER = {"input_norm": "none"}
#: The same for LossConfig's identity (under the flat names below). Goes: as above.
ADDED_LATER_LOSS = {"tcc_label_smoothing": 0.0, "scl_target": "exact"}
#: The same for OptimConfig's fields. Goes: as above.
ADDED_LATER_OPTIM = {"lr_decay": "cosine", "sync_batchnorm": False, "feature_cache": False}

#: The optimiser block was hashed under the name ``train`` before it took conf's name ``optim``;
#: it still is, and an identity written then names it so. Goes: as above.
HASHED_AS = {"optim": "train"}

#: The flat names SCL's, TCC's and TCN's settings had before each loss owned its settings
#: (``train.loss.<algorithm>``), and where they live now: still read in configs and checkpoints
#: written before, and what a run's identity is hashed under. Goes: as above, and once no conf
#: of a user writes ``loss.tcc_cycle`` (a warning first).
FLAT_LOSS_NAMES = {"variance": ("scl", "variance"), "negatives": ("scl", "negatives"),
                   "scl_target": ("scl", "target"), "tcc_variance_lambda": ("tcc", "variance_lambda"),
                   "tcc_label_smoothing": ("tcc", "label_smoothing"), "tcc_cycle": ("tcc", "cycle"),
                   "tcn_positive_window": ("tcn", "positive_window"), "tcn_reg_lambda": ("tcn", "reg_lambda")}

#: ConversionJob fields added after packs were first fingerprinted, with the value every earlier
#: pack had: left out of the fingerprint at that value, so those packs are found converted (not
#: converted again). Goes: at a release that reconverts every dataset once (a pack format bump).
ADDED_LATER_JOB = {"pixels": "project"}

#: The block of ``metrics.json`` holding the trained encoder's scores was named ``carl`` before
#: 2026-12-02 (now ``trained``, whatever algorithm trained it). Goes: when outputs of that time
#: need not be read (reports, comparisons and exports read them through ``trained_scores``).
TRAINED_BEFORE = "carl"


def identity_optim(identity: dict) -> dict:
    """The optimiser block of a run identity, of this version (``optim``) or written before it
    took that name (``train``). Goes: with ``HASHED_AS``."""
    return identity["optim"] if "optim" in identity else identity["train"]


def planned_videos(conversion: dict) -> list[str] | None:
    """The videos a conversion report planned; None for a report written before it listed them
    (then the index holds every pack of the store). Goes: once every frame store has been
    ingested again since 2026-11 (the report is rewritten by every ingestion)."""
    return conversion.get("planned")


#: Where else what this module lists is honoured, not here because it is a parameter:
#: ``RunDir(legacy_root=...)`` / the catalog's ``legacy_path`` (runs kept per namespace before
#: they were shared; a run found there is moved into the shared root; goes once no
#: ``data/06_models/<dataset>/runs`` folder is left), and an export's check of a ``metrics.json``
#: without a weights digest (``export.check_scores_are_of``: run and epoch must agree; goes with
#: ``TRAINED_BEFORE``).
ELSEWHERE = ("carl_pipeline.record.run_dir.RunDir.legacy_root", "carl_pipeline.export.hub.check_scores_are_of")
