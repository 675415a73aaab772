"""Running a sweep's ensemble groups: in this process, or as Ray tasks (switch: ``ICL_RAY``).

The experiment entry points (:func:`icl_utils.incontext.experiments.train_runs` for the Eq. 7
model and GPT-2, :func:`icl_utils.cot.training.train_cot` for Eq. 11) split what is not in the
result cache into ensemble groups and hand them to :func:`run_groups`:

* ``ICL_RAY`` unset (or ``off``): each group trains in this process, one after the other;
* ``ICL_RAY=auto``: a local Ray instance is started (on every core of this machine) and each
  group is one Ray task;
* ``ICL_RAY=ray://HOST:10001`` (Ray client) or ``HOST:6379`` (a cluster's address): the tasks run
  on that cluster; the package's source is shipped with them (``runtime_env`` ``py_modules``),
  its dependencies must be installed on the nodes.

The driver writes each group's results to the result cache as soon as the group arrives, so nodes
need no shared disk and an interrupted sweep resumes with what is missing.  Ray retries a task
whose worker died (``ICL_RAY_RETRIES``, default 3); the groups that finished are not recomputed.
On a CUDA device each task asks for a fraction ``ICL_RAY_GPU_FRACTION`` (default 0.25) of a GPU,
so several small ensembles share one GPU.

A task trains exactly the group the in-process path would train, with the driver's torch thread
count, so its results are bit-identical to in-process results on the same machine
(``tests/test_sweep.py``).  Parallelism comes from groups: a sweep whose configurations all share
their ensemble fields is one group (one task); ``max_ensemble`` splits it (each model then equals
the model trained with that ``max_ensemble`` in process).
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from .progress import progress_bar

__all__ = [
    "ENV",
    "GPU_ENV",
    "RETRIES_ENV",
    "PROBE_TIMEOUT",
    "ray_address",
    "connect",
    "gpu_fraction",
    "run_groups",
]

ENV = "ICL_RAY"
GPU_ENV = "ICL_RAY_GPU_FRACTION"
RETRIES_ENV = "ICL_RAY_RETRIES"
#: Seconds a cluster address has to answer as a gRPC server (Ray's GCS and client server are).
PROBE_TIMEOUT = 5.0
_OFF = {"", "off", "0", "false", "no", "none"}
_LOCAL = {"auto", "local", "1", "on", "true", "yes"}

#: The package's folder, shipped to a remote cluster with every task.
PACKAGE_DIR = Path(__file__).resolve().parent.parent


def ray_address() -> str | None:
    """What ``ICL_RAY`` asks for: None (train in this process), ``"local"`` (start a local Ray
    instance) or a cluster address."""
    value = os.environ.get(ENV, "").strip()
    if value.lower() in _OFF:
        return None
    if value.lower() in _LOCAL:
        return "local"
    return value


def gpu_fraction() -> float:
    """The fraction of a GPU each task asks for on a CUDA device (``ICL_RAY_GPU_FRACTION``)."""
    raw = os.environ.get(GPU_ENV, "0.25")
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not 0 < value <= 1:
        raise ValueError(f"{GPU_ENV} = {raw!r} is invalid: allowed a fraction of one GPU in (0, 1]")
    return value


def _retries() -> int:
    raw = os.environ.get(RETRIES_ENV, "3")
    if not raw.strip().isdigit():
        raise ValueError(f"{RETRIES_ENV} = {raw!r} is invalid: allowed an integer >= 0")
    return int(raw)


def connect(address: str):
    """Ray, initialized for ``address`` (see :func:`ray_address`); one clear error naming
    ``ICL_RAY`` when Ray is not installed or the cluster cannot be reached."""
    value = os.environ.get(ENV, address)
    try:
        # In a Jupyter kernel without ipywidgets, importing Ray warns (tqdm.auto) and logs that
        # widgets are missing: neither belongs in a chapter's output.
        logging.getLogger("ray.widgets.util").setLevel(logging.WARNING)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="IProgress not found")
            import ray
    except ImportError:
        raise RuntimeError(
            f"{ENV} = {value!r} asks for Ray, which is not installed here: pip install -e '.[ray]' "
            f"(or unset {ENV} to train in this process)"
        ) from None
    if ray.is_initialized():
        return ray
    if address != "local":
        _check_reachable(address, value)
    logging.getLogger("ray").setLevel(logging.ERROR)  # Ray's start-up notices are not the chapter's output
    if address == "local":
        kwargs = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
    else:
        kwargs = {
            "address": address,
            "runtime_env": {"py_modules": [str(PACKAGE_DIR)]},
            "log_to_driver": False,
            "configure_logging": False,
        }
    try:
        ray.init(**kwargs)
    except Exception as err:  # noqa: BLE001 - Ray raises ConnectionError, RuntimeError, ValueError ...
        raise RuntimeError(
            f"{ENV} = {value!r}: cannot start or reach Ray ({type(err).__name__}: {err}); allowed 'auto' "
            f"(a local Ray instance), a cluster address such as 'ray://head:10001', or 'off'"
        ) from None
    return ray


#: The HTTP/2 connection preface and an empty SETTINGS frame: every gRPC server answers with a
#: SETTINGS frame (type 0x4) of its own.
_H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"


def _speaks_grpc(host: str, port: int, timeout: float) -> bool:
    """Whether the server at host:port answers the HTTP/2 preface with a SETTINGS frame within
    ``timeout`` seconds (Ray's GCS and its client server are gRPC servers; a web server, SSH or
    a silent port are not)."""
    import socket

    deadline = time.monotonic() + timeout
    with socket.create_connection((host, port), timeout=timeout) as conn:
        conn.sendall(_H2_PREFACE)
        data = b""
        while len(data) < 9:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            conn.settimeout(left)
            try:
                chunk = conn.recv(9 - len(data))
            except OSError:  # timed out or reset
                return False
            if not chunk:
                return False
            data += chunk
    return data[3] == 0x04


def _check_reachable(address: str, value: str, timeout: float = PROBE_TIMEOUT) -> None:
    """Fail fast, naming ``ICL_RAY``, when nothing listens at a cluster address, or something that
    is not a gRPC server (``ray.init`` would wait for minutes, or for ever)."""

    hostport = address.split("://", 1)[-1].rstrip("/")
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise RuntimeError(
            f"{ENV} = {value!r} is invalid: allowed 'auto' (a local Ray instance), a cluster address "
            "'HOST:PORT' or 'ray://HOST:PORT', or 'off'"
        )
    try:
        grpc = _speaks_grpc(host, int(port), timeout)
    except OSError as err:
        raise RuntimeError(
            f"{ENV} = {value!r}: no Ray cluster answers at {host}:{port} ({err}); start one "
            f"(ray start --head) or unset {ENV} to train in this process"
        ) from None
    if not grpc:
        raise RuntimeError(
            f"{ENV} = {value!r}: the service at {host}:{port} is not a Ray cluster (it did not answer as Ray's "
            f"gRPC server does within {timeout:g} s); use the head's GCS address (HOST:6379) or its Ray client "
            f"address (ray://HOST:10001), or unset {ENV} to train in this process"
        )


def _task(train, group, device, label, threads, kwargs):
    """One group, in a Ray worker: the driver's thread count (bit-identical results), no progress bar."""
    torch.set_num_threads(threads)
    return train(group, device, False, label, **kwargs)


def _writable(obj):
    """Results as the in-process path returns them: Ray hands NumPy arrays back read-only (views of
    its object store); copy them, so that a chapter may change them and torch takes them silently."""
    if isinstance(obj, np.ndarray):
        return obj if obj.flags.writeable else obj.copy()
    if isinstance(obj, dict):
        return {k: _writable(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_writable(v) for v in obj]
    return obj


def run_groups(groups, train, store, desc: str, progress, device, **kwargs) -> None:
    """Train every group (a list of configurations) with ``train(group, device, progress, label,
    **kwargs)`` -- a module-level function returning one result per configuration -- and call
    ``store(k, results)`` as group ``k`` finishes.  In this process, or as Ray tasks when
    ``ICL_RAY`` asks for Ray (see the module's documentation); Ray is reached before anything trains."""
    groups = list(groups)
    if not groups:
        return
    address = ray_address()
    if address is None:
        for k, group in enumerate(groups):
            label = f"{desc} [{k + 1}/{len(groups)}]" if len(groups) > 1 else desc
            store(k, train(group, device, progress, label, **kwargs))
        return
    ray = connect(address)
    threads = torch.get_num_threads()
    options = {"num_cpus": threads, "max_retries": _retries()}
    dev = torch.device(device)
    if dev.type == "cuda":
        options["num_gpus"] = gpu_fraction()
        dev = torch.device("cuda")  # a task sees the GPUs Ray gives it
    remote = ray.remote(_task).options(**options)
    pending = {
        remote.remote(train, group, str(dev), f"{desc} [{k + 1}/{len(groups)}]", threads, kwargs): k
        for k, group in enumerate(groups)
    }
    bar = progress_bar(sum(len(g) for g in groups), f"{desc} (Ray, {len(groups)} tasks)", progress)
    try:
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                k = pending.pop(ref)
                store(k, _writable(ray.get(ref)))
                if bar is not None:
                    bar.update(len(groups[k]))
    finally:
        for ref in pending:  # interrupted or failed: stop what has not finished (stored groups stay)
            ray.cancel(ref)
        if bar is not None:
            bar.close()
