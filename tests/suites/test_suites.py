"""Evaluation suites end to end: test sets made from the real face photo (augmented, flipped, downscaled, one blank
image that has no face), imported through the store, landmarks extracted by real MediaPipe, scored by real landmark
models, on a real SQLite store (the migration on PostgreSQL is in tests/migrations/test_migrations.py)."""

from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from core.auth import OPERATOR, Role, User, acting_as
from core.auth.identity import PermissionDenied
from core.cli import main
from core.errors import StudioError
from core.imaging import encode_png
from core.jobs.worker import run_inline
from core.models.registry import Registry
from core.records import FaceData
from core.schema import STATUS_SUITE, STATUS_TRAIN
from core.settings import Settings
from core.store import Store
from core.store.repository import Filters, SuiteImageRefused
from core.suites.evaluate import DomainScore, ModelSuiteScore
from core.suites.kinds import SUITE_EVALUATION_KIND, SuiteEvaluationParams
from core.suites.manage import (
    add_images,
    create_suite,
    delete_suite,
    get_suite,
    last_used_suite,
    list_suites,
    mark_used,
    overlap_warning,
    person_overlap,
)
from core.training.data import from_store
from core.training.promotion import Comparison, ModelScore, promote

LINE = re.compile(r"^(\S+)  macro-F1 (\d\.\d{3})  accuracy (\d\.\d{3})  faces (\d+)/(\d+)$")
WORST = re.compile(r"^worst-domain macro-F1: (\d\.\d{3}) \((\S+)\)$")


def _create(suite_sets: dict[str, Path], name: str = "demo") -> int:
    args = ["suites", "create", name]
    for domain, path in suite_sets.items():
        args += ["--set", f"{domain}={path}"]
    return main(args)


def test_suites_create_list_evaluate_delete_from_the_cli(
    trained: tuple[Store, Registry], suite_sets: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    store, registry = trained
    assert _create(suite_sets) == 0
    out = capsys.readouterr().out
    assert "suite demo: web 8 images, low-res 5 images" in out

    assert main(["suites", "list"]) == 0
    assert re.search(r"^demo  13 images \(web 8, low-res 5\)  never used$", capsys.readouterr().out, re.M)

    assert main(["evaluate", "--suite", "demo", "--model", "constant"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3, lines
    scores = {}
    for line in lines[:2]:
        match = LINE.match(line)
        assert match, line
        domain, f1, acc, n, total = match.groups()
        scores[domain] = float(f1)
        assert int(n) <= int(total) and float(acc) <= int(n) / int(total) + 1e-9
    assert list(scores) == ["web", "low-res"]
    low = LINE.match(lines[1])
    assert low is not None and low.group(5) == "5" and int(low.group(4)) <= 4  # the blank image has no face
    worst = WORST.match(lines[2])
    assert worst, lines[2]
    assert float(worst.group(1)) == min(scores.values()) and scores[worst.group(2)] == min(scores.values())

    # The model card keeps the result; the suite is now the last used one.
    card = registry.card("constant")
    assert card.suite_results["demo"]["worst_macro_f1"] == pytest.approx(float(worst.group(1)), abs=1e-3)
    assert [d["domain"] for d in card.suite_results["demo"]["domains"]] == ["web", "low-res"]
    assert list_suites(store)[0].last_used_at is not None

    assert _create(suite_sets) == 2  # the name is taken
    assert "exists already" in capsys.readouterr().err
    assert main(["suites", "delete", "demo"]) == 0
    assert "13 images stay in the store" in capsys.readouterr().out
    assert main(["suites", "list"]) == 0
    assert "no suites yet" in capsys.readouterr().out
    assert main(["evaluate", "--suite", "demo"]) == 2
    assert "no suite named 'demo'" in capsys.readouterr().err


def test_the_store_never_trains_on_suite_images(
    trained: tuple[Store, Registry], suite_sets: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    store, _ = trained
    training_ids = set(from_store(store).image_ids)
    assert _create({"web": suite_sets["web"]}) == 0
    suite_ids = get_suite(store, "demo").sets[0].image_ids
    assert len(suite_ids) == 8 and not training_ids & set(suite_ids)
    assert {r.status for r in store.list_images(Filters(statuses=[STATUS_SUITE]))} == {STATUS_SUITE}

    # The loaders leave them out, and refuse when asked for them.
    main(["extract"])
    assert not set(from_store(store).image_ids) & set(suite_ids)
    with pytest.raises(SuiteImageRefused, match="never trained on"):
        from_store(store, Filters(statuses=[STATUS_SUITE]))
    # Labeling or approving them into training is refused with the reason.
    image_id = suite_ids[0]
    record = store.get(image_id)
    assert record is not None
    with pytest.raises(SuiteImageRefused, match=f"image #{image_id}: a test image of an evaluation suite"):
        store.update(image_id, status=STATUS_TRAIN)
    with pytest.raises(SuiteImageRefused):
        store.transition(image_id, expected_version=record.version, expected_status=STATUS_SUITE, status="train")
    with pytest.raises(SuiteImageRefused):
        store.transition_many(None, from_status=STATUS_SUITE, to_status=STATUS_TRAIN)
    from core.active_learning.approval import correct

    with pytest.raises(SuiteImageRefused, match="never trained on"):
        correct(store, image_id, "happy")  # a reviewer's label would move it into training
    store.update(image_id, emotion="surprise")  # relabeling a test image is fine: it stays a test image
    assert store.get(image_id).status == STATUS_SUITE  # type: ignore[union-attr]

    # Importing the same files as training data adds nothing to training, and says so.
    capsys.readouterr()
    assert main(["import", str(suite_sets["web"])]) == 0
    out = capsys.readouterr().out
    assert "0 added" in out and "a test image of an evaluation suite" in out
    assert not set(from_store(store).image_ids) & set(suite_ids)

    # Deleting the suite leaves its images out of training too.
    delete_suite(store, "demo")
    assert not set(from_store(store).image_ids) & set(suite_ids)


def test_a_training_image_cannot_become_a_test_image(
    trained: tuple[Store, Registry],
    tmp_path: Path,
    variant_faces: list[tuple[bytes, FaceData, str]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    store, _ = trained
    folder = tmp_path / "reused" / "happy"
    folder.mkdir(parents=True)
    (folder / "already_trained.png").write_bytes(variant_faces[0][0])
    # Nothing could be taken: the CLI says so, fails, and leaves no empty suite behind (it could not be scored).
    assert main(["suites", "create", "leaky", "--set", f"web={folder.parent}"]) == 1
    assert "no image of domain(s) web could be taken into the suite" in capsys.readouterr().err
    assert "leaky" not in [s.name for s in list_suites(store)]


def test_a_person_in_a_suite_and_in_training_is_warned_about(
    trained: tuple[Store, Registry],
    suite_sets: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store, _ = trained
    some = store.list_images(Filters(statuses=[STATUS_TRAIN]))[0]
    store.update(some.id, person="subject-42")
    manifest = tmp_path / "posed.csv"
    files = sorted((suite_sets["web"] / "happy").glob("*.png"))[:2]
    for f in files:
        shutil.copy(f, tmp_path / f.name)
    with manifest.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "label", "person"])
        writer.writerow([files[0].name, "happy", "subject-42"])
        writer.writerow([files[1].name, "happy", "subject-7"])
    assert main(["suites", "create", "posed", "--set", f"posed={manifest}"]) == 0
    err = capsys.readouterr().err
    assert "1 person(s) appear both in suite 'posed' and in the training data (subject-42)" in err
    warning = overlap_warning(store, "posed")
    assert warning is not None and "subject-7" not in warning


def test_suite_roles(trained: tuple[Store, Registry], suite_sets: dict[str, Path]) -> None:
    """Creating and deleting suites changes data (the importer's role); evaluating is the trainer's role."""
    store, _ = trained
    for role in (Role.VIEWER, Role.LABELER):
        with (
            acting_as(User("someone@example.org", role)),
            pytest.raises(PermissionDenied, match="import needs the trainer role"),
        ):
            create_suite(store, "x", [("web", "/nowhere")])
    assert _create({"web": suite_sets["web"]}) == 0
    params = SuiteEvaluationParams(suite="demo", model_ids=["constant"])
    for role in (Role.VIEWER, Role.LABELER):
        with acting_as(User("someone@example.org", role)):
            with pytest.raises(PermissionDenied):
                run_inline(SUITE_EVALUATION_KIND, params)
            with pytest.raises(PermissionDenied):
                delete_suite(store, "demo")
    with acting_as(User("trainer@example.org", Role.TRAINER)):
        result = run_inline(SUITE_EVALUATION_KIND, params)
        assert result.evaluation["models"][0]["model_id"] == "constant"
        delete_suite(store, "demo")
    assert list_suites(store) == []


def test_promotion_on_a_suite_uses_the_worst_domain(
    trained: tuple[Store, Registry], suite_sets: dict[str, Path]
) -> None:
    """On a real suite, through the real models: the always-happy model never replaces the 1-NN one, and the
    comparison names the suite and keeps per-domain scores."""
    store, registry = trained
    assert _create(suite_sets) == 0
    registry.activate("good")
    refused = promote(registry, store, "constant", policy="if_better")
    assert not refused.activated and registry.active_id() == "good"
    comparison = refused.comparison
    assert comparison is not None and comparison.suite == "demo" and comparison.holdout.startswith("suite demo")
    assert comparison.candidate_domains is not None and comparison.incumbent_domains is not None
    assert [d.domain for d in comparison.candidate_domains.domains] == ["web", "low-res"]
    assert refused.message.startswith("constant was not activated: good, active at the time, is better")
    assert comparison.n_images == 13  # every suite image, the one without a face included
    assert "demo" in registry.card("good").suite_results and "demo" in registry.card("constant").suite_results
    # Without a suite (use_suite=False) the held-out split decides, and the comparison says so.
    held = promote(registry, store, "constant", use_suite=False)
    assert held.comparison is not None and held.comparison.suite is None
    assert held.comparison.holdout.startswith("the held-out split")


def test_a_suite_without_images_gives_no_comparison_instead_of_failing_the_training(
    trained: tuple[Store, Registry],
) -> None:
    """A suite whose images were all deleted (`data delete --status suite`) is still listed; training that compares
    on it keeps its saved models and says why there is no comparison, instead of failing the job at the end."""
    store, registry = trained
    with acting_as(OPERATOR):
        create_suite(store, "emptied", [("web", "/nowhere")])
    registry.activate("good")
    result = promote(registry, store, "constant", policy="if_better", suite="emptied")
    assert result.comparison is None and not result.activated and registry.active_id() == "good"
    assert "suite 'emptied' has no images left to compare on" in result.message


def _domains(model_id: str, **f1: float) -> ModelSuiteScore:
    return ModelSuiteScore(
        model_id=model_id,
        domains=[
            DomainScore(
                domain=d, macro_f1=v, accuracy=v, n_faces=10, n_images=10, labels=[], columns=[], confusion_matrix=[]
            )
            for d, v in f1.items()
        ],
    )


def _suite_comparison(candidate: ModelSuiteScore, incumbent: ModelSuiteScore, margin: float = 0.02) -> Comparison:
    def mean(s: ModelSuiteScore) -> float:
        return sum(d.macro_f1 for d in s.domains) / len(s.domains)

    return Comparison(
        candidate=ModelScore(model_id=candidate.model_id, macro_f1=mean(candidate), accuracy=mean(candidate)),
        incumbent=ModelScore(model_id=incumbent.model_id, macro_f1=mean(incumbent), accuracy=mean(incumbent)),
        holdout="suite s",
        n_images=20,
        image_ids=[],
        suite="s",
        candidate_domains=candidate,
        incumbent_domains=incumbent,
        margin=margin,
    )


def test_better_on_average_but_worse_on_the_worst_domain_loses() -> None:
    comparison = _suite_comparison(_domains("new", web=0.95, posed=0.64), _domains("old", web=0.70, posed=0.65))
    assert comparison.candidate.macro_f1 > comparison.incumbent.macro_f1  # type: ignore[operator,union-attr]
    better, why = comparison.decision()
    assert not better and "worst domain" in why
    assert comparison.outcome("old").startswith("The active model old stays: it is better on its worst domain")


def test_a_drop_beyond_the_margin_on_any_domain_loses() -> None:
    # The worst domain improves (0.66 vs 0.60) and the average too, but web drops by 0.04 > 0.02.
    dropping = _suite_comparison(_domains("new", web=0.66, posed=0.90), _domains("old", web=0.70, posed=0.60))
    better, why = dropping.decision()
    assert not better and "domain web" in why and "0.02 margin" in why
    # A drop within the margin is allowed when the worst domain is better.
    within = _suite_comparison(_domains("new", web=0.69, posed=0.90), _domains("old", web=0.70, posed=0.60))
    assert within.decision()[0]
    # The margin comes from Settings (SUITE_DROP_MARGIN).
    assert _suite_comparison(dropping.candidate_domains, dropping.incumbent_domains, margin=0.05).better  # type: ignore[arg-type]
    assert Settings(_env_file=None).suite_drop_margin == 0.02  # type: ignore[call-arg]


def test_the_headline_names_each_models_worst_domain() -> None:
    comparison = _suite_comparison(_domains("new", web=0.23, posed=0.27), _domains("old", web=0.75, posed=0.70))
    headline = comparison.headline()
    # Not "worst domain web 0.230 vs posed 0.700", which reads as one model's two domains.
    assert headline.startswith("worst-domain macro-F1 0.230 (web) vs 0.700 (posed, old), macro-F1 0.250 vs 0.725 (old)")


def test_a_stale_comparison_names_the_model_active_now() -> None:
    comparison = _suite_comparison(_domains("new", web=0.5), _domains("old", web=0.6))
    assert comparison.outcome("other").startswith("Compared with old, which was active then; other is active now")
    assert "new is the active model" in comparison.outcome("new")
    # Activated by this comparison, then rolled back: it no longer says the new model is active.
    assert comparison.outcome("old", activated=True) == "new became active after this comparison; old is active now"


def test_creating_a_suite_needs_a_valid_spec(trained: tuple[Store, Registry], tmp_path: Path) -> None:
    for bad in (["--set", "web"], ["--set", "we b=/x"], ["--set", f"a={tmp_path}", "--set", f"a={tmp_path}"]):
        with pytest.raises(StudioError):
            from core.suites.manage import parse_sets

            parse_sets(bad[1::2])
    assert main(["suites", "create", "x", "--set", f"web={tmp_path / 'missing'}"]) == 2
    assert list_suites(trained[0]) == []


def test_train_compares_on_the_suite_chosen(
    trained: tuple[Store, Registry], suite_sets: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """`python -m core train` compares the best model with the active one on the last used suite by default, on a
    named one with --suite (a misspelt name is refused before any training), on the held-out split with --no-suite;
    the output names the images of every figure."""
    _, registry = trained
    assert _create({"web": suite_sets["web"]}) == 0
    registry.activate("constant")
    train = ["train", "--models", "random_forest", "--features", "landmarks"]
    capsys.readouterr()
    assert main([*train, "--suite", "nope"]) == 2
    assert "no suite named 'nope'" in capsys.readouterr().err
    assert len(registry.list()) == 2  # nothing was trained

    assert main(train) == 0
    out = capsys.readouterr().out
    assert "on the held-out split" in out and "against the active model, on suite demo (web 8 images)" in out
    assert main([*train, "--no-suite"]) == 0
    out = capsys.readouterr().out
    assert "against the active model, on the held-out split" in out and "suite demo" not in out


@pytest.mark.postgres
def test_suites_on_postgres(pg_settings: Settings, face_variants: list[np.ndarray]) -> None:
    """The suite tables on PostgreSQL: links, the last used suite, the person overlap, and the cascade on delete."""
    store = Store(pg_settings)
    trained_id = store.add_image(encode_png(face_variants[0]), emotion="happy", person="p1").image_id
    ids = [
        store.add_image(encode_png(rgb), emotion="happy", status=STATUS_SUITE, person=f"p{i}").image_id
        for i, rgb in enumerate(face_variants[1:4], start=1)
    ]
    for name in ("a", "b"):
        create_suite(store, name, [("web", "/x"), ("posed", "/y")])
    assert add_images(store, "a", "web", ids[:2]) == [] and add_images(store, "a", "posed", ids[2:]) == []
    refused = add_images(store, "b", "web", [trained_id])
    assert refused and "already in the store as train data" in refused[0][1]
    assert [len(s.image_ids) for s in get_suite(store, "a").sets] == [2, 1]
    assert last_used_suite(store) == "b"  # none used yet: the newest
    mark_used(store, "a")
    assert last_used_suite(store) == "a"
    assert person_overlap(store, "a") == ["p1"]
    with pytest.raises(SuiteImageRefused):
        store.update(ids[0], status=STATUS_TRAIN)
    assert delete_suite(store, "a") == 3
    assert [s.name for s in list_suites(store)] == ["b"]
    assert {r.status for r in store.list_images(Filters(statuses=[STATUS_SUITE]))} == {STATUS_SUITE}


def test_without_a_suite_the_training_figure_and_the_decision_use_the_same_images(
    trained: tuple[Store, Registry],
) -> None:
    """Issue 21: the best model's held-out macro-F1 and the comparison's figure for it are one measurement."""
    from core.training.kinds import LANDMARK_TRAINING_KIND, LandmarkTrainingParams

    params = LandmarkTrainingParams(models=["random_forest"], feature_sets=["landmarks"], use_suite=False)
    result = run_inline(LANDMARK_TRAINING_KIND, params)
    comparison = result.comparison
    assert comparison is not None
    report = result.reports[0]
    assert comparison["holdout"] == f"the held-out split ({result.holdout})"
    assert comparison["n_images"] == report["n_test"]
    assert comparison["candidate"]["macro_f1"] == pytest.approx(result.best_macro_f1)
