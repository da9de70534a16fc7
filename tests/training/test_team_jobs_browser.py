"""Team mode in real Chromium against a real OIDC provider: a trainer cancels their running job from the Jobs page
and makes a model active from the Train page's results. Both controls live in `st.fragment` re-runs, which do not
run the page's sign-in (ui.auth.fragment sets the acting user again there)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from core.auth import OPERATOR, Role, User, acting_as
from core.auth.users import add_user
from core.db import dispose_engine
from core.features import DEFAULT_FEATURE_SETS
from core.import_job import IMPORT
from core.jobs import JobQueue
from core.jobs.worker import Worker
from core.landmarks.kinds import EXTRACTION
from core.models.registry import Registry
from core.records import FaceData
from core.settings import Settings
from core.store import Store
from core.training.kinds import LANDMARK_TRAINING, LandmarkTrainingParams
from tests.browser.harness import chromium_browser, dashboard_env, require_chromium
from tests.browser.team import authorize, oidc_provider, provider_user, team_dashboard
from tests.training.conftest import fill_store

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser

TRAINER = "tara@example.org"


def _until(check: Callable[[], bool], what: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.3)


def _trained_and_running_jobs(app_env: Settings, tmp_path: Path) -> tuple[JobQueue, str, int, int]:
    """A finished comparison run as the trainer (its best model, nothing activated), then an extraction and an import
    held running by a worker elsewhere. The queue, the best model's id and the two running jobs' ids."""
    queue = JobQueue(app_env)
    trainer = User(TRAINER, Role.TRAINER)
    params = LandmarkTrainingParams(models=["svm", "random_forest"], feature_sets=list(DEFAULT_FEATURE_SETS))
    with acting_as(trainer):
        train_id = queue.submit(LANDMARK_TRAINING, params)
    Worker(queue).run(once=True)  # a real comparison, run as the trainer; nothing activated
    trained = queue.get(train_id)
    assert trained.status == "done" and trained.result is not None, trained.error
    best = trained.result["best"]
    assert best and Registry(app_env.models_dir).active_id() is None
    with acting_as(trainer):
        extraction_id = queue.submit(EXTRACTION, {})
        running_id = queue.submit(IMPORT, {"path": str(tmp_path)})
    for kind in (EXTRACTION, IMPORT):  # both running on a worker elsewhere
        assert queue.claim("another-machine:1", kinds=[kind]) is not None
    return queue, best, extraction_id, running_id


def _cancel_from_the_data_panel(page: Page, url: str, queue: JobQueue, extraction_id: int) -> None:
    """A page's job panel (the Data page's extraction) refreshes in a fragment: after several re-runs its Cancel is
    still there, and works."""
    from playwright.sync_api import expect

    page.goto(f"{url}/Data", wait_until="domcontentloaded")
    panel_cancel = page.locator(f".st-key-extract_cancel_{extraction_id} button")
    expect(panel_cancel).to_be_visible(timeout=60_000)
    page.wait_for_timeout(4_000)  # a few `run_every` re-runs of the fragment
    panel_cancel.click()
    _until(lambda: queue.get(extraction_id).cancel_requested, "the panel's cancel got lost")


def _cancel_from_the_jobs_page(page: Page, url: str, queue: JobQueue, running_id: int) -> None:
    """The Jobs page's table refreshes in a fragment too: the newest job (the import) is cancelled."""
    from playwright.sync_api import expect

    page.goto(f"{url}/Jobs", wait_until="domcontentloaded")
    cancel = page.get_by_role("button", name="Cancel job")
    expect(cancel).to_be_visible(timeout=60_000)
    page.wait_for_timeout(5_000)  # a few `run_every` re-runs of the fragment
    cancel.click()
    _until(lambda: queue.get(running_id).cancel_requested, "the cancel never reached the job")
    assert queue.get(running_id).message.startswith(f"cancel requested by {TRAINER}")


def _activate_from_the_train_page(page: Page, url: str, registry: Registry, best: str) -> None:
    """The Train page's results (a job panel's fragment): make the best model active."""
    from playwright.sync_api import expect

    page.goto(f"{url}/Train", wait_until="domcontentloaded")
    make_active = page.get_by_role("button", name=f"Make {best} the active model")
    expect(make_active).to_be_visible(timeout=90_000)
    make_active.click()
    _until(lambda: registry.active_id() == best, "the model was not activated")
    [record] = registry.history()
    assert record.reason == "manual"


def test_trainer_cancels_a_running_job_and_activates_a_model_in_team_mode(
    app_env: Settings, tmp_path: Path, variant_faces: list[tuple[bytes, FaceData, str]]
) -> None:
    chromium = require_chromium()
    from playwright.sync_api import expect

    store = Store(app_env)
    fill_store(store, variant_faces)
    with acting_as(OPERATOR):
        add_user(store.engine, TRAINER, Role.TRAINER)
    queue, best, extraction_id, running_id = _trained_and_running_jobs(app_env, tmp_path)
    env = dashboard_env(
        app_env,
        AUTH_MODE="",
        START_WORKER="false",  # no worker here: the job stays running, held by the one "elsewhere"
        JOB_STALE_AFTER_S="3600",
    )
    try:
        with oidc_provider() as issuer:
            provider_user(issuer, TRAINER)
            with team_dashboard(env, tmp_path, issuer) as url, chromium_browser(chromium) as browser:
                page = browser.new_context().new_page()
                page.goto(url, wait_until="domcontentloaded")
                authorize(page, url, issuer, TRAINER)
                expect(page.get_by_text(f"{TRAINER} · trainer")).to_be_visible(timeout=60_000)
                _cancel_from_the_data_panel(page, url, queue, extraction_id)
                _cancel_from_the_jobs_page(page, url, queue, running_id)
                _activate_from_the_train_page(page, url, Registry(app_env.models_dir), best)
    finally:
        dispose_engine(app_env.resolved_database_url)
