"""Secrets in the OS keyring (issue 5), against in-memory keyring backends of the tests'
own: create/rotate --keyring, --show-secret, `keyctl secret`, the entry following
rotate and delete, a keyring that fails or hangs, and no keyring at all (in real
processes). The real Secret Service is tests/test_secret_service.py."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import keyring
import keyring.core
from conftest import rows
import pytest
from keyring.backend import KeyringBackend
from keyring.errors import KeyringLocked, PasswordDeleteError, PasswordSetError

SERVICE = "keyctl"


class MemoryKeyring(KeyringBackend):
    """A keyring in a dict: what keyctl stored is what the test reads."""

    priority = 1  # type: ignore[assignment]  (a viable backend)

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.entries.pop((service, username), None) is None:
            raise PasswordDeleteError("no such password")


class RefusingKeyring(MemoryKeyring):
    """Reads and deletes work; every write fails, with the password in its message
    (as a careless backend might) to prove that keyctl never repeats it."""

    def set_password(self, service: str, username: str, password: str) -> None:
        raise PasswordSetError(f"disk full while writing {password}")


class HangingKeyring(MemoryKeyring):
    """A keyring that answers reads but never answers a write."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def set_password(self, service: str, username: str, password: str) -> None:
        self.release.wait(60)


class SilentKeyring(HangingKeyring):
    """A keyring that never answers at all (a D-Bus service that does not reply)."""

    def get_password(self, service: str, username: str) -> str | None:
        self.release.wait(60)
        return None


class LockedKeyring(MemoryKeyring):
    def get_password(self, service: str, username: str) -> str | None:
        raise KeyringLocked("Failed to unlock the collection!")


class NoCallKeyring(MemoryKeyring):
    """Fails the test if keyctl touches the keyring at all."""

    def get_password(self, service, username):  # pragma: no cover - must not run
        raise AssertionError("keyring used")

    set_password = delete_password = get_password  # type: ignore[assignment]


def use(monkeypatch: pytest.MonkeyPatch, backend: KeyringBackend) -> KeyringBackend:
    # The autouse fixture points PYTHON_KEYRING_BACKEND at the fail backend; an
    # in-process test sets its own, and monkeypatch puts the previous one back.
    monkeypatch.setattr(keyring.core, "_keyring_backend", keyring.core._keyring_backend)
    keyring.set_keyring(backend)
    return backend


@pytest.fixture
def memory(monkeypatch) -> MemoryKeyring:
    return use(monkeypatch, MemoryKeyring())  # type: ignore[return-value]


@pytest.fixture(params=[HangingKeyring])
def hanging(monkeypatch, request):
    backend = use(monkeypatch, request.param())
    monkeypatch.setenv("KEYCTL_KEYRING_TIMEOUT", "0.5")
    yield backend
    backend.release.set()  # let the abandoned worker thread finish


def stored(db_path: Path, key_id: str) -> tuple[int, str]:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute("SELECT in_keyring, secret_hash FROM keys WHERE id = ?", (key_id,)).fetchone()
    finally:
        conn.close()


def key_json(run, ref: str) -> dict:
    r = run("show", ref, "--json")
    assert r.code == 0, r
    return r.json


# --- create --keyring ------------------------------------------------------------------
def test_create_keyring_stores_the_secret_and_does_not_print_it(run, memory, db_path):
    r = run("create", "--name", "ci-bot", "--scope", "predict", "--keyring")
    assert r.code == 0, r
    key_id = key_json(run, "ci-bot")["id"]
    secret = memory.entries[(SERVICE, key_id)]
    assert secret.startswith("kc_")
    assert secret not in r.stdout and "kc_" not in r.stdout + r.stderr
    assert "stored in the keyring (test keyring MemoryKeyring)" in r.stdout
    assert "keyctl secret ci-bot" in r.stdout
    assert stored(db_path, key_id)[0] == 1
    assert key_json(run, "ci-bot")["in_keyring"] is True
    listed = run("list", "--json").json
    assert [k["in_keyring"] for k in listed] == [True]
    # The stored secret is the key's: check accepts it.
    assert run("check", secret, "predict.call").code == 0


def test_create_keyring_json_has_null_secret_and_stored_in(run, memory):
    r = run("create", "-n", "etl", "-s", "inputs.patch", "--keyring", "--json")
    assert r.code == 0, r
    data = r.json
    assert data["secret"] is None
    assert data["stored_in"] == "test keyring MemoryKeyring"
    assert data["in_keyring"] is True
    assert data["added_prerequisites"] == ["inputs.get"]
    assert (SERVICE, data["id"]) in memory.entries


def test_create_without_keyring_has_null_stored_in_and_leaves_the_keyring_alone(run, monkeypatch):
    use(monkeypatch, NoCallKeyring())
    data = run("create", "-n", "plain", "-s", "predict", "--json").json
    assert data["stored_in"] is None and data["in_keyring"] is False
    assert data["secret"].startswith("kc_")


@pytest.mark.parametrize("as_json", [False, True])
def test_show_secret_prints_the_stored_secret_too(run, memory, as_json):
    args = ["create", "-n", "ci", "-s", "predict", "--keyring", "--show-secret"] + (["--json"] if as_json else [])
    r = run(*args)
    assert r.code == 0, r
    key_id = key_json(run, "ci")["id"]
    secret = memory.entries[(SERVICE, key_id)]
    if as_json:
        assert r.json["secret"] == secret and r.json["stored_in"] == "test keyring MemoryKeyring"
    else:
        assert f"secret:  {secret}" in r.stdout.splitlines()
        assert "stored in the keyring" in r.stdout


# --- keyctl secret -----------------------------------------------------------------------
def test_secret_prints_the_secret_alone_by_name_or_id(run, memory):
    run("create", "-n", "ci-bot", "-s", "predict", "--keyring")
    key_id = key_json(run, "ci-bot")["id"]
    secret = memory.entries[(SERVICE, key_id)]
    for ref in ("ci-bot", key_id):
        r = run("secret", ref)
        assert r.code == 0, r
        assert r.stdout == secret + "\n"
        assert r.stderr == ""
    r = run("secret", "ci-bot", "--json")
    assert r.json == {"id": key_id, "name": "ci-bot", "secret": secret}


def test_secret_of_a_key_created_without_keyring_exits_1(run, monkeypatch):
    use(monkeypatch, NoCallKeyring())  # the store already knows: no keyring round-trip
    run("create", "-n", "plain", "-s", "predict")
    r = run("secret", "plain")
    assert r.code == 1 and r.stdout == ""
    assert "error: nothing is stored in the keyring for plain" in r.stderr
    assert "keyctl rotate plain --keyring" in r.stderr


def test_secret_removed_outside_keyctl_exits_1(run, memory):
    run("create", "-n", "ci", "-s", "predict", "--keyring")
    memory.entries.clear()
    r = run("secret", "ci")
    assert r.code == 1 and r.stdout == ""
    assert "nothing is stored in the keyring for ci" in r.stderr and "removed outside keyctl" in r.stderr


def test_secret_never_prints_an_entry_that_is_not_the_keys_secret(run, memory):
    run("create", "-n", "ci", "-s", "predict", "--keyring")
    other = run("create", "-n", "other", "-s", "predict", "--json").json["secret"]
    key_id = key_json(run, "ci")["id"]
    for planted in (other, "hunter2"):  # another key's secret, something hand-written
        memory.entries[(SERVICE, key_id)] = planted
        r = run("secret", "ci")
        assert r.code == 1 and r.stdout == ""
        assert "outdated secret for ci" in r.stderr
        assert planted not in r.stderr


def test_secret_refuses_a_secret_as_key(run, memory):
    secret = run("create", "-n", "ci", "-s", "predict", "--json").json["secret"]
    for ref in (secret, "-"):
        r = run("secret", ref, input=secret + "\n")
        assert r.code == 2 and r.stdout == ""
        assert "KEY is a secret already" in r.stderr
        assert secret not in r.stderr


def test_secret_of_an_unknown_key_exits_1(run, memory):
    r = run("secret", "nobody")
    assert r.code == 1 and "no key with the name 'nobody'" in r.stderr


def test_secret_of_a_disabled_key_warns(run, memory):
    run("create", "-n", "ci", "-s", "predict", "--keyring")
    run("disable", "ci")
    r = run("secret", "ci")
    assert r.code == 0 and r.stdout.startswith("kc_")
    assert "warning: ci is disabled" in r.stderr


def test_a_locked_keyring_exits_1_and_creates_nothing(run, monkeypatch, memory):
    run("create", "-n", "ci", "-s", "predict", "--keyring")
    use(monkeypatch, LockedKeyring())
    r = run("secret", "ci")
    assert r.code == 1 and r.stdout == ""
    assert "error: the keyring is locked" in r.stderr
    # --keyring reads from the keyring before writing anything: no key, no rotation.
    hint = key_json(run, "ci")["hint"]
    for args in (("create", "-n", "ci2", "-s", "predict", "--keyring"), ("rotate", "ci", "--keyring")):
        r = run(*args)
        assert r.code == 1 and r.stdout == ""
        assert "error: the keyring is locked" in r.stderr
    assert [k["name"] for k in run("list", "--json").json] == ["ci"]
    assert key_json(run, "ci")["hint"] == hint


# --- rotate ------------------------------------------------------------------------------
def test_rotate_keyring_replaces_the_entry(run, memory, db_path):
    run("create", "-n", "ci", "-s", "predict", "--keyring")
    key_id = key_json(run, "ci")["id"]
    old = memory.entries[(SERVICE, key_id)]
    r = run("rotate", "ci", "--keyring", "--json")
    assert r.code == 0, r
    assert r.json["secret"] is None and r.json["in_keyring"] is True
    assert r.json["stored_in"] == "test keyring MemoryKeyring"
    new = memory.entries[(SERVICE, key_id)]
    assert new != old
    assert run("secret", "ci").stdout == new + "\n"
    assert run("check", new, "predict.call").code == 0
    assert run("check", old, "predict.call").code == 4


def test_rotate_keyring_puts_a_key_created_without_it_in_the_keyring(run, memory):
    run("create", "-n", "ci", "-s", "predict")
    assert memory.entries == {}
    r = run("rotate", "ci", "--keyring", "--show-secret")
    assert r.code == 0, r
    key_id = key_json(run, "ci")["id"]
    new = memory.entries[(SERVICE, key_id)]
    assert f"secret:  {new}" in r.stdout.splitlines()
    assert key_json(run, "ci")["in_keyring"] is True


def test_rotate_no_keyring_takes_the_secret_out_and_removes_the_stale_entry(run, memory, db_path):
    run("create", "-n", "ci", "-s", "predict", "--keyring")
    key_id = key_json(run, "ci")["id"]
    r = run("rotate", "ci", "--no-keyring", "--json")
    assert r.code == 0, r
    assert r.json["secret"].startswith("kc_") and r.json["in_keyring"] is False and r.json["stored_in"] is None
    assert "warning: the secret of ci in the keyring is now stale; removed it" in r.stderr
    assert memory.entries == {}
    assert stored(db_path, key_id)[0] == 0
    assert run("secret", "ci").code == 1
    assert run("check", r.json["secret"], "predict.call").code == 0


def test_rotate_of_a_key_in_the_keyring_keeps_it_there_and_prints_no_secret(run, memory, db_path):
    run("create", "-n", "ci", "-s", "predict", "--keyring")
    key_id = key_json(run, "ci")["id"]
    old = memory.entries[(SERVICE, key_id)]
    r = run("rotate", "ci")
    assert r.code == 0, r
    assert "kc_" not in r.stdout and "stored in the keyring" in r.stdout
    new = memory.entries[(SERVICE, key_id)]
    assert new != old and stored(db_path, key_id)[0] == 1
    assert run("secret", "ci").stdout.strip() == new
    assert run("check", new, "predict.call").code == 0 and run("check", old, "predict.call").code == 4
    shown = run("rotate", "ci", "--show-secret", "--json")
    assert shown.json["secret"] == memory.entries[(SERVICE, key_id)] and shown.json["in_keyring"] is True


def test_rotate_of_a_key_outside_the_keyring_does_not_touch_it(run, monkeypatch):
    use(monkeypatch, NoCallKeyring())
    run("create", "-n", "ci", "-s", "predict")
    r = run("rotate", "ci")
    assert r.code == 0 and r.stderr.startswith("note:")  # no keyring warning


# --- delete ------------------------------------------------------------------------------
def test_delete_removes_the_entry(run, memory):
    run("create", "-n", "ci", "-s", "predict", "--keyring")
    run("create", "-n", "keep", "-s", "predict", "--keyring")
    key_id = key_json(run, "ci")["id"]
    keep_id = key_json(run, "keep")["id"]
    r = run("delete", "ci", "--yes", "--json")
    assert r.code == 0, r
    assert r.json["id"] == key_id
    assert list(memory.entries) == [(SERVICE, keep_id)]


def test_delete_of_a_key_outside_the_keyring_does_not_touch_it(run, monkeypatch):
    use(monkeypatch, NoCallKeyring())
    run("create", "-n", "ci", "-s", "predict")
    assert run("delete", "ci", "--yes").code == 0


def test_delete_when_the_entry_is_already_gone_still_deletes(run, memory):
    run("create", "-n", "ci", "-s", "predict", "--keyring")
    memory.entries.clear()
    r = run("delete", "ci", "--yes")
    assert r.code == 0, r
    assert run("show", "ci").code == 1


def test_delete_when_the_keyring_is_locked_deletes_and_warns(run, monkeypatch):
    class NoDelete(MemoryKeyring):
        def delete_password(self, service, username):
            raise KeyringLocked("Failed to unlock the collection!")

    backend = use(monkeypatch, NoDelete())
    run("create", "-n", "ci", "-s", "predict", "--keyring")
    key_id = key_json(run, "ci")["id"]
    r = run("delete", "ci", "--yes")
    assert r.code == 0, r
    assert run("show", "ci").code == 1
    assert f"secret-tool clear service keyctl username {key_id}" in r.stderr
    assert (SERVICE, key_id) in backend.entries


# --- the keyring write fails: nothing changes ---------------------------------------------
@pytest.mark.parametrize("as_json", [False, True])
def test_create_when_the_keyring_write_fails_creates_nothing(run, monkeypatch, db_path, as_json):
    use(monkeypatch, RefusingKeyring())
    r = run("create", "-n", "ci", "-s", "predict", "--keyring", *(["--json"] if as_json else []))
    assert r.code == 1 and r.stdout == "", r
    assert "error: the keyring failed to store the secret of key_" in r.stderr
    assert "PasswordSetError" in r.stderr and "the key was not created" in r.stderr
    assert "kc_" not in r.stderr
    assert run("list", "--json").json == []
    assert [a for (a,) in rows(db_path, "SELECT action FROM audit")] == []


def test_rotate_when_the_keyring_write_fails_changes_nothing(run, monkeypatch, memory):
    run("create", "-n", "ci", "-s", "predict", "--keyring")
    key_id = key_json(run, "ci")["id"]
    old = memory.entries[(SERVICE, key_id)]
    refusing = use(monkeypatch, RefusingKeyring())
    refusing.entries = dict(memory.entries)
    r = run("rotate", "ci", "--keyring")
    assert r.code == 1 and r.stdout == "", r
    assert "the key was not rotated: its old secret still works" in r.stderr
    assert refusing.entries == {(SERVICE, key_id): old}  # the old secret is still there
    assert key_json(run, "ci")["in_keyring"] is True
    assert run("check", old, "predict.call").code == 0


# --- a keyring that does not answer --------------------------------------------------------
def test_create_with_a_hanging_keyring_times_out_and_creates_nothing(run, hanging, db_path):
    r = run("create", "-n", "ci", "-s", "predict", "--keyring")
    assert r.code == 1 and r.stdout == "", r
    assert "the keyring did not answer within 0.5 s" in r.stderr
    assert "KEYCTL_KEYRING_TIMEOUT" in r.stderr
    assert run("list", "--json").json == []


@pytest.mark.parametrize("hanging", [SilentKeyring], indirect=True)
def test_a_silent_keyring_times_out_before_anything_is_written(run, hanging, db_path):
    run("create", "-n", "ci", "-s", "predict")
    conn = sqlite3.connect(db_path)
    with conn:
        conn.execute("UPDATE keys SET in_keyring = 1")
    conn.close()
    r = run("secret", "ci")
    assert r.code == 1 and r.stdout == ""
    assert "the keyring did not answer within 0.5 s while trying to read the secret" in r.stderr
    r = run("create", "-n", "ci2", "-s", "predict", "--keyring")
    assert r.code == 1 and r.stdout == ""
    assert "the keyring did not answer within 0.5 s while trying to reach the keyring" in r.stderr
    assert [k["name"] for k in run("list", "--json").json] == ["ci"]


@pytest.mark.parametrize("value", ["soon", "0", "-3", "nan"])
def test_a_bad_timeout_is_a_usage_error(run, memory, monkeypatch, value):
    monkeypatch.setenv("KEYCTL_KEYRING_TIMEOUT", value)
    r = run("create", "-n", "ci", "-s", "predict", "--keyring")
    assert r.code == 2
    assert "KEYCTL_KEYRING_TIMEOUT" in r.stderr
    assert run("list", "--json").json == []


# --- no usable keyring: real processes, the store untouched ---------------------------------
def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


REMEDIES = ("gnome-keyring", "keyrings.alt", "PYTHON_KEYRING_BACKEND")


@pytest.mark.parametrize("backend", [
    "keyring.backends.fail.Keyring",
    "keyring.backends.null.Keyring",  # accepts everything and keeps nothing
    "keyring.backends.no_such_module.Keyring",
])
def test_no_backend_create_exits_1_and_creates_no_store(sh, tmp_path, db_path, backend):
    r = sh("create", "-n", "ci", "-s", "predict", "--keyring", env={"PYTHON_KEYRING_BACKEND": backend})
    assert r.code == 1, r
    assert r.stdout == ""
    assert r.stderr.startswith("error: ") and len(r.stderr.splitlines()) == 1
    for remedy in REMEDIES:
        assert remedy in r.stderr
    assert not db_path.exists()


def test_no_backend_changes_nothing_in_an_existing_store(sh, db_path):
    assert sh("create", "-n", "ci", "-s", "predict").code == 0
    before = snapshot(db_path.parent)
    env = {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    for args in (("create", "-n", "ci2", "-s", "predict", "--keyring"),
                 ("rotate", "ci", "--keyring", "--json")):
        r = sh(*args, env=env)
        assert r.code == 1, r
        assert r.stdout == ""
        assert "no usable OS keyring" in r.stderr
        for remedy in REMEDIES:
            assert remedy in r.stderr
        assert snapshot(db_path.parent) == before


def test_no_backend_from_a_chainer_with_nothing_to_chain(sh, db_path):
    env = {k: v for k, v in os.environ.items() if k != "DBUS_SESSION_BUS_ADDRESS"}
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.chainer.ChainerBackend"
    p = subprocess.run([sys.executable, "-m", "keyctl", "create", "-s", "predict", "--keyring"],
                       capture_output=True, text=True, env=env, timeout=60)
    if "keyrings.alt" in sys.modules or p.returncode == 0:  # pragma: no cover - a real backend here
        pytest.skip("this machine has a keyring backend the chainer can use")
    assert p.returncode == 1
    assert "no usable OS keyring" in p.stderr and "chainer" in p.stderr
    assert not db_path.exists()


# --- keyring is imported only where it is used ----------------------------------------------
def imported_modules(sh_args: list[str], env: dict) -> set[str]:
    p = subprocess.run([sys.executable, "-X", "importtime", "-m", "keyctl", *sh_args],
                       capture_output=True, text=True, env={**os.environ, **env}, timeout=60)
    return {line.split("|")[-1].strip() for line in p.stderr.splitlines() if line.startswith("import time:")}


def test_check_list_show_rotate_delete_do_not_import_keyring(sh, tmp_path):
    r = sh("create", "-n", "ci", "-s", "predict", "--json")
    secret = r.json["secret"]
    for args in (["check", secret, "predict.call"], ["list"], ["show", "ci"], ["show", "ci", "--json"],
                 ["rotate", "ci"], ["delete", "ci", "--yes"]):
        assert "keyring" not in imported_modules(args, {}), args
    assert "keyring" in imported_modules(["create", "-s", "predict", "--keyring"], {})
