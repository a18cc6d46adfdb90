"""The project's data catalog: under ``torchrun``, only rank 0 writes.

Every process of a ``torchrun`` launch runs the whole pipeline (training with DDP, extraction
split across the ranks); their outputs are the same, so rank 0 alone saves them. Another rank
keeps what it would have saved in memory and loads it from there, so its later nodes see the
same data without a second copy (or a second version folder) on disk.
"""

from __future__ import annotations

from typing import Any

from kedro.framework.context.catalog_mixins import CatalogCommandsMixin
from kedro.io import DataCatalog

from carl_pipeline.distributed import writes


class RankZeroCatalog(DataCatalog, CatalogCommandsMixin):  # the order compose_classes uses
    """``DataCatalog`` whose saves happen on rank 0 only (see the module docstring)."""

    def _kept(self) -> dict[str, Any]:
        if not hasattr(self, "_kept_by_this_rank"):
            self._kept_by_this_rank: dict[str, Any] = {}
        return self._kept_by_this_rank

    def save(self, ds_name: str, data: Any) -> None:
        if not writes():
            self._kept()[ds_name] = data
            return
        super().save(ds_name, data)

    def load(self, ds_name: str, version: str | None = None) -> Any:
        kept = self._kept()
        if not writes() and ds_name in kept and version is None:
            return kept[ds_name]
        return super().load(ds_name, version)
