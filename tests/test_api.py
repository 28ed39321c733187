"""The library: `from keyctl import KeyStore`, what a Python service uses to enforce keys
in-process with the same rules as the CLI. Typed results, typed errors with exit codes."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from keyctl import KeyStore, tokens
from keyctl.decide import Outcome
from keyctl.errors import (
    InvalidNameError, InvalidWhenError, KeyctlError, NameTakenError, NoScopesLeftError,
    NotFoundError, StoreError, UnknownOperationError, UnknownScopeError, UsageError,
)



def test_the_readme_example(tmp_path):
    store = KeyStore(str(tmp_path / "path.db"))
    created = store.create(scopes=["inputs.patch"], name="ci")
    verdict = store.check(created.secret, "inputs.get")
    assert verdict.outcome is Outcome.REDACTED
    assert verdict.outcome.value == "redacted"
    assert verdict.redacted == ("concepts",)
    assert verdict.missing_scopes == ("concepts.get",)
    assert verdict.status.code == 10000
    assert verdict.billable is None  # the guide does not say whether a get is billed
    assert [c.scope for c in created.added_prerequisites] == ["inputs.get"]
    assert [c.because for c in created.added_prerequisites] == ["inputs.patch"]
    store.close()
    # the same file seen by the CLI's code path
    again = KeyStore(tmp_path / "path.db")
    assert [k.name for k in again.list()] == ["ci"]
    again.close()


def test_results_are_frozen_and_the_secret_stays_out_of_repr(ks):
    created = ks.create(scopes=["search"], name="ci")
    assert created.secret not in repr(created)
    assert created.secret not in repr(created.key)
    with pytest.raises(AttributeError):  # immutable results
        created.key.name = "other"  # type: ignore[misc]
    assert created.key.to_dict() == {
        "id": created.key.id, "name": "ci", "description": None, "scopes": ["search"],
        "status": "active", "created_at": created.key.created_at, "expires_at": None,
        "hint": created.secret[-4:], "in_keyring": False,
    }


def test_lifecycle(ks):
    created = ks.create(scopes=["inputs.patch"], name="ci", description="CI", expires="30d")
    assert created.key.expires_at is not None
    change = ks.scope_add("ci", ["search"])
    assert change.key.scopes == ("inputs.get", "inputs.patch", "search")
    change = ks.scope_remove("ci", ["inputs.get"])
    assert change.key.scopes == ("search",)
    assert [(c.scope, c.because) for c in change.removed_dependents] == [("inputs.patch", "inputs.get")]
    assert ks.scope_set("ci", ["predict"]).key.scopes == ("predict.call", "predict.feedback")
    assert ks.disable("ci").status == "disabled"
    assert ks.check(created.secret, "predict.call").status.code == 11008
    assert ks.enable("ci").scopes == ("predict.call", "predict.feedback")
    rotated = ks.rotate("ci")
    assert rotated.key.id == created.key.id and rotated.secret != created.secret
    assert ks.check(created.secret, "predict.call").status.code == 11009
    assert ks.check(rotated.secret, "predict.call").outcome is Outcome.ALLOWED
    updated = ks.update("ci", name="ci2", expires="never")
    assert (updated.name, updated.expires_at, updated.description) == ("ci2", None, "CI")
    detail = ks.show("ci2")
    assert detail.operations["predict.call"] == "allowed" and detail.operations["search"] == "rejected"
    assert ks.delete("ci2").id == created.key.id
    with pytest.raises(NotFoundError):
        ks.get("ci2")
    actions = [e.action for e in ks.log(created.key.id)]
    assert actions == ["delete", "update", "rotate", "enable", "disable", "scope.set", "scope.remove",
                       "scope.add", "create"]
    assert [e.action for e in ks.log(limit=2)] == ["delete", "update"]


def test_list_filters(ks):
    ks.create(scopes=["all"], name="admin")
    ks.create(scopes=["inputs.patch"], name="patcher")
    ks.create(scopes=["search"], name="finder")
    ks.disable("finder")
    assert [k.name for k in ks.list()] == ["admin", "patcher", "finder"]
    assert [k.name for k in ks.list(scope=["inputs.get"])] == ["admin", "patcher"]
    assert [k.name for k in ks.list(status="disabled")] == ["finder"]
    assert [k.name for k in ks.list(status="active", scope=["search"])] == ["admin"]


def test_expiry_in_the_library(ks, monkeypatch):
    import keyctl.when

    moment = datetime(2099, 1, 31, 12, 0, tzinfo=timezone.utc)
    assert ks.create(scopes=["search"], expires=moment).key.expires_at == "2099-01-31T12:00:00Z"
    # a datetime without a zone is UTC, as on the command line
    assert ks.create(scopes=["search"], expires=datetime(2099, 1, 31, 12, 0)).key.expires_at == "2099-01-31T12:00:00Z"
    with pytest.raises(UsageError):
        ks.create(scopes=["search"], expires=datetime(2001, 1, 1, tzinfo=timezone.utc))
    with pytest.raises(UsageError):
        ks.create(scopes=["search"], expires=datetime(2001, 1, 1))
    brief = ks.create(scopes=["search"], name="brief", expires="90m")
    later = datetime.now(timezone.utc) + timedelta(hours=2)
    monkeypatch.setattr(keyctl.when, "utcnow", lambda: later)
    assert ks.get("brief").status == "expired"
    v = ks.check(brief.secret, "search")
    assert (v.outcome, v.status.code) == (Outcome.REJECTED, 11008)
    assert "expired" in v.reason


@pytest.mark.parametrize(
    "call, error, code",
    [
        (lambda ks: ks.get("nobody"), NotFoundError, 1),
        (lambda ks: ks.get("key_aaaaaaaaaaaaaaaa"), NotFoundError, 1),
        (lambda ks: ks.get(tokens.new_secret()), NotFoundError, 1),
        (lambda ks: ks.get("kc_bad"), NotFoundError, 1),
        (lambda ks: ks.create(scopes=["search"], name="taken"), NameTakenError, 1),
        (lambda ks: ks.update("other", name="taken"), NameTakenError, 1),
        (lambda ks: ks.create(scopes=["inputs.pach"]), UnknownScopeError, 2),
        (lambda ks: ks.create(scopes=[]), UsageError, 2),
        (lambda ks: ks.create(scopes=["search"], name="key_x"), InvalidNameError, 2),
        (lambda ks: ks.create(scopes=["search"], name="x" * 65), InvalidNameError, 2),
        (lambda ks: ks.create(scopes=["search"], expires="0d"), InvalidWhenError, 2),
        (lambda ks: ks.create(scopes=["search"], expires="soon"), InvalidWhenError, 2),
        (lambda ks: ks.scope_remove("taken", ["search"]), NoScopesLeftError, 1),
        (lambda ks: ks.scope_add("taken", ["nope"]), UnknownScopeError, 2),
        (lambda ks: ks.check_many("taken", ["nope"]), UnknownOperationError, 2),
    ],
)
def test_errors_are_typed_with_exit_codes(ks, call, error, code):
    ks.create(scopes=["search"], name="taken")
    ks.create(scopes=["search"], name="other")
    before = [(k.name, k.scopes) for k in ks.list()]
    with pytest.raises(error) as err:
        call(ks)
    assert isinstance(err.value, KeyctlError)
    assert err.value.exit_code == code
    assert str(err.value) == err.value.message and err.value.message
    assert [(k.name, k.scopes) for k in ks.list()] == before


def test_unknown_scope_error_carries_the_suggestion(ks):
    with pytest.raises(UnknownScopeError) as err:
        ks.create(scopes=["inputs.pach"])
    assert err.value.name == "inputs.pach"
    assert err.value.suggestion == "inputs.patch"
    assert "did you mean 'inputs.patch'" in str(err.value)


def test_a_newer_store_raises_store_error(tmp_path):
    import sqlite3

    from keyctl.store import SCHEMA_VERSION

    path = tmp_path / "newer.db"
    with KeyStore(path) as ks:
        ks.create(scopes=["search"], name="ci")
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with KeyStore(path) as ks, pytest.raises(StoreError) as err:
        list(ks.list())
    assert err.value.exit_code == 1
    assert "newer keyctl" in str(err.value)


def test_a_missing_store_reads_as_empty_and_creates_nothing(tmp_path):
    path = tmp_path / "not" / "yet.db"
    with KeyStore(path) as ks:
        assert list(ks.list()) == []
        assert list(ks.log()) == []
        assert ks.check(tokens.new_secret(), "search").status.code == 11009
        with pytest.raises(NotFoundError):
            ks.get("nobody")
    assert not path.parent.exists()


def test_importing_keyctl_is_light():
    code = (
        "import sys, keyctl; from keyctl import KeyStore; "
        "print(sorted(m for m in ('sqlite_utils', 'rich', 'keyring') if m in sys.modules))"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "[]"
