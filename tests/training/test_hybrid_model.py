"""The hybrid model kind (face-api network + landmark features, blended with the network's zero-shot answer)."""

from __future__ import annotations

import numpy as np
import pytest

from core.active_learning.review_queue import build_queue
from core.active_learning.scoring_model import load_scoring_model
from core.faceapi.blend import BlendedLogistic, HybridFeatures, hybrid_rows
from core.faceapi.network import NETWORK_EMOTIONS, OUTPUT_WIDTH
from core.features.raw import RAW_WIDTH
from core.imaging import decode_rgb, encode_png
from core.inference import Recognizer
from core.landmarks.extractor import LandmarkExtractor
from core.models.registry import Registry
from core.records import FaceData
from core.schema import NUM_BLENDSHAPES
from core.settings import Settings
from core.store import Store
from core.training.compare import compare_models
from core.training.data import TrainingData, from_store
from core.training.landmark_artifact import save_report
from tests.training.conftest import fill_store

CLASSES = ("angry", "happy", "sad", "surprise")
BLENDSHAPE_START = 478 * 3


def leaky_rows(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hybrid rows of 16 persons, each photographed 8 times with one expression. The landmark part and the
    embedding carry who the person is (nearly the same for all 8 photos) and nothing about the expression; the
    network's logits carry the expression, with noise. A split that puts one person on both sides lets the
    classifier recognise the person and so the label; a person-grouped split cannot."""
    rng = np.random.default_rng(seed)
    persons, per_person = 16, 8
    raw, net, y, groups = [], [], [], []
    for p in range(persons):
        label = CLASSES[p % len(CLASSES)]
        identity = rng.normal(0, 1, NUM_BLENDSHAPES + 256)
        for _ in range(per_person):
            row = np.zeros(RAW_WIDTH, np.float32)
            row[BLENDSHAPE_START : BLENDSHAPE_START + NUM_BLENDSHAPES] = identity[:NUM_BLENDSHAPES] + rng.normal(
                0, 0.05, NUM_BLENDSHAPES
            )
            logits = rng.normal(0, 1.0, len(NETWORK_EMOTIONS))
            logits[NETWORK_EMOTIONS.index(label)] += 1.5
            embedding = identity[NUM_BLENDSHAPES:] + rng.normal(0, 0.05, 256)
            raw.append(row)
            net.append(np.concatenate([logits, embedding]))
            y.append(label)
            groups.append(f"person-{p}")
    return hybrid_rows(np.asarray(raw), np.asarray(net)), np.asarray(y), np.asarray(groups)


GRID = {"clf__C": [0.01, 10.0], "clf__weight": [0.0, 0.5, 1.0]}


def test_blend_weight_and_c_are_chosen_inside_person_grouped_cv() -> None:
    x, y, groups = leaky_rows()
    data = TrainingData(x=x[:, :RAW_WIDTH], y=y, groups=groups, data_hash="t", network=x[:, RAW_WIDTH:])
    kwargs = {"models": ["faceapi_blend"], "feature_sets": ["blendshapes"], "grids": {"faceapi_blend": GRID}}
    grouped = compare_models(data, folds=4, **kwargs).reports[0]  # type: ignore[arg-type]
    assert "by person" in grouped.cv
    assert set(grouped.best_params) == {"clf__C", "clf__weight"}
    # Across persons only the network's answer generalises: the search leans on it.
    assert grouped.best_params["clf__weight"] >= 0.5
    leaky = compare_models(
        TrainingData(x=data.x, y=y, groups=None, data_hash="t", network=data.network),
        folds=4,
        **kwargs,  # type: ignore[arg-type]
    ).reports[0]
    # With persons on both sides of each split the classifier "recognises" them and the search trusts it instead.
    assert leaky.best_params["clf__weight"] < grouped.best_params["clf__weight"]
    assert leaky.cv_mean > grouped.cv_mean


def test_the_domain_rule_keeps_the_network_in_sight_and_takes_the_best_worst_domain() -> None:
    from core.faceapi.selection import select_by_domains

    network = {"web": 0.50, "lab": 0.80}
    rows = [
        {"name": "network", "weight": 1.0, "cv": {"web": 0.50, "lab": 0.80}, "lodo": network},
        {"name": "blend", "weight": 0.6, "cv": {"web": 0.55, "lab": 0.82}, "lodo": {"web": 0.49, "lab": 0.81}},
        # Best in-domain, but 0.05 below the network on a domain it never saw: ruled out.
        {"name": "learned", "weight": 0.0, "cv": {"web": 0.70, "lab": 0.90}, "lodo": {"web": 0.45, "lab": 0.85}},
    ]
    assert select_by_domains(rows, network)["name"] == "blend"
    assert select_by_domains(rows[:1], network)["name"] == "network"
    assert select_by_domains(rows[2:], network) is None


def test_the_blend_is_a_probability_mix_and_contempt_comes_only_from_the_landmark_part() -> None:
    x, y, _ = leaky_rows(seed=2)
    y = y.copy()
    y[:8] = "contempt"  # a class face-api does not know
    features = HybridFeatures(["blendshapes"]).fit(x, y)
    fx = features.transform(x)
    pure_net = BlendedLogistic(C=1.0, weight=1.0).fit(fx, y)
    mixed = BlendedLogistic(C=1.0, weight=0.5).fit(fx, y)
    p = mixed.predict_proba(fx)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-9)
    # The direct arithmetic used at prediction time is the logistic regression's own answer.
    np.testing.assert_allclose(mixed.learned_proba(fx), mixed.lr_.predict_proba(mixed.scaler_.transform(fx)))
    contempt = list(mixed.classes_).index("contempt")
    assert np.all(pure_net.predict_proba(fx)[:, contempt] == 0.0)
    assert p[:8, contempt].mean() > 0.0
    with pytest.raises(ValueError, match="hybrid rows have width"):
        features.transform(x[:, :RAW_WIDTH])


def test_trained_on_the_store_saved_loaded_and_recognising_through_the_registry(
    settings: Settings,
    store: Store,
    variant_faces: list[tuple[bytes, FaceData, str]],
    astronaut_rgb: np.ndarray,
) -> None:
    ids = fill_store(store, variant_faces)
    # One image file goes missing: its face is left out, the rest trains.
    [(record, _)] = [(r, f) for r, f in store.faces() if r.id == ids[0]]
    store.absolute_path(record).unlink()
    data = from_store(store, network=True)
    assert data.network is not None and data.network.shape == (len(ids) - 1, OUTPUT_WIDTH)
    assert ids[0] not in data.image_ids
    cache = settings.data_root / "cache" / "faceapi"
    assert len(list(cache.rglob("*.npy"))) == len(ids) - 1
    again = from_store(store, network=True)  # from the cache, the same rows
    np.testing.assert_array_equal(again.network, data.network)

    registry = Registry(settings.models_dir)
    result = compare_models(
        data, models=["faceapi_blend"], folds=2, grids={"faceapi_blend": {"clf__C": [0.1], "clf__weight": [0.5]}}
    )
    card = save_report(registry, result, result.reports[0])
    assert card.kind == "hybrid" and card.params["network_sha256"] == settings.faceapi_model_sha256
    model = registry.load(card.id)
    with LandmarkExtractor(settings, mode="image") as extractor:
        [face] = Recognizer(model, extractor).predict(astronaut_rgb)
    assert face.emotion in card.classes and set(face.probabilities) == set(card.classes)
    assert abs(sum(face.probabilities.values()) - 1.0) < 1e-6

    # The hybrid model scores the active-learning pool too (the starter is one): network rows from the images.
    for i, (png, face_data, _) in enumerate(variant_faces[:4]):
        flipped = encode_png(np.ascontiguousarray(decode_rgb(png)[:, ::-1]))
        image_id = store.add_image(flipped, original_name=f"pool{i}.png", status="pool").image_id
        store.save_extractions([(image_id, "ok", "", 1, face_data)])
    chosen, scorer = load_scoring_model(registry, card.id)
    report = build_queue(store, scorer, model_id=chosen, k=2, min_distance=0.0)
    assert report.scored == 4 and report.queued == 2


def test_the_starter_recipe_votes_with_the_networks_own_probabilities() -> None:
    """VoteBlend: weight 1 is the network alone at temperature 1 (never flattened), weight 0 the learned model
    alone; the vote's logits are separate columns from the stored crop's row, which only the LR reads."""
    from core.faceapi.blend import VoteBlend, vote_rows
    from core.faceapi.network import zero_shot_proba

    x, y, _ = leaky_rows(seed=3)
    raw, net = x[:, :RAW_WIDTH], x[:, RAW_WIDTH:]
    vote = np.random.default_rng(4).normal(0, 2, (len(y), len(NETWORK_EMOTIONS)))  # another framing's logits
    rows = vote_rows(raw, net, vote)
    network = VoteBlend(C=1.0, weight=1.0, feature_sets=["blendshapes"]).fit(rows, y)
    expected = zero_shot_proba(vote.astype(np.float32), list(network.classes_))  # rows are float32
    np.testing.assert_allclose(network.predict_proba(rows), expected, atol=1e-9)
    learned = VoteBlend(C=1.0, weight=0.0, feature_sets=["blendshapes"]).fit(rows, y)
    z = learned.scaler_.transform(learned._learned_inputs(rows))
    np.testing.assert_allclose(learned.predict_proba(rows), learned.lr_.predict_proba(z), atol=1e-9)
    assert learned.lr_.n_features_in_ == NUM_BLENDSHAPES + OUTPUT_WIDTH  # the vote is not among its inputs
    mixed = VoteBlend(C=1.0, weight=0.5, feature_sets=["blendshapes"]).fit(rows, y)
    np.testing.assert_allclose(
        mixed.predict_proba(rows), 0.5 * learned.predict_proba(rows) + 0.5 * network.predict_proba(rows), atol=1e-9
    )
    landmarks_only = VoteBlend(C=1.0, weight=0.5, learned_network=False, feature_sets=["blendshapes"])
    landmarks_only.fit(vote_rows(raw, None, vote), y)
    with pytest.raises(ValueError, match="vote rows have width"):
        landmarks_only.predict_proba(rows)
