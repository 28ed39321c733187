"""KeyStore.check and check_many, the library's decisions: by secret, id and name, for
secrets that match nothing, in a service's loop (memoised, yet seeing every change
another writer makes to the store between two calls)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from keyctl import KeyStore, tokens
from keyctl.decide import Outcome
from keyctl.errors import NotFoundError, UnknownOperationError


def test_a_long_lived_keystore_sees_every_change_made_elsewhere(tmp_path):
    path = tmp_path / "keys.db"
    admin = KeyStore(path)
    created = admin.create(scopes=["inputs.get", "concepts.get"], name="svc")
    secret = created.secret
    service = KeyStore(path)  # a service's own handle, kept open across the changes

    def outcome(op: str = "inputs.get") -> tuple[Outcome, str]:
        v = service.check(secret, op)
        return v.outcome, v.reason

    for _ in range(3):  # the same question again and again: the memo answers
        assert outcome()[0] is Outcome.ALLOWED
    assert outcome("inputs.add")[0] is Outcome.REJECTED

    admin.scope_remove("svc", ["concepts.get"])
    assert outcome()[0] is Outcome.REDACTED

    admin.scope_add("svc", ["concepts.get", "inputs.add"])
    assert outcome()[0] is Outcome.ALLOWED
    assert outcome("inputs.add")[0] is Outcome.ALLOWED

    admin.update("svc", name="renamed")
    assert "renamed" in service.check(secret, "inputs.add").reason

    admin.disable("renamed")
    verdict, reason = outcome()
    assert verdict is Outcome.REJECTED and "disabled" in reason
    admin.enable("renamed")
    assert outcome()[0] is Outcome.ALLOWED

    new_secret = admin.rotate("renamed").secret
    assert service.check(secret, "inputs.get").status.code == 11009  # the old secret: unknown
    assert service.check(new_secret, "inputs.get").outcome is Outcome.ALLOWED

    admin.delete("renamed")
    assert service.check(new_secret, "inputs.get").status.code == 11009


def test_the_memo_does_not_outlive_an_expiry(tmp_path, monkeypatch):
    import keyctl.when

    ks = KeyStore(tmp_path / "keys.db")
    secret = ks.create(scopes=["search"], name="brief", expires="90m").secret
    assert ks.check(secret, "search").outcome is Outcome.ALLOWED
    later = datetime.now(timezone.utc) + timedelta(hours=2)
    monkeypatch.setattr(keyctl.when, "utcnow", lambda: later)
    v = ks.check(secret, "search")
    assert (v.outcome, v.status.code) == (Outcome.REJECTED, 11008)


def test_many_keys_and_operations_through_one_keystore_stay_right(tmp_path):
    """More (key, operation) pairs than the memo holds: answers stay right when it is
    emptied and refilled."""
    ks = KeyStore(tmp_path / "keys.db")
    ops = list(ks.catalog.operations)
    keys = [(ks.create(scopes=[op], name=f"k{i}-{n}").secret, op)
            for n, op in enumerate(ops) for i in range(20)]
    assert len(keys) * len(ops) > 4096
    for _ in range(2):
        for secret, granted in keys:
            assert ks.check(secret, granted).outcome is not Outcome.REJECTED
            for op in ops:
                assert ks.check(secret, op).outcome is ks.check_many(secret, [op]).outcome



def test_keys_with_the_same_scopes_each_get_a_reason_that_names_them(ks):
    """Verdicts are memoised by scopes, status and operation, not by key: the reason
    still names the key asked about, however it was named, whatever was asked before."""
    first = ks.create(scopes=["inputs.get", "concepts.get"], name="first")
    second = ks.create(scopes=["inputs.get", "concepts.get"], name="second")
    unnamed = ks.create(scopes=["inputs.get", "concepts.get"])
    for created, shown in ((first, "first"), (second, "second"), (unnamed, unnamed.key.id), (first, "first")):
        for ref in (created.secret, created.key.id, created.key.name or created.key.id):
            allowed = ks.check(ref, "inputs.get")
            assert allowed.reason == f"allowed: {shown} holds every scope inputs.get needs"
            rejected = ks.check(ref, "inputs.patch")
            assert rejected.reason == f"rejected: missing inputs.patch; add it with `keyctl scope add {shown} inputs.patch`"
            assert rejected == ks.check_many(ref, ["inputs.patch"]).results[0]
    ks.disable("second")
    assert ks.check("second", "inputs.get").reason == \
        "rejected: second is disabled; enable it with `keyctl enable second`"
    assert ks.check(first.secret, "inputs.get").outcome is Outcome.ALLOWED


def test_check_by_secret_id_and_name(ks):
    created = ks.create(scopes=["inputs.get", "concepts.get"], name="reader")
    for ref in (created.secret, created.key.id, "reader"):
        assert ks.check(ref, "inputs.get").outcome is Outcome.ALLOWED
        assert ks.check(ref, "inputs.patch").outcome is Outcome.REJECTED
    assert ks.check("reader", "Inputs:Get").operation == "inputs.get"

def test_check_of_secrets_that_match_nothing(ks):
    created = ks.create(scopes=["all"])
    bad = created.secret[:-1] + ("A" if created.secret[-1] != "A" else "B")
    v = ks.check(bad, "search")
    assert (v.outcome, v.status.code, v.status.name) == (Outcome.REJECTED, 11008, "CONN_KEY_INVALID")
    v = ks.check(tokens.new_secret(), "search")
    assert (v.outcome, v.status.code, v.status.name) == (Outcome.REJECTED, 11009, "CONN_KEY_NOT_FOUND")
    with pytest.raises(NotFoundError):
        ks.check("nobody", "search")
    with pytest.raises(UnknownOperationError) as err:
        ks.check(created.secret, "serch")
    assert err.value.suggestion == "search" and err.value.exit_code == 2

def test_check_many(ks):
    ks.create(scopes=["inputs.get"], name="r")
    report = ks.check_many("r", ["inputs"])
    assert [v.operation for v in report.results] == ["inputs.add", "inputs.get", "inputs.patch", "inputs.delete"]
    assert report.outcome is Outcome.REJECTED
    assert report.key is not None and report.key.name == "r"
    assert len(ks.check_many("r").results) == 15
    unknown = ks.check_many(tokens.new_secret(), ["search"])
    assert unknown.key is None and unknown.outcome is Outcome.REJECTED
