"""REST API keys: the CLI creates them (shown once, stored as a hash), a real uvicorn server on loopback checks them.

No key, a wrong key, a revoked key and valid keys (Bearer and X-API-Key); the per-key rate limit answers 429 with
Retry-After; the keys appear neither in the server's JSON logs nor anywhere in the database files.
"""

from __future__ import annotations

import base64
import json
import logging
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import inspect, select, text

from core.apikeys import ApiKeys
from core.apikeys.tables import ApiKeyRow
from core.auth import OPERATOR, Role, acting_as
from core.auth.users import add_user, remove_user
from core.cli import main as cli_main
from core.db import dispose_engine
from core.errors import StudioError
from core.imaging import encode_jpeg
from core.migrations import open_database
from core.settings import Settings, get_settings
from tests.browser.harness import free_port, server, uvicorn_cmd
from tests.browser.models import browser_models_dir
from tests.postgres import scratch_database


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """Run `python -m core apikeys ARGS` in this process (the settings come from the environment); its stdout."""
    capsys.readouterr()
    assert cli_main(["apikeys", *args]) == 0
    return capsys.readouterr().out


def _post(url: str, body: dict[str, str], headers: dict[str, str]) -> tuple[int, dict[str, str], dict[str, object]]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json", **headers}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), json.loads(err.read())


def test_settings_require_keys_in_team_mode_unless_told_otherwise(settings: Settings) -> None:
    assert not settings.requires_api_key
    team = settings.model_copy(update={"auth_mode": "team"})
    assert team.requires_api_key
    assert not team.model_copy(update={"api_require_key": False}).requires_api_key
    assert settings.model_copy(update={"api_require_key": True}).requires_api_key


def test_rate_limiter_slides_per_key() -> None:
    from core.api.keyauth import RateLimiter

    limiter = RateLimiter(per_minute=3)
    assert [limiter.retry_after("a", now=t) for t in (0.0, 10.0, 20.0)] == [0.0, 0.0, 0.0]
    assert limiter.retry_after("a", now=30.0) == pytest.approx(30.0)  # the oldest hit frees its slot at 60 s
    assert limiter.retry_after("b", now=30.0) == 0.0  # another key has its own budget
    assert limiter.retry_after("a", now=60.0) == 0.0
    assert limiter.retry_after("a", now=61.0) == pytest.approx(9.0)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def keys_settings(request: pytest.FixtureRequest, settings: Settings) -> Iterator[Settings]:
    if request.param == "sqlite":
        yield settings
        return
    with scratch_database() as url:
        yield settings.model_copy(update={"database_url": url})


def _users(settings: Settings, *emails: str) -> None:
    with acting_as(OPERATOR):
        for email in emails:
            add_user(open_database(settings.resolved_database_url), email, Role.VIEWER)


def test_without_the_constraint_the_user_id_still_refuses_a_re_added_address(settings: Settings) -> None:
    """Should a database lack the foreign key (SQLite with foreign_keys off, say), the key still names a user id
    that a re-added address never gets back."""
    keys = ApiKeys(settings)
    _users(settings, "gus@example.org")
    new = keys.create("gus@example.org")
    with keys.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        conn.execute(text("DELETE FROM users WHERE email = 'gus@example.org'"))
        conn.commit()
        conn.exec_driver_sql("PRAGMA foreign_keys=ON")
    assert len(keys.list_keys("gus@example.org")) == 1  # the key row survived ...
    _users(settings, "gus@example.org")
    assert keys.verify(new.key) is None  # ... but belongs to the old Gus's id


def test_keys_are_stored_hashed_and_revocable(keys_settings: Settings) -> None:
    keys = ApiKeys(keys_settings)
    _users(keys_settings, "alice@example.org", "bob@example.org")
    alice = keys.create("Alice@Example.org", "kiosk")
    bob = keys.create("bob@example.org")
    assert alice.key != bob.key and alice.info.user_email == "alice@example.org"
    assert keys.verify(alice.key) == keys.list_keys()[0]
    assert keys.list_keys()[0].last_used_at is not None  # verify records the use
    assert keys.verify(alice.key[:-1] + ("A" if alice.key[-1] != "A" else "B")) is None  # one character off
    assert keys.verify(f"esk_{alice.info.key_id}_" + "x" * 43) is None  # right key id, wrong secret
    assert keys.verify("") is None and keys.verify("Bearer nonsense") is None
    revoked = keys.revoke(alice.info.key_id)
    assert not revoked.active and keys.verify(alice.key) is None
    assert keys.verify(bob.key) is not None
    assert [k.id for k in keys.list_keys("Bob@example.org")] == [bob.info.id]  # emails match case-insensitively
    # Nothing of either key is in its row: not the key, not its secret part.
    with keys.engine.connect() as conn:
        rows = [str(tuple(r)) for r in conn.execute(text("SELECT * FROM api_keys"))]
        assert len(rows) == 2
        hashes = conn.execute(select(ApiKeyRow.key_hash)).scalars().all()
    for new in (alice, bob):
        secret = new.key.split("_", 2)[2]  # (the secret may itself contain "_")
        assert len(secret) == 43
        assert not any(secret in row for row in rows)
    assert all(len(h) == 64 for h in hashes)


def test_keys_belong_to_existing_users_and_go_with_them(
    keys_settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A key is only created for someone in the users table and belongs to their never-reused id; the database
    deletes their keys with their row however it goes (`users remove` says how many were active), and adding the
    same address again makes a new user whose old keys do not come back."""
    keys = ApiKeys(keys_settings)
    with pytest.raises(StudioError, match=r"no user ghost@example\.org.*users add ghost@example\.org"):
        keys.create("ghost@example.org")
    assert keys.list_keys() == []
    _users(keys_settings, "Dora@Example.org", "eve@example.org")
    first, second = keys.create("dora@example.org"), keys.create("DORA@example.org", "second")
    already = keys.create("dora@example.org", "revoked before")
    keys.revoke(already.info.id)
    other = keys.create("eve@example.org")
    assert {first.info.user_email, second.info.user_email} == {"dora@example.org"}
    with acting_as(OPERATOR):
        removed = remove_user(keys.engine, "dora@example.org")
    assert (removed.email, removed.keys_revoked) == ("dora@example.org", 2)  # the already revoked one not counted
    assert keys.verify(first.key) is None and keys.verify(second.key) is None
    assert keys.list_keys("dora@example.org") == []  # deleted with her
    assert keys.verify(other.key) is not None  # someone else's key is untouched
    # Signing in again later makes a new user, but the old keys stay gone.
    _users(keys_settings, "dora@example.org")
    assert keys.verify(first.key) is None
    # Eve's row is deleted without `users remove` (by hand in SQL) and the same address is added again: the
    # database deleted her key with the row, and the new Eve (a new id) does not get it back.
    with keys.engine.begin() as conn:
        conn.execute(text("DELETE FROM users WHERE email = 'eve@example.org'"))
    assert keys.list_keys("eve@example.org") == [] and keys.verify(other.key) is None
    _users(keys_settings, "eve@example.org")
    assert keys.verify(other.key) is None
    # The key table's constraint, as the migration made it: a foreign key on the user id, ON DELETE CASCADE.
    [fk] = inspect(keys.engine).get_foreign_keys("api_keys")
    assert (fk["referred_table"], fk["referred_columns"], fk["constrained_columns"]) == ("users", ["id"], ["user_id"])
    assert (fk.get("options") or {}).get("ondelete", "").upper() == "CASCADE"

    # The CLI: refuses an unknown user with the way out; `users remove` says how many keys went.
    monkeypatch.setenv("DATA_ROOT", str(keys_settings.data_root))
    monkeypatch.setenv("DATABASE_URL", keys_settings.resolved_database_url)
    get_settings.cache_clear()
    try:
        capsys.readouterr()
        assert cli_main(["apikeys", "create", "--user", "nobody@example.org"]) == 2
        err = capsys.readouterr().err
        assert "no user nobody@example.org" in err and "python -m core users add nobody@example.org" in err
        assert cli_main(["users", "add", "fay@example.org"]) == 0
        fay = _cli(capsys, "create", "--user", "fay@example.org").strip()
        assert keys.verify(fay) is not None
        assert cli_main(["users", "remove", "fay@example.org"]) == 0
        assert "removed fay@example.org and revoked their 1 API key" in capsys.readouterr().out
        assert keys.verify(fay) is None
    finally:
        get_settings.cache_clear()


@pytest.fixture(scope="module")
def frame_body(face_variants: list[np.ndarray]) -> dict[str, str]:
    return {"image": base64.b64encode(encode_jpeg(face_variants[0], quality=85)).decode()}


def _keys_from_the_cli(capsys: pytest.CaptureFixture[str]) -> tuple[str, str, str, str]:
    """Alice's and Bob's valid keys, Carol's revoked key and removed Dave's key, all made with the CLI."""
    for person in ("alice", "bob", "carol", "dave"):
        assert cli_main(["users", "add", f"{person}@example.org"]) == 0
    # Keys come from the CLI, which prints the key alone on stdout.
    alice = _cli(capsys, "create", "--user", "alice@example.org", "--name", "camera page").strip()
    bob = _cli(capsys, "create", "--user", "bob@example.org").strip()
    gone = _cli(capsys, "create", "--user", "carol@example.org").strip()
    listing = _cli(capsys, "list")
    assert "carol@example.org" in listing and "camera page" in listing and alice not in listing
    gone_id = gone.split("_")[1]
    _cli(capsys, "revoke", gone_id)
    removed = _cli(capsys, "create", "--user", "dave@example.org").strip()
    assert cli_main(["users", "remove", "dave@example.org"]) == 0  # revokes dave's key with him
    assert "revoked" in _cli(capsys, "list", "--user", "carol@example.org")
    return alice, bob, gone, removed


def _check_refused_keys(url: str, frame_body: dict[str, str], alice: str, gone: str, removed: str) -> None:
    """No key, wrong, revoked and removed users' keys: 401, on the stream and the upload route."""
    predict = f"{url}/api/predict/stream"
    status, headers, body = _post(predict, frame_body, {})
    assert status == 401 and "API key is required" in str(body["detail"])
    assert headers.get("www-authenticate", headers.get("WWW-Authenticate")) == "Bearer"
    for wrong in (alice[:-2] + "zz", "esk_000000000000_" + "a" * 43, gone, removed):
        status, _, body = _post(predict, frame_body, {"Authorization": f"Bearer {wrong}"})
        assert (status, body) == (401, {"detail": "the API key is not valid, was revoked, or its user was removed"})
    status, _, _ = _post(predict, frame_body, {"X-API-Key": gone})
    assert status == 401
    multipart = urllib.request.Request(f"{url}/api/predict", data=b"", method="POST")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(multipart, timeout=10)
    assert err.value.code == 401  # the upload route is guarded too


def _check_valid_keys_and_rate_limit(url: str, frame_body: dict[str, str], alice: str, bob: str) -> None:
    """Valid keys answer 200 (Bearer and X-API-Key) until the per-key limit, then 429 with Retry-After."""
    predict = f"{url}/api/predict/stream"
    ok = [_post(predict, frame_body, {"Authorization": f"Bearer {alice}"}) for _ in range(2)]
    ok.append(_post(predict, frame_body, {"X-API-Key": alice}))
    assert [s for s, _, _ in ok] == [200, 200, 200]
    assert all(isinstance(b["faces"], list) and b["width"] > 0 for _, _, b in ok)
    status, headers, body = _post(predict, frame_body, {"Authorization": f"Bearer {alice}"})
    assert status == 429 and "3 requests a minute" in str(body["detail"])
    assert 1 <= int(headers["retry-after" if "retry-after" in headers else "Retry-After"]) <= 60
    status, _, _ = _post(predict, frame_body, {"Authorization": f"Bearer {bob}"})
    assert status == 200  # the limit is per key


def _check_no_key_leaks(log: Path, data_root: Path, alice: str, bob: str, gone: str, removed: str) -> None:
    """The access log counts every answer and names key ids; no key is in the logs or the database files."""
    logged = log.read_text()
    lines = [json.loads(line) for line in logged.splitlines() if line.startswith("{")]
    access = [
        line for line in lines if line["component"] == "core.api.access" and line["path"] == "/api/predict/stream"
    ]
    statuses = [line["status"] for line in access]
    assert (statuses.count(401), statuses.count(429), statuses.count(200)) == (6, 1, 4)
    assert {line.get("key_id") for line in access if line["status"] == 200} == {alice.split("_")[1], bob.split("_")[1]}
    for key in (alice, bob, gone, removed):
        assert key not in logged and key.split("_", 2)[2] not in logged
    # Nor in the database, in any file SQLite wrote (main file and write-ahead log).
    db_bytes = b"".join(p.read_bytes() for p in data_root.glob("studio.db*"))
    assert b"alice@example.org" in db_bytes  # the rows are there...
    for key in (alice, bob, gone):
        assert key.split("_", 2)[2].encode() not in db_bytes  # ...but no key


@pytest.mark.slow
def test_api_with_keys_on_a_real_server(
    tmp_path: Path,
    face_variants: list[np.ndarray],
    frame_body: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data_root = tmp_path / "data"
    env = {
        "DATA_ROOT": str(data_root),
        "MODELS_DIR": str(browser_models_dir(tmp_path, face_variants)),
        "DATABASE_URL": "",
        "API_REQUIRE_KEY": "true",
        "API_RATE_PER_MIN": "3",
        "LOG_LEVEL": "DEBUG",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    alice, bob, gone, removed = _keys_from_the_cli(capsys)
    get_settings.cache_clear()
    dispose_engine(f"sqlite:///{data_root / 'studio.db'}")

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "api.log"
    with server(uvicorn_cmd(port), f"{url}/health", env, log):
        with urllib.request.urlopen(f"{url}/health", timeout=10) as response:
            assert json.loads(response.read())["api_key_required"] is True  # /health stays open and says so
        _check_refused_keys(url, frame_body, alice, gone, removed)
        _check_valid_keys_and_rate_limit(url, frame_body, alice, bob)
    _check_no_key_leaks(log, data_root, alice, bob, gone, removed)


def test_wrong_keys_are_throttled_per_client(
    settings: Settings, astronaut_png: bytes, face_variants: list[np.ndarray]
) -> None:
    """Ten wrong keys from one client in a minute get 401; from then on that client gets 429 with Retry-After (even
    with a valid key) while another client is unaffected; one security event is logged for the burst."""
    from fastapi.testclient import TestClient

    from core.api.factory import create_app
    from core.api.keyauth import FAILED_PER_MINUTE
    from tests.live.real_model import shared_model

    model = shared_model(face_variants)
    keyed = settings.model_copy(update={"api_require_key": True})
    _users(keyed, "kim@example.org")
    with acting_as(OPERATOR):
        valid = ApiKeys(keyed).create("kim@example.org").key
    app = create_app(keyed, model_loader=lambda _s: model)
    files = {"file": ("a.png", astronaut_png, "image/png")}
    wrong = {"Authorization": "Bearer esk_000000000000_" + "a" * 43}
    events: list[logging.LogRecord] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = events.append  # type: ignore[method-assign]
    security = logging.getLogger("core.api.security")
    security.addHandler(handler)  # (the app's JSON logging stops propagation above `core`)
    with (
        TestClient(app, client=("203.0.113.7", 40000)) as attacker,
        TestClient(app, client=("198.51.100.2", 40000)) as other,
    ):
        statuses = [attacker.post("/api/predict", files=files, headers=wrong).status_code for _ in range(25)]
        assert statuses == [401] * FAILED_PER_MINUTE + [429] * (25 - FAILED_PER_MINUTE)
        refused = attacker.post("/api/predict", files=files, headers={"X-API-Key": valid})
        assert refused.status_code == 429 and "too many failed API key attempts" in refused.json()["detail"]
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert other.post("/api/predict", files=files, headers=wrong).status_code == 401
        assert other.post("/api/predict", files=files, headers={"X-API-Key": valid}).status_code == 200
    security.removeHandler(handler)
    assert len(events) == 1 and "203.0.113.7" in events[0].getMessage()


def test_a_request_without_a_key_is_told_where_to_get_one(settings: Settings, astronaut_png: bytes) -> None:
    """Every signed-in user makes their own keys on the dashboard: the 401 says so, not only the operator's CLI."""
    from fastapi.testclient import TestClient

    from core.api.factory import create_app

    app = create_app(settings.model_copy(update={"api_require_key": True}), model_loader=lambda _s: None)
    with TestClient(app) as client:
        answer = client.post("/api/predict", files={"file": ("a.png", astronaut_png, "image/png")})
        page = client.get("/").text
    assert answer.status_code == 401
    assert "API keys page" in answer.json()["detail"]
    assert "<b>API keys</b> page" in page  # the camera page's key form says the same


def test_failure_throttle_forgets_a_burst_after_a_minute() -> None:
    from core.api.keyauth import FailureThrottle

    throttle = FailureThrottle(per_minute=3)
    for t in (0.0, 1.0, 2.0):
        assert throttle.retry_after("a", now=t) == 0.0
        throttle.failed("a", now=t)
    assert throttle.retry_after("a", now=3.0) == pytest.approx(57.0)
    assert throttle.retry_after("b", now=3.0) == 0.0
    assert throttle.retry_after("a", now=60.5) == 0.0  # the first failure left the window
