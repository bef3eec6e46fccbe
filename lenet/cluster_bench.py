"""What does Ray cost and what does it buy? Prints one JSON object; docs/benchmark.md records the results.

    python -m lenet.cluster_bench                    # starts a 2-CPU local Ray head, measures, stops it
    python -m lenet.cluster_bench --address HOST:6379  # an existing cluster instead

It measures, in one run: the overhead one training on Ray adds over the same training in this process (seconds per
job, images/s), 8 trainings submitted at once on the cluster against the local executor with a cap of 2 (wall time,
all finished), and this process's resident memory before and with Ray connected (it holds what the app holds: torch,
the dataset, a job registry).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch

from .environment import read_environment, use_new_ray_token
from .training import JobRegistry, preset, train
from .training.cluster import ClusterUnavailable, RayCluster, connect_ray
from .training.jobs import local_runner


def rss_mb(pid: int | str = "self") -> float:
    """A process's resident memory now, this one's by default (Linux; 0 elsewhere or once it has gone)."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _settings(subset: int, epochs: int = 1):
    """The modern LeNet on the first `subset` images."""
    config, settings = preset("modern")
    return config, settings.from_dict({**settings.to_dict(), "epochs": epochs, "subset": subset,
                                       "test_subset": 2000, "snapshots": True})


@contextlib.contextmanager
def local_head(cpus: int, object_store_mb: int = 300):
    """A Ray head on this machine with `cpus` CPUs, for as long as the block runs; yields its address."""
    use_new_ray_token()  # the head inherits it, and this process connects with it
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: Ray's socket paths must stay under 108 characters
    head = subprocess.Popen(
        [str(Path(sys.executable).with_name("ray")), "start", "--head", "--block", "--num-cpus", str(cpus), "--port",
         str(port), "--include-dashboard=false", "--object-store-memory", str(object_store_mb * 2**20),
         "--temp-dir", temp, "--disable-usage-stats"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        import ray

        ray.shutdown()
        head.terminate()  # `ray start --block` stops what it started; its process group is ours alone
        with contextlib.suppress(subprocess.TimeoutExpired):
            head.wait(30)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(head.pid, signal.SIGKILL)
        shutil.rmtree(temp, ignore_errors=True)


def connect(address: str, cpus_per_training: int, wait_s: float = 120) -> RayCluster:
    """connect_ray, retried while a head that was just started comes up."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return connect_ray(address, cpus_per_training, timeout=2)
        except ClusterUnavailable:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def one_job(runner, config, settings, out: Path) -> dict:
    """One training through runner into a fresh folder: wall seconds from call to result, and its images/s."""
    start = time.perf_counter()
    result = runner(config, settings, lambda p: None, threading.Event(), out)
    return {"seconds": time.perf_counter() - start, "images_per_s": result.images_per_s, "node": result.node}


def many_at_once(registry: JobRegistry, jobs: int, config, settings, out: Path) -> dict:
    """jobs trainings submitted together; wall seconds until the last ended, and whether all finished."""
    start = time.perf_counter()
    handles = [registry.submit(config, settings, out / f"job-{i}") for i in range(jobs)]
    for job in handles:
        job.join()
    return {"jobs": jobs, "seconds": time.perf_counter() - start,
            "all_finished": all(job.status == "finished" for job in handles),
            "errors": [job.error for job in handles if job.error]}


class WorkerMemory:
    """The largest resident memory any of a cluster's workers on this machine had while the block ran (MB)."""

    def __init__(self, cluster: RayCluster):
        self.cluster, self.peak_mb, self._done = cluster, 0.0, threading.Event()

    def __enter__(self) -> "WorkerMemory":
        threading.Thread(target=self._watch, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()

    def _watch(self) -> None:
        while not self._done.wait(0.5):
            for pid in self.cluster.worker_pids():
                self.peak_mb = max(self.peak_mb, rss_mb(pid))


def measure(args: argparse.Namespace, out: Path) -> dict:
    environment = read_environment()
    torch.set_num_threads(environment.torch_threads)  # as the app runs: one thread, shared by every session
    config, single = _settings(args.subset)
    _, small = _settings(args.many_subset)
    rss_start = rss_mb()
    train(*_settings(1000))  # warm up: the data loaded, torch's first-call costs paid
    local = [one_job(local_runner(), config, single, out / f"local-{i}") for i in range(args.repeats)]
    local_many = many_at_once(JobRegistry(2, max_queued=args.jobs), args.jobs, config, small, out / "local-many")
    rss_local = rss_mb()
    with contextlib.ExitStack() as stack:
        address = args.address or stack.enter_context(local_head(args.cpus))
        started = time.perf_counter()
        cluster = connect(address, args.cpus_per_training)
        connect_s = time.perf_counter() - started
        rss_connected = rss_mb()
        first = one_job(cluster.runner, config, single, out / "ray-first")  # also puts the dataset, ships lenet
        ray = [one_job(cluster.runner, config, single, out / f"ray-{i}") for i in range(args.repeats)]
        registry = JobRegistry(cluster.slots, max_queued=args.jobs, runner=cluster.runner)
        with WorkerMemory(cluster) as workers:  # the first burst also starts the workers not yet warm
            ray_first_many = many_at_once(registry, args.jobs, config, small, out / "ray-many-first")
            ray_many = many_at_once(registry, args.jobs, config, small, out / "ray-many")
        rss_ray = rss_mb()
        described = cluster.describe()
    local_s, ray_s = (statistics.median(j["seconds"] for j in runs) for runs in (local, ray))
    local_ips, ray_ips = (statistics.median(j["images_per_s"] for j in runs) for runs in (local, ray))
    return {
        "machine": {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(), "cluster": described},
        "one_training": {"images": args.subset, "epochs": 1, "local_seconds": local_s, "ray_seconds": ray_s,
                         "ray_first_seconds": first["seconds"], "overhead_seconds": ray_s - local_s,
                         "local_images_per_s": local_ips, "ray_images_per_s": ray_ips,
                         "images_per_s_ratio": ray_ips / local_ips, "ray_node": ray[0]["node"]},
        "many_at_once": {"images": args.many_subset, "local_cap_2": local_many, "ray_first_burst": ray_first_many,
                         "ray": ray_many, "wall_time_ratio": ray_many["seconds"] / local_many["seconds"]},
        "memory_mb": {"start": rss_start, "after_local_trainings": rss_local, "ray_connected": rss_connected,
                      "after_ray_trainings": rss_ray, "ray_cost": rss_ray - rss_local,
                      "worker_peak": workers.peak_mb},
        "connect_seconds": connect_s,
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m lenet.cluster_bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--address", help="an existing Ray cluster (default: start a local head with --cpus CPUs)")
    p.add_argument("--cpus", type=int, default=2, help="CPUs of the local head (default 2)")
    p.add_argument("--cpus-per-training", type=int, default=1, help="CPUs (and torch threads) a Ray training takes")
    p.add_argument("--subset", type=int, default=10_000, help="training images of the single trainings")
    p.add_argument("--many-subset", type=int, default=2000, help="training images of each of the --jobs trainings")
    p.add_argument("--jobs", type=int, default=8, help="trainings submitted at once (default 8)")
    p.add_argument("--repeats", type=int, default=2, help="single trainings per executor (the median is kept)")
    args = p.parse_args(argv)
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="lenet-cluster-bench-") as out:
        results = measure(args, Path(out))
    results["machine"]["load_before"], results["machine"]["load_after"] = load, os.getloadavg()
    print(json.dumps(_rounded(results)))


def _rounded(value):
    """Floats to 3 decimals, everywhere inside value (tuples become lists)."""
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_rounded(v) for v in value]
    return value


if __name__ == "__main__":
    main()
