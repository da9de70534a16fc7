"""Training benchmark on the shared labeled data (research use only; never committed).

Run: `python bench/train.py` (from the repository root). By default it prints (issue 18):
- `crops`: face-api's network alone on every candidate framing of `core.faceapi.framing` (scale, square or box
  aspect, padding, eye-line alignment, a downward shift, several crops voting, the mirror image), macro-F1 per
  domain: faces-dev (web), fer-yolo (web crops), ckplus-dev (posed lab, 48 px);
- `selection`: every starter candidate (weight of the network's vote from 0, the learned model alone, to 1, the
  network alone; landmark features with or without the network's row of the 1.3 crop) scored by (a) person-grouped
  CV over the pooled three sets, per domain, and (b) leave-one-domain-out; the rule picks the best worst domain of
  (a) among the candidates not more than 0.02 below the network alone on any domain of (b). Then both tables
  (previous starter's recipe, network alone, new starter) and `ratio worst-domain starter/network` (b);
- `quick`: the wall time of the Train page's quick preset (random forest, SVM, MLP, the blend) on faces-dev.
`--save-starter` fits the chosen recipe on all three sets and writes `models/starter/` with the tables in its card.
`--only faces-dev fer-yolo cross` run the older landmark-model grids (long).

Landmarks and face-api outputs on every framing are extracted once into a cache outside git (`--cache`, default
/tmp/landmark_cache); the study then runs on cached arrays (about a minute).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sklearn.metrics import accuracy_score, f1_score  # noqa: E402
from sklearn.model_selection import StratifiedGroupKFold  # noqa: E402
from sklearn.utils.class_weight import compute_sample_weight  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from core.faceapi.network import CROP_SCALE, OUTPUT_WIDTH, shared_network  # noqa: E402
from core.features.raw import arrays_to_matrix  # noqa: E402
from core.imaging import crop_box, decode_rgb  # noqa: E402
from core.labels import normalize_label  # noqa: E402
from core.landmarks.extractor import LandmarkExtractor  # noqa: E402
from core.schema import EMOTIONS, NUM_BLENDSHAPES, NUM_LANDMARKS  # noqa: E402
from core.settings import get_settings  # noqa: E402
from core.training.compare import compare_models  # noqa: E402
from core.training.data import TrainingData  # noqa: E402
from core.training.zoo import make_pipeline  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
BOX_PAD = 0.15


@dataclass
class Cached:
    """Extracted faces of one dataset: arrays aligned row by row."""

    landmarks: np.ndarray  # (n, 478, 3)
    blendshapes: np.ndarray  # (n, 52)
    transforms: np.ndarray  # (n, 4, 4)
    labels: np.ndarray  # (n,) str
    groups: np.ndarray  # (n,) str: person (faces-dev) or original photo (fer-yolo)
    split: np.ndarray  # (n,) str: train / valid
    network: np.ndarray  # (n, 263) face-api logits + embedding of the face's crop
    missed_labels: np.ndarray  # (m,) str: labels of the images/boxes where MediaPipe found no face
    missed_split: np.ndarray  # (m,) str
    attempted: int = 0

    FIELDS = ("landmarks", "blendshapes", "transforms", "labels", "groups", "split", "network")

    @classmethod
    def load(cls, path: Path) -> Cached:
        z = np.load(path, allow_pickle=False)
        return cls(
            *(z[k] for k in cls.FIELDS),
            missed_labels=z["missed_labels"],
            missed_split=z["missed_split"],
            attempted=int(z["attempted"]),
        )

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez_compressed(
            tmp,
            landmarks=self.landmarks,
            blendshapes=self.blendshapes,
            transforms=self.transforms,
            labels=self.labels,
            groups=self.groups,
            split=self.split,
            network=self.network,
            missed_labels=self.missed_labels,
            missed_split=self.missed_split,
            attempted=self.attempted,
        )
        tmp.replace(path)

    def subset(self, mask: np.ndarray) -> Cached:
        return Cached(
            self.landmarks[mask],
            self.blendshapes[mask],
            self.transforms[mask],
            self.labels[mask],
            self.groups[mask],
            self.split[mask],
            self.network[mask],
            self.missed_labels[:0],
            self.missed_split[:0],
            int(mask.sum()),
        )


def _collect(rows: list[tuple[np.ndarray, str, str, str]], extractor: LandmarkExtractor, what: str) -> Cached:
    lms, bss, tfs, labels, groups, splits, nets, missed, missed_split = [], [], [], [], [], [], [], [], []
    network = shared_network()
    t0 = time.perf_counter()
    for i, (rgb, label, group, split) in enumerate(rows):
        out = extractor.extract(rgb)
        if out.face is not None:
            lms.append(out.face.landmarks)
            bss.append(out.face.blendshapes)
            tfs.append(out.face.transform)
            nets.append(network.face_rows(rgb, [out.face])[0])
            labels.append(label)
            groups.append(group)
            splits.append(split)
        else:
            missed.append(label)
            missed_split.append(split)
        if (i + 1) % 500 == 0:
            print(f"  {what}: {i + 1}/{len(rows)} ({time.perf_counter() - t0:.0f} s)", flush=True)
    empty = np.zeros((0,), dtype=str)
    return Cached(
        np.asarray(lms, dtype=np.float32).reshape(-1, NUM_LANDMARKS, 3),
        np.asarray(bss, dtype=np.float32).reshape(-1, NUM_BLENDSHAPES),
        np.asarray(tfs, dtype=np.float32).reshape(-1, 4, 4),
        np.asarray(labels, dtype=str) if labels else empty,
        np.asarray(groups, dtype=str) if groups else empty,
        np.asarray(splits, dtype=str) if splits else empty,
        np.asarray(nets, dtype=np.float32).reshape(-1, OUTPUT_WIDTH),
        np.asarray(missed, dtype=str) if missed else empty,
        np.asarray(missed_split, dtype=str) if missed_split else empty,
        attempted=len(rows),
    )


def faces_dev_rows(root: Path) -> list[tuple[np.ndarray, str, str, str]]:
    rows = []
    with (root / "manifest.csv").open(newline="") as fh:
        for rec in csv.DictReader(fh):
            try:
                rgb = decode_rgb((root / rec["path"]).read_bytes())
                rows.append((rgb, normalize_label(rec["label"]), rec["person"], "train"))
            except (OSError, ValueError) as exc:
                print(f"  skipped {rec['path']}: {exc}")
    return rows


def fer_yolo_rows(root: Path) -> list[tuple[np.ndarray, str, str, str]]:
    """One row per labeled box: the padded crop. Roboflow names augmented copies `<original>.rf.<hash>`, so the
    original's name groups them."""
    rows = []
    for split in ("train", "valid"):
        for img_path in sorted((root / split / "images").iterdir()):
            label_path = root / split / "labels" / (img_path.stem + ".txt")
            if not label_path.is_file():
                continue
            try:
                rgb = decode_rgb(img_path.read_bytes())
            except (OSError, ValueError) as exc:
                print(f"  skipped {img_path.name}: {exc}")
                continue
            group = img_path.name.split(".rf.")[0]
            for line in label_path.read_text().splitlines():
                parts = line.split()
                if len(parts) != 5:
                    continue
                cls = int(parts[0])
                cx, cy, w, h = (float(v) for v in parts[1:])
                box = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
                rows.append((crop_box(rgb, box, pad=BOX_PAD), EMOTIONS[cls], group, split))
    return rows


def load_cache(cache: Path, name: str) -> Cached:
    # v2: with face-api outputs (of crops at CROP_SCALE) and the labels of missed faces
    path = cache / f"{name}-v2-crop{CROP_SCALE:g}.npz"
    if path.is_file():
        return Cached.load(path)
    print(f"extracting landmarks of {name} into {path} (once) ...", flush=True)
    rows = faces_dev_rows(DATA / "faces-dev") if name == "faces-dev" else fer_yolo_rows(DATA / "fer-yolo")
    with LandmarkExtractor(get_settings(), mode="image") as extractor:
        cached = _collect(rows, extractor, name)
    cached.save(path)
    print(f"  {name}: {len(cached.labels)} faces of {cached.attempted} images/boxes", flush=True)
    return cached


FEATURE_CHOICES: list[list[str]] = [
    ["blendshapes"],
    ["geometry"],
    ["geometry", "blendshapes"],
    ["landmarks", "geometry", "blendshapes"],
]
MODELS = ["random_forest", "svm", "mlp"]
FLOOR = ("logistic_regression", ["blendshapes"])
SEVEN = list(EMOTIONS[:7])


def to_data(c: Cached, groups: bool = True) -> TrainingData:
    x = arrays_to_matrix(c.landmarks, c.blendshapes, c.transforms)
    return TrainingData(x=x, y=c.labels, groups=c.groups if groups else None, data_hash="bench")


def scores(truth: np.ndarray, pred: np.ndarray) -> tuple[float, float]:
    return float(accuracy_score(truth, pred)), float(f1_score(truth, pred, average="macro"))


def fit_predict(name: str, features: list[str], train: TrainingData, test_x: np.ndarray, seed: int) -> np.ndarray:
    pipe = make_pipeline(name, features, seed)
    kw = {"clf__sample_weight": compute_sample_weight("balanced", train.y)} if name == "mlp" else {}
    pipe.fit(train.x, train.y, **kw)
    return np.asarray(pipe.predict(test_x))


def grouped_cv(name: str, features: list[str], data: TrainingData, folds: int, seed: int) -> tuple[float, float]:
    """Pooled out-of-fold predictions over person-grouped folds."""
    pred = np.empty(len(data), dtype=object)
    splitter = StratifiedGroupKFold(folds, shuffle=True, random_state=seed)
    for tr, te in splitter.split(data.x, data.y, data.groups):
        pred[te] = fit_predict(name, features, data.subset(_mask(len(data), tr)), data.x[te], seed)
    return scores(data.y, pred.astype(str))


def _mask(n: int, idx: np.ndarray) -> np.ndarray:
    m = np.zeros(n, dtype=bool)
    m[idx] = True
    return m


def line(what: str, name: str, features: list[str], acc: float, f1: float, floor_f1: float, secs: float) -> None:
    ratio = f1 / floor_f1 if floor_f1 else float("nan")
    print(
        f"{what:<22} {name:<20} {'+'.join(features):<32} acc {acc:.3f}  macro-F1 {f1:.3f}  "
        f"x{ratio:.2f} of floor  ({secs:.1f} s)",
        flush=True,
    )


def bench_grid(title: str, evaluate: Callable[[str, list[str]], tuple[float, float]], combos: list) -> None:
    print(f"\n== {title}")
    t0 = time.perf_counter()
    floor = evaluate(FLOOR[0], FLOOR[1])
    line("floor", FLOOR[0], FLOOR[1], *floor, floor[1], time.perf_counter() - t0)
    for features in combos:
        for name in MODELS:
            t0 = time.perf_counter()
            acc, f1 = evaluate(name, features)
            line("", name, features, acc, f1, floor[1], time.perf_counter() - t0)


def quick_preset_time(cache: Path, jobs: int, seed: int) -> None:
    """Wall time of the Train page's quick preset (random forest, SVM, MLP and the blend) on faces-dev's faces, with
    the network rows already cached (as the store caches them), next to one plain fit of the floor model."""
    from bench.starter_data import load
    from bench.starter_study import framing_index
    from core.faceapi.framing import STORE_FRAMING

    ds = load(cache, "faces-dev", DATA)
    k = framing_index(STORE_FRAMING)
    network = np.hstack([ds.logits[:, k, 0], ds.embedding[:, k].astype(np.float32)])
    data = TrainingData(x=ds.raw, y=ds.labels, groups=ds.groups, data_hash="bench", network=network)
    t0 = time.perf_counter()
    fit_predict(FLOOR[0], FLOOR[1], data, data.x[:1], seed)
    floor_s = time.perf_counter() - t0
    load_before = os.getloadavg()[0]
    t0, c0 = time.perf_counter(), time.process_time()
    result = compare_models(data, models=QUICK_MODELS, preset_name="quick", n_jobs=jobs, seed=seed)
    quick_s, cpu_s = time.perf_counter() - t0, time.process_time() - c0
    print(
        f"\n== quick preset ({', '.join(QUICK_MODELS)}; {'+'.join(result.feature_sets)}; faces-dev, {len(data)} faces)"
    )
    print(
        f"quick preset wall time: {quick_s:.1f} s   plain logistic regression fit {floor_s:.2f} s   "
        f"ratio x{quick_s / floor_s:.0f}   goal < 60 s: {'met' if quick_s < 60 else 'NOT met'}\n"
        f"CPU time of this process {cpu_s:.1f} s ({jobs} job{'s' if jobs > 1 else ''}); load average "
        f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after, on {os.cpu_count()} cores (a shared machine)"
    )
    for r in result.reports:
        print(
            f"  {r.name:<14} cv {r.cv_mean:.3f}±{r.cv_std:.3f}  held-out macro-F1 {r.macro_f1:.3f}  "
            f"fit {r.fit_time_s:.1f} s  {r.best_params}"
        )


QUICK_MODELS = ["random_forest", "svm", "mlp", "faceapi_blend"]


NOT_PREDICTED = {"contempt": "face-api's network has no contempt class, and the training data holds few contempt faces"}


# ---- the starter across domains (issue 18): crop study, selection, tables ------------------------------------
def domain_sets(cache: Path) -> list:
    from bench.starter_data import DATASETS, load
    from bench.starter_study import seven

    return [seven(load(cache, name, DATA)) for name in DATASETS]


def print_domain_tables(result: dict, names: list[str]) -> list[dict[str, object]]:
    """The two tables (per-domain pooled CV, leave-one-domain-out) of the previous starter, the network alone and
    the new starter, and the worst-domain ratio; returns the rows for the card."""
    chosen, network, previous = result["chosen"], result["network"], result["previous"]
    rows: list[dict[str, object]] = []
    for table, title in (("cv", "per_domain_cv"), ("lodo", "leave_one_domain_out")):
        what = (
            "person-grouped 3-fold CV over the pooled three sets, scored per domain"
            if table == "cv"
            else "trained on the other two sets, tested on this one"
        )
        print(f"\n== {title}: macro-F1 ({what})")
        print(f"{'domain':<12}{'previous starter':>18}{'network alone':>15}{'new starter':>13}")
        for name in names:
            trio = (previous[table][name], network[table][name], chosen[table][name])
            print(f"{name:<12}" + "".join(f"{v:>{w}.3f}" for v, w in zip(trio, (18, 15, 13), strict=True)))
            for model, value in zip(("previous starter", "network alone", "new starter"), trio, strict=True):
                rows.append({"table": title, "domain": name, "model": model, "macro_f1": round(value, 4)})
        worst = [min(t[table].values()) for t in (previous, network, chosen)]
        print(f"{'worst':<12}" + "".join(f"{v:>{w}.3f}" for v, w in zip(worst, (18, 15, 13), strict=True)))
    ratio = min(chosen["lodo"].values()) / min(network["lodo"].values())
    print(f"ratio worst-domain starter/network: {ratio:.2f}")
    return rows


def run_domain_study(cache: Path, seed: int, parts: set[str]) -> dict | None:
    from bench.starter_study import best_vote, crop_study, print_crop_study, run_selection

    sets = domain_sets(cache)
    names = [ds.name for ds in sets]
    print(
        "domains: "
        + "; ".join(f"{ds.name} ({ds.domain}) {len(ds.labels)} faces, {len(ds.missed_labels)} missed" for ds in sets)
        + " (7 emotions; contempt left out)"
    )
    rows = crop_study(sets)
    vote = best_vote(rows)
    if "crops" in parts:
        print_crop_study(rows, names)
        print(f"best worst-domain framing: {vote['framing']} ({vote['worst']:.3f})")
    if "selection" not in parts:
        return None
    t0 = time.perf_counter()
    print(f"\n== selection (network vote: {vote['framing']}; temperature 1)", flush=True)
    result = run_selection(sets, vote["ks"], bool(vote["flip"]), seed=seed)
    chosen = result["chosen"]
    print(f"chosen: {chosen['recipe'].name} ({time.perf_counter() - t0:.0f} s)")
    result["table_rows"] = print_domain_tables(result, names)
    result["vote"] = vote
    return result


NEW_STARTER_NOTE = (
    "Research use only. MediaPipe landmark geometry and blendshapes with face-api's pretrained expression network "
    "(@vladmandic/face-api 1.7.15, MIT; see models/faceapi/): a logistic regression on the landmark features and the "
    "network's logits and embedding of a 1.3x square crop, mixed with the network's own probabilities (temperature "
    "1) on its best framing (the landmark box x1.2, stretched to a square, averaged with its mirror image). Fitted on "
    "faces-dev (muxspace/facial_expressions: LFW, film stills, stock photos, crowd-labelled), fer-yolo (Roboflow "
    "'Facial Emotion Dataset' v3 face boxes, without its JAFFE images) and ckplus-dev (half of the CK+48 subjects, "
    "posed lab photos). The images are not shipped. It predicts 7 of the 8 emotions: NOT contempt. The framing, the "
    "weight and the features were chosen by the rule of issue 18: the best worst domain of person-grouped CV over "
    "the pooled three sets, among candidates not more than 0.02 below the network alone on any leave-one-domain-out "
    "domain (metrics.per_domain_cv, metrics.leave_one_domain_out, metrics.selection). When MediaPipe finds no face, "
    "the network alone answers for the whole image."
)


def save_domain_starter(cache: Path, result: dict, seed: int) -> None:
    """Fit the chosen recipe on all faces of the three dev sets and write models/starter/ (kind hybrid, a
    VoteBlend) with both tables, the crop study and every candidate's scores in its card."""
    import shutil

    from sklearn.pipeline import Pipeline

    from bench.starter_study import (
        SEVEN,
        crop_study,
        framing_index,
        landmark_features,
        learned_splits,
        missed_logits,
        network_proba,
        vote_logits,
    )
    from core.faceapi.blend import VoteBlend, vote_rows
    from core.faceapi.framing import NETWORK_FRAMING, STORE_FRAMING
    from core.models.registry import STARTER_ID, Registry
    from core.training.data import snapshot_hash
    from core.training.landmark_artifact import save_model
    from core.training.report import ModelReport, classification_metrics

    recipe = result["chosen"]["recipe"]
    expected = tuple(framing_index(f) for f in (NETWORK_FRAMING,))
    if (recipe.vote, recipe.flip) != (expected, NETWORK_FRAMING.flip):
        raise SystemExit(
            f"the study chose the vote {recipe.vote} (flip {recipe.flip}), but core.faceapi.framing.NETWORK_FRAMING "
            f"is {NETWORK_FRAMING.name}: update NETWORK_FRAMING first"
        )
    if recipe.learned not in (None, framing_index(STORE_FRAMING)):
        raise SystemExit("the chosen learned crop is not STORE_FRAMING: update STORE_FRAMING first")
    sets = domain_sets(cache)
    learned = recipe.learned is not None
    k = framing_index(STORE_FRAMING)
    x = np.vstack(
        [
            vote_rows(
                ds.raw,
                np.hstack([ds.logits[:, k, 0], ds.embedding[:, k].astype(np.float32)]) if learned else None,
                vote_logits(ds, recipe.vote, recipe.flip),
            )
            for ds in sets
        ]
    )
    y = np.concatenate([ds.labels for ds in sets])
    t0 = time.perf_counter()
    pipe = Pipeline(
        [("clf", VoteBlend(C=recipe.C, weight=recipe.weight, learned_network=learned, random_state=seed))]
    ).fit(x, y)
    fit_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    for _ in range(20):
        pipe.predict_proba(x[:1])
    latency = (time.perf_counter() - t1) / 20 * 1000
    chosen = result["chosen"]
    cv_scores = list(chosen["cv"].values())
    classes = [e for e in SEVEN if e in set(y.tolist())]
    # The pooled out-of-fold answers of the chosen recipe (missed faces: the network on the whole image).
    splits = learned_splits(sets, landmark_features(sets), recipe.C, recipe.learned, 3, seed)
    truth, answers = [], []
    for ds in sets:
        mixed = (1 - recipe.weight) * splits.cv[ds.name] + recipe.weight * network_proba(
            vote_logits(ds, recipe.vote, recipe.flip)
        )
        missed = network_proba(missed_logits(ds, recipe.flip))
        truth += [*ds.labels, *ds.missed_labels]
        answers += [SEVEN[i] for i in np.argmax(np.vstack([mixed, missed]), axis=1)]
    oof = classification_metrics(np.asarray(truth), np.asarray(answers), classes)
    report = ModelReport(
        name="faceapi_vote",
        feature_sets=["geometry", "blendshapes"],
        cv_mean=float(np.mean(cv_scores)),
        cv_std=float(np.std(cv_scores)),
        accuracy=oof["accuracy"],
        macro_f1=float(min(cv_scores)),
        labels=classes,
        confusion_matrix=oof["confusion_matrix"],
        per_class=oof["per_class"],
        best_params={"clf__C": recipe.C, "clf__weight": recipe.weight, "clf__learned_network": learned},
        fit_time_s=fit_s,
        predict_ms_per_sample=latency,
        n_train=len(y),
        n_test=0,
        cv="person-grouped 3-fold CV over the pooled three dev sets (macro_f1 = its worst domain; cv_mean / cv_std "
        "over the domains) and leave-one-domain-out; no held-out set: the starter is fitted on all the data",
    )
    rows = result["table_rows"]
    tables = {
        t: [{k2: v for k2, v in r.items() if k2 != "table"} for r in rows if r["table"] == t]
        for t in ("per_domain_cv", "leave_one_domain_out")
    }
    registry = Registry(ROOT / "models")
    shutil.rmtree(registry.folder(STARTER_ID), ignore_errors=True)
    digest = hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest()
    data_hash = snapshot_hash([(f"{i:06d}", str(label)) for i, label in enumerate(y)], digest)
    card = save_model(
        registry,
        pipe,
        report,
        classes=classes,
        data_hash=data_hash,
        data_sources=[
            "faces-dev (muxspace/facial_expressions)",
            "fer-yolo (Roboflow Facial Emotion Dataset v3, without its JAFFE images)",
            "ckplus-dev (CK+48 of WuJie1010/Facial-Expression-Recognition.Pytorch, half of the subjects)",
        ],
        model_id=STARTER_ID,
        notes=NEW_STARTER_NOTE,
        extra_metrics={
            "research_use_only": True,
            "not_predicted": NOT_PREDICTED,
            **tables,
            "worst_domain": {
                t: {
                    m: min(r["macro_f1"] for r in tables[t] if r["model"] == m) for m in {r["model"] for r in tables[t]}
                }
                for t in tables
            },
            "selection": {
                "rule": "best worst domain of per_domain_cv among candidates not more than 0.02 below the network "
                "alone on any leave_one_domain_out domain",
                "chosen": recipe.name,
                "candidates": [
                    {"recipe": r["recipe"].name, "per_domain_cv": r["cv"], "leave_one_domain_out": r["lodo"]}
                    for r in result["rows"]
                ],
            },
            "crop_study": [
                {"framing": r["framing"], **{ds.name: round(float(r[ds.name]), 4) for ds in sets}}
                for r in crop_study(sets)
            ],
            "framing": {"vote": NETWORK_FRAMING.name, "learned": STORE_FRAMING.name if learned else None},
            "network": {"file": "models/faceapi/face_expression.onnx", "sha256": get_settings().faceapi_model_sha256},
            "faces": {ds.name: len(ds.labels) for ds in sets},
        },
    )
    size = (registry.folder(STARTER_ID) / card.artifact).stat().st_size
    print(f"wrote {registry.folder(STARTER_ID)} ({size / 1e6:.2f} MB): {recipe.name}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/landmark_cache"))
    parser.add_argument("--extract-only", action="store_true")
    parser.add_argument(
        "--only",
        choices=["crops", "selection", "quick", "faces-dev", "fer-yolo", "cross"],
        nargs="+",
        default=None,
        help="default: crops, selection, quick (the landmark grids of the older sections take long)",
    )
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=1, help="parallel CV fits of the quick comparison")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save-starter", action="store_true", help="retrain and write models/starter/")
    args = parser.parse_args(argv)
    if not DATA.is_dir():
        print(f"{DATA} is absent; nothing to benchmark")
        return 0
    threadpool_limits(1)  # parallelism comes from --jobs only
    if args.extract_only:
        domain_sets(args.cache)
        return 0
    only = set(args.only or ["crops", "selection", "quick"])
    if args.save_starter or only & {"crops", "selection"}:
        result = run_domain_study(args.cache, args.seed, only | ({"selection"} if args.save_starter else set()))
        if args.save_starter and result is not None:
            save_domain_starter(args.cache, result, args.seed)
    if "quick" in only:
        quick_preset_time(args.cache, args.jobs, args.seed)
    if not only & {"faces-dev", "fer-yolo", "cross"}:
        return 0
    dev_c, fer_c = load_cache(args.cache, "faces-dev"), load_cache(args.cache, "fer-yolo")
    dev = to_data(dev_c)
    fer_train = to_data(fer_c.subset(fer_c.split == "train"))
    fer_valid = to_data(fer_c.subset(fer_c.split == "valid"))
    print(
        f"faces-dev: {len(dev)} faces of {dev_c.attempted} images, {len(np.unique(dev.groups))} persons; "
        f"fer-yolo: {len(fer_train)} train / {len(fer_valid)} valid faces of {fer_c.attempted} boxes"
    )
    if "faces-dev" in only:
        bench_grid(
            f"faces-dev, person-grouped {args.folds}-fold CV",
            lambda m, f: grouped_cv(m, f, dev, args.folds, args.seed),
            FEATURE_CHOICES,
        )
    if "fer-yolo" in only:
        bench_grid(
            "fer-yolo boxes, train -> valid",
            lambda m, f: scores(fer_valid.y, fit_predict(m, f, fer_train, fer_valid.x, args.seed)),
            FEATURE_CHOICES,
        )
    if "cross" in only:
        dev7 = dev.subset(np.isin(dev.y, SEVEN))
        bench_grid(
            "cross-dataset: faces-dev -> fer-yolo valid",
            lambda m, f: scores(fer_valid.y, fit_predict(m, f, dev7, fer_valid.x, args.seed)),
            [["geometry", "blendshapes"]],
        )
        bench_grid(
            "cross-dataset: fer-yolo train -> faces-dev",
            lambda m, f: scores(dev7.y, fit_predict(m, f, fer_train, dev7.x, args.seed)),
            [["geometry", "blendshapes"]],
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
