"""The REST API through TestClient with a real fitted model, real MediaPipe and real images."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient

from core.api.factory import create_app
from core.api.logs import JsonFormatter
from core.imaging import encode_jpeg, encode_png
from core.models.registry import Registry
from core.settings import PROJECT_ROOT, Settings
from tests.auth.test_identity_and_exposure import PROXY_HEADER_SAMPLES
from tests.live.real_model import BlendshapeModel, shared_model

# TestClient's default peer ("testclient") is no address: the API treats it as another machine (see the test below).
LOOPBACK = ("127.0.0.1", 50000)


@pytest.fixture(scope="module")
def model(face_variants: list[np.ndarray]) -> BlendshapeModel:
    return shared_model(face_variants)


@pytest.fixture
def api_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"api_max_upload_mb": 1.0, "api_cors_origins": ["https://studio.example.org"]})


@pytest.fixture
def client(api_settings: Settings, model: BlendshapeModel) -> Iterator[TestClient]:
    app = create_app(api_settings, model_loader=lambda _s: model)
    with TestClient(app, raise_server_exceptions=False, client=LOOPBACK) as c:
        yield c


@pytest.fixture(scope="module")
def astronaut_jpeg(astronaut_rgb: np.ndarray) -> bytes:
    return encode_jpeg(astronaut_rgb, quality=90)


def assert_error(response, status: int, *words: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"detail"} and isinstance(body["detail"], str)
    assert "Traceback" not in body["detail"]
    for word in words:
        assert word in body["detail"].lower()


def test_health_names_the_loaded_model(client: TestClient) -> None:
    body = client.get("/health").json()
    assert body == {
        "status": "ok",
        "model_id": "test-blendshape-logreg",
        "model_kind": "landmark",
        "classes": ["happy", "neutral"],
        "detail": "",
        "api_key_required": False,
    }


def test_predict_a_real_face_photo(client: TestClient, astronaut_png: bytes) -> None:
    response = client.post("/api/predict", files={"file": ("astronaut.png", astronaut_png, "image/png")})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["width"], body["height"]) == (512, 512)
    assert body["model_id"] == "test-blendshape-logreg" and body["model_kind"] == "landmark"
    [face] = body["faces"]
    assert face["emotion"] == "happy" and face["confidence"] > 0.9
    assert set(face["probabilities"]) == {"happy", "neutral"}
    assert sum(face["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
    assert face["model_id"] == "test-blendshape-logreg"
    x0, y0, x1, y1 = face["box"]
    assert 0.3 < x0 < x1 < 0.7 and 0.0 < y0 < y1 < 0.5
    assert face["box_px"] == [round(x0 * 512), round(y0 * 512), round(x1 * 512), round(y1 * 512)]
    assert body["artwork_url"] == "/api/art/happy.svg"


def test_stream_frame_as_base64_and_as_data_url(client: TestClient, astronaut_jpeg: bytes) -> None:
    encoded = base64.b64encode(astronaut_jpeg).decode()
    for image in (encoded, f"data:image/jpeg;base64,{encoded}"):
        response = client.post("/api/predict/stream", json={"image": image})
        assert response.status_code == 200, response.text
        assert [f["emotion"] for f in response.json()["faces"]] == ["happy"]


def test_an_image_without_a_face_gives_no_faces(client: TestClient) -> None:
    blank = encode_png(np.full((240, 320, 3), 200, np.uint8))
    response = client.post("/api/predict", files={"file": ("wall.png", blank, "image/png")})
    assert response.status_code == 200
    assert response.json()["faces"] == [] and response.json()["artwork_url"] is None


def test_empty_upload(client: TestClient) -> None:
    assert_error(client.post("/api/predict", files={"file": ("empty.jpg", b"", "image/jpeg")}), 400, "empty")


def test_empty_body(client: TestClient) -> None:
    assert_error(client.post("/api/predict"), 422, "file")
    assert_error(client.post("/api/predict/stream"), 422, "invalid request")


def test_non_image_upload(client: TestClient) -> None:
    response = client.post("/api/predict", files={"file": ("notes.jpg", b"just some text, not a JPEG", "image/jpeg")})
    assert_error(response, 400, "not an image")


def test_truncated_jpeg(client: TestClient, astronaut_jpeg: bytes) -> None:
    cut = astronaut_jpeg[: len(astronaut_jpeg) // 2]
    assert_error(client.post("/api/predict", files={"file": ("cut.jpg", cut, "image/jpeg")}), 400, "truncated")
    frame = base64.b64encode(cut).decode()
    assert_error(client.post("/api/predict/stream", json={"image": frame}), 400, "truncated")


def test_oversized_upload_is_refused_before_decoding(client: TestClient) -> None:
    big = b"\xff\xd8" + bytes(1024 * 1024 + 10)  # just over the 1 MB limit of these settings
    assert_error(client.post("/api/predict", files={"file": ("big.jpg", big, "image/jpeg")}), 413, "1 mb")
    frame = base64.b64encode(big).decode()
    assert_error(client.post("/api/predict/stream", json={"image": frame}), 413, "limit")


def test_oversized_chunked_upload_without_content_length(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield bytes(100_000)

    response = client.post("/api/predict/stream", content=chunks(), headers={"content-type": "application/json"})
    assert_error(response, 413, "limit")


def test_base64_garbage(client: TestClient) -> None:
    assert_error(client.post("/api/predict/stream", json={"image": "%%% not base64 %%%"}), 400, "base64")
    valid_b64_not_image = base64.b64encode(b"hello world").decode()
    assert_error(client.post("/api/predict/stream", json={"image": valid_b64_not_image}), 400, "not an image")


def test_missing_or_wrong_fields(client: TestClient, astronaut_jpeg: bytes) -> None:
    assert_error(client.post("/api/predict/stream", json={}), 422, "image", "missing")
    assert_error(client.post("/api/predict/stream", json={"frame": "abc"}), 422, "image")
    assert_error(client.post("/api/predict/stream", json={"image": ""}), 422, "image")
    bad_json = client.post("/api/predict/stream", content=b"{not json", headers={"content-type": "application/json"})
    assert_error(bad_json, 422, "json")
    wrong_name = client.post("/api/predict", files={"photo": ("a.jpg", astronaut_jpeg, "image/jpeg")})
    assert_error(wrong_name, 422, "file", "missing")


def test_unexpected_model_failure_is_a_500_without_traceback(
    api_settings: Settings, model: BlendshapeModel, astronaut_png: bytes
) -> None:
    class Broken(BlendshapeModel):
        def predict_faces(self, rgb, faces):  # type: ignore[no-untyped-def]
            raise RuntimeError("secret internals")

    with TestClient(
        create_app(api_settings, model_loader=lambda _s: Broken(model.clf)),
        raise_server_exceptions=False,
        client=LOOPBACK,
    ) as c:
        response = c.post("/api/predict", files={"file": ("a.png", astronaut_png, "image/png")})
    assert_error(response, 500, "internal error")
    assert "secret" not in response.text


def test_without_a_model_health_is_degraded_and_predict_is_503(api_settings: Settings, astronaut_png: bytes) -> None:
    with TestClient(create_app(api_settings, model_loader=lambda _s: None), client=LOOPBACK) as c:
        health = c.get("/health").json()
        assert health["status"] == "degraded" and health["model_id"] is None and "no model" in health["detail"]
        response = c.post("/api/predict", files={"file": ("a.png", astronaut_png, "image/png")})
    assert_error(response, 503, "no model")


def test_a_broken_model_file_does_not_stop_startup(api_settings: Settings) -> None:
    def explode(_s: Settings) -> None:
        raise ValueError("checksum mismatch")

    with TestClient(create_app(api_settings, model_loader=explode), client=LOOPBACK) as c:
        assert "checksum mismatch" in c.get("/health").json()["detail"]


def test_cors_allows_only_configured_origins(client: TestClient) -> None:
    allowed = client.options(
        "/api/predict/stream",
        headers={"Origin": "https://studio.example.org", "Access-Control-Request-Method": "POST"},
    )
    assert allowed.headers.get("access-control-allow-origin") == "https://studio.example.org"
    other = client.get("/health", headers={"Origin": "https://evil.example.com"})
    assert "access-control-allow-origin" not in other.headers


def test_web_page_artwork_and_openapi(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert 'id="emotion"' in page.text and "/static/app.js" in page.text
    script = client.get("/static/app.js")
    assert script.status_code == 200 and "/api/predict/stream" in script.text
    art = client.get("/api/art/surprise.svg")
    assert art.status_code == 200 and art.headers["content-type"].startswith("image/svg+xml")
    assert "<svg" in art.text
    assert_error(client.get("/api/art/bored.svg"), 404, "no artwork")
    assert client.get("/static/../../settings.py").status_code == 404
    spec = client.get("/openapi.json").json()
    assert {"/health", "/api/predict", "/api/predict/stream"} <= set(spec["paths"])
    # Every answer a route gives is declared, with the error body's schema.
    for path in ("/api/predict", "/api/predict/stream"):
        declared = spec["paths"][path]["post"]["responses"]
        assert {"200", "400", "401", "403", "413", "422", "429", "503"} <= set(declared), path
        assert declared["429"]["headers"]["Retry-After"]["schema"] == {"type": "integer"}
        assert declared["400"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorOut")
    art_answers = spec["paths"]["/api/art/{emotion}.svg"]["get"]["responses"]
    assert "404" in art_answers and "400" not in art_answers  # it answers 404 for an unknown name, never 400
    assert client.get("/docs").status_code == 200


def test_access_log_is_structured(client: TestClient) -> None:
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep()
    logging.getLogger("core.api.access").addHandler(handler)
    try:
        client.get("/health")
    finally:
        logging.getLogger("core.api.access").removeHandler(handler)
    line = json.loads(JsonFormatter().format(records[-1]))
    assert line["component"] == "core.api.access" and line["level"] == "INFO"
    assert line["path"] == "/health" and line["status"] == 200 and line["method"] == "GET"
    assert line["ts"].endswith("+00:00") and isinstance(line["ms"], float)


def test_the_shipped_starter_model_serves_the_real_face(settings: Settings, astronaut_png: bytes) -> None:
    real = settings.model_copy(update={"models_dir": PROJECT_ROOT / "models"})
    assert Registry(real.models_dir).active_id() is not None
    with TestClient(create_app(real), client=LOOPBACK) as c:
        health = c.get("/health").json()
        assert health["status"] == "ok", health
        response = c.post("/api/predict", files={"file": ("a.png", astronaut_png, "image/png")})
    assert response.status_code == 200, response.text
    [face] = response.json()["faces"]
    assert face["emotion"] in health["classes"] and face["model_id"] == health["model_id"]


def test_uvicorn_target_is_the_fastapi_app() -> None:
    # `uvicorn core.api:app` resolves the attribute on the package; a submodule named `app` once shadowed it.
    from fastapi import FastAPI

    import core.api

    assert isinstance(core.api.app, FastAPI)


def test_decompression_bombs_are_413_and_the_next_request_works(client: TestClient, astronaut_png: bytes) -> None:
    from tests.core.hostile import jpeg_claiming, png_bomb

    bomb = png_bomb(20000, 20000)  # 400 megapixels in a few hundred KB
    assert_error(client.post("/api/predict", files={"file": ("b.png", bomb, "image/png")}), 413, "too large")
    frame = base64.b64encode(jpeg_claiming(65000, 65000)).decode()
    assert_error(client.post("/api/predict/stream", json={"image": frame}), 413, "too large", "max_image_pixels")
    ok = client.post("/api/predict", files={"file": ("a.png", astronaut_png, "image/png")})
    assert ok.status_code == 200 and len(ok.json()["faces"]) == 1


def test_decodes_run_at_most_api_max_decodes_at_once(
    api_settings: Settings, model: BlendshapeModel, astronaut_jpeg: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    import core.api.routes.predict as predict_route

    real = predict_route.decode_reduced
    lock = threading.Lock()
    running, peak = 0, 0

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        try:
            time.sleep(0.15)  # hold the slot long enough for the other requests to pile up
            return real(*args, **kwargs)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(predict_route, "decode_reduced", counting)
    settings = api_settings.model_copy(update={"api_max_decodes": 2})
    with TestClient(create_app(settings, model_loader=lambda _s: model), client=LOOPBACK) as c:

        def post(_: int) -> int:
            return c.post("/api/predict", files={"file": ("a.jpg", astronaut_jpeg, "image/jpeg")}).status_code

        with ThreadPoolExecutor(6) as pool:
            statuses = list(pool.map(post, range(6)))
    assert statuses == [200] * 6
    assert peak == 2  # six requests in flight, never more than two decodes


def test_without_keys_only_this_machine_is_served_unless_the_operator_says_so(
    settings: Settings, model: BlendshapeModel, astronaut_png: bytes
) -> None:
    """API_REQUIRE_KEY unset in local mode (a Docker image without secrets.toml, say): a remote peer, a request a
    proxy forwarded, or an unknown peer gets 403 with what to do; loopback is served; explicit settings open it."""
    files = {"file": ("a.png", astronaut_png, "image/png")}
    app = create_app(settings, model_loader=lambda _s: model)
    with TestClient(app, client=("203.0.113.7", 40000)) as remote, TestClient(app) as unknown:
        for client, headers in (
            (remote, {}),
            (unknown, {}),
            (TestClient(app, client=LOOPBACK), {"X-Forwarded-For": "x"}),
        ):
            response = client.post("/api/predict", files=files, headers=headers)
            assert response.status_code == 403 and "API_REQUIRE_KEY" in response.json()["detail"]
        assert remote.get("/health").status_code == 200  # health stays open
    with TestClient(app, client=LOOPBACK) as local:
        assert local.post("/api/predict", files=files).status_code == 200
    for explicit in ({"api_require_key": False}, {"auth_mode": "local"}):
        opened = create_app(settings.model_copy(update=explicit), model_loader=lambda _s: model)
        with TestClient(opened, client=("203.0.113.7", 40000)) as remote:
            assert remote.post("/api/predict", files=files).status_code == 200


@pytest.mark.parametrize("header", sorted(PROXY_HEADER_SAMPLES))
def test_every_proxy_header_on_a_loopback_request_counts_as_exposed(
    settings: Settings, model: BlendshapeModel, astronaut_png: bytes, header: str
) -> None:
    """A proxy on this machine that sends only X-Real-IP (or only X-Forwarded-Proto, or Via...) is still a proxy:
    no keys required means 403, even with AUTH_MODE=local; only API_REQUIRE_KEY=false opens it."""
    files = {"file": ("a.png", astronaut_png, "image/png")}
    headers = {header: PROXY_HEADER_SAMPLES[header]}
    for update in ({}, {"auth_mode": "local"}):
        app = create_app(settings.model_copy(update=update), model_loader=lambda _s: model)
        with TestClient(app, client=LOOPBACK) as local:
            response = local.post("/api/predict", files=files, headers=headers)
            assert response.status_code == 403 and "reverse proxy" in response.json()["detail"]
            assert local.post("/api/predict", files=files).status_code == 200  # the same client, no proxy header
    opened = create_app(settings.model_copy(update={"api_require_key": False}), model_loader=lambda _s: model)
    with TestClient(opened, client=LOOPBACK) as local:
        assert local.post("/api/predict", files=files, headers=headers).status_code == 200
