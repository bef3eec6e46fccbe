"""How fast LeNet Lab answers a click, against a trivial Streamlit page served on the same machine in the same run.

    python -m lenet.latency                       # every page's main interaction, page loads, one session
    python -m lenet.latency --sessions 10         # the same, and then 10 browser sessions at once
    python -m lenet.latency --only Pooling Inspect --repeats 3

Prints one JSON object. An interaction's time runs from the browser's input event (pointerdown or keydown)
until Streamlit has finished the rerun and the page has stopped changing (the last DOM mutation before
QUIET_MS of calm: figures redrawn, stale elements refreshed). Each is the median of `repeats` changes
(up, down, up, ...), and its ratio is to the trivial page's widget of the same kind (a number input's
step button, a slider's arrow key, a drop-down's option) in the same run. Page loads: a new tab until
everything is drawn; cold is the server's first showing of that page, warm the next ones.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

from .environment import read_environment
from .latency_load import room, trainings
from .screenshots import CHROMIUM_ARGS, DRAWN, streamlit_server

QUIET_MS = 500  # no DOM change for this long: the page has settled
SETTLE_TIMEOUT_S = 60
RETRY_S = 5

# Armed just before an input: the first pointerdown/keydown starts the clock; every DOM change moves `last`.
ARM = """() => {
  const s = window.__latency = {start: null, last: performance.now()};
  const start = () => { if (s.start === null) { s.start = performance.now(); s.last = s.start; } };
  document.addEventListener('pointerdown', start, {capture: true, once: true});
  document.addEventListener('keydown', start, {capture: true, once: true});
  s.observer = new MutationObserver(() => {
    if (s.start === null) return;
    s.last = performance.now();
  });
  s.observer.observe(document.body, {subtree: true, childList: true, attributes: true, characterData: true});
}"""
SETTLED = """([quiet, drawn]) => {
  const s = window.__latency, app = document.querySelector('[data-testid=stApp]');
  return s.start !== null && app.dataset.testScriptState === 'notRunning'
    && performance.now() - s.last > quiet && drawn();
}""".replace("drawn()", f"({DRAWN})()").replace("[quiet, drawn]", "quiet")
ELAPSED = "() => { window.__latency.observer.disconnect(); return window.__latency.last - window.__latency.start; }"

TRIVIAL_PAGE = '''
import plotly.graph_objects as go
import streamlit as st

st.title("A trivial page")
n = st.slider("slider", 1, 50, 10)
k = st.number_input("number", 1, 50, 10)
kind = st.selectbox("drop-down", ["a", "b", "c"])
shown = st.multiselect("several", ["a", "b", "c"], ["a"])
st.plotly_chart(go.Figure(go.Scatter(y=[(i * n * k + len(shown)) % 7 for i in range(20)], name=kind)))
'''


@dataclass(frozen=True)
class Interaction:
    """One widget change on one page: `kind` says how it is driven (number, slider, select, multiselect)."""

    page: str  # URL path, e.g. "/Pooling"
    name: str
    kind: str
    label: str  # the widget's label on the page
    options: tuple[str, ...] = ()  # what to alternate: a drop-down's options, a multiselect's one option, a slider's keys
    query: str = ""
    walk: str = "alternate"  # or "up": a number input stepped up every time, so every value is new


INTERACTIONS = [
    Interaction("/Cross_correlation", "window position", "slider", "Window position"),
    Interaction("/Padding_and_stride", "kernel height", "number", "Kernel height"),
    Interaction("/Channels", "input channels", "number", "Input channels"),
    Interaction("/Pooling", "window height", "number", "Window height"),
    Interaction("/MLP_vs_CNN", "hidden units", "number", "Hidden units", walk="up"),
    Interaction("/Train", "channels of conv layer 1", "number", "channels", walk="up"),
    Interaction("/Inspect", "next test image", "number", "test image", walk="up"),
    Interaction("/Inspect", "add a layer kind to Show", "multiselect", "Show", ("activation",)),
    Interaction("/Inspect", "timeline step", "slider", "Epoch", ("ArrowLeft", "ArrowRight")),  # starts at the end
    Interaction("/Parameters", "switch model", "select", "Model"),
    Interaction("/Receptive_fields", "row", "number", "row"),
]
TRIVIAL = {kind: Interaction("/", f"trivial {kind}", kind, label, options)
           for kind, label, options in [("number", "number", ()), ("slider", "slider", ()),
                                        ("select", "drop-down", ("b", "a")), ("multiselect", "several", ("b",))]}
LOAD_PAGES = ["/", "/Cross_correlation", "/Padding_and_stride", "/Channels", "/Pooling", "/MLP_vs_CNN", "/Train",
              "/Inspect", "/Parameters", "/Receptive_fields"]


async def settle(page, timeout_s: float = SETTLE_TIMEOUT_S) -> None:
    await page.wait_for_function(SETTLED, arg=QUIET_MS, timeout=timeout_s * 1000, polling=50)


async def wait_drawn(page, timeout_s: float = SETTLE_TIMEOUT_S) -> None:
    await page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for(timeout=timeout_s * 1000)
    await page.wait_for_function(f"({DRAWN})", timeout=timeout_s * 1000, polling=50)


def _widget(page, interaction: Interaction):
    testid = {"number": "stNumberInput", "slider": "stSlider", "select": "stSelectbox", "multiselect": "stMultiSelect"}
    testid = testid[interaction.kind]
    if interaction.kind == "slider" and interaction.label == "Epoch":
        testid = "stSlider"  # st.select_slider draws the same widget
    return page.locator(f'[data-testid="{testid}"]').filter(
        has=page.get_by_text(interaction.label, exact=True)).first


async def _open(page, interaction: Interaction, i: int) -> None:
    """Open a drop-down before the clock starts: the time measured is the app's answer, not the browser's menu."""
    widget = _widget(page, interaction)
    if interaction.kind == "select" or (interaction.kind == "multiselect" and i % 2 == 0):
        for attempt in range(3):
            await widget.get_by_role("button", name="Open").click()
            try:
                await page.get_by_role("option").first.wait_for(timeout=RETRY_S * 1000)
                return
            except Exception:
                await page.keyboard.press("Escape")
        raise RuntimeError(f"{interaction.page}: the drop-down {interaction.label!r} did not open, three times")


async def _change(page, interaction: Interaction, i: int) -> None:
    """The i-th change of the widget: up on even i, back down on odd i, unless it walks up; a drop-down alternates."""
    widget = _widget(page, interaction)
    if interaction.kind == "number":
        up = i % 2 == 0 or interaction.walk == "up"
        button = widget.locator(f'[data-testid="{"stNumberInputStepUp" if up else "stNumberInputStepDown"}"]')
        if await button.is_visible():
            await button.click()
        else:  # a narrow input has no step buttons: the arrow key, then Enter, which sends the value
            field = widget.locator("input")
            await field.focus()
            await field.press("ArrowUp" if up else "ArrowDown")
            await field.press("Enter")
    elif interaction.kind == "slider":
        thumb = widget.get_by_role("slider").first
        await thumb.focus()
        keys = interaction.options or ("ArrowRight", "ArrowLeft")
        await thumb.press(keys[i % 2])
    elif interaction.kind == "select":
        options = page.get_by_role("option")
        if interaction.options:
            await options.filter(has_text=interaction.options[i % 2]).first.click()
        else:  # the next option, then back to the first
            await options.nth(1 if i % 2 == 0 else 0).click()
    elif interaction.kind == "multiselect":
        option = interaction.options[0]
        if i % 2 == 0:
            await page.get_by_role("option", name=option, exact=True).click()
        else:
            field = widget.get_by_role("combobox")  # Backspace removes the last tag: the one just added
            await field.focus()
            await field.press("Backspace")


def count_frames(page) -> dict:
    """The WebSocket messages the page exchanges with Streamlit's server (every rerun sends some), timed."""
    frames = {"n": 0, "sent": [], "received": []}

    def received(_) -> None:
        frames["n"] += 1
        frames["received"].append(time.monotonic())

    def on_socket(ws) -> None:
        ws.on("framereceived", received)
        ws.on("framesent", lambda _: frames["sent"].append(time.monotonic()))

    page.on("websocket", on_socket)
    return frames


def server_ms(frames: dict, since: float) -> float:
    """From the first message the browser sent after `since` to the last one the server sent back."""
    sent = [t for t in frames["sent"] if t >= since]
    return (frames["received"][-1] - sent[0]) * 1000 if sent and frames["received"][-1] > sent[0] else float("nan")


async def _answered(page, frames: dict, before: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while frames["n"] == before:
        if time.monotonic() > deadline:
            return False
        await page.wait_for_timeout(20)
    return True


async def measure(page, frames: dict, interaction: Interaction, repeats: int) -> list[float]:
    """Milliseconds of each of `repeats` changes of one widget, on a page already open and drawn.

    A change the server does not answer within RETRY_S (a drop-down's option clicked while its menu was
    still moving) is made again; only the change that was answered is timed.
    """
    times, servers = [], []
    for i in range(repeats):
        for attempt in range(3):
            await _open(page, interaction, i)
            await page.evaluate(ARM)
            before, since = frames["n"], time.monotonic()
            await _change(page, interaction, i)
            if await _answered(page, frames, before, RETRY_S):
                break
            await page.keyboard.press("Escape")
        else:
            raise RuntimeError(f"{interaction.page}: changing {interaction.label!r} got no answer, three times")
        await settle(page)
        times.append(await page.evaluate(ELAPSED))
        servers.append(server_ms(frames, since))
        await page.keyboard.press("Escape")  # close a drop-down left open
    frames["server_ms"] = servers
    return times


async def new_tab(context):
    """A new page of the context, its WebSocket messages counted (as page.frames)."""
    page = await context.new_page()
    page.frames_received = count_frames(page)
    return page


async def open_page(page, path: str, query: str = "") -> float:
    """Open path in this tab and wait until it is drawn; returns the seconds it took."""
    start = time.monotonic()
    await page.goto(path + (f"?{query}" if query else ""))
    await wait_drawn(page)
    await page.wait_for_timeout(QUIET_MS)
    return time.monotonic() - start


def _summary(times: list[float], trivial: float | None, server: list[float] = ()) -> dict:
    median = statistics.median(times)
    return {"median_ms": round(median), "times_ms": [round(t) for t in times],
            **({"server_ms": round(statistics.median(server))} if server else {}),
            **({"ratio": round(median / trivial, 2)} if trivial else {})}


async def one_session(browser, app_url: str, trivial_url: str, interactions: list[Interaction],
                      load_pages: list[str], repeats: int) -> dict:
    """Everything measured in one browser session: trivial widgets, each interaction, page loads."""
    trivial_ctx = await browser.new_context(base_url=trivial_url, viewport={"width": 1280, "height": 800})
    tpage = await new_tab(trivial_ctx)
    await open_page(tpage, "/")
    trivial = {kind: statistics.median(await measure(tpage, tpage.frames_received, t, repeats)) for kind, t in TRIVIAL.items()}
    trivial_load = [await open_page(await trivial_ctx.new_page(), "/") for _ in range(repeats)]
    await trivial_ctx.close()

    ctx = await browser.new_context(base_url=app_url, viewport={"width": 1280, "height": 800})
    cold = {path: await open_page(await ctx.new_page(), path) for path in load_pages}
    warm = {path: [await open_page(await ctx.new_page(), path) for _ in range(max(1, repeats // 2))] for path in load_pages}
    page = await new_tab(ctx)
    results, current = {}, None
    for interaction in interactions:
        if interaction.page != current:
            await open_page(page, interaction.page, interaction.query)
            current = interaction.page
        key = f"{interaction.page.strip('/')}: {interaction.name}"
        times = await measure(page, page.frames_received, interaction, repeats)
        results[key] = _summary(times, trivial[interaction.kind], page.frames_received["server_ms"])
    await ctx.close()
    load_trivial = statistics.median(trivial_load)
    return {
        "trivial_ms": {kind: round(ms) for kind, ms in trivial.items()},
        "interactions": results,
        "page_loads": {
            "trivial_s": round(load_trivial, 2),
            "cold_s": {p: round(s, 2) for p, s in cold.items()},
            "warm_s": {p: round(statistics.median(s), 2) for p, s in warm.items()},
            "warm_ratio": {p: round(statistics.median(s) / load_trivial, 2) for p, s in warm.items()},
        },
    }


def _save(out: str | None, result: dict) -> None:
    if out:
        Path(out).write_text(json.dumps(result, indent=1) + "\n")


def _folder(parent: str, name: str) -> Path:
    (Path(parent) / name).mkdir(exist_ok=True)
    return Path(parent) / name


def write_trivial_app(folder: Path) -> Path:
    app = folder / "trivial_app.py"
    app.write_text(textwrap.dedent(TRIVIAL_PAGE))
    return app


async def run(args: argparse.Namespace) -> dict:
    from playwright.async_api import async_playwright

    interactions = [i for i in INTERACTIONS if not args.only or i.page.strip("/") in args.only]
    load_pages = [p for p in LOAD_PAGES if not args.only or p.strip("/") in args.only or p == "/"]
    with tempfile.TemporaryDirectory(prefix="lenet-latency-") as tmp, \
            streamlit_server(args.runs_dir or _folder(tmp, "runs"), _folder(tmp, "app")) as app_url, \
            streamlit_server(None, _folder(tmp, "trivial"), app=write_trivial_app(_folder(tmp, "trivial"))) as trivial_url:
        runs_dir = args.runs_dir or str(_folder(tmp, "runs"))  # empty: Inspect opens the reference runs
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=read_environment().chromium, args=CHROMIUM_ARGS)
            try:
                result = {"load_average": [round(v, 2) for v in os.getloadavg()], "cpus": os.cpu_count(),
                          "repeats": args.repeats, "runs_dir": runs_dir,
                          **await one_session(browser, app_url, trivial_url, interactions, load_pages, args.repeats)}
                _save(args.out, result)  # what was measured so far survives a later failure
                if args.trainings:
                    result["training"] = await trainings(browser, new_tab, open_page, app_url, Path(runs_dir), args.trainings)
                if args.sessions > 1:
                    room_interactions = [i for i in interactions if i.page not in ("/Train", "/Parameters")]
                    _save(args.out, result)
                    result[f"sessions_{args.sessions}"] = await room(browser, new_tab, open_page, measure, app_url,
                                                                    room_interactions, args.sessions, args.room_repeats)
                result["load_average_end"] = [round(v, 2) for v in os.getloadavg()]
            finally:
                await browser.close()
    return result


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repeats", type=int, default=5, help="changes of each widget (the median is reported)")
    p.add_argument("--sessions", type=int, default=1, help="also measure this many browser sessions at once")
    p.add_argument("--room-repeats", type=int, default=2, help="changes of each widget per session in the room")
    p.add_argument("--trainings", type=int, default=0,
                   help="also train this many times on the Train page and with the command line, alternately")
    p.add_argument("--only", nargs="*", help="pages to measure, e.g. Pooling Inspect (default: all)")
    p.add_argument("--runs-dir", help="the runs folder the app shows (default: an empty one, so Inspect and "
                   "Parameters open the reference runs)")
    p.add_argument("--out", help="also write the JSON here")
    args = p.parse_args(argv)
    result = asyncio.run(run(args))
    text = json.dumps(result, indent=1)
    print(text)
    _save(args.out, result)
    return result


if __name__ == "__main__":
    main()
