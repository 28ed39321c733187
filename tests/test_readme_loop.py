"""README's team-onboarding loop and its quick start, run as written: each must work,
and work again when run a second time (the loop skips teammates who already have a
key; the quick start checks the key it made)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def _loop() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("### A team-onboarding loop", 1)[1]
    m = re.search(r"```bash\n(.*?)```", section, re.S)
    assert m, "README has no bash block under 'A team-onboarding loop'"
    return m.group(1)


@pytest.fixture
def keyctl_on_path(keyctl_bin: dict[str, str]) -> dict[str, str]:
    """keyctl_bin, where jq is installed (the loop reads keyctl's JSON with it)."""
    if shutil.which("jq") is None:
        if os.environ.get("KEYCTL_REQUIRE_SECRET_SERVICE"):
            pytest.fail("jq is not installed, and CI requires it (.ci/run installs it)")
        pytest.skip("jq is not installed")
    return keyctl_bin


@pytest.fixture
def keyctl_bin(tmp_path: Path) -> dict[str, str]:
    """PATH with a `keyctl` that is this checkout's (keyutils ships another keyctl)."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    wrapper = bindir / "keyctl"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m keyctl "$@"\n')
    wrapper.chmod(0o755)
    return {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"}


def test_readme_onboarding_loop(tmp_path: Path, keyctl_on_path, run):
    work = tmp_path / "work"
    work.mkdir()
    script = work / "onboard.sh"
    script.write_text(_loop())

    first = subprocess.run(["bash", str(script)], cwd=work, env=keyctl_on_path,
                           capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first
    listed = run("list", "--json").json
    assert sorted(k["name"] for k in listed) == ["ana", "bo", "chen"]
    ids = {k["name"]: k["id"] for k in listed}
    lines = first.stdout.splitlines()
    assert lines[:3] == [f"{n}\t{ids[n]}\tinputs.get,predict.call,predict.feedback" for n in ("ana", "bo", "chen")]
    assert lines[3] == "ana's key can predict"

    secrets = work / "secrets"
    assert (secrets.stat().st_mode & 0o777) == 0o700
    for name in ("ana", "bo", "chen"):
        f = secrets / f"{name}.key"
        assert (f.stat().st_mode & 0o777) == 0o600
        secret = f.read_text().strip()
        assert secret.startswith("kc_")
        r = run("check", "-", "predict.call", "--json", input=secret + "\n")
        assert r.code == 0 and r.json["key"]["name"] == name

    before = {f.name: f.read_text() for f in secrets.iterdir()}
    again = subprocess.run(["bash", str(script)], cwd=work, env=keyctl_on_path,
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again
    assert again.stdout.splitlines()[:3] == [f"{n} already has a key" for n in ("ana", "bo", "chen")]
    assert {f.name: f.read_text() for f in secrets.iterdir()} == before
    assert len(run("list", "--json").json) == 3


def test_readme_quick_start_runs_again_as_written(tmp_path: Path, keyctl_bin):
    """The quick start's keyctl lines (after the install line) in a fresh HOME, twice:
    the first run creates demo-bot, the second finds it; both end with exit status 4."""
    text = README.read_text(encoding="utf-8").split("## Quick start", 1)[1]
    block = re.search(r"```sh\n(.*?)```", text, re.S).group(1).splitlines()
    assert block[0].startswith("python3 -m venv") and "keyctl create --name demo-bot" in block[1]
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in keyctl_bin.items() if k not in ("KEYCTL_DB", "XDG_DATA_HOME")} | {"HOME": str(home)}
    runs = [subprocess.run(["bash", "-c", "\n".join(block[1:])], env=env, capture_output=True, text=True,
                           timeout=120) for _ in range(2)]
    for p in runs:
        assert p.stdout.splitlines()[-1] == "exit status: 4", p
    assert "kc_" in runs[0].stdout and "note: created a new store at" in runs[0].stderr
    assert "kc_" not in runs[1].stdout and "error:" not in runs[1].stderr
    assert (home / ".local" / "share" / "keyctl" / "keyctl.db").exists()
