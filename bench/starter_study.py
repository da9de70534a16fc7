"""The starter's crop study and its selection across domains, on the cached arrays of `bench.starter_data`.

Scoring: macro-F1 over the network's seven emotions present in a domain's labels (ckplus-dev has no neutral:
six classes there; contempt faces are left out, as no candidate can predict contempt). Faces MediaPipe missed are
answered by the network on the whole image for every candidate (the learned part needs landmarks).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.preprocessing import StandardScaler

from bench.starter_data import DomainSet
from core.faceapi.framing import FRAMINGS, Framing
from core.faceapi.network import zero_shot_proba
from core.faceapi.selection import select_by_domains
from core.features import build_features

SEVEN = ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]
WHOLE = len(FRAMINGS)  # the index of the whole-image crop in the cached arrays
# Several crops voting (mean logits), by index into FRAMINGS.
MULTI_CROP: tuple[tuple[int, ...], ...] = ((1, 3), (1, 4), (0, 2, 4), (12, 4), (12, 2), (9, 11), (12, 7))


def framing_index(f: Framing) -> int:
    """The cache index of a framing (its flip is a separate axis)."""
    from dataclasses import replace

    return list(FRAMINGS).index(replace(f, flip=False))


def seven(ds: DomainSet) -> DomainSet:
    """The faces labeled with one of the network's seven emotions (contempt left out)."""
    keep, mkeep = np.isin(ds.labels, SEVEN), np.isin(ds.missed_labels, SEVEN)
    return DomainSet(
        ds.name,
        ds.raw[keep],
        ds.labels[keep],
        ds.groups[keep],
        ds.gray[keep],
        ds.side[keep],
        ds.logits[keep],
        ds.embedding[keep],
        ds.missed_labels[mkeep],
        ds.missed_groups[mkeep],
        ds.missed_logits[mkeep],
    )


def macro_f1(truth: np.ndarray, pred: np.ndarray) -> float:
    labels = [e for e in SEVEN if e in set(truth.tolist())]
    return float(f1_score(truth, pred, labels=labels, average="macro", zero_division=0))


def vote_logits(ds: DomainSet, ks: Sequence[int], flip: bool) -> np.ndarray:
    """(n, 7) network logits (face-api order): the mean over framings `ks` (and their mirrors when `flip`)."""
    lg = ds.logits[:, list(ks)]
    return np.asarray(lg.mean(axis=(1, 2)) if flip else lg[:, :, 0].mean(axis=1))


def missed_logits(ds: DomainSet, flip: bool) -> np.ndarray:
    lg = ds.missed_logits
    return np.asarray(lg.mean(axis=1) if flip else lg[:, 0])


def network_proba(logits: np.ndarray) -> np.ndarray:
    """The network's own probabilities (temperature 1: never flattened) in SEVEN order."""
    return zero_shot_proba(logits, SEVEN)


def score_with_missed(ds: DomainSet, proba_found: np.ndarray, flip: bool) -> float:
    """Macro-F1 over found faces (proba_found, SEVEN columns) and missed faces (the network on the whole image)."""
    pred = np.asarray(SEVEN)[np.argmax(proba_found, axis=1)]
    if len(ds.missed_labels):
        miss = np.asarray(SEVEN)[np.argmax(network_proba(missed_logits(ds, flip)), axis=1)]
        return macro_f1(np.concatenate([ds.labels, ds.missed_labels]), np.concatenate([pred, miss]))
    return macro_f1(ds.labels, pred)


# ---- 1. the crop study -----------------------------------------------------------------------------------------
def vote_name(ks: Sequence[int], flip: bool) -> str:
    names = ["whole image" if k == WHOLE else FRAMINGS[k].name for k in ks]
    return " & ".join(names) + (" + flip" if flip else "")


def crop_study(sets: Sequence[DomainSet]) -> list[dict[str, object]]:
    """The network alone on every framing and on a few multi-crop votes, with and without the mirror, per domain."""
    single = [(k,) for k in range(len(FRAMINGS) + 1)]
    rows: list[dict[str, object]] = []
    for ks in single + list(MULTI_CROP):
        for flip in (False, True):
            scores = {ds.name: score_with_missed(ds, network_proba(vote_logits(ds, ks, flip)), flip) for ds in sets}
            rows.append(
                {"framing": vote_name(ks, flip), "ks": ks, "flip": flip, **scores, "worst": min(scores.values())}
            )
    return rows


def best_vote(rows: list[dict[str, object]]) -> dict[str, object]:
    """The framing (or vote) with the best worst domain; the whole image is a fallback, never a framing."""
    usable = [r for r in rows if WHOLE not in r["ks"]]  # type: ignore[operator]
    return max(usable, key=lambda r: (r["worst"], -len(r["ks"]), not r["flip"]))  # type: ignore[arg-type,return-value]


def print_crop_study(rows: list[dict[str, object]], names: Sequence[str]) -> None:
    print("\n== crop study: face-api's network alone, macro-F1 per domain (missed faces: whole image)")
    print(f"{'framing':<34}" + "".join(f"{n:>12}" for n in names) + f"{'worst':>8}")
    for r in rows:
        print(f"{r['framing']!s:<34}" + "".join(f"{r[n]:>12.3f}" for n in names) + f"{r['worst']:>8.3f}")


# ---- 2. selection across domains ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Recipe:
    """A starter recipe: a logistic regression on landmark features (plus, optionally, the network's logits and
    embedding on the `learned` framing), mixed with the network's vote on the `vote` framing:
    `(1 - weight) * LR + weight * network`. weight 1.0 is the network alone, 0.0 the learned model alone."""

    C: float
    weight: float
    vote: tuple[int, ...]  # framing indices of the network's vote (mean logits)
    flip: bool  # the vote averages the mirror
    learned: int | None  # framing index of the network row among the LR's features; None: landmarks only

    @property
    def name(self) -> str:
        vote = vote_name(self.vote, self.flip)
        if self.weight == 1.0:
            return f"network alone ({vote})"
        feats = "landmarks" if self.learned is None else f"landmarks + net[{FRAMINGS[self.learned].name}]"
        return f"C={self.C:g} w={self.weight:g} LR({feats}) vote({vote})"


def landmark_features(sets: Sequence[DomainSet]) -> list[np.ndarray]:
    """Geometry + blendshape features of each set, computed once: the feature step's reference mesh is fitted on
    every face of the three sets without their labels (unsupervised), which saves a refit per split."""
    features = build_features(["geometry", "blendshapes"]).fit(np.vstack([ds.raw for ds in sets]))
    return [np.asarray(features.transform(ds.raw), np.float64) for ds in sets]


def learned_features(ds: DomainSet, landmarks: np.ndarray, learned: int | None) -> np.ndarray:
    if learned is None:
        return landmarks
    return np.hstack([landmarks, ds.logits[:, learned, 0], ds.embedding[:, learned].astype(np.float64)])


class LearnedLR:
    """Scaled features, a class-balanced logistic regression."""

    def __init__(self, C: float, seed: int = 0) -> None:
        self.C = C
        self.seed = seed

    def fit(self, x: np.ndarray, y: np.ndarray) -> LearnedLR:
        self.scaler_ = StandardScaler().fit(x)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.lr_ = LogisticRegression(C=self.C, class_weight="balanced", max_iter=3000, random_state=self.seed)
            self.lr_.fit(self.scaler_.transform(x), y)
        return self

    def proba(self, x: np.ndarray) -> np.ndarray:
        """Probabilities in SEVEN order (a class the training part lacked gets 0)."""
        p = self.lr_.predict_proba(self.scaler_.transform(x))
        out = np.zeros((len(x), len(SEVEN)))
        out[:, [SEVEN.index(str(c)) for c in self.lr_.classes_]] = p
        return out


@dataclass
class Splits:
    """Out-of-fold learned probabilities for one (C, learned framing): pooled person-grouped CV and LODO."""

    cv: dict[str, np.ndarray]  # domain -> (n, 7) out-of-fold LR probabilities
    lodo: dict[str, np.ndarray]  # held-out domain -> (n, 7) LR probabilities of the fit on the other two


def learned_splits(
    sets: Sequence[DomainSet], landmarks: Sequence[np.ndarray], C: float, learned: int | None, folds: int, seed: int
) -> Splits:
    xs = [learned_features(ds, lm, learned) for ds, lm in zip(sets, landmarks, strict=True)]
    x, y = np.vstack(xs), np.concatenate([ds.labels for ds in sets])
    groups = np.concatenate([ds.groups for ds in sets])
    owner = np.concatenate([[i] * len(ds.labels) for i, ds in enumerate(sets)])
    oof = np.zeros((len(y), len(SEVEN)))
    # Stratified by domain and emotion together, so that every fold holds each domain's persons.
    strata = np.asarray([f"{o}:{lab}" for o, lab in zip(owner, y, strict=True)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        splits = list(StratifiedGroupKFold(folds, shuffle=True, random_state=seed).split(x, strata, groups))
    for tr, te in splits:
        oof[te] = LearnedLR(C, seed).fit(x[tr], y[tr]).proba(x[te])
    cv = {ds.name: oof[owner == i] for i, ds in enumerate(sets)}
    lodo = {}
    for i, ds in enumerate(sets):
        tr = owner != i
        lodo[ds.name] = LearnedLR(C, seed).fit(x[tr], y[tr]).proba(xs[i])
    return Splits(cv, lodo)


def evaluate(sets: Sequence[DomainSet], splits: Splits, recipe: Recipe) -> tuple[dict[str, float], dict[str, float]]:
    """Per-domain macro-F1 of the recipe in (a) pooled person-grouped CV and (b) leave-one-domain-out."""
    out: list[dict[str, float]] = []
    for table in (splits.cv, splits.lodo):
        scores = {}
        for ds in sets:
            net = network_proba(vote_logits(ds, recipe.vote, recipe.flip))
            mixed = (1 - recipe.weight) * table[ds.name] + recipe.weight * net
            scores[ds.name] = score_with_missed(ds, mixed, recipe.flip)
        out.append(scores)
    return out[0], out[1]


def select(rows: list[dict[str, Any]], network: dict[str, float], margin: float = 0.02) -> dict[str, Any] | None:
    """The rule of `core.faceapi.selection.select_by_domains` on the candidates' rows."""
    flat = [{**r, "weight": r["recipe"].weight} for r in rows]
    chosen = select_by_domains(flat, network, margin)
    return None if chosen is None else rows[flat.index(chosen)]


# ---- 3. the previous starter's recipe, refitted on each split ---------------------------------------------------
PREVIOUS_C, PREVIOUS_WEIGHT, PREVIOUS_FRAMING = 0.03, 0.8, Framing(scale=1.3)


def previous_scores(sets: Sequence[DomainSet], folds: int, seed: int) -> tuple[dict[str, float], dict[str, float]]:
    """The previous starter's recipe (BlendedLogistic on landmarks + the 1.3 crop's network row, C=0.03, weight
    0.8, temperature fitted) on the same splits. It gives no answer where MediaPipe found no face: counted wrong."""
    from core.training.zoo import make_pipeline

    k = framing_index(PREVIOUS_FRAMING)
    xs = [np.hstack([ds.raw, ds.logits[:, k, 0], ds.embedding[:, k].astype(np.float32)]) for ds in sets]
    x, y = np.vstack(xs), np.concatenate([ds.labels for ds in sets])
    groups = np.concatenate([ds.groups for ds in sets])
    owner = np.concatenate([[i] * len(ds.labels) for i, ds in enumerate(sets)])
    strata = np.asarray([f"{o}:{lab}" for o, lab in zip(owner, y, strict=True)])

    def fit(tr: np.ndarray) -> object:
        pipe = make_pipeline("faceapi_blend", ["geometry", "blendshapes"], seed)
        pipe.set_params(clf__C=PREVIOUS_C, clf__weight=PREVIOUS_WEIGHT, clf__fit_temperature=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return pipe.fit(x[tr], y[tr])

    pred = np.empty(len(y), dtype=object)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        splits = list(StratifiedGroupKFold(folds, shuffle=True, random_state=seed).split(x, strata, groups))
    for tr, te in splits:
        pred[te] = fit(tr).predict(x[te])  # type: ignore[attr-defined]

    def with_missed(ds: DomainSet, p: np.ndarray) -> float:
        return macro_f1(
            np.concatenate([ds.labels, ds.missed_labels]),
            np.concatenate([p.astype(str), np.full(len(ds.missed_labels), "no face")]),
        )

    cv = {ds.name: with_missed(ds, pred[owner == i]) for i, ds in enumerate(sets)}
    lodo = {ds.name: with_missed(ds, np.asarray(fit(owner != i).predict(xs[i]))) for i, ds in enumerate(sets)}  # type: ignore[attr-defined]
    return cv, lodo


# ---- 4. the whole selection -----------------------------------------------------------------------------------
WEIGHTS = (0.0, 0.2, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
CS = (0.03,)


def run_selection(
    sets: Sequence[DomainSet], vote: Sequence[int], flip: bool, *, folds: int = 3, seed: int = 0, log: bool = True
) -> dict[str, object]:
    """Every candidate's per-domain scores in (a) and (b), the network alone, the previous recipe, the choice.
    `vote` and `flip`: the network's framing(s), from the crop study."""
    learned_options: list[int | None] = [None, framing_index(PREVIOUS_FRAMING)]
    rows: list[dict[str, object]] = []
    landmarks = landmark_features(sets)
    for c in CS:
        for learned in learned_options:
            splits = learned_splits(sets, landmarks, c, learned, folds, seed)
            for w in WEIGHTS:
                if w == 1.0 and (c != CS[0] or learned is not None):
                    continue  # the network alone does not depend on the LR
                recipe = Recipe(c, w, tuple(vote), flip, learned)
                cv, lodo = evaluate(sets, splits, recipe)
                rows.append({"recipe": recipe, "cv": cv, "lodo": lodo})
                if log:
                    print(
                        f"  {recipe.name:<72} cv worst {min(cv.values()):.3f}  lodo worst {min(lodo.values()):.3f}",
                        flush=True,
                    )
    network = next(r for r in rows if r["recipe"].weight == 1.0)  # type: ignore[attr-defined]
    chosen = select(rows, network["lodo"])  # type: ignore[arg-type]
    prev_cv, prev_lodo = previous_scores(sets, folds, seed)
    return {"rows": rows, "network": network, "chosen": chosen, "previous": {"cv": prev_cv, "lodo": prev_lodo}}
