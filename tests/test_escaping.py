"""Text keyctl did not write never reaches a terminal raw, and a message quotes it cut:
the OS user name in the audit trail, a catalog's name, descriptions and portion names,
the ids, names and values a catalog or a manifest problem quotes, and values typed on
the command line. Escape sequences (ESC, the C1 CSI 0x9B, OSC 8 links, BEL) and
bidirectional overrides (U+202E) come out escaped (``\\x1b``, ``\\u202e``), on stdout
and on stderr; every error line stays short."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, in_terminal

from keyctl import KeyStore, render
from keyctl.catalog import builtin
from keyctl.decide import decide, outcomes_for, worst
from keyctl.models import CheckReport, KeyDetail

OSC8 = "\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\"
HOSTILE = {"CSI": "\x1b[2J", "C1 CSI": "\x9b31m", "RLO": "\u202eevil", "OSC 8 link": OSC8, "BEL": "x\x07"}
RAW = ("\x1b", "\x9b", "\u202e", "\x07")
LONGEST_LINE = 400


def assert_clean(*texts: str) -> None:
    """Nothing that drives a terminal, and no line longer than LONGEST_LINE."""
    for text in texts:
        for char in RAW:
            assert char not in text, (char, text[:300])
        for line in text.splitlines():
            assert len(line) <= LONGEST_LINE, line[:120]


def keyctl(*args: str, env: dict | None = None, stdout=subprocess.PIPE) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "keyctl", *args], stdout=stdout, stderr=subprocess.PIPE,
                          env={**os.environ, **(env or {})}, cwd=str(ROOT), text=stdout == subprocess.PIPE)


def on_a_terminal(*args: str) -> str:
    """What keyctl ARGS writes to a terminal (a pseudo-terminal); it must succeed."""
    shown = in_terminal(*args)
    assert shown.code == 0, shown
    return shown.stdout


# --- the OS user name ---------------------------------------------------------------------------
def test_a_hostile_os_user_name_is_escaped_in_the_trail(db_path: Path) -> None:
    name = "x" + "".join(HOSTILE.values())
    made = keyctl("create", "--scope", "predict", "--name", "bob", env={"LOGNAME": name, "USER": name})
    assert made.returncode == 0, made.stderr
    human = keyctl("log")
    assert human.returncode == 0
    assert_clean(human.stdout, human.stderr)
    assert "x\\x1b[2J" in human.stdout
    piped = json.loads(keyctl("log", "--json").stdout)
    assert piped[0]["actor"] == name  # kept as the environment said it; JSON to a pipe is unchanged
    on_tty = on_a_terminal("log", "--json")
    assert_clean(on_tty)
    assert json.loads(on_tty)[0]["actor"] == name  # escaped, not changed


def test_a_huge_os_user_name_is_kept_cut(db_path: Path) -> None:
    name = "u" * 100_000
    assert keyctl("create", "--scope", "predict", env={"LOGNAME": name}).returncode == 0
    with KeyStore(db_path) as ks:
        assert next(ks.log()).actor == "u" * 256


# --- a hostile catalog ----------------------------------------------------------------------------
def _catalog(where: str, text: str) -> str:
    """A catalog file with ``text`` (TOML-escaped) in one place."""
    value = json.dumps(text)
    name, description, scope_description, portion = '"hostile"', '"ok"', '"ok"', '"concepts"'
    if where == "name":
        name = value
    elif where == "description":
        description = value
    elif where == "scope description":
        scope_description = value
    elif where == "portion name":
        portion = value
    extra = {"unknown field": f"{value} = 1\n", "group name": f"[groups]\n{value} = [\"a\"]\n"}.get(where, "")
    scope_id = value if where == "scope id" else '"a"'
    requires = f"requires = [{value}]\n" if where == "requires" else ""
    return (f"name = {name}\ndescription = {description}\n{extra}\n[[scopes]]\nid = {scope_id}\n"
            f"description = {scope_description}\n{requires}\n[[scopes]]\nid = \"b\"\n\n"
            f"[[operations]]\nid = \"a\"\nredacts = {{ {portion} = \"b\" }}\n")


PLACES = ("name", "description", "scope description", "portion name", "unknown field", "group name",
          "scope id", "requires")


@pytest.mark.parametrize("kind", HOSTILE, ids=list(HOSTILE))
@pytest.mark.parametrize("where", PLACES)
def test_a_hostile_catalog_is_refused_with_every_problem_escaped(where: str, kind: str, tmp_path: Path,
                                                                 run) -> None:
    path = tmp_path / "hostile.toml"
    path.write_text(_catalog(where, HOSTILE[kind] * 50), encoding="utf-8")
    for args in (("catalog", "validate", str(path)), ("catalog", "validate", str(path), "--json"),
                 ("--catalog", str(path), "scopes"), ("--catalog", str(path), "check", "kc_x", "a"),
                 ("--catalog", str(path), "create", "--scope", "a")):
        r = run(*args)
        assert r.code == 2, (args, r)
        assert_clean(r.stdout, r.stderr)
        if "--json" in args:
            assert json.loads(r.stdout)["valid"] is False


def test_the_renderer_escapes_catalog_text_that_bypassed_validation(capsys, tmp_path: Path) -> None:
    """Defence in depth: a catalog built in Python (no loader) with hostile text in every
    field the renderer prints."""
    base = builtin("clarifai")
    hostile = "".join(HOSTILE.values())
    op = base.operations["inputs.get"]
    scopes = {sid: s._replace(description=hostile) for sid, s in base.scopes.items()}
    operations = dict(base.operations)
    operations["inputs.get"] = op._replace(redacts={hostile: frozenset({"concepts.get"})},
                                           redacts_direct={hostile: "concepts.get"})
    groups = dict(base.groups, predict=("predict.call", hostile))
    catalog = base._replace(name=hostile, description=hostile, scopes=scopes, operations=operations, groups=groups)
    verdicts = tuple(decide(catalog, frozenset({"inputs.get"}), o, key=hostile) for o in ("inputs.get", "search"))
    render.check(CheckReport(None, worst(v.outcome for v in verdicts), verdicts), False)
    render.scopes(catalog, False)
    key = KeyStore(tmp_path / "unused.db")._key(_row(hostile))._replace(description=hostile)
    render.detail(KeyDetail(key, outcomes_for(catalog, key.granted)), False, catalog)
    render.keys(iter([key]), False, catalog)
    out, err = capsys.readouterr()
    assert_clean(out, err)
    assert "hidden: \\x1b[2J" in out and "\\u202eevil" in out


def _row(name: str):
    from keyctl.store import KeyRow

    return KeyRow("key_aaaaaaaaaaaaaaaa", name, None, frozenset({"inputs.get"}), "abcd", "2026-01-01T00:00:00Z",
                  "2026-01-01T00:00:00Z", None, False)


# --- manifests -------------------------------------------------------------------------------------
def _manifest(kind: str) -> str:
    h = json.dumps(HOSTILE[kind] * 40)
    return (f"{h} = 2\n\n[keys.{h}]\nscopes = [\"predict\"]\n\n"
            f"[keys.ok]\nscopes = [{h}]\ndescription = {h}\nexpires = {h}\n{h} = 1\n")


@pytest.mark.parametrize("kind", HOSTILE, ids=list(HOSTILE))
def test_manifest_problems_quote_names_fields_and_values_escaped_and_cut(kind: str, tmp_path: Path,
                                                                         run) -> None:
    path = tmp_path / f"team{HOSTILE[kind].replace('/', '_')}.toml"
    path.write_text(_manifest(kind), encoding="utf-8")
    r = run("apply", str(path), "--dry-run")
    assert r.code == 2 and r.stdout == ""
    assert_clean(r.stderr)
    assert len(r.stderr.splitlines()) >= 6  # name, scope, description, expires, two unknown fields


# --- values typed on the command line ---------------------------------------------------------------
TYPED = {
    "--status": ("list", "--status", "{v}"),
    "--expires": ("create", "--scope", "predict", "--expires", "{v}"),
    "--expires of update": ("update", "bob", "--expires", "{v}"),
    "--scope": ("create", "--scope", "{v}"),
    "--name": ("create", "--scope", "predict", "--name", "{v}"),
    "--description": ("update", "bob", "--description", "{v}"),
    "scope add": ("scope", "add", "bob", "{v}"),
    "an operation": ("check", "bob", "{v}"),
    "KEY": ("show", "{v}"),
    "KEY of log": ("log", "{v}"),
    "--limit": ("log", "--limit", "{v}"),
    "--catalog": ("--catalog", "{v}", "scopes"),
    "--db": ("--db", "/dev/null/{v}/keys.db", "create", "--scope", "predict"),
    "catalog validate": ("catalog", "validate", "{v}"),
    "apply": ("apply", "{v}"),
    "an unknown command": ("{v}",),
    "an unknown option": ("list", "--{v}"),
}


@pytest.mark.parametrize("length", [1, 2000], ids=["short", "long"])
@pytest.mark.parametrize("kind", HOSTILE, ids=list(HOSTILE))
@pytest.mark.parametrize("where", TYPED, ids=list(TYPED))
def test_a_typed_value_is_escaped_and_cut_in_every_message(where: str, kind: str, length: int, run) -> None:
    run("create", "--scope", "predict", "--name", "bob")
    value = HOSTILE[kind] * length
    r = run(*[a.replace("{v}", value) for a in TYPED[where]])
    assert r.code in (1, 2), r
    assert r.stderr.startswith("error: "), r
    assert_clean(r.stdout, r.stderr)


def test_the_escaped_value_is_still_recognisable(run) -> None:
    r = run("list", "--status", "\x1b[2J")
    assert r.stderr == "error: --status '\\x1b[2J' is not one of active, disabled, expired\n"


def test_bytes_the_locale_cannot_decode_are_read_as_utf8_or_refused(db_path: Path) -> None:
    """LC_ALL=C: Python keeps each byte of an argument it cannot decode as a lone
    surrogate, which no store can hold. UTF-8 is read as UTF-8; other bytes are refused
    where they would be stored and match no key where they are looked up."""
    env = {**os.environ, "LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONIOENCODING": "", "LOGNAME": "u\udcff"}

    def run_bytes(*args: bytes) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable.encode(), b"-m", b"keyctl", *args], capture_output=True,
                              cwd=str(ROOT), env=env)

    made = run_bytes(b"create", b"--scope", b"predict", b"--name", b"bob", b"--description", "café".encode())
    assert made.returncode == 0, made.stderr
    with KeyStore(db_path) as ks:
        assert ks.get("bob").description == "café"
        assert next(ks.log()).actor == "u\\xff"
    for args, code in (((b"update", b"bob", b"--description", b"caf\xff"), 2), ((b"show", b"x\xff"), 1),
                       ((b"check", b"x\xff", b"search"), 1), ((b"log", b"x\xff"), 1),
                       ((b"scope", b"add", b"bob", b"se\xffarch"), 2)):
        r = run_bytes(*args)
        assert r.returncode == code, (args, r.stderr)
        err = r.stderr.decode("ascii")
        assert err.startswith("error: ") and "This is a bug" not in err
        assert "\\udcff" in err or "U+DCFF" in err  # the byte, escaped


def test_every_column_a_store_holds_is_escaped_in_tables_and_plans(tmp_path: Path, db_path: Path) -> None:
    """A store written by hand (or by a hostile process) may hold anything in any
    column: scopes, ids, times, audit actions. Every cell of list and log, and every
    line of apply's plan, reaches a terminal escaped, and lines keep their last words."""
    import sqlite3

    with KeyStore(db_path) as ks:
        ks.create(["predict"], name="bot")
    conn = sqlite3.connect(db_path)
    evil = "x\x1b[2J\u202e\x07\x9b"
    conn.execute("UPDATE keys SET scopes = json_array('predict.call', ?), created_at = ?", (evil, "2026" + evil))
    conn.execute("UPDATE audit SET action = ?, key_id = ?", ("cre" + evil, "key_" + evil + "\x1b]0;pwned\x07"))
    conn.commit()
    conn.close()
    manifest = tmp_path / "m.toml"
    manifest.write_text('[keys.bot]\nscopes = ["predict"]\n', encoding="utf-8")
    env = {"KEYCTL_DB": str(db_path)}
    for args in (("list",), ("log",), ("apply", str(manifest), "--dry-run"), ("disable", "bot")):
        shown = in_terminal(*args, columns=200, env=env)
        piped = keyctl("--db", str(db_path), *args)
        assert_clean(shown.stdout, shown.stderr, piped.stdout, piped.stderr)
    assert in_terminal("enable", "bot", env=env).stdout.splitlines()[0].endswith(": active")  # not cut short
