"""How fast is the engine? Prints one JSON object; see docs/benchmark.md for recorded results.

    python -m lenet.bench              # throughput vs the textbook loop, the matmul peak, time to 90%
    python -m lenet.bench --quick      # a smoke test in a few seconds (numbers meaningless)
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import statistics
import threading
import time
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader
from torch.utils.flop_counter import FlopCounterMode
from torchvision import transforms

from .core.model import LeNetConfig, build_lenet, init_weights
from .data import torchvision_dataset
from .training import Progress, TrainSettings, pick_device, preset, synchronize, train

# The plain recipe the modern preset is compared with: same model, SGD with momentum, constant rate.
PLAIN = TrainSettings(epochs=15, batch_size=256, optimizer="sgd", lr=0.05, momentum=0.9, init="default",
                      channels_last=False)


def matmul_flops(device: torch.device, n: int = 2048, repeats: int = 5) -> float:
    """Median FLOP/s of an n x n float32 matrix multiply: the machine's practical peak."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    a @ b
    times = []
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        a @ b
        synchronize(device)
        times.append(time.perf_counter() - start)
    return 2 * n**3 / statistics.median(times)


def training_flops_per_image(config: LeNetConfig, batch_size: int = 256) -> float:
    """Forward and backward FLOPs of one training image, counted by torch's FlopCounterMode."""
    model = build_lenet(config)
    x, y = torch.rand(batch_size, 1, config.image_size, config.image_size), torch.randint(0, 10, (batch_size,))
    with FlopCounterMode(display=False) as counter:
        nn.functional.cross_entropy(model(x), y).backward()
    return counter.get_total_flops() / batch_size


def textbook_images_per_s(batches: int, device: torch.device, batch_size: int = 256, seed: int = 0) -> float:
    """d2l's loop: torchvision dataset + ToTensor + DataLoader (workers 0), classic LeNet, SGD lr 0.9."""
    dataset = torchvision_dataset("fashion-mnist", True, transforms.ToTensor())
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=0,
                        generator=torch.Generator().manual_seed(seed))
    torch.manual_seed(seed)
    model = init_weights(build_lenet(LeNetConfig.classic()), "xavier").to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.9)
    loss_fn = nn.CrossEntropyLoss()
    seen = 0
    start = time.perf_counter()
    for x, y in itertools.islice(loader, batches):
        x, y = x.to(device), y.to(device)
        loss = loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        seen += len(y)
    synchronize(device)
    return seen / (time.perf_counter() - start)


def engine_images_per_s(config: LeNetConfig, settings: TrainSettings, batches: int) -> float:
    """Our loop (lenet.training.train itself) over `batches` batches; evaluation is not timed."""
    settings = settings.replace(subset=batches * settings.batch_size, epochs=1, test_subset=1000,
                                progress_every=10**9)
    return train(config, settings).images_per_s


def throughput(device: torch.device, batches: int, repeats: int, batch_sizes: list[int]) -> dict:
    """Textbook vs our loop for classic LeNet (and the modern model), interleaved, medians and ratios."""
    classic, modern = LeNetConfig.classic(), LeNetConfig.modern()
    base = TrainSettings(device=device.type)
    variants = {"textbook": lambda: textbook_images_per_s(batches, device)}
    for bs in batch_sizes:
        for cl in (False, True):
            layout = "channels_last" if cl else "contiguous"
            variants[f"classic_{layout}_b{bs}"] = lambda bs=bs, cl=cl: engine_images_per_s(
                classic, base.replace(batch_size=bs, channels_last=cl), batches)
            variants[f"modern_{layout}_b{bs}"] = lambda bs=bs, cl=cl: engine_images_per_s(
                modern, base.replace(batch_size=bs, channels_last=cl), batches)
    samples = {name: [] for name in variants}
    for _ in range(repeats):
        for name, measure in variants.items():
            samples[name].append(measure())
    medians = {name: statistics.median(s) for name, s in samples.items()}
    ratios = {name: medians[name] / medians["textbook"] for name in medians if name != "textbook"}
    return {"images_per_s": samples, "median": medians, "ratio_to_textbook": ratios}


def time_to_accuracy(config: LeNetConfig, settings: TrainSettings, target: float) -> dict:
    """Train until an epoch's test accuracy reaches target (or the epochs run out): epochs and seconds taken.

    seconds counts from the call into train(): data to the device, model, training and evaluation.
    """
    reached: list[Progress] = []
    stop = threading.Event()

    def watch(p: Progress) -> None:
        if p.kind == "epoch" and p.test_acc >= target:
            reached.append(p)
            stop.set()

    result = train(config, settings, watch, stop)
    hit = reached[0] if reached else None
    return {
        "reached": hit is not None,
        "epochs": hit.epoch if hit else None,
        "seconds": hit.elapsed_s if hit else None,
        "test_acc": result.history["test_acc"].round(4).tolist(),
        "seconds_per_epoch": result.history["seconds"].round(2).tolist(),
        "settings": settings.to_dict(),
    }


def recipes(device: torch.device, target: float, quick: bool = False) -> dict:
    """The modern preset against the plain recipe, same model, same run."""
    config, fast = preset("modern")
    limits = {"device": device.type} | ({"subset": 2048, "test_subset": 1000, "epochs": 1} if quick else {})
    fast, plain = fast.replace(**limits), PLAIN.replace(**limits)
    out = {"target": target, "modern": time_to_accuracy(config, fast, target),
           "plain": time_to_accuracy(config, plain, target)}
    if out["modern"]["reached"] and out["plain"]["reached"]:
        out["time_ratio_plain_to_modern"] = out["plain"]["seconds"] / out["modern"]["seconds"]
    return out


def _machine(device: torch.device) -> dict:
    cpu = platform.processor()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if line.startswith("model name")]
        cpu = names[0] if names else cpu
    info = {"device": str(device), "cpu": cpu, "torch_threads": torch.get_num_threads(), "torch": torch.__version__}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(prog="python -m lenet.bench", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes: checks that everything runs, in seconds")
    p.add_argument("--repeats", type=int, default=3, help="interleaved repeats of each throughput measurement")
    p.add_argument("--batches", type=int, default=40, help="training batches per throughput measurement")
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[256], help="batch sizes for our loop")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    p.add_argument("--target", type=float, default=0.90, help="test accuracy the recipes race to")
    p.add_argument("--threads", type=int, help="CPU threads for torch (default: torch's choice)")
    p.add_argument("--skip-recipes", action="store_true", help="only measure throughput")
    args = p.parse_args(argv)
    if min(args.repeats, args.batches, args.threads or 1) < 1:
        p.error("--repeats, --batches and --threads must be at least 1.")
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        device = pick_device(args.device)
    except ValueError as e:
        p.error(str(e))
    if args.quick:
        args.repeats, args.batches = 1, 3
    start = time.perf_counter()
    peak = matmul_flops(device, n=512 if args.quick else 2048, repeats=2 if args.quick else 5)
    flops = training_flops_per_image(LeNetConfig.classic())
    report = {"machine": _machine(device), "matmul_flops_per_s": peak, "classic_train_flops_per_image": flops,
              "batches_per_measurement": args.batches, "repeats": args.repeats}
    report["throughput"] = throughput(device, args.batches, args.repeats, args.batch_sizes)
    report["throughput"]["fraction_of_matmul_peak"] = {
        name: flops * ips / peak for name, ips in report["throughput"]["median"].items() if "modern" not in name}
    if not args.skip_recipes:
        report["recipes"] = recipes(device, args.target, args.quick)
    report["seconds"] = time.perf_counter() - start
    print(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
