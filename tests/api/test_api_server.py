"""A real uvicorn server: hostile images and unexpected exceptions give JSON answers, keep the keep-alive connection
usable, and every log line (tracebacks and the access log included) is one JSON object."""

from __future__ import annotations

import base64
import http.client
import json
import os
import subprocess
import sys
from pathlib import Path

from tests.browser.harness import ROOT, free_port, wait_http
from tests.core.hostile import jpeg_claiming, png_bomb


def _multipart(name: str, data: bytes) -> tuple[bytes, str]:
    boundary = "studio-test-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def test_real_server_answers_json_and_logs_json_lines(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "api.log"
    env = {
        **os.environ,
        "DATA_ROOT": str(tmp_path / "data"),
        "MODELS_DIR": str(tmp_path / "models"),
        "DATABASE_URL": "",
        "API_MAX_UPLOAD_MB": "4",
    }
    cmd = [sys.executable, "-m", "uvicorn", "--factory", "tests.api.crash_app:make_app"]
    cmd += ["--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_http(f"http://127.0.0.1:{port}/health", 90, proc, log)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)  # one keep-alive connection throughout
        answers = []
        body, ctype = _multipart("bomb.png", png_bomb(20000, 20000))
        for _ in range(2):
            conn.request("POST", "/api/predict", body=body, headers={"Content-Type": ctype})
            answers.append(conn.getresponse())
            answers[-1].body = answers[-1].read()  # type: ignore[attr-defined]
            conn.request("GET", "/boom")
            answers.append(conn.getresponse())
            answers[-1].body = answers[-1].read()  # type: ignore[attr-defined]
            frame = json.dumps({"image": base64.b64encode(jpeg_claiming(65000, 65000)).decode()})
            conn.request("POST", "/api/predict/stream", body=frame, headers={"Content-Type": "application/json"})
            answers.append(conn.getresponse())
            answers[-1].body = answers[-1].read()  # type: ignore[attr-defined]
        conn.request("GET", "/health")
        health = conn.getresponse()
        assert health.status == 200 and json.loads(health.read())["status"] == "degraded"
        conn.close()
    finally:
        proc.terminate()
        proc.wait(timeout=15)

    assert [a.status for a in answers] == [413, 500, 413] * 2
    for answer in answers:
        detail = json.loads(answer.body)["detail"]  # type: ignore[attr-defined]
        assert "secret" not in detail and "Traceback" not in detail
    assert "too large" in json.loads(answers[0].body)["detail"]  # type: ignore[attr-defined]

    lines = [line for line in log.read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object: no plain-text traceback
    errors = [r for r in records if r["level"] == "ERROR"]
    assert len(errors) == 2 and all("RuntimeError: secret internals" in r["exc"] for r in errors)
    access = [r for r in records if r["component"] == "core.api.access"]
    assert [(r["path"], r["status"]) for r in access if r["path"] == "/boom"] == [("/boom", 500)] * 2
    assert sum(1 for r in access if r["path"].startswith("/api/predict") and r["status"] == 413) == 4
