"""Manifests and exports of many keys are read and written a few hundred keys at a time
(keyctl/manifest.py, keyctl/render_apply.py), in flat memory. What a user sees must be
what reading or writing the whole document at once gives: the same keys, the same
problems in the same words, the same bytes out. The pieces are made small here so
that a few keys cross their edges."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
import tomli_w
from hypothesis import given, settings
from hypothesis import strategies as st

from keyctl import manifest, render_apply
from keyctl.catalog import builtin
from keyctl.errors import ManifestError

NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)

# Pieces of manifests: valid tables, and every way a text may not be one plain
# [keys.NAME] table after another (each {n} becomes a number, so names mostly differ).
FRAGMENTS = (
    '[keys.k{n}]\nscopes = ["search"]\n',
    '[keys."dotted.{n}"]\nscopes = ["predict", "inputs.patch"]\ndescription = "d{n}"\nexpires = "90d"\n',
    '[keys.k1]\nscopes = ["search"]\n',  # the same name again: not valid TOML
    '[keys.m{n}]\nscopes = ["search"]\ndescription = """two\n[keys.inside{n}]\nlines"""\n',
    '# a comment\n\n[keys.c{n}]\r\nscopes = ["search"]\r\nenabled = false\r\n',
    '  [keys.indented{n}]\nscopes = ["search"]\n',
    '[keys.k{n}.sub]\nx = 1\n',
    '[[keys.arr]]\nscopes = ["search"]\n',
    '[keys]\nz{n} = {{scopes = ["search"]}}\n',
    '[other]\nx = {n}\n',
    '[keys.bad{n}]\nscopes = "search"\n',
    '[keys.Upper{n}]\nscopes = ["nosuch"]\n',
    '[keys.broken{n}\n',
    'keys.dot{n}.scopes = ["search"]\n',
    '[keys.e{n}]\nscopes = ["search"]\nexpires = 2027-01-31\n',
)


def outcome(text: str) -> object:
    catalog = builtin("clarifai")
    try:
        return manifest.parse_manifest(text, "t.toml", catalog, NOW)
    except ManifestError as exc:
        return ("error", exc.message, exc.problems)


def whole(text: str) -> object:
    catalog = builtin("clarifai")
    try:
        return manifest._validated([manifest._whole(text, "t.toml")], "t.toml", catalog, NOW)
    except ManifestError as exc:
        return ("error", exc.message, exc.problems)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(FRAGMENTS), st.integers(0, 3)), max_size=8),
       st.sampled_from(["", 'title = "x"\n']), st.integers(1, 3))
def test_a_manifest_read_in_pieces_is_the_manifest_read_whole(parts, head, piece):
    text = head + "\n".join(fragment.format(n=n) for fragment, n in parts)
    saved = manifest.PIECE
    manifest.PIECE = piece
    try:
        assert outcome(text) == whole(text)
    finally:
        manifest.PIECE = saved


@pytest.fixture
def many(run, tmp_path, monkeypatch):
    """A store of 7 named keys (and one without a name), written with pieces of 2."""
    expires = 'expires = "90d"\n'
    text = "".join(f'[keys.user-{i}]\nscopes = ["search", "inputs.get"]\ndescription = "caf\u00e9 {i}"\n'
                   f'{expires if i % 2 else ""}{"enabled = false" if i == 3 else ""}\n\n'
                   for i in range(7))
    path = tmp_path / "team.toml"
    path.write_text(text, encoding="utf-8")
    assert run("apply", str(path), "--json").code == 0
    assert run("create", "-s", "search").code == 0
    monkeypatch.setattr(manifest, "CHUNK", 2)
    monkeypatch.setattr(render_apply, "PIECE", 2)


def test_an_export_written_in_pieces_is_the_document_written_whole(run, many):
    data = run("export", "--json")
    assert data.code == 0
    keys = json.loads(data.stdout)["keys"]
    assert list(keys) == sorted(keys) and len(keys) == 7
    assert data.stdout == json.dumps({"keys": keys}, indent=2, ensure_ascii=False) + "\n"
    entries = {name: manifest.manifest_entry(f["scopes"], f["description"], f["expires"], f["enabled"])
               for name, f in keys.items()}
    text = run("export")
    assert text.stdout == manifest.HEADER + "\n" + tomli_w.dumps({"keys": entries})


def test_an_empty_export_in_pieces(run, monkeypatch):
    monkeypatch.setattr(render_apply, "PIECE", 2)
    assert run("export", "--json").stdout == json.dumps({"keys": {}}, indent=2) + "\n"
    assert run("export").stdout == manifest.HEADER + "\n[keys]\n"
