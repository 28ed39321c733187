"""examples/onboard.sh, run with bash as a team lead would: a CSV of people and roles in,
one 0600 secret file per new person out, each secret checked with `keyctl check -`."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "examples" / "onboard.sh"

PEOPLE = "name,role\nana,engineer\nbo,analyst\r\n\n# contractors\n cy , engineer\n"
ROLES = "role,scopes\nengineer,predict inputs.patch\nanalyst,inputs.get concepts.get\n"


def onboard(tmp_path: Path, *extra: str, people: str = PEOPLE, roles: str = ROLES,
            env: dict | None = None) -> subprocess.CompletedProcess:
    (tmp_path / "people.csv").write_text(people, encoding="utf-8")
    (tmp_path / "roles.csv").write_text(roles, encoding="utf-8")
    full_env = {**os.environ, "KEYCTL": f"{sys.executable} -m keyctl", **(env or {})}
    return subprocess.run(
        ["bash", str(SCRIPT), "people.csv", "roles.csv", "out", *extra],
        cwd=tmp_path, env=full_env, capture_output=True, text=True, timeout=120,
    )


def check(sh, secret_file: Path, *operations: str) -> int:
    """`keyctl check - OPERATION` with the secret file on stdin, as the person would."""
    return sh("check", "-", *operations, input=secret_file.read_text()).code


@pytest.mark.parametrize("json_tool", ["jq", "python"])
def test_onboard_writes_one_private_secret_file_per_person(sh, tmp_path, json_tool):
    if json_tool == "jq" and shutil.which("jq") is None:
        pytest.skip("jq is not installed here; the python path is tested")
    p = onboard(tmp_path, env={"ONBOARD_JSON": json_tool})
    assert p.returncode == 0, p.stderr
    secrets = tmp_path / "out" / "secrets"
    files = sorted(f.name for f in secrets.iterdir())
    assert files == ["ana.key", "bo.key", "cy.key"]
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o700
    for f in secrets.iterdir():
        assert stat.S_IMODE(f.stat().st_mode) == 0o600
        assert f.read_text().startswith("kc_")
    # The plan and warnings reach the person running it; secrets do not appear.
    assert "+ ana" in p.stderr and "3 to create" in p.stderr
    assert "kc_" not in p.stdout + p.stderr
    assert "3 new secret file(s)" in p.stdout
    # Each secret is its person's key, with the role's scopes.
    assert check(sh, secrets / "ana.key", "predict.call", "inputs.patch") in (0, 3)
    assert check(sh, secrets / "ana.key", "predict.call") == 0
    assert check(sh, secrets / "ana.key", "concepts.add") == 4
    assert check(sh, secrets / "bo.key", "concepts.get", "inputs.get") == 0
    assert check(sh, secrets / "bo.key", "predict.call") == 4
    assert check(sh, secrets / "cy.key", "inputs.get", "predict.call") == 3  # redacted without concepts.get
    listed = {k["name"]: k for k in sh("list", "--json").json}
    assert set(listed) == {"ana", "bo", "cy"}
    assert listed["bo"]["description"] == "analyst (onboard.sh)"
    # The manifest it wrote is kept for review.
    assert '[keys."ana"]' in (tmp_path / "out" / "team.toml").read_text()


def test_onboard_again_creates_nothing_and_a_new_person_gets_one_file(sh, tmp_path):
    assert onboard(tmp_path).returncode == 0
    first = (tmp_path / "out" / "secrets" / "ana.key").read_text()
    again = onboard(tmp_path)
    assert again.returncode == 0, again.stderr
    assert "0 to create, 0 to update, 0 to delete" in again.stderr
    assert "0 new secret file(s)" in again.stdout
    assert (tmp_path / "out" / "secrets" / "ana.key").read_text() == first
    more = onboard(tmp_path, people=PEOPLE + "dee,analyst\n")
    assert more.returncode == 0, more.stderr
    assert "1 new secret file(s)" in more.stdout
    assert check(sh, tmp_path / "out" / "secrets" / "dee.key", "inputs.get") == 0
    assert len(sh("list", "--json").json) == 4


def test_onboard_dry_run_passes_through_and_writes_no_secret(sh, tmp_path, db_path):
    p = onboard(tmp_path, "--", "--dry-run")
    assert p.returncode == 0, p.stderr
    assert "3 to create" in p.stderr
    assert list((tmp_path / "out" / "secrets").iterdir()) == []
    assert not db_path.exists()


@pytest.mark.parametrize("people, roles, message", [
    ("ana,wizard\n", ROLES, "unknown role 'wizard'"),
    ("ana,engineer\nana,analyst\n", ROLES, "ana appears twice"),
    ('a"b,engineer\n', ROLES, "invalid name"),
    ("ana,engineer\n", "engineer,predict inputs.pach\n", "unknown scope 'inputs.pach'"),
])
def test_onboard_refuses_bad_input_and_changes_nothing(sh, tmp_path, db_path, people, roles, message):
    p = onboard(tmp_path, people=people, roles=roles)
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert message in p.stderr
    assert not db_path.exists() or sh("list", "--json").json == []
    secrets = tmp_path / "out" / "secrets"
    assert not secrets.exists() or list(secrets.iterdir()) == []


def test_onboard_json_answer_is_what_apply_printed(sh, tmp_path):
    """The script relies on `apply --json` printing nothing but JSON on stdout."""
    assert onboard(tmp_path).returncode == 0
    r = sh("apply", str(tmp_path / "out" / "team.toml"), "--json")
    data = json.loads(r.stdout)
    assert [u["name"] for u in data["unchanged"]] == ["ana", "bo", "cy"]
