"""The files Streamlit Community Cloud reads agree with the app and with the local set-up."""

import re
import tomllib
from urllib.parse import urlsplit

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.tags import cpython_tags
from packaging.utils import parse_wheel_filename
from packaging.version import Version
from pip._internal.network.session import PipSession
from pip._internal.req.constructors import install_req_from_parsed_requirement
from pip._internal.req.req_file import RequirementsFileParser, get_line_parser, handle_requirement_line

from lenet.environment import VARIABLES
from helpers import ROOT

# The Pythons Cloud offers (every release still getting security fixes, 3.12 the default) that the
# app (3.11+) and torch 2.14 support. Cloud runs Debian 11 on x86_64: glibc 2.31.
CLOUD_PYTHONS = ("3.11", "3.12", "3.13", "3.14")
CLOUD_PLATFORMS = [f"manylinux_2_{minor}_x86_64" for minor in range(31, 16, -1)] + ["linux_x86_64"]
INDEX_OPTIONS = ("index_url", "extra_index_urls", "find_links", "no_index")
# pip's own requirements-file parser is what reads the files here; it imports pkg_resources.
pytestmark = pytest.mark.filterwarnings("ignore:pkg_resources is deprecated:DeprecationWarning")


def environment(python: str, system: str = "Linux", machine: str = "x86_64") -> dict[str, str]:
    """The marker variables of a CPython `python` on `system`/`machine`."""
    sys_platform = {"Linux": "linux", "Darwin": "darwin", "Windows": "win32"}[system]
    return {"python_version": python, "python_full_version": f"{python}.0", "implementation_name": "cpython",
            "platform_python_implementation": "CPython", "os_name": "nt" if system == "Windows" else "posix",
            "sys_platform": sys_platform, "platform_system": system, "platform_machine": machine}


ELSEWHERE = {  # where `pip install -r requirements.txt` must still give torch, from PyPI
    "macOS arm64": environment("3.12", "Darwin", "arm64"),
    "Windows": environment("3.12", "Windows", "AMD64"),
    "Linux aarch64": environment("3.13", "Linux", "aarch64"),
    "Linux x86_64, Python 3.15": environment("3.15"),
}


def parsed(name: str):
    """Every line of a requirements file as pip reads it, following `-r` includes: (option lines,
    requirements as pip's InstallRequirement, each with the file it came from)."""
    options, requirements = [], []
    for line in RequirementsFileParser(PipSession(), get_line_parser(None)).parse(str(ROOT / name), constraint=False):
        if line.is_requirement:
            requirement = install_req_from_parsed_requirement(handle_requirement_line(line))
            requirements.append((line.filename.rsplit("/", 1)[-1], requirement))
        else:
            options.append((line.filename, line.lineno, line.opts))
    return options, requirements


def applying(requirements, package: str, env: dict[str, str], source: str = "requirements.txt"):
    """The requirements for `package` from file `source` whose markers hold in `env`."""
    return [r for file, r in requirements if file == source and r.name == package
            and (r.markers is None or r.markers.evaluate(env))]


def app_ranges() -> dict[str, SpecifierSet]:
    _, requirements = parsed("requirements-app.txt")
    return {r.name: SpecifierSet(str(r.req.specifier)) for _, r in requirements}


def test_requirements_txt_names_no_index_so_uv_takes_the_rest_from_pypi():
    options, requirements = parsed("requirements.txt")
    for file, lineno, opts in options:
        used = [o for o in INDEX_OPTIONS if getattr(opts, o, None)]
        assert not used, f"{file}:{lineno} sets {used}: uv's first-index strategy then takes numpy, pillow... from it"
    for file, r in requirements:
        if r.name in ("torch", "torchvision"):
            assert r.link is None or r.link.url.startswith("https://download.pytorch.org/whl/cpu/"), r.link
        else:
            assert r.link is None and not r.req.url, f"{file}: {r.name} is not a plain PyPI requirement"
    assert {r.name for file, r in requirements if file == "requirements-app.txt"} == set(app_ranges())


@pytest.mark.parametrize("python", CLOUD_PYTHONS)
def test_cloud_gets_one_cpu_wheel_of_torch_and_torchvision_for_its_python(python):
    _, requirements = parsed("requirements.txt")
    ranges, env = app_ranges(), environment(python)
    cp = "cp" + python.replace(".", "")
    wanted = set(cpython_tags((int(python[0]), int(python[2:])), abis=[cp], platforms=CLOUD_PLATFORMS))
    versions = {}
    for package in ("torch", "torchvision"):
        found = applying(requirements, package, env)
        assert len(found) == 1, f"Python {python}: {len(found)} {package} lines of requirements.txt apply"
        link = found[0].link
        assert link is not None and link.is_wheel, f"Python {python}: {package} is not a direct wheel reference"
        url = urlsplit(link.url)
        assert (url.scheme, url.netloc) == ("https", "download.pytorch.org") and url.path.startswith("/whl/cpu/")
        name, version, _, tags = parse_wheel_filename(link.filename)
        assert name == package and version.local == "cpu", link.filename
        assert tags & wanted, f"{link.filename} does not install on CPython {python}, Linux x86_64, glibc 2.31"
        for r in applying(requirements, package, env, "requirements-app.txt"):
            assert r.req.specifier.contains(str(version)), f"{version} is outside requirements-app.txt's {r.req}"
        assert ranges[package].contains(version), f"{package} {version} is outside {ranges[package]}"
        versions[package] = version
    # torchvision 0.N is built for torch 2.(N - 15): 0.25 for 2.10 ... 0.29 for 2.14.
    assert versions["torchvision"].minor == versions["torch"].minor + 15, versions


def test_cloud_pins_are_the_same_for_every_python_and_elsewhere_come_from_pypi():
    _, requirements = parsed("requirements.txt")
    ranges = app_ranges()
    for package in ("torch", "torchvision"):
        cpu = {parse_wheel_filename(applying(requirements, package, environment(py))[0].link.filename)[1]
               for py in CLOUD_PYTHONS}
        assert len(cpu) == 1, f"{package}: different versions across Pythons: {sorted(map(str, cpu))}"
        (cpu_version,) = cpu
        for where, env in ELSEWHERE.items():
            found = applying(requirements, package, env)
            assert len(found) == 1 and found[0].link is None, f"{where}: {package} lines {[str(r.req) for r in found]}"
            (pin,) = found[0].req.specifier
            assert pin.operator == "==" and Version(pin.version) == Version(cpu_version.public), (where, pin)
            assert ranges[package].contains(pin.version), f"{where}: {package} {pin} is outside {ranges[package]}"


def test_old_recipe_would_fail_these_checks(tmp_path, monkeypatch):
    """The checks above can fail: the `--extra-index-url` recipe they replace does not pass them."""
    (tmp_path / "requirements-app.txt").write_text((ROOT / "requirements-app.txt").read_text())
    (tmp_path / "requirements.txt").write_text(
        "--extra-index-url https://download.pytorch.org/whl/cpu\ntorch==2.14.1+cpu\ntorchvision==0.29.1+cpu\n"
        "-r requirements-app.txt\n")
    monkeypatch.setitem(globals(), "ROOT", tmp_path)
    with pytest.raises(AssertionError, match="extra_index_urls"):
        test_requirements_txt_names_no_index_so_uv_takes_the_rest_from_pypi()
    with pytest.raises(AssertionError, match="not a direct wheel reference"):
        test_cloud_gets_one_cpu_wheel_of_torch_and_torchvision_for_its_python("3.12")


def requirements(name: str) -> tuple[dict[str, Requirement], list[str]]:
    """The requirements of a file by package name, and its option lines (-r ...)."""
    reqs, options = {}, []
    for line in (ROOT / name).read_text().splitlines():
        line = line.split("#")[0].strip()
        if line.startswith("-"):
            options.append(line)
        elif line:
            req = Requirement(line)
            reqs[req.name] = req
    return reqs, options


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
