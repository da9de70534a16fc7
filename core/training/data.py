"""Training data assembled from the store: raw face rows, labels, person groups, held-out mask and a data hash."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from core.errors import TrainingDataError
from core.features.raw import faces_to_matrix
from core.progress import ProgressFn
from core.schema import EMOTIONS, STATUS_SUITE, STATUS_TEST, TRAINABLE_STATUSES
from core.store.repository import Filters, Store, suite_refusal


@dataclass
class TrainingData:
    """Rows aligned with each other. `held_out` marks the rows whose store status is "test"."""

    x: np.ndarray  # (n, RAW_WIDTH) raw face rows
    y: np.ndarray  # (n,) emotion strings
    groups: np.ndarray | None = None  # (n,) person ids, or None when identity is unknown
    held_out: np.ndarray | None = None  # (n,) bool
    image_ids: list[int] = field(default_factory=list)
    data_hash: str = ""
    sources: list[str] = field(default_factory=list)
    network: np.ndarray | None = None  # (n, 263) face-api rows (logits + embedding) when asked for

    def __len__(self) -> int:
        return len(self.y)

    @property
    def classes(self) -> list[str]:
        """Classes present, in the project's EMOTIONS order."""
        present = set(self.y.tolist())
        return [e for e in EMOTIONS if e in present]

    def class_counts(self) -> dict[str, int]:
        counts = Counter(self.y.tolist())
        return {c: counts[c] for c in self.classes}

    def subset(self, mask: np.ndarray) -> TrainingData:
        return TrainingData(
            x=self.x[mask],
            y=self.y[mask],
            groups=None if self.groups is None else self.groups[mask],
            held_out=None if self.held_out is None else self.held_out[mask],
            image_ids=[i for i, keep in zip(self.image_ids, mask, strict=False) if keep] if self.image_ids else [],
            data_hash=self.data_hash,
            sources=self.sources,
            network=None if self.network is None else self.network[mask],
        )

    def inputs(self, hybrid: bool) -> np.ndarray:
        """What a model reads: raw face rows, or for the hybrid kind raw rows plus network rows."""
        if not hybrid:
            return self.x
        if self.network is None:
            raise TrainingDataError(
                "the face-api + landmarks model needs the network's outputs: load the data with network=True"
            )
        from core.faceapi.blend import hybrid_rows

        return hybrid_rows(self.x, self.network)


def snapshot_hash(items: Sequence[tuple[str, str]], extra: str = "") -> str:
    """Hash of the data a model saw: sorted (content sha, label) pairs plus anything else that changes it."""
    digest = hashlib.sha256(extra.encode())
    for sha, label in sorted(items):
        digest.update(f"{sha}:{label}\n".encode())
    return digest.hexdigest()[:16]


def training_statuses(requested: Sequence[str]) -> list[str]:
    """The statuses a training loader reads: the trainable ones by default; never an evaluation suite's images."""
    if STATUS_SUITE in requested:
        raise suite_refusal("the suite images asked for")
    return list(requested) or list(TRAINABLE_STATUSES)


def from_store(
    store: Store,
    filters: Filters | None = None,
    *,
    emotions: Sequence[str] = (),
    network: bool = False,
    progress: ProgressFn | None = None,
) -> TrainingData:
    """Labeled faces of the store that match `filters` (emotions, sources, statuses). Rows whose status is
    "test" form the held-out set; pool, queued and rejected images are never trained on unless asked for.
    `network=True` adds face-api's rows (cached on disk; faces whose image cannot be read are left out)."""
    filters = filters or Filters()
    statuses = training_statuses(filters.statuses)
    wanted = Filters(
        emotions=list(emotions or filters.emotions),
        sources=filters.sources,
        statuses=statuses,
        extraction_states=filters.extraction_states,
        labeled_only=True,
    )
    pairs = store.faces(wanted)
    net_rows = None
    if network:
        from core.faceapi.store_rows import network_rows

        net_rows, readable = network_rows(store, pairs, progress=progress)
        pairs = [p for p, keep in zip(pairs, readable, strict=True) if keep]
        net_rows = net_rows[readable]
    records = [r for r, _ in pairs]
    x = faces_to_matrix([f for _, f in pairs])
    y = np.asarray([r.emotion for r in records], dtype=object).astype(str) if records else np.zeros(0, dtype=str)
    # Group by person when the store knows identities; an image without a person is a group of its own (it may
    # share a person with another unknown one, which nothing can tell). No identities at all: plain stratified folds.
    groups = (
        np.asarray([r.person or f"image-{r.id}" for r in records], dtype=str)
        if any(r.person for r in records)
        else None
    )
    held_out = np.asarray([r.status == STATUS_TEST for r in records], dtype=bool)
    extraction_sha = {r.extraction.model_sha256 for r in records if r.extraction is not None}
    return TrainingData(
        x=x,
        y=y,
        groups=groups,
        held_out=held_out,
        image_ids=[r.id for r in records],
        data_hash=snapshot_hash([(r.sha256, str(r.emotion)) for r in records], ",".join(sorted(extraction_sha))),
        sources=sorted({r.source for r in records}),
        network=net_rows,
    )
