"""Edges found in review: the name '-', empty operation names, empty descriptions."""

from __future__ import annotations


def test_dash_cannot_be_a_key_name(run, db_path):
    r = run("create", "-n", "-", "-s", "predict")
    assert r.code == 2
    assert "cannot be '-'" in r.stderr
    assert not db_path.exists()


def test_empty_operation_is_called_an_operation(run):
    assert run("create", "-n", "ci", "-s", "predict").code == 0
    r = run("check", "ci", "")
    assert r.code == 2
    assert r.stderr.startswith("error: empty operation name")


def test_empty_description_means_none(run):
    created = run("create", "-n", "ci", "-s", "predict", "-d", "", "--json")
    assert created.code == 0 and created.json["description"] is None
    assert run("update", "ci", "-d", "CI predictions").code == 0
    cleared = run("update", "ci", "-d", "", "--json")
    assert cleared.code == 0 and cleared.json["description"] is None
    assert run("show", "ci", "--json").json["description"] is None
