"""Catalogs per store: the built-ins, a user's own file, a store that remembers its
catalog, `keyctl catalog list|validate|upgrade`, and the example catalogs."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from keyctl.catalog import builtin


def snapshot(db: Path) -> list[str]:
    """The store's whole content (WAL included), as SQL. Not its bytes: SQLite may
    checkpoint the WAL into the file whenever a connection closes."""
    conn = sqlite3.connect(db)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "catalogs"

# Direct prerequisites, written out from the issue (not computed by the code under test).
CLARIFAI = {
    "predict.call": [], "predict.feedback": [], "search": [],
    "inputs.add": [], "inputs.get": [], "inputs.patch": ["inputs.get"], "inputs.delete": ["inputs.get"],
    "concepts.add": [], "concepts.get": [], "concepts.patch": ["concepts.get"],
    "models.add": [], "models.get": [], "models.patch": ["models.get", "models.train"],
    "models.delete": ["models.get"], "models.train": ["models.get"],
}
# The prerequisites that the first clarifai-live catalog copied by hand from Clarifai's
# scope enum; the generated catalog (issue 15) must agree on these scopes.
CLARIFAI_LIVE = {
    "inputs.add": ["inputs.get"], "inputs.get": [],
    "inputs.patch": ["inputs.add", "inputs.get"], "inputs.delete": ["inputs.add", "inputs.get"],
    "concepts.add": ["concepts.get"], "concepts.get": [], "concepts.patch": ["concepts.add", "concepts.get"],
    "models.add": ["models.get"], "models.get": [], "models.patch": ["models.add", "models.get", "models.train"],
    "models.delete": ["models.add", "models.get"], "models.train": ["models.get"],
}


def test_builtin_prerequisite_tables():
    catalog = builtin("clarifai")
    assert {s.id: sorted(s.requires) for s in catalog.scopes.values()} == CLARIFAI
    assert catalog.operations["inputs.get"].redacts_direct == {"concepts": "concepts.get"}
    live = builtin("clarifai-live")
    assert {s: sorted(live.scopes[s].requires) for s in CLARIFAI_LIVE} == CLARIFAI_LIVE


def test_catalog_list(run):
    r = run("catalog", "list", "--json")
    assert r.code == 0
    assert [(c["name"], c["default"]) for c in r.json] == [("clarifai", True), ("clarifai-live", False)]
    human = run("catalog", "list")
    assert "clarifai-live" in human.stdout and "(default)" in human.stdout


def test_store_created_under_clarifai_live_keeps_its_rules(run, sh, db_path):
    r = run("--catalog", "clarifai-live", "create", "-n", "ci", "-s", "inputs.patch", "--json")
    assert r.code == 0, r
    assert r.json["added_prerequisites"] == ["inputs.add", "inputs.get"]
    assert "warning: inputs.patch requires inputs.add; added inputs.add" in r.stderr
    # Reopened without --catalog (and in another process): still clarifai-live.
    again = sh("create", "-n", "m", "-s", "models.add", "--json")
    assert again.code == 0, again
    assert again.json["added_prerequisites"] == ["models.get"]
    assert sh("scopes", "--json").json["catalog"] == "clarifai-live"
    # Naming the same catalog again is fine.
    assert run("--catalog", "clarifai-live", "list", "--json").code == 0


def test_catalog_text_is_kept_inside_the_store(run, tmp_path, db_path):
    own = tmp_path / "mine.toml"
    shutil.copy(EXAMPLES / "stripe-like.toml", own)
    assert run("--catalog", str(own), "create", "-n", "billing", "-s", "charges.write").code == 0
    own.unlink()  # the file moves away: the store keeps working
    r = run("check", "billing", "charges.write", "--json")
    assert r.code == 0, r
    assert r.json["results"][0]["outcome"] == "allowed"
    text = sqlite3.connect(db_path).execute("SELECT value FROM meta WHERE key = 'catalog_text'").fetchone()[0]
    assert 'name = "stripe-like"' in text


def test_mismatched_catalog_is_refused(run, db_path):
    assert run("create", "-n", "ci", "-s", "predict").code == 0
    before = snapshot(db_path)
    r = run("--catalog", "clarifai-live", "create", "-n", "x", "-s", "predict")
    assert r.code == 2
    assert r.stderr.startswith("error: ")
    assert "keeps the catalog 'clarifai', not 'clarifai-live'" in r.stderr
    assert "keyctl catalog upgrade" in r.stderr
    assert snapshot(db_path) == before
    assert run("--catalog", "clarifai-live", "list").code == 2


def test_mismatch_through_environment(run, monkeypatch):
    assert run("create", "-n", "ci", "-s", "predict").code == 0
    monkeypatch.setenv("KEYCTL_CATALOG", "clarifai-live")
    r = run("check", "ci", "predict.call")
    assert r.code == 2 and "keeps the catalog 'clarifai'" in r.stderr


def test_changed_catalog_file_is_refused(run, tmp_path):
    own = tmp_path / "mine.toml"
    shutil.copy(EXAMPLES / "github-like.toml", own)
    assert run("--catalog", str(own), "create", "-n", "dev", "-s", "issues.read").code == 0
    own.write_text(own.read_text().replace("Read issues and comments.", "Read issues."))
    r = run("--catalog", str(own), "list")
    assert r.code == 2
    assert "differs from" in r.stderr


def test_unknown_catalog_name(run, db_path):
    r = run("--catalog", "nope", "create", "-s", "predict")
    assert r.code == 2
    assert "unknown catalog 'nope'" in r.stderr
    assert not db_path.exists()


def test_scopes_shows_the_named_catalog_without_a_store(run, db_path):
    r = run("--catalog", "clarifai-live", "scopes", "--json")
    assert r.code == 0
    assert r.json["catalog"] == "clarifai-live"
    assert not db_path.exists()


def test_upgrade_reports_and_changes_nothing_without_yes(run, db_path):
    assert run("create", "-n", "ci", "-s", "inputs.patch").code == 0
    assert run("create", "-n", "root", "-s", "all").code == 0
    before = snapshot(db_path)
    r = run("catalog", "upgrade", "clarifai-live", "--json")
    assert r.code == 0, r
    assert r.json["applied"] is False
    assert r.json["added_prerequisites"] == [
        {"id": r.json["added_prerequisites"][0]["id"], "name": "ci", "scopes": ["inputs.add"]}
    ]
    assert snapshot(db_path) == before
    assert run("scopes", "--json").json["catalog"] == "clarifai"
    human = run("catalog", "upgrade", "clarifai-live")
    assert "would gain inputs.add (for inputs.patch)" in human.stdout
    assert "--yes" in human.stderr


def test_upgrade_with_yes_adds_prerequisites_and_audits(run):
    assert run("create", "-n", "ci", "-s", "inputs.patch,models.patch").code == 0
    r = run("catalog", "upgrade", "clarifai-live", "--yes")
    assert r.code == 0, r
    assert "warning: ci: inputs.patch requires inputs.add; added inputs.add" in r.stderr
    assert "warning: ci: models.patch requires models.add; added models.add" in r.stderr
    key = run("show", "ci", "--json").json
    assert key["scopes"] == ["inputs.add", "inputs.get", "inputs.patch", "models.add", "models.get",
                             "models.patch", "models.train"]
    assert run("scopes", "--json").json["catalog"] == "clarifai-live"
    log = run("log", "--json").json
    assert log[0]["action"] == "catalog.upgrade"
    assert log[0]["details"]["from"] == "clarifai" and log[0]["details"]["to"] == "clarifai-live"
    assert log[1]["action"] == "scope.add"
    assert log[1]["details"]["added_prerequisites"] == ["inputs.add", "models.add"]
    # Later commands follow the new rules without --catalog.
    created = run("create", "-n", "m", "-s", "models.train", "--json").json
    assert created["added_prerequisites"] == ["models.get"]
    assert run("create", "-n", "c", "-s", "concepts.add", "--json").json["added_prerequisites"] == ["concepts.get"]


def test_upgrade_refuses_while_unknown_scopes_remain(run, db_path):
    assert run("create", "-n", "ci", "-s", "predict,inputs.get").code == 0
    target = EXAMPLES / "github-like.toml"
    report = run("catalog", "upgrade", str(target), "--json")
    assert report.code == 0
    assert report.json["unknown_scopes"][0]["scopes"] == ["inputs.get", "predict.call", "predict.feedback"]
    before = snapshot(db_path)
    r = run("catalog", "upgrade", str(target), "--yes")
    assert r.code == 1
    assert "does not know" in r.stderr and "ci (" in r.stderr
    assert snapshot(db_path) == before
    assert run("scopes", "--json").json["catalog"] == "clarifai"


def test_upgrade_without_a_store(run, db_path):
    r = run("catalog", "upgrade", "clarifai-live")
    assert r.code == 1
    assert "no store" in r.stderr
    assert not db_path.exists()


def test_wildcards_are_accepted_where_groups_are(run):
    r = run("create", "-n", "w", "-s", "inputs.*", "--json")
    assert r.code == 0, r
    assert r.json["scopes"] == ["inputs.add", "inputs.delete", "inputs.get", "inputs.patch"]
    assert run("scope", "remove", "w", "Inputs.*").code == 1  # would leave no scope
    assert [k["name"] for k in run("list", "--scope", "inputs.*", "--json").json] == ["w"]
    checked = run("check", "w", "models.*", "--json")
    assert [x["operation"] for x in checked.json["results"]] == [
        "models.add", "models.get", "models.patch", "models.delete", "models.train"]


# --- catalog validate: every validation error, with the entry it is in -------------------
BAD = {
    "duplicate id": ('name = "x"\n[[scopes]]\nid = "a"\n[[scopes]]\nid = "a"\n', ["scope 'a': duplicate id 'a'"]),
    "unknown prerequisite": ('name = "x"\n[[scopes]]\nid = "a"\nrequires = ["b"]\n',
                             ["scope 'a': requires 'b', which names no scope"]),
    "unknown group member": ('name = "x"\n[groups]\ng = ["a", "zz"]\n[[scopes]]\nid = "a"\n',
                             ["group 'g': member 'zz' names no scope"]),
    "cycle": ('name = "x"\n[[scopes]]\nid = "a"\nrequires = ["b"]\n[[scopes]]\nid = "b"\nrequires = ["a"]\n',
              ["prerequisite cycle: a -> b -> a"]),
    "operation naming no scope": ('name = "x"\n[[scopes]]\nid = "a"\n[[operations]]\nid = "op"\n',
                                  ["operation 'op': names no scope: give 'requires' or use a scope's id"]),
    "operation requiring unknown": ('name = "x"\n[[scopes]]\nid = "a"\n[[operations]]\nid = "op"\nrequires = ["q"]\n',
                                    ["operation 'op': requires 'q', which names no scope"]),
    "unknown field": ('name = "x"\ncolour = "red"\n[[scopes]]\nid = "a"\nbogus = 1\n',
                      ["unknown field 'colour' at the top level", "scope 'a': unknown field 'bogus'"]),
    "no name": ('[[scopes]]\nid = "a"\n', ["the catalog needs a 'name' (a non-empty string)"]),
    "bad redaction": ('name = "x"\n[[scopes]]\nid = "a"\n[[operations]]\nid = "a"\nredacts = { p = "nope" }\n',
                      ["operation 'a': redacts 'p' with 'nope', which names no scope"]),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_validate_reports_every_problem(run, tmp_path, case):
    text, problems = BAD[case]
    path = tmp_path / "bad.toml"
    path.write_text(text)
    r = run("catalog", "validate", str(path), "--json")
    assert r.code == 2, r
    assert r.json["valid"] is False
    assert r.json["problems"] == problems
    human = run("catalog", "validate", str(path))
    assert human.code == 2
    assert human.stderr.splitlines() == [f"error: {path}: {p}" for p in problems]


def test_validate_not_toml(run, tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("name = \n")
    r = run("catalog", "validate", str(path))
    assert r.code == 2
    assert "not valid TOML" in r.stderr


def test_validate_missing_file(run, tmp_path):
    r = run("catalog", "validate", str(tmp_path / "absent.toml"))
    assert r.code == 2 and "no such file" in r.stderr


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.toml")) + [ROOT / "keyctl/catalogs/clarifai.toml",
                                  ROOT / "keyctl/catalogs/clarifai-live.toml"])
def test_validate_accepts_good_catalogs(run, path):
    r = run("catalog", "validate", str(path))
    assert r.code == 0, r
    assert "valid catalog" in r.stdout


# --- the example catalogs: keys created under each, their operations checked ----------------
def test_stripe_like_example(run):
    cat = str(EXAMPLES / "stripe-like.toml")
    r = run("--catalog", cat, "create", "-n", "billing", "-s", "charges.write,customers.read", "--json")
    assert r.code == 0, r
    assert r.json["added_prerequisites"] == ["charges.read"]
    refund = run("check", "billing", "charges.refund", "--json").json["results"][0]
    assert refund["outcome"] == "rejected"
    assert refund["missing_scopes"] == ["refunds.read", "refunds.write"]
    assert refund["billable"] is True
    customer = run("check", "billing", "customers.retrieve", "--json")
    assert customer.code == 3
    assert customer.json["results"][0]["redacted"] == ["payment_methods"]
    assert run("scope", "add", "billing", "payment_methods").code == 0
    assert run("check", "billing", "customers.retrieve", "charges.write").code == 0


def test_github_like_example(run):
    cat = str(EXAMPLES / "github-like.toml")
    r = run("--catalog", cat, "create", "-n", "dev", "-s", "pulls.write", "--json")
    assert r.code == 0, r
    assert r.json["scopes"] == ["metadata.read", "pulls.read", "pulls.write"]
    merge = run("check", "dev", "pulls.merge", "--json").json["results"][0]
    assert merge["outcome"] == "rejected"
    assert merge["missing_scopes"] == ["contents.read", "contents.write"]
    assert run("scope", "add", "dev", "contents").code == 0
    assert run("check", "dev", "pulls.merge").code == 0
    # Every repository permission needs metadata.read: removing it removes them all.
    removed = run("scope", "remove", "dev", "metadata.read")
    assert removed.code == 1  # nothing would be left
    assert run("scope", "add", "dev", "issues.read").code == 0
    assert run("check", "dev", "issues.get").code == 0


def test_readme_catalog_example_is_valid_and_works(run, tmp_path):
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Catalogs"):]
    block = section[section.index("```toml\n") + len("```toml\n"):]
    block = block[: block.index("```")]
    # One example, three places: README, examples/catalogs/example.toml, the man page.
    assert block == (EXAMPLES / "example.toml").read_text()
    page = (ROOT / "man" / "keyctl-catalog.1").read_text()
    assert ".SH CATALOG FILES" in page and 'id = "customers.retrieve"' in page
    path = tmp_path / "readme.toml"
    path.write_text(block)
    assert run("catalog", "validate", str(path)).code == 0
    assert run("--catalog", str(path), "create", "-n", "c", "-s", "customers").code == 0
    r = run("check", "c", "customers.retrieve", "--json")
    assert r.code == 3 and r.json["results"][0]["redacted"] == ["charges"]
