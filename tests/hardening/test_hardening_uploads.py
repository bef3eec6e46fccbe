"""Uploads: odd and hostile images on the Inspect page, hostile run files at the library and on the Train page.

Every file is built here, in memory. A refused file shows a message, never a traceback; no file runs code;
nothing lands outside a new run folder, so no saved run can be overwritten.
"""

import io
import json
import os
import pickle
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from streamlit.testing.v1 import AppTest

from lenet import LeNetConfig, TrainSettings, build_lenet, export_run, import_run, list_runs, load_model, load_run
from lenet.training import new_run_dir, save_run
from lenet.training.runs import RUN_FILES
from helpers import HISTORY, INSPECT, TRAIN, dark_shape_on_white, encode, png_header_only, zip_of



pytestmark = pytest.mark.usefixtures("runs_dir")  # every test gets its own runs folder


def saved_run(root: Path, name: str = "precious", config: LeNetConfig | None = None) -> Path:
    config = config or LeNetConfig.modern()
    torch.manual_seed(0)
    return save_run(new_run_dir(name, root), config, TrainSettings(epochs=2), HISTORY, build_lenet(config))


def files_of(run_dir: Path) -> dict[str, bytes]:
    return {name: (run_dir / name).read_bytes() for name in RUN_FILES}


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under root, with its bytes: to prove that a refused upload changed nothing."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# ---- images on the Inspect page ----

def animated() -> bytes:
    first, second = Image.new("L", (60, 60), 0), Image.new("L", (60, 60), 0)
    first.paste(255, (25, 5, 35, 55))
    second.paste(255, (5, 25, 55, 35))
    return encode(first, save_all=True, append_images=[second], duration=100, loop=0)


def sixteen_bit() -> bytes:
    values = np.zeros((40, 40), dtype=np.uint16)
    values[5:35, 10:30] = 60000
    return encode(Image.fromarray(values))


def with_alpha() -> bytes:
    image = Image.new("RGBA", (50, 50), (0, 0, 0, 0))
    image.paste((255, 255, 255, 255), (10, 10, 40, 40))
    return encode(image)


REFUSED_IMAGES = {
    "huge.png": png_header_only(20000, 20000),
    "empty.png": b"",
    "truncated.jpg": encode(Image.effect_noise((200, 200), 64).convert("RGB"), "JPEG")[:300],
    "not-an-image.png": b"%PDF-1.4 a document, not a picture",
    "gif-named-png.png": encode(dark_shape_on_white(), "GIF"),
    "weights.png": pickle.dumps({"weights": [1, 2, 3]}),
}
ACCEPTED_IMAGES = {"animated.png": animated(), "16-bit.png": sixteen_bit(), "alpha.png": with_alpha()}


def test_inspect_page_refuses_bad_images_and_takes_odd_good_ones():
    at = AppTest.from_file(INSPECT, default_timeout=60).run()
    at.radio[0].set_value("upload").run()
    for name, data in REFUSED_IMAGES.items():
        at.file_uploader[0].set_value((name, data, "image/png")).run()
        assert not at.exception, f"{name}: {at.exception[0].value}"
        assert any("refused" in e.value for e in at.error), name
        assert not at.get("plotly_chart"), f"{name}: something was drawn from a refused file"
    for name, data in ACCEPTED_IMAGES.items():
        at.file_uploader[0].set_value((name, data, "image/png")).run()
        assert not at.exception and not at.error, name
        assert any("converted to 28x28" in i.caption for i in at.get("image")[0].proto.imgs), name


# ---- run files ----

class Payload:
    """Unpickling this creates `marker`: what a malicious model.pt would do instead."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.mkdir, (str(self.marker),)


def test_the_payload_really_runs_code_when_unpickled(tmp_path):
    pickle.loads(pickle.dumps(Payload(tmp_path / "ran")))
    assert (tmp_path / "ran").is_dir()  # so its absence below means that nothing ran


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")  # torch's note on loading the raw pickle
@pytest.mark.parametrize("pickled", ["torch.save", "pickle"])
def test_a_pickle_that_would_run_code_is_refused_and_runs_nothing(tmp_path, runs_dir, pickled):
    marker = tmp_path / "pwned"
    buffer = io.BytesIO()
    if pickled == "torch.save":
        torch.save({"conv1.weight": Payload(marker)}, buffer)
    else:
        pickle.dump(Payload(marker), buffer)
    precious = saved_run(runs_dir)
    before = snapshot(runs_dir)
    files = files_of(precious) | {"model.pt": buffer.getvalue()}
    with pytest.raises(ValueError, match="not a readable PyTorch state_dict"):
        import_run(zip_of(files), runs_dir)
    assert snapshot(runs_dir) == before
    (precious / "model.pt").write_bytes(buffer.getvalue())  # the same file dropped into a run folder by hand
    with pytest.raises(ValueError, match="not a readable PyTorch state_dict"):
        load_model(precious)
    status = list_runs(runs_dir).set_index("path").loc[str(precious), "status"]
    at = AppTest.from_file(INSPECT, default_timeout=60).run()  # picks the newest run that does not list as broken
    assert not at.exception
    assert status.startswith("broken") or any("cannot be loaded" in e.value for e in at.error)
    assert not marker.exists()


def deep_json(depth: int) -> bytes:
    return ("[" * depth + "]" * depth).encode()


def duplicated_zip(files: dict[str, bytes]) -> bytes:
    """config.json twice (the second would win when unpacked) and no metrics.csv."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("config.json", files["config.json"])
        zf.writestr("model.pt", files["model.pt"])
        with pytest.warns(UserWarning, match="Duplicate name"):
            zf.writestr("config.json", b"{}")
    return buffer.getvalue()


def bad_run_zips(precious: Path, scratch: Path) -> dict[str, bytes]:
    """Name -> zip bytes, each a run file that must be refused; built from a good run and a classic one in scratch."""
    good = files_of(precious)
    info = json.loads(good["config.json"])
    classic = save_run(new_run_dir("classic", scratch), LeNetConfig.classic(), TrainSettings(), HISTORY,
                       build_lenet(LeNetConfig.classic()))
    huge = {**info, "config": {**info["config"], "conv_channels": [100_000, 100_000], "image_size": 1000}}
    return {
        "empty": b"",
        "truncated": zip_of(good)[:-200],
        "another architecture": zip_of(good | {"model.pt": (classic / "model.pt").read_bytes()}),
        "a model too big to build": zip_of(good | {"config.json": json.dumps(huge).encode()}),
        "deeply nested config.json": zip_of(good | {"config.json": deep_json(100_000)}),
        "path traversal": zip_of({f"../../{k}": v for k, v in good.items()}),
        "absolute paths": zip_of({f"/tmp/{k}": v for k, v in good.items()}),
        "files in a folder": zip_of({f"run/{k}": v for k, v in good.items()}),
        "a duplicated entry": duplicated_zip(good),
        "no model.pt": zip_of({k: v for k, v in good.items() if k != "model.pt"}),
    }


def test_hostile_run_zips_are_refused_and_nothing_is_written(tmp_path, runs_dir):
    precious = saved_run(runs_dir)
    zips = bad_run_zips(precious, tmp_path / "scratch")
    before, outside = snapshot(runs_dir), snapshot(tmp_path)
    for name, data in zips.items():
        with pytest.raises(ValueError) as error:
            import_run(data, runs_dir)
        assert len(str(error.value)) > 20, name
        assert snapshot(runs_dir) == before, f"{name} wrote into the runs folder"
    assert snapshot(tmp_path) == outside
    assert load_run(precious).name == "precious"


def test_an_imported_run_never_overwrites_a_saved_one(runs_dir):
    precious = saved_run(runs_dir, "shared name")
    before = files_of(precious)
    info = json.loads(before["config.json"])
    data = export_run(precious)
    evil = zip_of(files_of(precious) | {"config.json": json.dumps({**info, "name": f"../../{precious.name}"}).encode()})
    results = []
    threads = [threading.Thread(target=lambda d=d: results.append(import_run(d, runs_dir))) for d in [data] * 4 + [evil]]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(results) == 5 and len(set(results)) == 5
    assert all(path.parent == runs_dir and path != precious for path in results)
    assert files_of(precious) == before
    assert len(list_runs(runs_dir)) == 6


def test_train_page_refuses_bad_run_files_with_a_message(tmp_path, runs_dir):
    precious = saved_run(runs_dir)
    zips = bad_run_zips(precious, tmp_path / "scratch")
    before = snapshot(runs_dir)
    at = AppTest.from_file(TRAIN, default_timeout=60).run()
    for name in ("empty", "truncated", "another architecture", "a model too big to build", "deeply nested config.json",
                 "path traversal"):
        at.file_uploader(key="run_upload").set_value((f"{name}.zip", zips[name], "application/zip")).run()
        assert not at.exception, f"{name}: {at.exception[0].value}"
        assert any("refused" in e.value for e in at.error), name
    assert snapshot(runs_dir) == before
