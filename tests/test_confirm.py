"""Destructive changes ask first: `apply --prune` and `delete` at a terminal ask
("Delete 3 keys? [y/N]"); without a terminal they need --yes (exit 2); --dry-run never
asks; a prune of an empty manifest needs --yes even at a terminal; declining exits 1
with a plain "nothing deleted", not an error."""

from __future__ import annotations

import os

import pytest

from conftest import answering, create_key, pretend_terminal, rows

TEAM = '[keys.ana]\nscopes = ["predict"]\n'


@pytest.fixture
def three(run, tmp_path):
    """ana, bo and chen in the store; a manifest that keeps ana only and adds dev."""
    for name in ("ana", "bo", "chen"):
        create_key(run, "search", name=name)
    path = tmp_path / "team.toml"
    path.write_text(TEAM + '[keys.dev]\nscopes = ["search"]\n')
    return str(path)


def _names(db):
    return sorted(n for (n,) in rows(db, "SELECT name FROM keys"))


def test_prune_without_a_terminal_is_refused(run, db_path, three):
    r = run("apply", three, "--prune")
    assert r.code == 2, r
    assert "error: refusing to delete 2 keys without confirmation: there is no terminal to ask on; pass --yes" in r.stderr
    assert _names(db_path) == ["ana", "bo", "chen"]  # nothing at all: not even dev


def test_yes_deletes_without_asking(run, db_path, three):
    r = run("apply", three, "--prune", "--yes", "--json")
    assert r.code == 0, r
    assert sorted(d["name"] for d in r.json["deleted"]) == ["bo", "chen"]
    assert _names(db_path) == ["ana", "dev"]
    assert "[y/N]" not in r.stderr


def test_dry_run_never_asks(run, db_path, three):
    r = run("apply", three, "--prune", "--dry-run")
    assert r.code == 0, r
    assert "2 to delete" in r.stdout and "[y/N]" not in r.stderr
    assert _names(db_path) == ["ana", "bo", "chen"]


def test_an_apply_that_deletes_nothing_does_not_ask(run, db_path, three):
    r = run("apply", three)  # no --prune: bo and chen stay
    assert r.code == 0, r
    assert _names(db_path) == ["ana", "bo", "chen", "dev"]


@pytest.mark.parametrize("answer, code, left", [
    ("n\n", 1, ["ana", "bo", "chen"]), ("\n", 1, ["ana", "bo", "chen"]), ("", 1, ["ana", "bo", "chen"]),
    ("y\n", 0, ["ana", "dev"]), ("YES\n", 0, ["ana", "dev"]),
])
def test_at_a_terminal_the_plan_then_the_question(run, db_path, three, monkeypatch, answer, code, left):
    pretend_terminal(monkeypatch, "<stdin>")
    r = run("apply", three, "--prune", input=answer)
    assert r.code == code, r
    assert r.stdout.index("- bo") < r.stdout.index("2 to delete")  # the plan was shown
    assert "Delete 2 keys? [y/N] " in r.stderr
    if code:
        assert r.stderr.endswith("[y/N] nothing deleted; nothing applied\n")
        assert "error" not in r.stderr
    assert _names(db_path) == left


def test_an_empty_manifest_prunes_only_with_yes(run, sh, db_path, three, monkeypatch):
    r = sh("apply", "-", "--prune", input="")  # keyctl apply - --prune < /dev/null
    assert r.code == 2, r
    assert "<stdin> holds no keys: --prune would delete every named key (3 keys); pass --yes" in r.stderr
    assert _names(db_path) == ["ana", "bo", "chen"]
    pretend_terminal(monkeypatch, "<stdin>")
    empty = os.path.join(os.path.dirname(three), "empty.toml")
    open(empty, "w").close()
    r = run("apply", empty, "--prune", input="y\n")  # a terminal's yes is not enough
    assert r.code == 2 and "[y/N]" not in r.stderr
    assert _names(db_path) == ["ana", "bo", "chen"]
    r = sh("apply", "-", "--prune", "--yes", input="")
    assert r.code == 0, r
    assert _names(db_path) == []


def test_delete_declined_is_plain(run, db_path, monkeypatch):
    create_key(run, "search", name="ci")
    pretend_terminal(monkeypatch, "<stdin>")
    r = run("delete", "ci", input="no\n")
    assert (r.code, r.stderr) == (1, f"Delete key ci ({rows(db_path, 'SELECT id FROM keys')[0][0]}) for good? "
                                     "[y/N] nothing deleted\n")


@pytest.mark.parametrize("answer, code, left", [("n\n", 1, ["ana", "bo", "chen"]), ("y\n", 0, ["ana", "dev"])])
def test_apply_asks_on_a_real_terminal(db_path, three, answer, code, left):
    r = answering("apply", three, "--prune", answer=answer)
    assert r.code == code, r
    assert "Delete 2 keys? [y/N]" in r.stderr
    assert _names(db_path) == left
