"""Tables that fit the terminal, and tab-separated lines in a pipe (list, log, scopes).

At a terminal of any width from 60 columns: no line wider than the terminal, NAME (or
the id) and STATUS always there, long cells wrapped between words or cut with an
ellipsis, never split inside a word. Piped: a header, then one record per line, tab
between columns, no padding, no rules; --no-headers drops the header; --json as ever."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import ROOT, create_key, in_terminal
from keyctl.table import Column, layout, tsv

LONG_NAME = "a-rather-long-key-name-for-the-nightly-etl-pipeline"


@pytest.fixture
def store(run):
    """Keys whose cells need room: a long name, many scopes, a key without a name."""
    made = {
        "ci": create_key(run, "predict", "inputs.patch", name="ci"),
        "wide": create_key(run, "inputs", "concepts", "models.train", "search", name=LONG_NAME),
        "anon": create_key(run, "search"),
    }
    assert run("disable", "ci").code == 0
    assert run("scope", "add", "ci", "concepts.get", "models.add", "models.get").code == 0
    assert run("delete", made["anon"]["id"], "--yes").code == 0
    made["anon2"] = create_key(run, "all")
    return made


def _words(text: str) -> set[str]:
    return set(text.replace("\n", " ").split())


@pytest.mark.parametrize("columns", [60, 72, 80, 100, 132])
def test_list_fits_every_width_and_keeps_name_and_status(store, columns):
    r = in_terminal("list", columns=columns)
    assert r.code == 0, r
    lines = r.stdout.splitlines()
    assert all(len(line) <= columns for line in lines), r.stdout
    assert all(line == line.rstrip() for line in lines)
    header = lines[0].split()
    assert header[0] == "NAME" and "STATUS" in header and "SCOPES" in header
    text = r.stdout
    assert "ci" in _words(text)
    assert _whole_or_cut(LONG_NAME, _words(text))  # never wrapped; cut at the end only
    assert store["anon2"]["id"] in _words(text)  # a key without a name shows its id
    assert "disabled" in _words(text) and "active" in _words(text)
    # Every scope is whole (wrapped only after ", ")
    for scope in ("inputs", "concepts.get", "models.add", "models.get", "models.train", "search", "predict"):
        assert scope in {w.rstrip(",") for w in _words(text)}, (scope, text)
    assert text.count("…") <= 1  # the long name's, at the narrowest


def _whole_or_cut(word: str, words: set[str]) -> bool:
    return word in words or any(w.endswith("…") and len(w) > 12 and word.startswith(w[:-1]) for w in words)


def test_list_at_a_wide_terminal_shows_every_column_on_one_line(store):
    r = in_terminal("list", columns=200)
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["NAME", "ID", "STATUS", "SCOPES", "CREATED", "EXPIRES"]
    assert len(lines) == 4  # a line per key


def test_optional_columns_give_way_in_their_order(store):
    def header(columns: int) -> list[str]:
        return in_terminal("list", columns=columns).stdout.splitlines()[0].split()

    assert header(60) == ["NAME", "STATUS", "SCOPES", "EXPIRES"]
    assert header(100) == ["NAME", "ID", "STATUS", "SCOPES", "EXPIRES"]
    assert header(160) == ["NAME", "ID", "STATUS", "SCOPES", "CREATED", "EXPIRES"]


@pytest.mark.parametrize("columns", [60, 80, 120])
def test_log_fits_and_names_each_key_by_the_name_it_had(store, columns):
    r = in_terminal("log", columns=columns)
    assert r.code == 0, r
    lines = r.stdout.splitlines()
    assert all(len(line) <= columns for line in lines), r.stdout
    header = lines[0].split()
    assert {"ACTION", "NAME"} <= set(header)
    words = _words(r.stdout)
    assert {"ci", "delete", "scope.add", "disable"} <= words
    assert _whole_or_cut(LONG_NAME, words)
    assert store["anon"]["id"] in words  # no name: its id
    for line in lines:  # the ellipsis only ends a cut: never inside a line's word
        assert all(w.endswith("…") or "…" not in w for w in line.split())


def test_log_details_wrap_between_words(store, sh):
    r = in_terminal("log", "ci", columns=100)
    piped = _words(sh("log", "ci").stdout.replace("\t", " ")) | {"-"}  # "-": no details
    for word in _words(r.stdout):  # each word as it is in the details, or cut at its end
        assert word in piped or (word.endswith("…") and any(p.startswith(word[:-1]) for p in piped)), word
    assert {'"inputs.get",', '"inputs.patch",'} <= _words(r.stdout)


def test_piped_list_is_one_tab_separated_record_per_line(store, sh):
    r = sh("list")
    assert r.code == 0, r
    lines = r.stdout.split("\n")
    assert lines[-1] == ""  # newline-terminated
    rows = [line.split("\t") for line in lines[:-1]]
    assert rows[0] == ["NAME", "ID", "STATUS", "SCOPES", "CREATED", "EXPIRES"]
    assert all(len(row) == 6 for row in rows)
    by_id = {row[1]: row for row in rows[1:]}
    ci = by_id[store["ci"]["id"]]
    assert ci[0] == "ci" and ci[2] == "disabled"
    assert ci[3] == "concepts.get,inputs.get,inputs.patch,models.add,models.get,predict"
    assert ci[5] == "never" and ci[4].endswith("Z")
    anon = by_id[store["anon2"]["id"]]
    assert anon[0] == "" and anon[3] == "all"
    assert "─" not in r.stdout and "  " not in r.stdout


def test_no_headers_and_cut_and_awk_in_a_real_shell(store):
    pipeline = (f"'{sys.executable}' -m keyctl list --no-headers | cut -f1; "
                f"'{sys.executable}' -m keyctl log | awk -F'\\t' '$3 == \"delete\" {{print $5}}'")
    p = subprocess.run(["bash", "-c", pipeline], capture_output=True, text=True, cwd=str(ROOT), timeout=60)
    assert p.returncode == 0, p
    assert p.stdout.splitlines() == ["ci", LONG_NAME, "", store["anon"]["id"]]


def test_piped_log_and_scopes(store, sh):
    log = sh("log").stdout.splitlines()
    assert log[0].split("\t") == ["RECORDED", "ACTOR", "ACTION", "NAME", "ID", "DETAILS"]
    delete = next(line.split("\t") for line in log if "\tdelete\t" in line)
    assert delete[3] == "" and delete[4] == store["anon"]["id"]
    assert all(line.count("\t") == 5 for line in log)
    assert sh("log", "--no-headers").stdout.splitlines() == log[1:]
    scopes = sh("scopes").stdout.splitlines()
    assert scopes[0].split("\t") == ["SCOPE", "GROUP", "REQUIRES", "BILLABLE", "ALIASES", "MARKS", "DESCRIPTION"]
    assert "\ninputs.patch\tinputs\tinputs.get\tyes\t\t\t" in sh("scopes", "--no-headers").stdout
    assert len(scopes) == 16


def test_json_is_not_a_table(store, sh):
    r = in_terminal("list", "--json", columns=60)
    assert [k["name"] for k in __import__("json").loads(r.stdout)] == ["ci", LONG_NAME, None]


def test_no_headers_at_a_terminal(store):
    r = in_terminal("list", "--no-headers", columns=120)
    assert "NAME" not in r.stdout and r.stdout.splitlines()[0].startswith("ci ")


# --- the layout itself, at every width ---------------------------------------------------
COLUMNS = (Column("NAME", floor=12), Column("ID", drop=2), Column("STATUS"),
           Column("SCOPES", drop=1, wrap=True, floor=12), Column("CREATED", drop=3),
           Column("DETAILS", drop=4, wrap=True, floor=16, max_lines=2))
WORD = st.text("abcdefghijklmnopqrstuvwxyz.-_", min_size=1, max_size=22)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(WORD, st.lists(WORD, min_size=1, max_size=8), st.lists(WORD, max_size=30)),
                min_size=1, max_size=6),
       st.integers(60, 200))
def test_layout_fits_keeps_and_never_splits_a_word(rows, width):
    table = [[name, "key_0123456789abcdef", "disabled", ", ".join(scopes), "2026-01-31T12:00:00Z", " ".join(details)]
             for name, scopes, details in rows]
    lines = layout(COLUMNS, table, width)
    assert all(len(line) <= width for line in lines)
    assert lines[0].startswith("NAME") and "STATUS" in lines[0].split()
    source = {w for row in table for cell in row for w in cell.split(" ")}
    for line in lines[1:]:
        for word in line.split():
            assert word in source or word.endswith("…"), (word, line)
            if word.endswith("…"):
                assert any(s.startswith(word[:-1]) for s in source)
    assert sum(line.startswith(name) for line in lines for name, _, _ in rows) >= len(rows)


def test_tsv_lines():
    assert list(tsv(COLUMNS[:2], [["a", "b"]])) == ["NAME\tID", "a\tb"]
    assert list(tsv(COLUMNS[:2], [["a", "b"]], headers=False)) == ["a\tb"]


# --- every other table: show, catalog list, apply's new secrets ----------------------------------
@pytest.fixture
def live_key(run):
    """A key of the clarifai-live catalog whose `show` groups ~390 operations, with
    many allowed in one resource, and a description longer than any terminal."""
    made = run("--catalog", "clarifai-live", "create", "-n", "c1", "-s", "apps.get,models.get",
               "-d", " ".join(f"word{i}" for i in range(120)), "--json")
    assert made.code == 0, made
    return made.json


@pytest.mark.parametrize("columns", [60, 75, 100, 132])
def test_show_fits_every_width_and_splits_no_word(live_key, run, columns):
    r = in_terminal("show", "c1", columns=columns)
    assert r.code == 0, r
    lines = r.stdout.splitlines()
    assert all(len(line) <= columns and line == line.rstrip() for line in lines), r.stdout
    words = {w.rstrip(",") for w in _words(r.stdout)}
    assert {f"word{i}" for i in range(120)} <= words  # the description, wrapped between words
    allowed = [op for op, outcome in run("show", "c1", "--json").json["operations"].items() if outcome == "allowed"]
    assert len(allowed) > 5  # every allowed operation named whole, or cut at its end (never split)
    assert all(_whole_or_cut(op, words) for op in allowed), r.stdout
    assert "RESOURCE" in lines[lines.index("") + 2] and "ALLOWED OPERATIONS" in r.stdout


def test_show_and_catalog_list_in_a_pipe_are_tab_separated(live_key, run):
    r = run("show", "c1")
    fields = r.stdout.split("\n\n", 1)[0].splitlines()
    assert [f.split("\t")[0] for f in fields] == ["id", "name", "description", "scopes", "status", "created",
                                                   "updated", "expires", "secret"]
    assert all(f.count("\t") == 1 for f in fields)
    table = r.stdout.split("\n\n", 1)[1].splitlines()[1:]  # after the fields and the grouping line
    assert table[0] == "RESOURCE\tALLOWED\tREDACTED\tREJECTED\tALLOWED OPERATIONS"
    assert all(line.count("\t") == 4 for line in table)
    assert "─" not in r.stdout and not any(line.endswith(" ") for line in r.stdout.splitlines())
    listed = run("catalog", "list")
    assert listed.stdout.splitlines()[0] == "NAME\tSCOPES\tDESCRIPTION"
    assert listed.stdout.splitlines()[1].startswith("clarifai (default)\t15\t")
    bare = run("catalog", "list", "--no-headers").stdout.splitlines()
    assert bare == listed.stdout.splitlines()[1:]


@pytest.mark.parametrize("columns", [60, 80])
def test_catalog_list_fits_the_terminal(columns):
    r = in_terminal("catalog", "list", columns=columns)
    assert r.code == 0, r
    assert all(len(line) <= columns and line == line.rstrip() for line in r.stdout.splitlines()), r.stdout
    assert r.stdout.startswith("NAME") and "clarifai-live" in r.stdout and "─" not in r.stdout


def test_apply_prints_its_new_secrets_tab_separated_in_a_pipe(run, tmp_path):
    manifest = tmp_path / "team.toml"
    manifest.write_text('[keys.ana]\nscopes = ["predict"]\n[keys.bo]\nscopes = ["search"]\n', encoding="utf-8")
    r = run("apply", str(manifest))
    assert r.code == 0, r
    rows = r.stdout.split("\n\n", 1)[1].splitlines()
    assert rows[0] == "NAME\tID\tSECRET"
    assert [row.split("\t")[0] for row in rows[1:]] == ["ana", "bo"]
    assert all(row.split("\t")[2].startswith("kc_") for row in rows[1:])


@pytest.mark.parametrize("columns", [60, 80])
def test_check_at_a_terminal_wraps_each_reason_under_itself(live_key, run, columns):
    r = in_terminal("check", "c1", "PostModelOutputs", "apps.get", "ListModelVersionInputExamples", columns=columns)
    assert r.code == 4, r
    lines = r.stdout.splitlines()
    assert all(len(_unstyled(line)) <= columns for line in lines), r.stdout
    piped = run("check", "c1", "PostModelOutputs", "apps.get", "ListModelVersionInputExamples").stdout
    assert len(piped.splitlines()) == 3  # a pipe gets one line per operation, whole
    assert _words(_unstyled(r.stdout)) == _words(piped)  # the same words, none split


def _unstyled(text: str) -> str:
    import re

    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def test_check_of_every_operation_at_a_terminal_fits_its_width(live_key, run):
    """Grouped by resource (393 operations): every line within 60 columns, and the
    same operation names as in a pipe, none split."""
    r = in_terminal("check", "c1", columns=60)
    assert r.code == 4, r
    assert max(len(_unstyled(line)) for line in r.stdout.splitlines()) <= 60, r.stdout
    piped = run("check", "c1").stdout
    assert max(len(line) for line in piped.splitlines()) > 60  # a pipe gets each group on one line
    assert _words(_unstyled(r.stdout)) == _words(piped)


@pytest.mark.parametrize("columns", [8, 12, 30])
def test_check_at_a_terminal_too_narrow_to_wrap_prints_lines_whole(live_key, columns):
    r = in_terminal("check", "c1", "PostModelOutputs", "apps.get", columns=columns)
    assert r.code == 4 and "bug" not in r.stderr and r.stderr == "", r
    assert "PostModelOutputs" in r.stdout
