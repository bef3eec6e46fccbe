"""The machine a training runs on: its devices, waiting for a GPU, and the process's memory."""

from __future__ import annotations

import sys

import torch

from .settings import DEVICES


def available_devices() -> list[str]:
    """The devices this machine can train on, fastest first."""
    found = ["cuda"] if torch.cuda.is_available() else []
    found += ["mps"] if torch.backends.mps.is_available() else []
    return found + ["cpu"]


def pick_device(name: str = "auto") -> torch.device:
    """auto picks CUDA, then Apple MPS, then CPU; a device that is asked for but missing is a ValueError."""
    if name not in DEVICES:
        raise ValueError(f"device must be one of {', '.join(DEVICES)}, not {name!r}.")
    if name == "auto":
        return torch.device(available_devices()[0])
    if name not in available_devices():
        raise ValueError(f"device {name!r} is not available on this machine (available: "
                         f"{', '.join(available_devices())}); choose one of those or 'auto'.")
    return torch.device(name)


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work, so the clock measures it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def peak_memory_mb() -> float | None:
    """This process's peak resident memory so far, in MB (None where the OS does not report it)."""
    try:  # Linux: the high-water mark of this program alone. ru_maxrss would also count the parent's memory
        with open("/proc/self/status") as f:  # when started by fork or vfork from a large process (a test run)
            return next(int(line.split()[1]) / 1024 for line in f if line.startswith("VmHWM:"))
    except (OSError, StopIteration, ValueError, IndexError):
        pass
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024  # bytes on macOS, kB on Linux
