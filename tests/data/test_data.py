"""lenet.data: torchvision reads the IDX files once; later loads come from data/tensors/ without torchvision."""

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch

from lenet.data import datasets as data
from helpers import ROOT



def _fashion_root() -> Path:
    root, _ = data._torchvision_root("fashion-mnist", data.PROJECT_DATA_DIR)
    return root


def test_split_is_what_torchvision_reads():
    from torchvision import datasets

    split = data.load_split("fashion-mnist", train=False)
    reference = datasets.FashionMNIST(str(_fashion_root()), train=False, download=False)
    assert split.images.dtype == torch.uint8 and split.images.shape == (10_000, 28, 28)
    assert torch.equal(split.images, reference.data) and torch.equal(split.labels, reference.targets)


def test_a_damaged_or_stale_tensor_copy_is_read_again(monkeypatch, tmp_path):
    monkeypatch.setattr(data, "PROJECT_DATA_DIR", tmp_path)
    root = _fashion_root()  # the real IDX files; only the tensor copy goes to tmp_path
    images, labels = data._read_tensors("fashion-mnist", False, root)
    copy = tmp_path / "tensors" / "fashion-mnist-test.pt"
    assert torch.equal(torch.load(copy, weights_only=True)["images"], images)
    for damage in (b"not a torch file", None):
        if damage is None:  # a copy of other files (another size or date) is not trusted either
            saved = torch.load(copy, weights_only=True)
            saved["labels"] = torch.zeros_like(saved["labels"])
            saved["stamp"][0][1] += 1
            torch.save(saved, copy)
        else:
            copy.write_bytes(damage)
        again_images, again_labels = data._read_tensors("fashion-mnist", False, root)
        assert torch.equal(again_images, images) and torch.equal(again_labels, labels)
        assert torch.equal(torch.load(copy, weights_only=True)["labels"], labels)  # rewritten


def test_a_training_process_does_not_import_torchvision():
    data._read_tensors("fashion-mnist", True, _fashion_root())  # make sure the tensor copy exists
    code = ("import sys, lenet, lenet.train; from lenet.data import load_split; "
            "s = load_split('fashion-mnist', True); print(len(s), 'torchvision' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[-2:] == ["60000", "False"]


def test_two_first_loads_at_once_both_get_the_data_and_leave_one_good_copy(monkeypatch, tmp_path):
    monkeypatch.setattr(data, "PROJECT_DATA_DIR", tmp_path)
    root = _fashion_root()
    with ThreadPoolExecutor(2) as pool:
        loaded = list(pool.map(lambda _: data._read_tensors("fashion-mnist", False, root), range(2)))
    assert torch.equal(loaded[0][0], loaded[1][0]) and torch.equal(loaded[0][1], loaded[1][1])
    assert [p.name for p in (tmp_path / "tensors").iterdir()] == ["fashion-mnist-test.pt"]  # no temporary left
    assert torch.equal(torch.load(tmp_path / "tensors" / "fashion-mnist-test.pt", weights_only=True)["images"],
                       loaded[0][0])


def forged(copy: Path, **changes) -> None:
    """Rewrite the tensor copy with some of its tensors replaced, keeping its stamp: well-formed, but lying."""
    saved = torch.load(copy, weights_only=True)
    torch.save(saved | changes, copy)


def test_a_forged_tensor_copy_with_the_right_stamp_is_read_again(monkeypatch, tmp_path):
    monkeypatch.setattr(data, "PROJECT_DATA_DIR", tmp_path)
    root = _fashion_root()
    images, labels = data._read_tensors("fashion-mnist", False, root)
    copy = tmp_path / "tensors" / "fashion-mnist-test.pt"
    for lie in ({"labels": labels + 100}, {"labels": -labels},  # classes that do not exist
                {"images": images[:5], "labels": labels[:5]},  # fewer images than the files hold
                {"images": images[:, :20, :20].contiguous()}):  # images of another size
        forged(copy, **lie)
        again_images, again_labels = data._read_tensors("fashion-mnist", False, root)
        assert torch.equal(again_images, images) and torch.equal(again_labels, labels), list(lie)


def test_a_missing_dataset_is_never_downloaded_unless_asked(monkeypatch, tmp_path):
    monkeypatch.setattr(data, "PROJECT_DATA_DIR", tmp_path / "data")
    if data.data_source("mnist"):
        pytest.skip("MNIST is installed here")
    with pytest.raises(data.DatasetNotFoundError, match="mnist was not found") as missing:
        data.load_split("mnist", train=False)
    assert "download" in str(missing.value)  # how to get it
    assert not (tmp_path / "data").exists()  # torchvision's download would have made data/MNIST/raw
