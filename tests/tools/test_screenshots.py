"""The screenshot command: views files, and one real run against the app in headless Chromium."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageStat

from lenet import screenshots
from lenet.screenshots import ROOT, View, load_views, main, page_paths, page_views

README = ROOT / "README.md"


def write(tmp_path, text: str) -> Path:
    path = tmp_path / "views.toml"
    path.write_text(text)
    return path


def test_view_url_keeps_the_query_a_page_reads():
    view = View("x", "/Pooling", {"mode": "max", "k_h": 2, "X": "1 2; 3 4", "flag": True})
    assert view.url_path == "/Pooling?mode=max&k_h=2&X=1%202%3B%203%204&flag=true"
    assert View("home", "/").url_path == "/"


def test_views_are_photographed_in_presentation_mode_unless_they_or_the_command_say_otherwise(tmp_path, monkeypatch):
    view = View("pool", "/Pooling", {"mode": "max"})
    assert view.presented().url_path == "/Pooling?present=1&mode=max" and View("h", "/").presented().url_path == "/?present=1"
    assert View("p", "/Pooling", {"present": 0}).presented().url_path == "/Pooling?present=0"
    asked = {}
    monkeypatch.setattr(screenshots, "take_screenshots", lambda views, *args: asked.update(present=args[-1]) or [])
    views = write(tmp_path, '[pool]\npage = "Pooling"\n')
    main(["--out", str(tmp_path), "--views", str(views)])
    assert asked.pop("present") is True
    main(["--out", str(tmp_path), "--views", str(views), "--no-present"])
    assert asked.pop("present") is False


def test_page_views_name_every_page_file():
    files = [f for f in (ROOT / "pages").glob("*.py") if f.name != "__init__.py"]
    assert [v.page for v in page_views()] == page_paths()
    assert {v.name for v in page_views()} == {"Home"} | {re.sub(r"^\d+_", "", f.stem) for f in files}


@pytest.mark.parametrize("text, message", [
    ('[a]\npage = "Nope"\n', "no page 'Nope'; pages are /, /Cross_correlation"),
    ('[a]\nquery = { k = 1 }\n', "needs a page"),
    ('[a]\npage = "Pooling"\nwidth = 3\n', "unknown keys ['width']"),
    ('["a b"]\npage = "Pooling"\n', "not a good file name"),
    ("", "names no views"),
    ("[a\n", "cannot read the views file"),
])
def test_bad_views_files_are_refused_clearly(tmp_path, text, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        load_views(write(tmp_path, text))


def test_command_line_refusals_start_nothing(tmp_path, capsys):
    views = write(tmp_path, '[pool]\npage = "Pooling"\n')
    for argv, message in [
        (["--out", str(tmp_path), "--views", str(views), "nope"], "no view named nope; the views are pool"),
        (["--out", str(tmp_path), "--width", "100"], "--width must be within 320..7680"),
        (["--out", str(tmp_path), "--views", str(tmp_path / "missing.toml")], "cannot read the views file"),
    ]:
        with pytest.raises(SystemExit) as exit:
            main(argv)
        assert exit.value.code == 2 and message in capsys.readouterr().err


def test_docs_views_give_the_readme_one_screenshot_per_page():
    views = load_views(ROOT / "docs/views.toml")
    assert sorted(v.page for v in views) == sorted(page_paths())
    readme = README.read_text()
    for view in views:
        png = f"docs/screenshots/{view.name}.png"
        assert png in readme and (ROOT / png).exists(), png


def not_blank(png: Path) -> bool:
    """More than a background: many colours and visible contrast."""
    with Image.open(png) as image:
        rgb = image.convert("RGB")
        return len(rgb.getcolors(1 << 20)) > 200 and max(ImageStat.Stat(rgb).stddev) > 20


def test_command_writes_pngs_of_the_asked_width_that_are_not_blank(tmp_path, app_server):
    """On the browser tests' app (--url): starting one is what their app_server fixture does, with the same code."""
    views = write(tmp_path, '[home]\npage = ""\n\n[padding-5x5]\npage = "Padding_and_stride"\n'
                            'query = { k_h = 5, k_w = 5, p_h = 2, p_w = 2, s_h = 2, s_w = 2 }\n')
    out = tmp_path / "shots"
    done = subprocess.run([sys.executable, "-m", "lenet.screenshots", "--views", str(views), "--out", str(out),
                           "--width", "1000", "--url", app_server],
                          cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    assert sorted(p.name for p in out.iterdir()) == ["home.png", "padding-5x5.png"]
    for png in out.iterdir():
        with Image.open(png) as image:
            width, height = image.size
        assert width == 1000 and height >= 800, (png, image.size)  # the whole page, taller than the window
        assert not_blank(png), png
    assert "padding-5x5.png" in done.stdout and "k_h=5" in done.stdout and "present=1" in done.stdout
