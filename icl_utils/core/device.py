"""The compute device, validated before any work starts (CUDA when available, else the CPU)."""

from __future__ import annotations

import torch

__all__ = ["get_device"]


def get_device(device=None) -> torch.device:
    """``device`` if given, else CUDA when available, else the CPU.

    Allowed: None, ``"cpu"``, and -- where CUDA is available -- ``"cuda"`` or
    ``"cuda:N"`` with N below the number of GPUs (strings or ``torch.device``).
    Anything else raises a ValueError naming the parameter before any work starts:
    an unknown name, CUDA on a machine without it, a GPU index that does not exist,
    or a device the package cannot compute on (``"mps"`` has no float64, ``"meta"``
    holds no values).
    """
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    cuda = torch.cuda.is_available()
    allowed = "'cpu'" + (f", 'cuda' or 'cuda:N' with N < {torch.cuda.device_count()}" if cuda else "")
    allowed += " or None (CUDA when available, else the CPU)"
    if isinstance(device, torch.device):
        dev = device
    elif isinstance(device, str):
        try:
            dev = torch.device(device.strip().lower())
        except (RuntimeError, ValueError) as err:
            raise ValueError(f"parameter 'device' = {device!r} is invalid ({err}): allowed {allowed}") from None
    else:
        raise ValueError(f"parameter 'device' = {device!r} has type {type(device).__name__}: allowed {allowed}")
    if dev.type == "cpu":
        return dev
    if dev.type == "cuda":
        if not cuda:
            why = "this torch is built without CUDA" if torch.version.cuda is None else "no GPU is visible"
            raise ValueError(
                f"parameter 'device' = {device!r} is invalid: CUDA is not available on this machine ({why}); "
                "allowed 'cpu' or None (the CPU here)"
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"parameter 'device' = {device!r} is invalid: no such GPU; allowed {allowed}")
        return dev
    note = " (MPS has no float64, the package's dtype)" if dev.type == "mps" else ""
    raise ValueError(f"parameter 'device' = {device!r} is invalid{note}: allowed {allowed}")
