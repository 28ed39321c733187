"""README's team-onboarding loop, run as written: it must work, save each secret to its
own 0600 file, and skip teammates who already have a key when run again."""

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
def keyctl_on_path(tmp_path: Path) -> dict[str, str]:
    """PATH with a `keyctl` that is this checkout's (keyutils ships another keyctl)."""
    if shutil.which("jq") is None:
        if os.environ.get("KEYCTL_REQUIRE_SECRET_SERVICE"):
            pytest.fail("jq is not installed, and CI requires it (.ci/run installs it)")
        pytest.skip("jq is not installed")
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
