"""Slide-ready screenshots of LeNet Lab: start the app, open pages in headless Chromium, save one PNG each.

    python -m lenet.screenshots --out slides                    # every page, 1280 pixels wide
    python -m lenet.screenshots --views docs/views.toml --out docs/screenshots
    python -m lenet.screenshots --views my_views.toml --out slides --width 1600 --height 900 padding-5x5
    python -m lenet.screenshots --out shots --no-present         # with Streamlit's menu and the sidebar

Pages are photographed in the app's presentation mode (?present=1: no Streamlit menu, larger type, the
sidebar folded away, figures the size of a 16:9 slide) unless --no-present is given or a view sets present = 0.

A views file names each view (the PNG's name) and gives its page and URL query parameters, the same
ones the page writes to its URL when you change a widget:

    [padding-5x5]
    page = "Padding_and_stride"
    query = { k_h = 5, k_w = 5, p_h = 2, p_w = 2, s_h = 2, s_w = 2 }

Uses Debian's Chromium (/usr/bin/chromium, or $LENET_CHROMIUM) through Playwright; it never
downloads a browser. The app runs with $LENET_RUNS_DIR (or --runs-dir) as its runs folder, so the
Inspect page shows the newest saved run; --url photographs an app that is already running instead.
tests/browser.py uses the same functions.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.request
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator
from urllib.parse import quote, urlencode

from .environment import Environment, read_environment
from .inspection import EVALUATING

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
WIDTH, HEIGHT = 1280, 800
MAX_HEIGHT = 12_000
PRESENT = "present"  # the app's presentation mode, as a URL parameter (ui.page_state.PRESENT)
TIMEOUT_S = 90  # a fresh server's first page imports torch: seconds on a busy machine
# Placeholders that Streamlit draws while a widget's code loads or an element waits for its data,
# stale elements of the previous run, images and fonts still loading: none of them may show.
DRAWN = """() => !document.querySelector('[data-testid=stSkeleton], [data-testid=stSkeletonElement], '
    + '[data-testid=stAppSkeleton], [data-stale=true]')
    && [...document.images].every(i => i.complete) && document.fonts.status == 'loaded'
    && !document.body.innerText.includes(EVALUATING)""".replace("EVALUATING", json.dumps(EVALUATING))


@dataclass(frozen=True)
class View:
    """One screenshot: a page ("/" or "/Pooling") and the query parameters to open it with."""

    name: str
    page: str
    query: dict[str, object] = field(default_factory=dict)

    def presented(self) -> View:
        """The same view in the app's presentation mode, unless its query says otherwise."""
        return View(self.name, self.page, {PRESENT: 1} | self.query)

    @property
    def url_path(self) -> str:
        values = {k: str(v).lower() if isinstance(v, bool) else v for k, v in self.query.items()}
        return self.page + ("?" + urlencode(values, doseq=True, quote_via=quote) if values else "")


def page_paths() -> list[str]:
    """URL paths of the home page and every page in pages/, in the sidebar's order."""
    def order(f: Path) -> tuple[int, str]:
        number = re.match(r"(\d+)", f.name)
        return (int(number.group(1)) if number else 10**6, f.name)

    files = sorted((ROOT / "pages").glob("*.py"), key=order)
    return ["/"] + ["/" + re.sub(r"^\d+_", "", f.stem) for f in files if f.name != "__init__.py"]


def page_views() -> list[View]:
    """One view per page with its default settings, named after the page ("Home", "Pooling", ...)."""
    return [View(path.strip("/") or "Home", path) for path in page_paths()]


def load_views(path: str | Path) -> list[View]:
    """The named views of a TOML file: one table per view with `page` and an optional `query` table."""
    try:
        tables = tomllib.loads(Path(path).read_text())
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ValueError(f"cannot read the views file {path}: {e}") from e
    pages = page_paths()
    views = []
    for name, table in tables.items():
        if not isinstance(table, dict) or not isinstance(table.get("page"), str):
            raise ValueError(f'view [{name}] in {path} needs a page, e.g. page = "Pooling".')
        unknown = set(table) - {"page", "query"}
        if unknown:
            raise ValueError(f"view [{name}] in {path} has unknown keys {sorted(unknown)}; a view has page and query.")
        page = "/" + table["page"].strip("/")
        if page not in pages:
            raise ValueError(f"view [{name}] in {path}: no page {table['page']!r}; pages are {', '.join(pages)}.")
        if not re.fullmatch(r"[\w.-]+", name):
            raise ValueError(f"view name {name!r} in {path} is not a good file name; use letters, digits, - and _.")
        views.append(View(name, page, dict(table.get("query", {}))))
    if not views:
        raise ValueError(f"the views file {path} names no views.")
    return views


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, server: subprocess.Popen, log: Path, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"streamlit did not answer on {url} within {timeout_s} s; its log is {log}")


@contextmanager
def streamlit_server(runs_dir: str | Path | None = None, log_dir: str | Path | None = None,
                     app: str | Path = ROOT / "streamlit_app.py") -> Iterator[str]:
    """`streamlit run streamlit_app.py` (or another app) on a free localhost port; yields its base URL, stops it on exit.

    runs_dir replaces $LENET_RUNS_DIR for the app; the server's output goes to log_dir/streamlit.log.
    """
    port = free_port()
    command = [
        sys.executable, "-m", "streamlit", "run", str(app), "--server.port", str(port),
        "--server.address", "127.0.0.1", "--server.headless", "true", "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false", "--client.toolbarMode", "viewer",
    ]
    env = dict(os.environ, **({"LENET_RUNS_DIR": str(runs_dir)} if runs_dir else {}))
    log = Path(log_dir or tempfile.mkdtemp(prefix="lenet-streamlit-")) / "streamlit.log"
    with log.open("w") as out:  # a file, not a pipe that nobody reads and that could fill up
        server = subprocess.Popen(command, cwd=Path(app).parent, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, server, log)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


@contextmanager
def chromium_page(base_url: str, width: int = WIDTH, height: int = HEIGHT, scale: float = 1,
                  chromium: str = Environment.chromium) -> Iterator:
    """A Playwright page in headless Chromium (the binary at `chromium`) whose relative URLs go to base_url."""
    if not os.path.exists(chromium):
        raise FileNotFoundError(f"{chromium} is missing: install Debian's chromium (apt-get install chromium) "
                                "or point $LENET_CHROMIUM at a Chromium binary.")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(base_url=base_url, viewport={"width": width, "height": height},
                                          device_scale_factor=scale)
            yield context.new_page()
        finally:
            browser.close()


def wait_until_drawn(page, timeout_s: float = TIMEOUT_S) -> None:
    """Wait until Streamlit has finished the script and every chart, image and font is drawn."""
    timeout_ms = timeout_s * 1000
    page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for(timeout=timeout_ms)
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden", timeout=timeout_ms)
    page.wait_for_function(DRAWN, timeout=timeout_ms)
    charts = page.locator('[data-testid="stPlotlyChart"]')
    for i in range(charts.count()):
        charts.nth(i).locator(".main-svg").first.wait_for(timeout=timeout_ms)
    page.wait_for_timeout(300)  # let the last chart finish its layout


def full_length_screenshot(page, out_png: str | Path, height: int | None = None, max_height: int = MAX_HEIGHT) -> None:
    """Save a PNG of the page, `height` pixels tall or (None) as tall as its content, up to max_height.

    Streamlit scrolls inside its main section, so the window itself is grown to the content's height.
    """
    viewport = page.viewport_size
    if height is None:
        height = page.evaluate(
            "() => Math.max(...[...document.querySelectorAll('[data-testid=stMain], [data-testid=stAppViewContainer]')]"
            ".map(e => e.scrollHeight), window.innerHeight)"
        )
    page.set_viewport_size({"width": viewport["width"], "height": min(int(height), max_height)})
    page.wait_for_timeout(200)
    Path(out_png).parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(out_png))
    page.set_viewport_size(viewport)


def screenshot(page, url_path: str, out_png: str | Path, timeout_s: float = TIMEOUT_S, height: int | None = None) -> dict:
    """Open url_path, wait until it is drawn, save a PNG of the whole page (or `height` pixels of it).

    Returns {"url", "png", "seconds", "exception" (bool), "exception_text", "page_not_found" (bool)}.
    """
    start = time.monotonic()
    page.goto(url_path)
    wait_until_drawn(page, timeout_s)
    full_length_screenshot(page, out_png, height)
    exceptions = page.locator('[data-testid="stException"]')
    return {
        "url": page.url,
        "png": str(out_png),
        "seconds": round(time.monotonic() - start, 2),
        "exception": exceptions.count() > 0,
        "exception_text": "\n".join(exceptions.all_inner_texts()),
        "page_not_found": page.get_by_text("Page not found").count() > 0,
    }


def to_palette(png: str | Path) -> None:
    """Rewrite a PNG with 256 colours: about 2.5 times smaller, and screenshots of this app look the same."""
    from PIL import Image

    with Image.open(png) as image:
        small = image.convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    small.save(png, optimize=True)


def take_screenshots(views: list[View], out_dir: str | Path, width: int = WIDTH, height: int | None = None,
                     scale: float = 1, runs_dir: str | Path | None = None, palette: bool = False,
                     timeout_s: float = TIMEOUT_S, url: str | None = None,
                     chromium: str = Environment.chromium, present: bool = True) -> list[dict]:
    """Save out_dir/<view name>.png for every view of the app at `url`, or of one started (and stopped)
    for the purpose with runs_dir, in presentation mode unless present=False; one report per view."""
    views = [view.presented() for view in views] if present else views
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    reports = []
    app = nullcontext(url) if url else streamlit_server(runs_dir)
    with app as url, chromium_page(url, width, height or HEIGHT, scale, chromium) as page:
        for view in views:
            reports.append(screenshot(page, view.url_path, out_dir / f"{view.name}.png", timeout_s, height))
            if palette:
                to_palette(reports[-1]["png"])
            print(f"{reports[-1]['png']}  ({reports[-1]['seconds']:.1f} s, {view.url_path})", flush=True)
    return reports


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m lenet.screenshots", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="Every chart on the pages also downloads itself as a PNG from its toolbar.")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder for the PNGs (created if missing)")
    p.add_argument("--views", type=Path, metavar="FILE",
                   help="TOML file of named views (page + query); default: every page with its default settings")
    p.add_argument("names", nargs="*", metavar="VIEW", help="only these views (default: all)")
    p.add_argument("--width", type=int, default=WIDTH, help=f"window width in CSS pixels (default {WIDTH})")
    p.add_argument("--height", type=int, help="window height; default: the whole page, up to "
                                              f"{MAX_HEIGHT:,} pixels")
    p.add_argument("--scale", type=float, default=1, help="device pixel ratio: 2 gives a PNG twice as wide, sharper")
    p.add_argument("--palette", action="store_true", help="256-colour PNGs, about 2.5 times smaller (the README's)")
    p.add_argument("--timeout", type=float, default=TIMEOUT_S, help=f"seconds to wait for a page (default {TIMEOUT_S})")
    p.add_argument("--runs-dir", type=Path, help="runs folder the app reads (default: $LENET_RUNS_DIR or runs/)")
    p.add_argument("--no-present", dest="present", action="store_false",
                   help="photograph the pages as they are on screen, with Streamlit's menu and the sidebar (default: "
                        "the app's presentation mode, ?present=1)")
    p.add_argument("--url", help="an app that is already running, e.g. http://localhost:8501 (default: start one "
                                 "on a free port)")
    return p


def main(argv: list[str] | None = None) -> list[dict]:
    parser = _parser()
    args = parser.parse_args(argv)
    if not 320 <= args.width <= 7680 or (args.height is not None and not 200 <= args.height <= MAX_HEIGHT):
        parser.error(f"--width must be within 320..7680 and --height within 200..{MAX_HEIGHT}.")
    if not 0.5 <= args.scale <= 4 or args.timeout <= 0:
        parser.error("--scale must be within 0.5..4 and --timeout above 0.")
    try:
        views = load_views(args.views) if args.views else page_views()
    except ValueError as e:
        parser.error(str(e))
    missing = set(args.names) - {v.name for v in views}
    if missing:
        parser.error(f"no view named {', '.join(sorted(missing))}; the views are {', '.join(v.name for v in views)}.")
    if args.names:
        views = [v for v in views if v.name in args.names]
    from playwright.sync_api import TimeoutError as PageTimeout

    try:
        reports = take_screenshots(views, args.out, args.width, args.height, args.scale, args.runs_dir,
                                   args.palette, args.timeout, args.url, read_environment({}).chromium,
                                   args.present)
    except (OSError, RuntimeError, PageTimeout) as e:  # no browser, the app did not start, a page never drew
        parser.exit(2, f"error: {e}\n")
    failed = [r for r in reports if r["exception"] or r["page_not_found"]]
    for r in failed:
        print(f"{r['url']} did not draw cleanly: {r['exception_text'] or 'page not found'}", file=sys.stderr)
    if failed:
        parser.exit(1)
    return reports


if __name__ == "__main__":
    main()
