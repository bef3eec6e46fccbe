"""What the Ray tests share: a tiny training, a free loopback port, waiting for a condition."""

from __future__ import annotations

import socket
import time

from lenet.training import preset


def tiny(epochs: int = 1, subset: int = 1000, **changes):
    """The modern LeNet on a few images: a training of seconds."""
    config, settings = preset("modern")
    return config, settings.from_dict({**settings.to_dict(), "epochs": epochs, "subset": subset, "test_subset": 500,
                                       "batch_size": 128, "progress_every": 2, **changes})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition, timeout: float = 120, job=None) -> None:
    """Wait until condition() holds; fail on timeout, or as soon as job (if given) ends."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        assert job is None or job.active, job.error
        time.sleep(0.05)
