"""The wheel: what `pip install .` puts on a machine.

Built from a copy of the checkout (so that the build's build/ and *.egg-info never land
in the working tree), with `pip wheel --no-deps --no-build-isolation`: a couple of
seconds, offline. That a fresh virtual environment gets a working `keyctl` from it is
checked by .ci/run, which runs the README's quick start in one."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

import keyctl

ROOT = Path(__file__).resolve().parent.parent
JUNK = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__",
                              ".pytest_cache", ".hypothesis", ".benchmarks")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    src = tmp_path_factory.mktemp("src") / "keyctl"
    shutil.copytree(ROOT, src, ignore=JUNK)
    out = tmp_path_factory.mktemp("wheel")
    p = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(src)],
        capture_output=True, text=True, timeout=300,
    )
    assert p.returncode == 0, p.stdout + p.stderr
    (built,) = out.glob("keyctl-*.whl")
    with zipfile.ZipFile(built) as zf:
        yield zf


def test_wheel_is_named_for_the_version(wheel):
    assert Path(wheel.filename).name == f"keyctl-{keyctl.__version__}-py3-none-any.whl"


def test_wheel_holds_the_catalog_data_files(wheel):
    names = set(wheel.namelist())
    assert "keyctl/catalogs/clarifai.toml" in names
    for catalog in (ROOT / "keyctl" / "catalogs").glob("*.toml"):
        assert wheel.read(f"keyctl/catalogs/{catalog.name}") == catalog.read_bytes()


def test_wheel_holds_every_keyctl_module(wheel):
    names = set(wheel.namelist())
    for module in (ROOT / "keyctl").rglob("*.py"):
        rel = module.relative_to(ROOT).as_posix()
        if "__pycache__" not in rel:
            assert rel in names, f"{rel} is not in the wheel: an installed keyctl would lack it"
    assert not [n for n in names if n.startswith(("tests/", "scripts/", "bench/", "examples/"))]


def test_wheel_installs_the_man_pages_in_share_man_man1(wheel):
    prefix = f"keyctl-{keyctl.__version__}.data/data/share/man/man1/"
    in_wheel = {n[len(prefix):] for n in wheel.namelist() if n.startswith(prefix)}
    committed = {p.name for p in (ROOT / "man").glob("*.1")}
    assert "keyctl.1" in in_wheel and "keyctl-check.1" in in_wheel and "keyctl-scope-add.1" in in_wheel
    assert in_wheel == committed
    assert wheel.read(prefix + "keyctl-check.1") == (ROOT / "man" / "keyctl-check.1").read_bytes()


def test_wheel_metadata_names_the_console_script_and_the_deliberate_ranges(wheel):
    dist = f"keyctl-{keyctl.__version__}.dist-info/"
    entry_points = wheel.read(dist + "entry_points.txt").decode()
    assert "[console_scripts]" in entry_points and "keyctl = keyctl.cli:main" in entry_points
    meta = Parser().parsestr(wheel.read(dist + "METADATA").decode())
    requires = [r for r in meta.get_all("Requires-Dist") if "extra ==" not in r]
    typer = [r.replace(" ", "") for r in requires if r.startswith("typer")]
    assert typer == ["typer<0.29,>=0.26"] or typer == ["typer>=0.26,<0.29"], typer
    assert not [r for r in requires if r.split(">")[0].split("<")[0].split("=")[0].strip() == "click"]
    assert meta["Requires-Python"] == ">=3.11"
