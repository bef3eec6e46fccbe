"""The files Streamlit Community Cloud reads agree with the app and with the local set-up."""

import re
import tomllib

from packaging.requirements import Requirement

from lenet.environment import VARIABLES
from helpers import ROOT



def requirements(name: str) -> tuple[dict[str, Requirement], list[str]]:
    """The requirements of a file by package name, and its option lines (--extra-index-url, -r ...)."""
    reqs, options = {}, []
    for line in (ROOT / name).read_text().splitlines():
        line = line.split("#")[0].strip()
        if line.startswith("-"):
            options.append(line)
        elif line:
            req = Requirement(line)
            reqs[req.name] = req
    return reqs, options


def test_cloud_gets_cpu_torch_within_the_apps_ranges():
    cloud, options = requirements("requirements.txt")
    app, _ = requirements("requirements-app.txt")
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in options
    assert "-r requirements-app.txt" in options
    for name in ("torch", "torchvision"):
        (pin,) = cloud[name].specifier
        assert pin.operator == "==" and pin.version.endswith("+cpu"), pin
        assert app[name].specifier.contains(pin.version), f"{name} {pin.version} is outside {app[name].specifier}"


def test_local_set_up_never_names_pytorchs_index():
    for name in ("requirements-app.txt", "requirements-dev.txt"):
        _, options = requirements(name)
        assert all("index" not in o and o != "-r requirements.txt" for o in options), (name, options)
    setup = (ROOT / "scripts/setup.sh").read_text()
    assert "requirements=requirements-app.txt" in setup and "requirements=requirements.txt" not in setup


def test_packages_and_config():
    assert "dataset-fashion-mnist" in (ROOT / "packages.txt").read_text().split()
    config = tomllib.loads((ROOT / ".streamlit/config.toml").read_text())
    assert 1 <= config["server"]["maxUploadSize"] <= 50 and config["theme"]["base"] == "light"


def test_readme_documents_every_cap():
    readme = (ROOT / "README.md").read_text()
    configuration = readme[readme.index("## Configuration"):]
    for name in VARIABLES.values():
        assert re.search(rf"\| `{name}` \| \d+", configuration), name
