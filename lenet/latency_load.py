"""lenet.latency under load: a room of browser sessions at once, and the Train page's trainings against
`python -m lenet.train` (and how soon Stop is honoured).

new_tab, open_page and measure are lenet.latency's (a tab whose WebSocket messages are counted, a page opened
and drawn, a widget's changes timed).
"""

from __future__ import annotations

import asyncio
import csv
import os
import statistics
import sys
import time
from pathlib import Path

from .screenshots import ROOT


async def _cli_training(out: Path, images: int, epochs: int) -> float:
    """Images per second of `python -m lenet.train` with the same settings, one thread (as the app trains)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "lenet.train", "--preset", "modern", "--epochs", str(epochs), "--subset", str(images),
        "--threads", "1", "--snapshots", "--out", str(out), cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    await process.wait()
    return _images_per_s(out)


def _images_per_s(run_dir: Path) -> float:
    """A run's training images over its training seconds, all epochs together (metrics.csv)."""
    rows = list(csv.DictReader(open(run_dir / "metrics.csv")))
    images = sum(float(r["images_per_s"]) * float(r["train_seconds"]) for r in rows)
    return images / sum(float(r["train_seconds"]) for r in rows)


async def trainings(browser, new_tab, open_page, app_url: str, runs_dir: Path, repeats: int, images: int = 5000, epochs: int = 2) -> dict:
    """The Train page's training against the command line's, alternately, and how soon Stop is honoured."""
    ctx = await browser.new_context(base_url=app_url, viewport={"width": 1280, "height": 800})
    page, app, cli = await new_tab(ctx), [], []
    for i in range(repeats):
        name = f"latency-{os.getpid()}-{i}"
        await open_page(page, "/Train", f"preset=modern&epochs={epochs}&images={images}&snapshots=true&name={name}")
        await page.get_by_role("button", name="Train", exact=True).click()
        await page.get_by_text("Finished after").wait_for(timeout=600_000)
        app.append(_images_per_s(next(runs_dir.glob(f"*-{name}"))))  # the folder is <date>-<time>-<name>
        cli.append(await _cli_training(runs_dir / f"{name}-cli", images, epochs))
    await open_page(page, "/Train", f"preset=modern&epochs=5&images=20000&name=latency-{os.getpid()}-stop")
    await page.get_by_role("button", name="Train", exact=True).click()
    await page.get_by_text("Epoch 2/5").first.wait_for(timeout=600_000)
    start = time.monotonic()
    await page.get_by_role("button", name="Stop").click()
    await page.get_by_text("Stopped after").wait_for(timeout=60_000)
    stop_s = time.monotonic() - start
    await ctx.close()
    return {"images": images, "epochs": epochs, "app_images_per_s": [round(v) for v in app],
            "cli_images_per_s": [round(v) for v in cli],
            "ratio": round(statistics.median(a / c for a, c in zip(app, cli)), 2),
            "stop_honoured_s": round(stop_s, 2)}


async def room(browser, new_tab, open_page, measure, app_url: str, interactions: list, sessions: int,
               repeats: int) -> dict:
    """`sessions` browser sessions doing the same interactions at once: median and worst of each."""
    async def student(n: int) -> dict[str, list[float]]:
        ctx = await browser.new_context(base_url=app_url, viewport={"width": 1280, "height": 800})
        page, current, times = await new_tab(ctx), None, {}
        for interaction in interactions:
            key = f"{interaction.page.strip('/')}: {interaction.name}"
            try:
                if interaction.page != current:
                    await open_page(page, interaction.page, interaction.query)
                    current = interaction.page
                times[key] = await measure(page, page.frames_received, interaction, repeats)
            except Exception as e:  # one session's widget that would not answer is reported, not fatal
                times[key], current = [], None
                failures.append(f"session {n}, {key}: {str(e).splitlines()[0][:200]}")
        await ctx.close()
        return times

    failures: list[str] = []
    everyone = await asyncio.gather(*(student(n) for n in range(sessions)))
    out = {}
    for key in everyone[0]:
        times = [t for one in everyone for t in one.get(key, [])]
        if times:
            out[key] = {"median_ms": round(statistics.median(times)), "worst_ms": round(max(times)), "changes": len(times)}
    return {"interactions": out, "failures": failures}
