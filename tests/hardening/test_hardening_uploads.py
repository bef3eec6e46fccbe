"""Uploads: odd and hostile images on the Inspect page, hostile run files at the library and on the Train page.

Every file is built here, in memory. A refused file shows a message, never a traceback; no file runs code;
nothing lands outside a new run folder, so no saved run can be overwritten.
"""

import io
import json
import os
import pickle
import struct
import threading
import tracemalloc
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import HealthCheck, given, settings, strategies as st
from PIL import Image
from streamlit.testing.v1 import AppTest

from lenet import LeNetConfig, TrainSettings, build_lenet, export_run, import_run, list_runs, load_model, load_run
from lenet import plan_layers
from lenet.data import CLASS_NAMES, Split
from lenet.training import Timeline, new_run_dir, open_run, save_run
from lenet.core.units import human_bytes
from lenet.training.run_files import MAX_CONFIG_BYTES, MAX_METRICS_BYTES, weights_cap
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
    at.selectbox(key="how").set_value("upload").run()
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
    at = AppTest.from_file(INSPECT, default_timeout=60).run()  # starts on the newest run that opens: none here
    assert not at.exception and not at.error and at.selectbox(key="model").value == "untrained:classic"
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


# ---- decompression bounded by what is read, caps that fit real runs ----

def declaring(data: bytes, size: int) -> bytes:
    """The zip with every entry's unpacked size declared as size, in its local header and the central directory."""
    zf = zipfile.ZipFile(io.BytesIO(data))
    raw, pos = bytearray(data), zf.start_dir
    for info in zf.infolist():
        struct.pack_into("<I", raw, info.header_offset + 22, size)
        assert raw[pos:pos + 4] == b"PK\x01\x02"
        struct.pack_into("<I", raw, pos + 24, size)
        pos += 46 + sum(struct.unpack_from("<HHH", raw, pos + 28))
    return bytes(raw)


def bomb(method: int, unpacked: int) -> bytes:
    """A run zip of a few kB whose entries unpack to `unpacked` zero bytes each, while the headers claim 1 kB."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as zf:
        for name in RUN_FILES:
            zf.writestr(name, bytes(unpacked))
    return declaring(buffer.getvalue(), 1000)


def refused_with_peak(data: bytes, root: Path) -> tuple[str, int]:
    """Why import_run refuses data, and the most memory Python held at once meanwhile (above what it held before)."""
    tracemalloc.start()
    try:
        with pytest.raises(ValueError) as error:
            import_run(data, root)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return str(error.value), peak


@pytest.mark.parametrize("method", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA, zipfile.ZIP_DEFLATED])
def test_a_zip_bomb_is_refused_before_it_unpacks(runs_dir, method):
    data = bomb(method, 40_000_000)
    assert len(data) < 150_000  # deflate packs at most about 1,000 to 1
    message, peak = refused_with_peak(data, runs_dir)
    assert peak < 5_000_000  # the old reader held 88-96 MB: all 40 MB of an entry unpacked, before checking it
    assert "compressed with" in message if method != zipfile.ZIP_DEFLATED else "damaged" in message
    assert not runs_dir.exists() or not any(runs_dir.iterdir())


def test_a_zip_of_many_empty_files_is_refused_before_its_list_is_read(runs_dir):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for i in range(20_000):
            zf.writestr(f"{i}.txt", b"")
    message, peak = refused_with_peak(buffer.getvalue(), runs_dir)
    assert peak < 1_000_000  # the old reader held 12 MB: zipfile's objects for the 20,000 files it listed
    assert message.startswith("The zip lists more files than a run zip holds")


def test_only_stored_and_deflated_entries_are_read(runs_dir):
    good = files_of(saved_run(runs_dir))
    for method, words in ((zipfile.ZIP_BZIP2, "bzip2"), (zipfile.ZIP_LZMA, "LZMA")):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", method) as zf:
            for name, data in good.items():
                zf.writestr(name, data)
        with pytest.raises(ValueError, match=f"config.json in the zip is compressed with {words}"):
            import_run(buffer.getvalue(), runs_dir)
    assert import_run(zip_of(good), runs_dir).is_dir()  # stored, as zip tools can write them, is fine


def padded_config(files: dict[str, bytes], size: int) -> bytes:
    """config.json grown to size bytes with spaces: still valid JSON, and the same run."""
    text = files["config.json"].rstrip()
    return text + b" " * (size - len(text))


def many_epochs(epochs: int) -> bytes:
    return pd.DataFrame({"epoch": range(1, epochs + 1), "train_loss": 0.123456789012345, "train_acc": 0.9123456789,
                         "test_acc": 0.9012345678, "images_per_s": 12345.678901234, "seconds": 4.56789012345,
                         "train_seconds": 4.1234567891, "elapsed_s": 123.456789012}).to_csv(index=False).encode()


def test_config_and_metrics_are_capped_at_what_real_runs_need(runs_dir):
    good = files_of(saved_run(runs_dir))
    assert len(good["config.json"]) < MAX_CONFIG_BYTES / 20 and len(many_epochs(2_000)) < MAX_METRICS_BYTES
    assert import_run(zip_of(good | {"config.json": padded_config(good, MAX_CONFIG_BYTES),
                                     "metrics.csv": many_epochs(2_000)}), runs_dir).is_dir()
    before = snapshot(runs_dir)
    for name, data in (("config.json", padded_config(good, MAX_CONFIG_BYTES + 1)),
                       ("metrics.csv", many_epochs(20_000))):
        with pytest.raises(ValueError, match=f"{name} in the zip is larger than"):
            import_run(zip_of(good | {name: data}), runs_dir)
        assert snapshot(runs_dir) == before


def largest_model(limit: int) -> LeNetConfig:
    """The classic model with the widest first dense layer that training at one image a batch fits in limit."""
    low, high = 1, 100_000
    while low < high:
        middle = (low + high + 1) // 2
        try:
            plan_layers(LeNetConfig.classic().replace(hidden_sizes=(middle, 84)), 1, limit)
            low = middle
        except ValueError:
            high = middle - 1
    return LeNetConfig.classic().replace(hidden_sizes=(low, 84))


def test_the_largest_model_the_server_allows_still_imports(tmp_path, runs_dir):
    limit = 100_000_000  # $LENET_MAX_TRAINING_MB=100: model.pt of the largest model is 25 MB
    config = largest_model(limit)
    torch.manual_seed(0)
    model = build_lenet(config)
    run_dir = save_run(new_run_dir("largest", tmp_path), config, TrainSettings(), HISTORY, model)
    assert (run_dir / "model.pt").stat().st_size > limit / 4 * 0.95
    imported = import_run(export_run(run_dir), runs_dir, max_training_bytes=limit)
    assert all(torch.equal(a, b) for a, b in zip(load_model(imported).state_dict().values(),
                                                  model.state_dict().values()))
    wider = config.replace(hidden_sizes=(config.hidden_sizes[0] + 1, 84))
    save_run(run_dir, wider, TrainSettings(), HISTORY, build_lenet(wider))
    with pytest.raises(ValueError, match="would need about"):
        import_run(export_run(run_dir), runs_dir, max_training_bytes=limit)


def test_model_pt_is_capped_by_the_model_config_json_describes(runs_dir):
    precious = saved_run(runs_dir)
    good = files_of(precious)
    state = torch.load(precious / "model.pt", weights_only=True)
    buffer = io.BytesIO()
    torch.save(state | {"extra": torch.zeros(40_000_000, dtype=torch.uint8)}, buffer)  # 40 MB, zips to 40 kB
    data = zip_deflated(good | {"model.pt": buffer.getvalue()})
    cap = weights_cap(build_lenet(LeNetConfig.modern()))
    assert len(good["model.pt"]) < cap < 2 * len(good["model.pt"])

    message, peak = refused_with_peak(data, runs_dir)
    assert peak < 5_000_000 and message.startswith(f"model.pt in the zip is larger than {human_bytes(cap)}, the most")


def zip_deflated(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buffer.getvalue()


# ---- whatever the damage, a sentence ----

def saved(value) -> bytes:
    buffer = io.BytesIO()
    torch.save(value, buffer)
    return buffer.getvalue()


def odd_state_dicts(state: dict) -> dict[str, bytes]:
    """model.pt files that hold tensors only (so torch reads them) but are no state_dict of the model."""
    return {
        "a key that is not text": saved(state | {5: torch.zeros(1)}),
        "a list": saved(list(state.values())),
        "a value that is not a tensor": saved(state | {"conv1.bias": 1.5}),
        "a float64 weight": saved(state | {"conv1.bias": state["conv1.bias"].double()}),
        "a sparse weight": saved(state | {"conv1.bias": state["conv1.bias"].to_sparse()}),
        "an escape code for a name": saved(state | {"\x1b[31mred": torch.zeros(1)}),
    }


def odd_metadata(state: dict) -> dict[str, bytes]:
    """model.pt files with the right tensors and odd _metadata (which torch's load_state_dict would trust)."""
    not_a_dict, odd_version = OrderedDict(state), OrderedDict(state)
    not_a_dict._metadata = [1, 2]
    odd_version._metadata = {"bn1": {"version": "two"}, "": {"version": None}}
    return {"_metadata not a dict": saved(not_a_dict), "an odd version entry": saved(odd_version)}


@pytest.mark.filterwarnings("ignore:Validating sparse tensor")  # torch's note on loading the sparse weight
def test_odd_state_dicts_and_encrypted_entries_are_refused_with_a_sentence(runs_dir):
    precious = saved_run(runs_dir)
    good, state = files_of(precious), torch.load(precious / "model.pt", weights_only=True)
    for name, model_pt in odd_state_dicts(state).items():
        with pytest.raises(ValueError, match="model.pt in the zip does not match config.json: ") as e:
            import_run(zip_of(good | {"model.pt": model_pt}), runs_dir)
        assert str(e.value).isprintable() and "Error" not in str(e.value), name
    for name, model_pt in odd_metadata(state).items():  # the tensors are right: the metadata is left behind
        loaded = load_model(import_run(zip_of(good | {"model.pt": model_pt}), runs_dir))
        assert all(torch.equal(loaded.state_dict()[k], v) for k, v in state.items()), name
    raw, zf = bytearray(zip_of(good)), zipfile.ZipFile(io.BytesIO(zip_of(good)))
    raw[zf.start_dir + 8] |= 1  # the first entry's "encrypted" flag
    with pytest.raises(ValueError, match="config.json in the zip is encrypted"):
        import_run(bytes(raw), runs_dir)


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> bytes:
    """A real exported run with snapshots, as the Train page's Download gives it."""
    root = tmp_path_factory.mktemp("exported")
    config, settings = LeNetConfig.modern(), TrainSettings(epochs=1)
    torch.manual_seed(0)
    model = build_lenet(config)
    test = Split("fashion-mnist", False, torch.randint(0, 256, (8, 28, 28), dtype=torch.uint8),
                 torch.arange(8) % 10, tuple(CLASS_NAMES["fashion-mnist"]), "made up")
    timeline = Timeline.of_split(test)
    timeline.take(model, 0)
    timeline.take(model, 1, 0.5, 0.8)
    return export_run(save_run(new_run_dir("real", root), config, settings, HISTORY.iloc[:1], model,
                               {"status": "finished"}, snapshots=timeline))


def damaged(data: bytes, damage: list[tuple[float, int]], cut: float | None) -> bytes:
    """data with a byte set at each (where, value) of damage, where a fraction of its length, then cut short."""
    data = bytearray(data)
    for where, value in damage:
        data[int(where * len(data))] = value
    return bytes(data[:int(cut * len(data))] if cut is not None else data)


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")  # torch's note on a damaged file's pickle
@settings(max_examples=200, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(target=st.sampled_from(["the zip", *RUN_FILES, "snapshots.pt"]),
       damage=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=6),
       cut=st.one_of(st.none(), st.floats(0, 1)))
def test_a_damaged_run_zip_is_imported_or_refused_with_a_sentence(exported, tmp_path_factory, target, damage, cut):
    if target == "the zip":  # mostly caught by the zip's checksums, or a deflate stream that breaks off
        data = damaged(exported, damage, cut)
    else:  # one file damaged, then zipped again with a right checksum: caught by the checks of its contents
        with zipfile.ZipFile(io.BytesIO(exported)) as zf:
            files = {name: zf.read(name) for name in zf.namelist()}
        data = zip_deflated(files | {target: damaged(files[target], damage, cut)})
    root = tmp_path_factory.mktemp("imports")
    try:
        run_dir = import_run(data, root)
    except ValueError as e:
        message = str(e)
        assert message.isprintable() and 20 < len(message) <= 300, message
        assert not any(word in message for word in ("Error", "Traceback", "\\x", "0x", "codec")), message
        assert not any(root.iterdir())
    else:  # a harmless change (a date in a header, a weight's value): the run opens
        assert open_run(run_dir).model is not None
