"""The admin-only sections of the dashboard under AppTest, as a trainer and as an admin: "Delete images" on the Data
page (choose, preview, confirm by count, delete, report), and "Import roots" on the Users page, which the Data page's
server imports then follow; removing a user there revokes their API keys."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core.active_learning import approval
from core.apikeys import ApiKeys
from core.auth import OPERATOR, Role, User, acting_as
from core.auth.users import add_user, list_users
from core.imaging import encode_png
from core.import_job import IMPORT
from core.import_roots import stored_import_roots
from core.jobs import JobQueue
from core.jobs.worker import Worker
from core.migrations import open_database
from core.settings import get_settings
from core.store import Store
from tests.browser.harness import ROOT
from tests.store.test_delete_images import _populate

DATA_PAGE = str(ROOT / "pages" / "1_Data.py")
USERS_PAGE = str(ROOT / "pages" / "8_Users.py")
ADMIN = User("ada@example.org", Role.ADMIN)
TRAINER = User("tom@example.org", Role.TRAINER)


def test_delete_images_section_is_for_admins_only(signed_in: Callable[[User], None]) -> None:
    store = Store(get_settings())
    ids = _populate(store)

    signed_in(TRAINER)
    at = AppTest.from_file(DATA_PAGE, default_timeout=60).run()
    assert not at.exception
    assert any("Deleting images needs the admin role" in c.value for c in at.caption)
    assert not [r for r in at.radio if r.key == "delete_by"] and not [b for b in at.button if b.key == "delete_run"]

    signed_in(ADMIN)
    at = AppTest.from_file(DATA_PAGE, default_timeout=60).run()
    assert not at.exception and not any("Deleting images needs" in c.value for c in at.caption)
    at.radio(key="delete_by").set_value("Image ids").run()
    at.text_input(key="delete_ids").input(f"{ids[0]}, x7").run()
    assert "not image ids: x7" in at.error[0].value
    at.text_input(key="delete_ids").input(f"{ids[0]}, {ids[1]} 999").run()
    assert any("**2 image(s)** match" in m.value for m in at.markdown)
    assert list(at.dataframe[-1].value["id"]) == ids[:2]  # the preview, last on the page
    assert at.button(key="delete_run").disabled  # not confirmed yet
    at.text_input(key="delete_confirm_0").input("3").run()
    assert at.button(key="delete_run").disabled  # the wrong count
    at.text_input(key="delete_confirm_0").input("2").run()
    at.button(key="delete_run").click().run()
    assert not at.exception
    assert "2 image(s) deleted, 2 file(s) removed" in at.success[0].value
    assert store.image_ids() == ids[2:]
    assert {(e.image_id, e.actor) for e in approval.audit_log(store)} == {(ids[0], ADMIN.id), (ids[1], ADMIN.id)}
    assert any("No image matches" in i.value for i in at.info)  # the typed ids are gone now

    # By filters, with a fresh (empty) confirmation field: the pool image that is left.
    at.radio(key="delete_by").set_value("Filters").run()
    assert not [b for b in at.button if b.key == "delete_run"]  # no filter chosen yet: nothing selected
    at.multiselect(key="delete_status").select("pool").run()
    assert list(at.dataframe[-1].value["id"]) == [ids[2]]
    assert at.text_input(key="delete_confirm_1").value == "" and at.button(key="delete_run").disabled
    # The problem images (no face found, unreadable): the one there was is already deleted.
    at.radio(key="delete_by").set_value("Problem images (no usable landmarks)").run()
    assert any("No image matches" in i.value for i in at.info)


def test_import_roots_section_sets_the_roots_the_data_page_uses(
    signed_in: Callable[[User], None], tmp_path: Path, face_variants: list[np.ndarray]
) -> None:
    settings = get_settings()
    allowed_dir, outside = tmp_path / "datasets", tmp_path / "elsewhere"
    for folder, variant in ((allowed_dir, face_variants[0]), (outside, face_variants[1])):
        folder.mkdir()
        (folder / "happy_x.png").write_bytes(encode_png(variant))

    signed_in(TRAINER)
    at = AppTest.from_file(USERS_PAGE, default_timeout=60).run()
    assert not at.exception and "Only admins" in at.info[0].value
    assert not [t for t in at.text_area if t.key == "roots_text"]

    signed_in(ADMIN)
    at = AppTest.from_file(USERS_PAGE, default_timeout=60).run()
    assert not at.exception and any("anywhere, in local mode" in c.value for c in at.caption)
    at.text_area(key="roots_text").input(f"{tmp_path / 'missing'}\nrelative").run()
    at.button(key="roots_save").click().run()
    assert (
        "does not exist on the server" in at.error[0].value and "relative is not an absolute path" in at.error[0].value
    )
    assert stored_import_roots(settings) is None
    at.text_area(key="roots_text").input(str(allowed_dir)).run()
    at.button(key="roots_save").click().run()
    assert not at.exception and f"Import roots saved: {allowed_dir.resolve()}" in at.success[0].value
    assert any(f"set here by {ADMIN.id}" in c.value for c in at.caption)
    stored = stored_import_roots(settings)
    assert stored is not None and stored.roots == (allowed_dir.resolve(),) and stored.changed_by == ADMIN.id

    # The Data page (as a trainer) now imports only from there.
    signed_in(TRAINER)
    data = AppTest.from_file(DATA_PAGE, default_timeout=60).run()
    assert any(f"only imports from: {allowed_dir.resolve()}" in c.value for c in data.caption)
    data.text_input(key="server_path").input(str(outside)).run()
    data.button(key="server_import").click().run()
    assert not data.exception and "outside the import folders" in data.error[0].value
    data.text_input(key="server_path").input(str(allowed_dir)).run()
    data.button(key="server_import").click().run()
    assert not data.exception and not data.error
    job = JobQueue(settings).latest(IMPORT, TRAINER.id)
    assert job is not None and job.params["path"] == str(allowed_dir)
    # A worker runs it as the trainer who queued it (the one the page started, or this one, whichever claims it).
    deadline = time.monotonic() + 120
    while not (done := JobQueue(settings).get(job.id)).finished:
        assert time.monotonic() < deadline, "the import job did not finish"
        Worker(JobQueue(settings)).run(once=True)
        time.sleep(0.2)
    assert done.status == "done" and done.result is not None and done.result["added"] == 1

    signed_in(ADMIN)
    at = AppTest.from_file(USERS_PAGE, default_timeout=60).run()
    at.button(key="roots_reset").click().run()
    assert "the server's setting applies again" in at.success[0].value and stored_import_roots(settings) is None


def test_removing_a_user_on_the_users_page_revokes_their_keys(signed_in: Callable[[User], None]) -> None:
    settings = get_settings()
    engine = open_database(settings.resolved_database_url)
    with acting_as(OPERATOR):
        add_user(engine, "zed@example.org", Role.LABELER)
    keys = ApiKeys(settings)
    key = keys.create("zed@example.org", "kiosk").key
    signed_in(ADMIN)
    at = AppTest.from_file(USERS_PAGE, default_timeout=60).run()
    at.selectbox(key="users_pick").select("zed@example.org").run()
    at.button(key="users_remove").click().run()
    assert not at.exception and "Removed zed@example.org and revoked their 1 API key." in at.success[0].value
    assert keys.verify(key) is None and [u.email for u in list_users(engine)] == []


def test_import_roots_offer_only_folders_that_exist(
    signed_in: Callable[[User], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    """In team mode the default root is <DATA_ROOT>/inbox: before it exists the text area starts empty and says
    why (a default that does not exist could never be saved); once it exists it is offered."""
    monkeypatch.setenv("AUTH_MODE", "team")
    get_settings.cache_clear()
    inbox = get_settings().data_root / "inbox"
    assert not inbox.exists()
    signed_in(ADMIN)
    at = AppTest.from_file(USERS_PAGE, default_timeout=60).run()
    assert not at.exception and at.text_area(key="roots_text").value == ""
    assert any(str(inbox) in c.value and "no such folder exists" in c.value for c in at.caption)
    inbox.mkdir(parents=True)
    at = AppTest.from_file(USERS_PAGE, default_timeout=60).run()
    assert at.text_area(key="roots_text").value == str(inbox)
    assert not any("no such folder exists" in c.value for c in at.caption)
