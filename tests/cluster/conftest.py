"""A real local Ray cluster (2 CPUs), started once for the tests that need one and stopped at the end; never a mock.

Ray binds the machine's own interface address even when told 127.0.0.1, and tests may only talk to loopback, so the
cluster starts only inside a private network namespace that holds nothing but loopback: scripts/test.sh runs pytest
in one (`unshare -n`) where it can. Elsewhere the tests that need the cluster skip and say why.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from cluster_helpers import free_port

RAY = Path(sys.executable).with_name("ray")
START_S = 120  # a cold head on 2 busy cores took 15-20 s


def only_loopback() -> str | None:
    """None when this process's network holds only a working loopback, else why not."""
    names = [name for _, name in socket.if_nameindex()]  # this namespace's (/sys/class/net shows the mount's)
    if names != ["lo"]:
        return (f"this network has {', '.join(names)}; Ray would bind a non-loopback address. Run pytest in a "
                "private network namespace: unshare -n sh -c 'ip link set lo up && .venv/bin/python -m pytest ...' "
                "(scripts/test.sh does, as root)")
    try:
        with socket.socket() as server:
            server.bind(("127.0.0.1", 0))
            server.listen()
            socket.create_connection(server.getsockname(), 2).close()
    except OSError as e:
        return f"loopback does not work here ({e}): run `ip link set lo up` first"
    return None


def _stop(head: subprocess.Popen) -> None:
    """End the head we started: `ray start --block` stops its own processes on SIGTERM; the rest of its process
    group (its own session, nobody else's) is killed if it has not."""
    head.terminate()
    try:
        head.wait(30)
    except subprocess.TimeoutExpired:
        pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(head.pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def ray_cluster():
    """The RayCluster this test process is connected to: a head with 2 CPUs on loopback, 1 CPU a training."""
    if shutil.which(str(RAY)) is None:
        pytest.skip(f"Ray is not installed ({RAY} is missing): pip install -r requirements-cluster.txt")
    reason = only_loopback()
    if reason:
        pytest.skip(f"no Ray cluster started: {reason}")
    with pytest.MonkeyPatch.context() as env:
        # Token authentication, as a cluster should run: the head and this process share one fresh token, so
        # whatever ~/.ray/auth_token holds does not matter.
        env.setenv("RAY_AUTH_MODE", "token")
        env.setenv("RAY_AUTH_TOKEN", secrets.token_hex(32))
        temp = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))  # short: Ray's socket paths must stay < 108 chars
        port = free_port()
        head = subprocess.Popen(
            [str(RAY), "start", "--head", "--block", "--num-cpus", "2", "--port", str(port), "--include-dashboard=false",
             "--object-store-memory", str(200 * 2**20), "--temp-dir", str(temp), "--disable-usage-stats"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            yield _connect(f"127.0.0.1:{port}", head)
        finally:
            import ray

            ray.shutdown()
            _stop(head)
            shutil.rmtree(temp, ignore_errors=True)


def _connect(address: str, head: subprocess.Popen):
    from lenet.training.cluster import ClusterUnavailable, connect_ray

    deadline = time.monotonic() + START_S
    while True:
        try:
            return connect_ray(address, timeout=2)
        except ClusterUnavailable as e:
            if head.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the Ray head did not start (exit {head.returncode}): {e}")
            time.sleep(0.5)
