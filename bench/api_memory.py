"""API memory under large images: the server's peak RSS next to its idle RSS.

Run: `python bench/api_memory.py` (from the repository root). It starts the REST API (`uvicorn core.api:app`, the
active or shipped starter model) as a subprocess on a free loopback port, warms it up with one small photo, then
sends 16 large-but-legal images (49 megapixels each, just under MAX_IMAGE_PIXELS: half JPEG, half PNG, each with the
scikit-image astronaut's face in it) with 8 requests in flight. It samples the server's RSS from /proc while they
run and prints its idle RSS (the baseline, measured in the same run), its peak, the RSS once the requests are done,
and peak / idle as a ratio. Goal: peak under 1.5 GB, back under 600 MB afterwards.

`--decodes N` sets API_MAX_DECODES for the server (default: the Settings default).
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.imaging import encode_jpeg, encode_png  # noqa: E402

SIDE = 7000  # 49 megapixels
BOUNDARY = "bench-boundary"


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} for pid {pid}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def large_images() -> list[tuple[str, bytes]]:
    """Face photos on a 7000x7000 canvas: a JPEG (a few MB, decoded reduced) and a PNG (decoded in full)."""
    from skimage import data

    face = cv2.resize(np.ascontiguousarray(data.astronaut()), (2048, 2048), interpolation=cv2.INTER_CUBIC)
    canvas = np.full((SIDE, SIDE, 3), 180, np.uint8)
    canvas[2000:4048, 2500:4548] = face
    jpeg, png = encode_jpeg(canvas, quality=85), encode_png(canvas)
    return [(f"big{i}.jpg", jpeg) if i % 2 == 0 else (f"big{i}.png", png) for i in range(16)]


def post(port: int, name: str, data: bytes) -> int:
    body = (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    try:
        conn.request(
            "POST", "/api/predict", body=body, headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
        )
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def wait_up(port: int, proc: subprocess.Popen[bytes], timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("the server did not come up")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--decodes", type=int, default=None, help="API_MAX_DECODES for the server")
    parser.add_argument("--in-flight", type=int, default=8)
    args = parser.parse_args()

    images = large_images()
    print(f"{len(images)} images of {SIDE}x{SIDE}: " + ", ".join(f"{len(d) / 1e6:.1f} MB" for _, d in images[:2]))
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "DATA_ROOT": tmp, "API_MAX_UPLOAD_MB": "32"}
        env.pop("DATABASE_URL", None)
        if args.decodes is not None:
            env["API_MAX_DECODES"] = str(args.decodes)
        cmd = [sys.executable, "-m", "uvicorn", "core.api:app", "--host", "127.0.0.1", "--port", str(port)]
        cmd += ["--log-level", "warning", "--no-access-log"]
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_up(port, proc)
            from skimage import data

            warm = post(port, "warm.png", encode_png(np.ascontiguousarray(data.astronaut())))
            time.sleep(1.0)
            idle = rss_mb(proc.pid)

            samples: list[float] = []
            stop = threading.Event()

            def sample() -> None:
                while not stop.is_set():
                    samples.append(rss_mb(proc.pid))
                    time.sleep(0.02)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            t0 = time.perf_counter()
            with ThreadPoolExecutor(args.in_flight) as pool:
                statuses = list(pool.map(lambda item: post(port, *item), images))
            elapsed = time.perf_counter() - t0
            stop.set()
            sampler.join()
            time.sleep(2.0)
            after = rss_mb(proc.pid)
            peak = max(max(samples), rss_mb(proc.pid, "VmHWM"))
        finally:
            proc.terminate()
            proc.wait(timeout=30)

    print(f"warm-up status {warm}; statuses {sorted(set(statuses))} ({statuses.count(200)}/{len(statuses)} ok)")
    print(f"{len(images)} requests, {args.in_flight} in flight: {elapsed:.1f} s")
    print(f"idle RSS (baseline) {idle:7.0f} MB")
    print(f"peak RSS            {peak:7.0f} MB   ratio peak/idle {peak / idle:.2f}   (goal: under 1500 MB)")
    print(f"RSS after           {after:7.0f} MB   ratio after/idle {after / idle:.2f}   (goal: under 600 MB)")


if __name__ == "__main__":
    main()
