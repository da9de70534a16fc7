"""The one place that connects this process to Ray (EXECUTOR=ray), with a clear message when it cannot."""

from __future__ import annotations

import logging
import os
import socket
import threading
from typing import Any

from core.errors import StudioError
from core.settings import PROJECT_ROOT, Settings

CONNECT_TIMEOUT_S = 3.0
_lock = threading.Lock()
# A Ray started in this process serves this process alone: no metrics to export (no dashboard, no Prometheus reads
# them), which saves its agents' CPU for the work (they compete with the workers for this machine's cores).
LEAN: dict[str, Any] = {"enable_metrics_collection": False}
_connected_to: str | None = None  # the RAY_ADDRESS this process joined ("" = a Ray started in-process)


class RayUnavailable(StudioError):
    """EXECUTOR=ray, but Ray is not installed or its cluster cannot be reached."""


def _how_to_start(address: str) -> str:
    port = address.rsplit(":", 1)[-1] if ":" in address else "6379"
    return (
        f"Start a head node there with `ray start --head --port={port}` (and `ray start --address=<head>:{port}` on "
        "each further machine), point RAY_ADDRESS at it, or set EXECUTOR=local."
    )


def _check_reachable(address: str) -> None:
    """Fail in seconds with the address in the message: Ray itself retries an unreachable address for a minute."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise RayUnavailable(f'RAY_ADDRESS {address!r} is not of the form host:port (e.g. "127.0.0.1:6379") or "auto"')
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        message = f"Ray is unreachable at RAY_ADDRESS={address} ({reason}). {_how_to_start(address)}"
        raise RayUnavailable(message) from exc


def connect(settings: Settings) -> Any:
    """Join the cluster at RAY_ADDRESS (or start a Ray in this process when it is empty) once per process, and
    return the `ray` module. Raises RayUnavailable with the address and how to start a head node."""
    global _connected_to
    address = settings.ray_address.strip()
    if not address:
        # A Ray started in this process serves this machine alone: on loopback (Ray otherwise replaces 127.0.0.1 by
        # the machine's address, where its agents listen). Read when ray is first imported.
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    try:
        import ray
    except ImportError as exc:  # an install without the ray extra
        raise RayUnavailable("EXECUTOR=ray needs the ray package: pip install 'ray[default]'") from exc
    with _lock:
        if ray.is_initialized() and _connected_to in (None, address):
            return ray
        if address and address != "auto":
            _check_reachable(address)
        if ray.is_initialized():
            raise RayUnavailable(
                f"this process already joined Ray at {_connected_to or 'an in-process Ray'}; "
                f"restart it to use RAY_ADDRESS={address or '(empty)'}"
            )
        # Workers import `core` from this checkout; on further machines it must sit at the same path (README).
        runtime_env = {"env_vars": {"PYTHONPATH": str(PROJECT_ROOT)}}
        quiet: dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": False}
        try:
            if address:
                ray.init(address=address, runtime_env=runtime_env, **quiet)
            else:
                # "local": a new Ray of our own, never another cluster that happens to run on this machine.
                ray.init("local", include_dashboard=False, runtime_env=runtime_env, _system_config=LEAN, **quiet)
        except Exception as exc:  # ConnectionError, RuntimeError, timeouts: all mean "no cluster here"
            where = f"RAY_ADDRESS={address}" if address else "a Ray started in this process"
            message = f"Ray is unreachable at {where}: {str(exc).rstrip('.')}. {_how_to_start(address or 'auto')}"
            raise RayUnavailable(message) from exc
        _connected_to = address
        return ray


def cluster_cpus(settings: Settings) -> int:
    """CPUs the cluster offers (at least 1)."""
    ray = connect(settings)
    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def cluster_has_gpu(settings: Settings) -> bool:
    ray = connect(settings)
    return float(ray.cluster_resources().get("GPU", 0)) >= 1


def worker_settings(settings: Settings) -> Settings:
    """The settings shipped to Ray workers: without the Gemini key, which no worker needs (secrets stay here)."""
    return settings.model_copy(update={"gemini_api_key": None})
