"""Concurrent changes: every read-modify-write reads the key again under the write lock,
so writers racing on one key all take effect and the audit trail's before/after chain
holds; a key deleted while a change waits for the lock is "no such key" (exit 1); a
catalog replaced while a scope change waits is the catalog the change is judged by;
and one KeyStore shared by threads works, each call all or nothing.

Where the overlap matters, the test holds the store's write lock itself (sqlite3's
``BEGIN IMMEDIATE``) until every writer has read the store and is waiting for the
lock: the race is then certain, not likely.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import ROOT, rows, store_content

from keyctl import KeyStore
from keyctl.errors import KeyctlError, ManifestError, NameTakenError, NotFoundError, UnknownScopeError
from keyctl.catalog.compiled import catalog_rev

# keyctl's own entry point, with one line on stderr ("@lock") as each write transaction
# is asked for: by then the command has read the store outside the lock.
AT_LOCK = r"""
import sys
from keyctl.store import sqlite as backend

original = backend.SQLiteStore.transaction

def transaction(self, *args, **kwargs):
    sys.stderr.write("@lock\n")
    sys.stderr.flush()
    return original(self, *args, **kwargs)

backend.SQLiteStore.transaction = transaction
sys.argv[0] = "keyctl"
from keyctl.cli import main
main()
"""


@contextmanager
def write_lock(db: Path):
    """The store's write lock, held by the test: yields a connection inside BEGIN
    IMMEDIATE; what it does is committed when the block ends."""
    conn = sqlite3.connect(db, isolation_level=None, timeout=30)
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        conn.close()


def start(db: Path, *args: str) -> subprocess.Popen:
    """keyctl ARGS as a real process, returned once it has read the store and asked for
    the write lock."""
    p = subprocess.Popen([sys.executable, "-c", AT_LOCK, "--db", str(db), *args], cwd=str(ROOT),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = p.stderr.readline()
    assert line == "@lock\n", (line, p.stderr.read())
    return p


def finish(p: subprocess.Popen) -> tuple[int, str, str]:
    out, err = p.communicate(timeout=60)
    return p.returncode, out, err


def scope_trail(db: Path, key_id: str) -> list[dict]:
    return [json.loads(d) for (d,) in rows(
        db, "SELECT details FROM audit WHERE key_id = ? AND action LIKE 'scope.%' ORDER BY id", key_id)]


def assert_chain(trail: list[dict], first: list[str], last: list[str]) -> None:
    """Each entry's "before" is the previous entry's "after"."""
    assert trail, "no scope change was audited"
    assert trail[0]["before"] == first
    for previous, entry in zip(trail, trail[1:]):
        assert entry["before"] == previous["after"], trail
    assert trail[-1]["after"] == last


def stored_scopes(db: Path, name: str) -> list[str]:
    (scopes,), = rows(db, "SELECT scopes FROM keys WHERE name = ?", name)
    return json.loads(scopes)


# --- writers racing on one key ---------------------------------------------------------------
def test_six_writers_waiting_on_one_key_all_take_effect(db_path: Path) -> None:
    with KeyStore(db_path) as ks:
        bob = ks.create(scopes=["predict", "inputs.get"], name="bob").key
    changes = [("scope", "add", "bob", "search"), ("scope", "add", "bob", "models.get"),
               ("scope", "add", "bob", "concepts.get"), ("scope", "remove", "bob", "inputs.get"),
               ("update", "bob", "--description", "night shift"), ("disable", "bob")]
    with write_lock(db_path):
        writers = [start(db_path, *change) for change in changes]  # each has read bob
    for p in writers:
        code, _, err = finish(p)
        assert code == 0, err
    with KeyStore(db_path) as ks:
        key = ks.get("bob")
    expected = ["concepts.get", "models.get", "predict.call", "predict.feedback", "search"]
    assert list(key.scopes) == expected
    assert (key.description, key.status) == ("night shift", "disabled")
    assert_chain(scope_trail(db_path, bob.id), ["inputs.get", "predict.call", "predict.feedback"], expected)


LIBRARY_WRITER = r"""
import sys
from keyctl import KeyStore
db, scope, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
ks = KeyStore(db)
for _ in range(rounds):
    ks.scope_add("bob", [scope])
    ks.scope_remove("bob", [scope])
ks.scope_add("bob", [scope])
"""


def test_four_library_processes_toggling_scopes_of_one_key_lose_nothing(db_path: Path) -> None:
    with KeyStore(db_path) as ks:
        bob = ks.create(scopes=["predict.call"], name="bob").key
    mine = ["search", "models.get", "concepts.get", "predict.feedback"]
    procs = [subprocess.Popen([sys.executable, "-c", LIBRARY_WRITER, str(db_path), scope, "10"],
                              stderr=subprocess.PIPE, text=True) for scope in mine]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    final = sorted(["predict.call", *mine])
    assert stored_scopes(db_path, "bob") == final
    trail = scope_trail(db_path, bob.id)
    assert len(trail) == 4 * 21
    assert_chain(trail, ["predict.call"], final)


# --- a key deleted while a change waits for the lock -----------------------------------------
CHANGES = {
    "scope add": (("scope", "add", "bob", "search"), lambda ks: ks.scope_add("bob", ["search"])),
    "scope remove": (("scope", "remove", "bob", "predict.call"), lambda ks: ks.scope_remove("bob", ["predict.call"])),
    "scope set": (("scope", "set", "bob", "search"), lambda ks: ks.scope_set("bob", ["search"])),
    "update": (("update", "bob", "--description", "x"), lambda ks: ks.update("bob", description="x")),
    "disable": (("disable", "bob"), lambda ks: ks.disable("bob")),
    "enable": (("enable", "bob"), lambda ks: ks.enable("bob")),
    "rotate": (("rotate", "bob"), lambda ks: ks.rotate("bob")),
    "delete": (("delete", "bob", "--yes"), lambda ks: ks.delete("bob")),
}


def _delete_bob(conn: sqlite3.Connection) -> None:
    assert conn.execute("DELETE FROM keys WHERE name = 'bob'").rowcount == 1


@pytest.mark.parametrize("change", CHANGES, ids=list(CHANGES))
def test_a_key_deleted_while_a_command_waits_is_no_such_key(change: str, db_path: Path) -> None:
    with KeyStore(db_path) as ks:
        ks.create(scopes=["predict"], name="bob")
    before = rows(db_path, "SELECT count(*) FROM audit")
    with write_lock(db_path) as conn:
        p = start(db_path, *CHANGES[change][0])
        _delete_bob(conn)
    code, out, err = finish(p)
    assert (code, out) == (1, ""), err
    assert err.splitlines() == ["error: no key 'bob': it was deleted or renamed while this change waited; "
                                "see `keyctl list`"]
    assert rows(db_path, "SELECT count(*) FROM audit") == before  # and nothing was written


@pytest.mark.parametrize("change", CHANGES, ids=list(CHANGES))
def test_a_key_named_by_a_secret_rotated_while_the_command_waits_is_not_changed(change: str, db_path: Path) -> None:
    """The secret stopped naming the key while the change waited for the lock: looked
    up again under the lock, it names nothing (as it would if the command ran after)."""
    with KeyStore(db_path) as ks:
        old = ks.create(scopes=["predict"], name="bob").secret
    args = [old if a == "bob" else a for a in CHANGES[change][0]]
    before = store_content(db_path)
    with write_lock(db_path) as conn:
        p = start(db_path, *args)
        conn.execute("UPDATE keys SET secret_hash = ?, hint = 'XXXX' WHERE name = 'bob'", ("0" * 64,))
    code, out, err = finish(p)
    assert (code, out) == (1, ""), err
    assert err.splitlines() == ["error: no key has that secret: it was rotated, or its key deleted, while this "
                                "change waited; see `keyctl list`"]
    after = store_content(db_path)
    assert after != before and rows(db_path, "SELECT count(*) FROM audit") == [(1,)]  # only the rotation


@pytest.mark.parametrize("change", ["scope add", "update", "delete"])
def test_a_name_given_to_another_key_while_the_command_waits_names_that_key(change: str, db_path: Path) -> None:
    """bob renamed bob-old and a new bob made while the change waited: the change is
    for the key named bob now, computed from it; bob-old is left as it is."""
    with KeyStore(db_path) as ks:
        first = ks.create(scopes=["predict"], name="bob").key
    with write_lock(db_path) as conn:
        p = start(db_path, *CHANGES[change][0])
        conn.execute("UPDATE keys SET name = 'bob-old' WHERE name = 'bob'")
        conn.execute("INSERT INTO keys (id, name, description, scopes, secret_hash, hint, created_at, updated_at, "
                     "expires_at, disabled, in_keyring, expires_spec) SELECT 'key_zzzzzzzzzzzzzzzz', 'bob', "
                     "description, scopes, ?, hint, created_at, updated_at, expires_at, "
                     "disabled, in_keyring, expires_spec FROM keys WHERE name = 'bob-old'",
                     (hashlib.sha256(b"another secret").hexdigest(),))  # its own hash (the column is unique)
    code, out, err = finish(p)
    assert code == 0, err
    assert "key_zzzzzzzzzzzzzzzz" in out and first.id not in out
    with KeyStore(db_path) as ks:
        assert ks.get(first.id).name == "bob-old" and ks.get(first.id).description is None
        assert ks.get(first.id).scopes == first.scopes


@pytest.mark.parametrize("change", CHANGES, ids=list(CHANGES))
def test_a_key_deleted_while_a_library_call_waits_is_not_found(change: str, db_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    ks = KeyStore(db_path)
    ks.create(scopes=["predict"], name="bob")
    at_lock = threading.Event()
    original = ks.store.transaction

    def transaction(*args, **kwargs):
        at_lock.set()
        return original(*args, **kwargs)

    monkeypatch.setattr(ks.store, "transaction", transaction)
    outcome: list[BaseException | object] = []

    def call() -> None:
        try:
            outcome.append(CHANGES[change][1](ks))
        except BaseException as exc:
            outcome.append(exc)

    with write_lock(db_path) as conn:
        worker = threading.Thread(target=call)
        worker.start()
        assert at_lock.wait(30)
        _delete_bob(conn)
    worker.join(60)
    ks.close()
    assert isinstance(outcome[0], NotFoundError) and outcome[0].exit_code == 1, outcome


def test_two_deletes_at_once_one_succeeds_the_other_says_no_such_key(db_path: Path) -> None:
    with KeyStore(db_path) as ks:
        ks.create(scopes=["predict"], name="bob")
    with write_lock(db_path):
        both = [start(db_path, "delete", "bob", "--yes", "--json") for _ in range(2)]
    results = sorted(finish(p) for p in both)
    (ok, out, _), (failed, _, err) = results
    assert (ok, json.loads(out)["status"]) == (0, "deleted")
    assert failed == 1 and "error: no key 'bob'" in err and "unexpected" not in err
    assert rows(db_path, "SELECT count(*) FROM audit WHERE action = 'delete'") == [(1,)]


# --- the catalog replaced while a change waits -------------------------------------------------
NO_SEARCH = (ROOT / "keyctl" / "catalogs" / "clarifai.toml").read_text(encoding="utf-8")


def _without_search(tmp_path: Path) -> Path:
    """The built-in catalog without the scope `search` (and renamed)."""
    text = NO_SEARCH.replace('name = "clarifai"', 'name = "no-search"', 1)
    start_at = text.index('id = "search"')
    begin = text.rindex("[[scopes]]", 0, start_at)
    end = text.index("[[", start_at)
    path = tmp_path / "no-search.toml"
    path.write_text(text[:begin] + text[end:], encoding="utf-8")
    return path


def _replace_catalog(conn: sqlite3.Connection, path: Path) -> None:
    """What `catalog upgrade --yes` commits (no key changes: none is needed here)."""
    text = path.read_text(encoding="utf-8")
    for key, value in (("catalog", "no-search"), ("catalog_text", text), ("catalog_rev", catalog_rev(text))):
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))


def _known_to_the_store(db: Path) -> set[str]:
    from keyctl.catalog import parse_catalog

    (text,), = rows(db, "SELECT value FROM meta WHERE key = 'catalog_text'")
    known = set(parse_catalog(text).scopes)
    held = set()
    for (scopes,) in rows(db, "SELECT scopes FROM keys"):
        held |= set(json.loads(scopes))
    return held - known


def test_a_scope_change_waiting_while_the_catalog_is_replaced_is_judged_by_the_new_one(
        db_path: Path, tmp_path: Path) -> None:
    with KeyStore(db_path) as ks:
        ks.create(scopes=["predict"], name="bob")
    new = _without_search(tmp_path)
    with write_lock(db_path) as conn:
        p = start(db_path, "scope", "add", "bob", "search")  # 'search' resolved under the old catalog
        _replace_catalog(conn, new)
    code, _, err = finish(p)
    assert code == 2 and "unknown scope 'search'" in err, err
    assert _known_to_the_store(db_path) == set()


def test_a_library_scope_change_waiting_while_the_catalog_is_replaced_raises(
        db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ks = KeyStore(db_path)
    ks.create(scopes=["predict"], name="bob")
    new = _without_search(tmp_path)
    at_lock = threading.Event()
    original = ks.store.transaction
    monkeypatch.setattr(ks.store, "transaction", lambda *a, **k: (at_lock.set(), original(*a, **k))[1])
    outcome: list[BaseException] = []
    worker = threading.Thread(target=lambda: _catch(outcome, lambda: ks.scope_add("bob", ["search"])))
    with write_lock(db_path) as conn:
        worker.start()
        assert at_lock.wait(30)
        _replace_catalog(conn, new)
    worker.join(60)
    assert isinstance(outcome[0], UnknownScopeError), outcome
    assert ks.catalog.name == "no-search"  # and it decides with it from now on
    ks.close()
    assert _known_to_the_store(db_path) == set()


def _catch(box: list, call) -> None:
    try:
        box.append(call())
    except BaseException as exc:
        box.append(exc)


def test_an_upgrade_waiting_while_a_key_gains_a_scope_the_new_catalog_lacks_refuses(
        db_path: Path, tmp_path: Path) -> None:
    with KeyStore(db_path) as ks:
        bob = ks.create(scopes=["predict"], name="bob").key
    new = _without_search(tmp_path)
    with write_lock(db_path) as conn:
        p = start(db_path, "catalog", "upgrade", str(new), "--yes")  # its report: nothing blocks
        conn.execute("UPDATE keys SET scopes = ? WHERE id = ?", (json.dumps(["predict.call", "search"]), bob.id))
    code, _, err = finish(p)
    assert code == 1 and "bob (search)" in err, err
    assert rows(db_path, "SELECT value FROM meta WHERE key = 'catalog'") == [("clarifai",)]
    assert _known_to_the_store(db_path) == set()


def test_upgrade_racing_scope_add_never_leaves_a_scope_the_catalog_does_not_know(
        db_path: Path, tmp_path: Path) -> None:
    with KeyStore(db_path) as ks:
        ks.create(scopes=["predict"], name="bob")
    new = _without_search(tmp_path)
    with write_lock(db_path):
        racers = [start(db_path, "catalog", "upgrade", str(new), "--yes"),
                  start(db_path, "scope", "add", "bob", "search")]
    (upgrade, _, up_err), (add, _, add_err) = (finish(p) for p in racers)
    # Either order is fine; a scope the store's catalog does not know never is.
    assert (upgrade, add) in {(0, 2), (1, 0)}, (up_err, add_err)
    assert _known_to_the_store(db_path) == set()


# --- one KeyStore, many threads -----------------------------------------------------------------
def test_one_keystore_shared_by_four_threads_creates_every_key(db_path: Path) -> None:
    ks = KeyStore(db_path)
    ks.create(scopes=["predict"], name="taken")
    failures: list[BaseException] = []
    refused: list[BaseException] = []

    def work(t: int) -> None:
        for n in range(50):
            try:
                ks.create(scopes=["predict", "search"], name=f"t{t}-{n}", description=f"thread {t}")
                if n % 10 == 0:
                    ks.check(f"t{t}-{n}", "search")
                    ks.scope_add("taken", ["models.get"])
            except BaseException as exc:  # noqa: BLE001 - every failure is reported below
                failures.append(exc)
            if n % 10 == 5:  # calls that raise: they change nothing
                for bad in (lambda: ks.create(scopes=["predict"], name="taken"),
                            lambda: ks.create(scopes=["predict"], deliver=_refuse)):
                    try:
                        bad()
                    except (NameTakenError, KeyctlError) as exc:
                        refused.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert failures == []
    assert len(refused) == 4 * 5 * 2
    assert rows(db_path, "SELECT count(*) FROM keys") == [(1 + 4 * 50,)]
    assert rows(db_path, "SELECT count(*) FROM audit WHERE action = 'create'") == [(1 + 4 * 50,)]
    assert rows(db_path, "SELECT count(*) FROM audit WHERE action = 'scope.add'") == [(1,)]
    assert len({k.name for k in ks.list()}) == 1 + 4 * 50
    ks.close()


def _refuse(created) -> None:
    raise KeyctlError("the caller could not keep the secret")


def test_a_keystore_call_from_inside_a_callback_is_refused_and_changes_nothing(ks) -> None:
    def nested(created) -> None:
        ks.create(scopes=["search"], name="inner")

    with pytest.raises(KeyctlError, match="inside another's transaction"):
        ks.create(scopes=["predict"], name="outer", deliver=nested)
    assert list(ks.list()) == []


# --- a long-lived KeyStore and a catalog replaced by another process ---------------------------------
V1 = 'name = "docs"\n\n[[scopes]]\nid = "docs.read"\n\n[[scopes]]\nid = "docs.drafts"\n'
V2 = V1 + '\n[[operations]]\nid = "docs.read"\nredacts = { drafts = "docs.drafts" }\n'


@pytest.mark.parametrize("named", [False, True], ids=["store's catalog", "catalog named at start"])
def test_a_long_lived_keystore_decides_with_a_catalog_upgraded_elsewhere(named: bool, db_path: Path,
                                                                         tmp_path: Path) -> None:
    v1, v2 = tmp_path / "v1.toml", tmp_path / "v2.toml"
    v1.write_text(V1, encoding="utf-8")
    v2.write_text(V2, encoding="utf-8")
    with KeyStore(db_path, catalog=str(v1)) as admin:
        secret = admin.create(scopes=["docs.read"], name="reader").secret
    service = KeyStore(db_path, catalog=str(v1) if named else None)  # a service's handle, kept open
    answers: list[str] = []
    stop = threading.Event()

    def ask() -> None:  # threads asking all along, answered from the memo
        while not stop.is_set():
            answers.append(service.check(secret, "docs.read").outcome.value)

    askers = [threading.Thread(target=ask) for _ in range(4)]
    for t in askers:
        t.start()
    try:
        upgraded = subprocess.run([sys.executable, "-m", "keyctl", "--db", str(db_path), "catalog", "upgrade",
                                   str(v2), "--yes"], capture_output=True, text=True, cwd=str(ROOT))
    finally:
        stop.set()
        for t in askers:
            t.join(60)
    assert upgraded.returncode == 0, upgraded.stderr
    assert set(answers) <= {"allowed", "redacted"}
    verdict = service.check(secret, "docs.read")  # the new catalog: drafts hidden without docs.drafts
    assert (verdict.outcome.value, verdict.redacted) == ("redacted", ("drafts",))
    assert service.check_many(secret, ["docs.read"]).outcome.value == "redacted"
    assert service.catalog.text == V2
    service.close()


def test_delete_after_confirmation_deletes_the_key_confirmed(run, db_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The name confirmed may pass to another key while the prompt waits: the key shown
    in the prompt (by its id) is the one deleted."""
    from keyctl.commands import keys as commands

    with KeyStore(db_path) as ks:
        confirmed = ks.create(scopes=["predict"], name="bob").key

    def confirm(question: str, yes: bool, refusal: str, **kwargs) -> None:
        assert confirmed.id in question and not yes
        with KeyStore(db_path) as other:  # meanwhile, elsewhere
            other.update("bob", name="bob-old")
            other.create(scopes=["search"], name="bob")

    monkeypatch.setattr(commands, "confirm", confirm)
    r = run("delete", "bob", "--json")
    assert r.code == 0 and r.json["id"] == confirmed.id
    with KeyStore(db_path) as ks:
        assert [(k.name, list(k.scopes)) for k in ks.list()] == [("bob", ["search"])]


# --- a catalog replaced by another process, seen at the next call -------------------------------
UP1 = ('name = "up"\n[[scopes]]\nid = "a"\n[[scopes]]\nid = "b"\n[[scopes]]\nid = "c"\n'
       '[[operations]]\nid = "Foo"\nrequires = ["b"]\n')
UP2 = ('name = "up2"\n[[scopes]]\nid = "b"\n[[operations]]\nid = "Foo"\nrequires = ["b"]\n'
       '[[operations]]\nid = "Bar"\nrequires = ["b"]\n')


def _upgrade_elsewhere(db_path: Path, catalog: Path) -> None:
    p = subprocess.run([sys.executable, "-m", "keyctl", "--db", str(db_path), "catalog", "upgrade", str(catalog),
                        "--yes"], capture_output=True, text=True, cwd=str(ROOT))
    assert p.returncode == 0, p.stderr


@pytest.mark.parametrize("given", ["plan", "manifest"])
def test_a_manifest_read_before_the_catalog_was_replaced_is_not_applied(given: str, db_path: Path,
                                                                         tmp_path: Path) -> None:
    """Its scope names were resolved with the old catalog: applied with the new one they
    could give a key a scope the store's catalog does not know (`c`), which nothing
    could then remove. The apply is refused and nothing is written."""
    (tmp_path / "up1.toml").write_text(UP1, encoding="utf-8")
    (tmp_path / "up2.toml").write_text(UP2, encoding="utf-8")
    ks = KeyStore(db_path, catalog=str(tmp_path / "up1.toml"))
    ks.create(scopes=["b"], name="seed")
    manifest = ks.read_manifest('[keys.x]\nscopes = ["c"]\n[keys.seed]\nscopes = ["b"]\n', "team.toml")
    plan = ks.plan(manifest)
    _upgrade_elsewhere(db_path, tmp_path / "up2.toml")  # every key already fits the new catalog
    before = store_content(db_path)
    with pytest.raises(KeyctlError, match="catalog changed after team.toml was read") as raised:
        ks.apply(plan if given == "plan" else manifest)
    assert raised.value.exit_code == 1
    assert store_content(db_path) == before
    with pytest.raises(KeyctlError, match="catalog changed"):
        ks.plan(manifest)
    with pytest.raises(ManifestError, match="unknown scope 'c'"):  # read again: a scope the store does not know
        ks.read_manifest('[keys.x]\nscopes = ["c"]\n', "team.toml")
    ks.close()


def test_a_long_lived_keystore_sees_a_replaced_catalog_in_every_answer(db_path: Path, tmp_path: Path) -> None:
    """Not only the check of a key: a malformed secret (answered without a key) and the
    ``catalog`` property follow the upgrade too."""
    (tmp_path / "up1.toml").write_text(UP1, encoding="utf-8")
    (tmp_path / "up2.toml").write_text(UP2, encoding="utf-8")
    ks = KeyStore(db_path, catalog=str(tmp_path / "up1.toml"))
    ks.create(scopes=["b"], name="seed")
    assert ks.check("kc_short", "Foo").status.name == "CONN_KEY_INVALID"
    assert "Bar" not in ks.catalog.operations
    _upgrade_elsewhere(db_path, tmp_path / "up2.toml")
    assert "Bar" in ks.catalog.operations and ks.catalog.name == "up2"
    verdict = ks.check("kc_short", "Bar")  # no UnknownOperationError from the old catalog
    assert (verdict.outcome.value, verdict.status.name) == ("rejected", "CONN_KEY_INVALID")
    ks.close()
