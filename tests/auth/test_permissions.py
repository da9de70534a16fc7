"""Role checks inside core: a viewer calling the functions behind delete, import, activate, approve, model comparison,
API keys and file repair is refused before any work and nothing changes, on SQLite and on PostgreSQL; labelers
review, trainers import and activate, admins delete."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from core import ingest
from core.active_learning import approval
from core.active_learning.review_queue import build_queue, queue_items
from core.apikeys import ApiKeys
from core.auth import LOCAL_USER, PermissionDenied, Role, User, acting_as, current_user, require
from core.auth import Permission as P
from core.auth.identity import LEAST_ROLE
from core.auth.users import add_user
from core.generation.jobs import JobStore
from core.generation.templates import GenerationTemplate
from core.imaging import encode_png
from core.models.registry import ModelCard, Registry
from core.settings import Settings
from core.store import Store
from core.training.promotion import COMPARISON_FILE, compare_with_active
from tests.active_learning.helpers import fill_pool, tiny_model

VIEWER = User("vera@example.org", Role.VIEWER)
LABELER = User("lena@example.org", Role.LABELER)
TRAINER = User("tom@example.org", Role.TRAINER)
OTHER_TRAINER = User("tina@example.org", Role.TRAINER)
ADMIN = User("ada@example.org", Role.ADMIN)


def _model(registry: Registry, model_id: str) -> None:
    card = ModelCard(id=model_id, kind="landmark", name="svm", classes=["happy", "sad"])
    registry.save(card, lambda path: path.write_bytes(b"artifact"))


def _zip(png: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("happy/a.png", png)
    return buf.getvalue()


def _viewer_is_refused_everything(store: Store, settings: Settings, png: bytes, tmp_path: Path) -> None:
    registry = Registry(settings.models_dir)
    keys = ApiKeys(settings)
    with acting_as(ADMIN):
        _model(registry, "m1")
        _model(registry, "m2")
        registry.activate("m1")
        add_user(store.engine, ADMIN.id, Role.ADMIN)
        key = keys.create(ADMIN.id, "kiosk")
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "happy_1.png").write_bytes(png)
    queued = queue_items(store)
    assert queued, "the test needs a queued image"
    before = store.count()

    with acting_as(VIEWER):
        refused = {
            "delete model": lambda: registry.delete("m1"),
            "delete images": lambda: store.delete_images([queued[0].image_id]),
            "import folder": lambda: ingest.import_folder(store, folder),
            "import zip": lambda: ingest.import_zip(store, _zip(png)),
            # Refused before any work: a missing folder or manifest, or a bomb-sized "zip", is never looked at.
            "walk a missing folder": lambda: ingest.import_folder(store, tmp_path / "missing"),
            "read a missing manifest": lambda: ingest.import_manifest(store, tmp_path / "missing.csv"),
            "decompress": lambda: ingest.import_zip(store, b"not a zip at all"),
            "compare models": lambda: compare_with_active(registry, store, "m2"),
            "create an API key for someone else": lambda: keys.create(ADMIN.id),
            "revoke someone else's API key": lambda: keys.revoke(key.info.key_id),
            "import item": lambda: ingest.import_items(store, [ingest.Incoming("x.png", png)]),
            "activate": lambda: registry.activate("m2"),
            "approve": lambda: approval.approve(store, queued[0].image_id),
            "correct": lambda: approval.correct(store, queued[0].image_id, "happy"),
            "reject": lambda: approval.reject(store, queued[0].image_id),
            "bulk approve": lambda: approval.bulk_approve(store, min_confidence=0.0),
        }
        for what, action in refused.items():
            with pytest.raises(PermissionDenied, match=r"vera@example\.org is a viewer"):
                action()
                pytest.fail(f"a viewer could {what}")

    # Nothing changed: same images, the queue intact, both models there and m1 still active.
    assert store.count() == before
    assert [q.image_id for q in queue_items(store)] == [q.image_id for q in queued]
    assert {c.id for c in registry.list()} >= {"m1", "m2"} and registry.active_id() == "m1"
    assert approval.audit_log(store) == []
    assert not (registry.folder("m2") / COMPARISON_FILE).exists()
    assert [(k.key_id, k.active) for k in keys.list_keys()] == [(key.info.key_id, True)]


@pytest.fixture
def queued_store(store: Store, face_variants: list[np.ndarray]) -> Store:
    fill_pool(store, face_variants, n=2)
    build_queue(store, tiny_model(store), strategy="entropy", k=2, min_distance=0.0)
    return store


def test_viewer_is_refused_on_sqlite(
    queued_store: Store, settings: Settings, astronaut_png: bytes, tmp_path: Path
) -> None:
    _viewer_is_refused_everything(queued_store, settings, astronaut_png, tmp_path)


@pytest.mark.postgres
def test_viewer_is_refused_on_postgresql(
    pg_settings: Settings, face_variants: list[np.ndarray], astronaut_png: bytes, tmp_path: Path
) -> None:
    store = Store(pg_settings)
    assert store.engine.dialect.name == "postgresql"
    fill_pool(store, face_variants, n=2)
    build_queue(store, tiny_model(store), strategy="entropy", k=2, min_distance=0.0)
    _viewer_is_refused_everything(store, pg_settings, astronaut_png, tmp_path)
    # ... and a labeler's approval there is recorded under their identity.
    item = queue_items(store)[0]
    with acting_as(LABELER):
        approval.correct(store, item.image_id, "sad")
    [entry] = approval.audit_log(store)
    assert entry.actor == LABELER.id and entry.new_value["emotion"] == "sad"


def test_each_role_gets_exactly_its_rights(
    queued_store: Store, settings: Settings, astronaut_png: bytes, tmp_path: Path
) -> None:
    store, registry = queued_store, Registry(settings.models_dir)
    with acting_as(LABELER):
        with pytest.raises(PermissionDenied, match="needs the trainer role"):
            ingest.import_items(store, [ingest.Incoming("x.png", astronaut_png)])
        decision = approval.reject(store, queue_items(store)[0].image_id)
    assert approval.audit_log(store)[0].actor == LABELER.id == approval.audit_log(store)[0].actor
    with acting_as(TRAINER):
        report = ingest.import_items(store, [ingest.Incoming("happy_x.png", encode_png(np.zeros((64, 64, 3), "u1")))])
        assert report.added == 1
        _model(registry, "t1")
        registry.activate("t1")
        with pytest.raises(PermissionDenied, match="needs the admin role"):
            registry.delete("t1")
        with pytest.raises(PermissionDenied, match="delete needs the admin role"):
            store.delete_images(report.image_ids)
    assert store.get(report.image_ids[0]) is not None
    assert registry.card("t1").trained_by == TRAINER.id
    assert json.loads((settings.models_dir / "t1" / "card.json").read_text())["trained_by"] == TRAINER.id
    with acting_as(ADMIN):
        registry.delete("t1")
        assert store.delete_images(report.image_ids).deleted == report.image_ids
    assert "t1" not in {c.id for c in registry.list()} and store.get(report.image_ids[0]) is None
    # Undo: only your own decision, unless you are an admin (and then the undo names whose decision it was).
    with acting_as(TRAINER):
        assert approval.undo_last(store) is None
        with pytest.raises(PermissionDenied, match=r"only lena@example\.org"):
            approval.undo_last(store, of=LABELER.id)
    with acting_as(ADMIN):
        undo = approval.undo_last(store, of=LABELER.id)
    assert undo is not None and undo.image_id == decision.image_id
    latest = approval.audit_log(store)[0]
    assert latest.actor == ADMIN.id and latest.action == "undo" and latest.new_value["undid_decision_of"] == LABELER.id


def test_generation_jobs_record_their_starter_and_only_they_or_an_admin_cancel(store: Store) -> None:
    jobs = JobStore(store)
    template = GenerationTemplate.model_validate({"name": "t", "emotions": ["happy"], "images_per_combination": 1})
    with acting_as(LABELER), pytest.raises(PermissionDenied, match="generate needs the trainer role"):
        jobs.create_job(template, model="m")
    with acting_as(TRAINER):
        job_id = jobs.create_job(template, model="m")
    assert jobs.get_job(job_id).started_by == TRAINER.id
    with acting_as(OTHER_TRAINER), pytest.raises(PermissionDenied, match=r"only tom@example\.org"):
        jobs.authorize_cancel(job_id)
    with acting_as(TRAINER):
        assert jobs.authorize_cancel(job_id) == TRAINER
    with acting_as(ADMIN):
        assert jobs.authorize_cancel(job_id) == ADMIN


def test_local_mode_is_one_implicit_admin_and_team_mode_needs_a_user(
    monkeypatch: pytest.MonkeyPatch, app_env: Settings
) -> None:
    assert current_user() == LOCAL_USER and require(P.DELETE) == LOCAL_USER
    monkeypatch.setenv("AUTH_MODE", "team")
    from core.settings import get_settings

    get_settings.cache_clear()
    assert current_user() is None
    with pytest.raises(PermissionDenied, match="sign in first"):
        require(P.REVIEW)
    with acting_as(LABELER):
        assert require(P.REVIEW) == LABELER


def test_every_permission_is_distinct_and_has_a_least_role() -> None:
    assert len({p.value for p in P}) == len(list(P))
    assert set(LEAST_ROLE) == set(P)  # every permission names the least role allowed it
    assert [r.label for r in sorted(Role)] == ["viewer", "labeler", "trainer", "admin"]
    assert VIEWER.can(P.EVALUATE) and not VIEWER.can(P.TRAIN)  # Batch test is a job viewers may run
    assert not VIEWER.can(P.REVIEW) and LABELER.can(P.REVIEW) and not LABELER.can(P.GENERATE)
    assert TRAINER.can(P.GENERATE) and not TRAINER.can(P.MANAGE_USERS) and ADMIN.can(P.MANAGE_USERS)
    assert not TRAINER.can(P.CHANGE_IMPORT_ROOTS) and ADMIN.can(P.CHANGE_IMPORT_ROOTS)


def test_a_jobs_table_from_before_starters_gets_the_column(settings: Settings) -> None:
    from sqlalchemy import create_engine, inspect, text

    from core.db import dispose_engine

    url = settings.resolved_database_url
    settings.data_root.mkdir(parents=True, exist_ok=True)
    old = create_engine(url)
    with old.begin() as conn:  # the table as earlier versions created it
        conn.execute(
            text(
                "CREATE TABLE generation_jobs (id INTEGER PRIMARY KEY, name VARCHAR(256), fingerprint VARCHAR(64), "
                "template JSON, model VARCHAR(128), created_at DATETIME, updated_at DATETIME)"
            )
        )
        conn.execute(
            text("INSERT INTO generation_jobs (id, name, fingerprint, template, model) VALUES (1,'o','f','{}','m')")
        )
    old.dispose()
    dispose_engine(url)
    jobs = JobStore(Store(settings))
    assert "started_by" in {c["name"] for c in inspect(jobs.engine).get_columns("generation_jobs")}
    with acting_as(TRAINER), pytest.raises(PermissionDenied, match="or an admin"):
        jobs.authorize_cancel(1)  # no recorded starter: an admin's to cancel
    with acting_as(ADMIN):
        assert jobs.authorize_cancel(1) == ADMIN
