"""`keyctl check` (what the API would do with a key) and `keyctl scopes` (the catalog),
as a user and a script see them: lines, JSON, exit codes 0, 1, 2, 3 and 4."""

from __future__ import annotations

import pytest

from conftest import create_key as create
from conftest import unstyled
from keyctl import tokens

EVERY_OPERATION = [
    "predict.call", "predict.feedback", "search", "inputs.add", "inputs.get", "inputs.patch",
    "inputs.delete", "concepts.add", "concepts.get", "concepts.patch", "models.add", "models.get",
    "models.patch", "models.delete", "models.train",
]
RESULT_FIELDS = {"operation", "outcome", "billable", "missing_scopes", "redacted", "status", "reason"}




def mistype(secret: str, position: int) -> str:
    """The secret with the character at ``position`` replaced by another base62 one."""
    old = secret[position]
    new = "A" if old != "A" else "B"
    return secret[:position] + new + secret[position + 1:]


# --- the ways to name a key -----------------------------------------------------------
def test_check_by_secret_id_name_and_stdin_agree(run, sh):
    data = create(run, "inputs.patch", "concepts.get", name="ci")
    expected = {"id": data["id"], "name": "ci"}
    for ref in (data["secret"], data["id"], "ci"):
        r = run("check", ref, "inputs.patch", "--json")
        assert r.code == 0, r
        assert r.json["key"] == expected
        assert r.json["outcome"] == "allowed"
    r = run("check", "-", "inputs.patch", "--json", input=data["secret"] + "\n")
    assert r.code == 0 and r.json["key"] == expected
    r = sh("check", "-", "inputs.patch", "--json", input=data["secret"] + "\n")
    assert r.code == 0, r
    assert r.json["key"] == expected


def test_check_stdin_reads_only_the_first_line(run):
    data = create(run, "search", name="ci")
    r = run("check", "-", "search", input=f"  {data['secret']}  \nsomething else\n")
    assert r.code == 0, r


@pytest.mark.parametrize("stdin", ["", "\n", "   \n"])
def test_check_dash_with_empty_stdin_is_a_usage_error(run, stdin):
    create(run, "search")
    r = run("check", "-", "search", input=stdin)
    assert r.code == 2
    assert r.stderr == "error: KEY is '-' but standard input holds no secret\n"
    assert r.stdout == ""


def test_check_dash_with_empty_stdin_in_a_real_process(sh):
    r = sh("check", "-", input="")
    assert r.code == 2, r
    assert r.stderr.startswith("error: ")


# --- secrets that match nothing are simulated, not errors ------------------------------
@pytest.mark.parametrize("position", [3, 10, 32, 33, 38])
def test_a_mistyped_secret_is_invalid_11008(run, position):
    data = create(run, "all", name="admin")
    bad = mistype(data["secret"], position)
    assert bad != data["secret"]
    r = run("check", bad, "predict.call", "--json")
    assert r.code == 4, r
    assert r.json["key"] is None
    assert r.json["outcome"] == "rejected"
    [result] = r.json["results"]
    assert result["status"] == {"code": 11008, "name": "CONN_KEY_INVALID"}
    assert "malformed" in result["reason"]
    assert data["secret"] not in r.stdout


@pytest.mark.parametrize("secret", ["kc_", "kc_short", "kc_" + "!" * 36, "kc_" + "A" * 37])
def test_a_malformed_secret_is_invalid_11008(run, secret):
    r = run("check", secret, "search", "--json")
    assert r.code == 4
    assert r.json["results"][0]["status"]["code"] == 11008


def test_a_well_formed_unknown_secret_is_not_found_11009(run, db_path):
    create(run, "all")
    r = run("check", tokens.new_secret(), "search", "--json")
    assert r.code == 4
    assert r.json["key"] is None
    assert r.json["results"][0]["status"] == {"code": 11009, "name": "CONN_KEY_NOT_FOUND"}
    assert "no key has this secret" in r.json["results"][0]["reason"]


def test_a_well_formed_secret_on_a_store_that_does_not_exist(sh, db_path):
    r = sh("check", tokens.new_secret(), "search")
    assert r.code == 4, r
    assert "✘ rejected" in r.stdout
    assert not db_path.exists()


@pytest.mark.parametrize("ref", ["ghost", "key_aaaaaaaaaaaaaaaa"])
def test_an_unknown_id_or_name_is_an_error_not_a_simulation(run, ref):
    create(run, "search", name="real")
    r = run("check", ref, "search")
    assert r.code == 1
    assert r.stderr.startswith("error: no key with the ")
    assert r.stdout == ""


def test_an_unknown_name_in_a_real_process(sh):
    r = sh("check", "ghost", "search")
    assert r.code == 1, r
    assert r.stderr.startswith("error: no key with the name 'ghost'")
    assert "Traceback" not in r.stderr


# --- operations -------------------------------------------------------------------------
def test_an_unknown_operation_is_a_usage_error_with_did_you_mean(run):
    create(run, "search", name="ci")
    r = run("check", "ci", "inputs.pach")
    assert r.code == 2
    assert r.stderr == "error: unknown operation 'inputs.pach'; did you mean 'inputs.patch'?\n"
    assert r.stdout == ""
    r = run("check", "ci", "zzzzzz")
    assert r.code == 2 and r.stderr.startswith("error: unknown operation 'zzzzzz'")


@pytest.mark.parametrize("ops", [(), ("all",), ("predict", "all")])
def test_no_operation_or_all_means_every_operation(run, ops):
    create(run, "search", name="ci")
    r = run("check", "ci", *ops, "--json")
    assert [v["operation"] for v in r.json["results"]] == EVERY_OPERATION


def test_a_group_means_its_operations_in_catalog_order(run):
    create(run, "inputs", "concepts.get", name="ci")
    r = run("check", "ci", "inputs.patch", "predict", "inputs", "--json")
    assert [v["operation"] for v in r.json["results"]] == [
        "predict.call", "predict.feedback", "inputs.add", "inputs.get", "inputs.patch", "inputs.delete",
    ]
    assert r.json["outcome"] == "rejected"
    assert r.code == 4
    r = run("check", "ci", "Inputs:Get,inputs.add", "--json")
    assert r.code == 0
    assert [v["operation"] for v in r.json["results"]] == ["inputs.add", "inputs.get"]


# --- outcomes and exit codes ------------------------------------------------------------
def test_exit_0_when_every_operation_is_allowed(run, sh):
    data = create(run, "all", name="admin")
    r = run("check", "admin")
    assert r.code == 0
    assert all(line.startswith("✔ allowed") for line in r.stdout.splitlines())
    assert len(r.stdout.splitlines()) == len(EVERY_OPERATION)
    assert sh("check", data["secret"], "models.patch").code == 0


def test_exit_3_when_the_worst_is_redacted(run, sh):
    data = create(run, "inputs.get", "search", name="reader")
    r = run("check", "reader", "inputs.get", "search", "--json")
    assert r.code == 3
    assert r.json["outcome"] == "redacted"
    search, get = r.json["results"]  # catalog order, whatever the order typed
    assert get == {
        "operation": "inputs.get", "outcome": "redacted", "billable": None,
        "missing_scopes": ["concepts.get"], "redacted": ["concepts"],
        "status": {"code": 10000, "name": "SUCCESS"},
        "reason": "redacted: concepts hidden without concepts.get; add it with `keyctl scope add reader concepts.get`",
    }
    assert search["outcome"] == "allowed" and search["billable"] is True
    assert search["missing_scopes"] == [] and search["redacted"] == []
    r = sh("check", data["secret"], "inputs.get")
    assert r.code == 3, r
    assert r.stdout.startswith("◐ redacted")


def test_exit_4_when_the_worst_is_rejected(run):
    create(run, "inputs.get", name="reader")
    r = run("check", "reader", "inputs.get", "models.patch", "--json")
    assert r.code == 4
    assert r.json["outcome"] == "rejected"
    patch = r.json["results"][1]
    assert patch["outcome"] == "rejected"
    assert patch["missing_scopes"] == ["models.get", "models.patch", "models.train"]
    assert patch["redacted"] == []
    assert patch["billable"] is None  # the guide does not say
    assert patch["status"] == {"code": 11007, "name": "CONN_INSUFFICIENT_SCOPES"}
    assert "keyctl scope add reader models.patch" in patch["reason"]


def test_json_shape(run):
    data = create(run, "inputs.patch", name="ci")
    r = run("check", data["id"], "--json")
    doc = r.json
    assert set(doc) == {"key", "outcome", "results"}
    assert doc["key"] == {"id": data["id"], "name": "ci"}
    assert doc["outcome"] == "rejected"
    for v in doc["results"]:
        assert set(v) == RESULT_FIELDS
        assert v["outcome"] in ("allowed", "redacted", "rejected")
        assert v["billable"] in (True, False, None)
        assert set(v["status"]) == {"code", "name"}
        assert isinstance(v["missing_scopes"], list) and isinstance(v["redacted"], list)
        assert v["reason"].startswith(v["outcome"] + ":")
    outcomes = {v["operation"]: v["outcome"] for v in doc["results"]}
    assert outcomes["inputs.get"] == outcomes["inputs.patch"] == "redacted"
    assert sum(o == "rejected" for o in outcomes.values()) == len(EVERY_OPERATION) - 2


def test_unnamed_key_json_has_null_name(run):
    data = create(run, "search")
    r = run("check", data["secret"], "search", "--json")
    assert r.json["key"] == {"id": data["id"], "name": None}


def test_human_lines(run):
    create(run, "inputs.get", "predict.call", name="ci")
    r = run("check", "ci", "predict.call", "inputs.get", "models.train")
    assert r.code == 4
    call, get, train = r.stdout.splitlines()
    assert call.startswith("✔ allowed ")
    assert "predict.call" in call and "[consumes an Operation]" in call
    assert get.startswith("◐ redacted")
    assert "inputs.get" in get and "[missing: concepts.get; hidden: concepts]" in get
    assert train.startswith("✘ rejected")
    assert "missing models.get, models.train" in train
    assert "[missing: models.get, models.train; consumes an Operation]" in train
    assert "\033[" not in r.stdout  # no colour when not on a terminal


def test_disabled_and_expired_keys_are_rejected_11008_by_every_name(run, db_path):
    import sqlite3

    data = create(run, "all", name="admin")
    run("disable", "admin")
    for ref in (data["secret"], data["id"], "admin"):
        r = run("check", ref, "--json")
        assert r.code == 4
        assert {v["status"]["code"] for v in r.json["results"]} == {11008}
        assert "admin is disabled" in r.json["results"][0]["reason"]
    run("enable", "admin")
    conn = sqlite3.connect(db_path)
    with conn:
        conn.execute("UPDATE keys SET expires_at = '2001-01-01T00:00:00Z'")
    conn.close()
    r = run("check", data["secret"], "search", "--json")
    assert r.code == 4
    assert r.json["results"][0]["status"]["code"] == 11008
    assert "expired" in r.json["results"][0]["reason"]


# --- scopes ---------------------------------------------------------------------------
# The table of the source document (issue 2): scope -> (group, direct requires, billable);
# billable is None where the document does not say (issue 15).
TABLE = {
    "predict.call": ("predict", [], True),
    "predict.feedback": ("predict", [], False),
    "search": (None, [], True),
    "inputs.add": ("inputs", [], True),
    "inputs.get": ("inputs", [], None),
    "inputs.patch": ("inputs", ["inputs.get"], True),
    "inputs.delete": ("inputs", ["inputs.get"], None),
    "concepts.add": ("concepts", [], True),
    "concepts.get": ("concepts", [], None),
    "concepts.patch": ("concepts", ["concepts.get"], True),
    "models.add": ("models", [], None),
    "models.get": ("models", [], None),
    "models.patch": ("models", ["models.get", "models.train"], None),
    "models.delete": ("models", ["models.get"], None),
    "models.train": ("models", ["models.get"], True),
}
CLOSED = {
    "inputs.patch": ["inputs.get", "inputs.patch"],
    "inputs.delete": ["inputs.delete", "inputs.get"],
    "concepts.patch": ["concepts.get", "concepts.patch"],
    "models.patch": ["models.get", "models.patch", "models.train"],
    "models.delete": ["models.delete", "models.get"],
    "models.train": ["models.get", "models.train"],
}


def test_scopes_json_field_by_field(run):
    r = run("scopes", "--json")
    assert r.code == 0
    doc = r.json
    assert set(doc) == {"catalog", "scopes", "groups", "operations"}
    assert doc["catalog"] == "clarifai"
    assert [s["id"] for s in doc["scopes"]] == list(TABLE)
    for s in doc["scopes"]:
        assert set(s) == {"id", "group", "description", "requires", "billable", "deprecated", "hidden", "aliases"}
        assert (s["deprecated"], s["hidden"], s["aliases"]) == (False, False, []), s["id"]
        group, requires, billable = TABLE[s["id"]]
        assert s["group"] == group, s["id"]
        assert s["requires"] == requires, s["id"]
        assert s["billable"] is billable, s["id"]
        assert isinstance(s["description"], str) and s["description"], s["id"]
    assert doc["groups"] == {
        "predict": ["predict.call", "predict.feedback"],
        "inputs": ["inputs.add", "inputs.get", "inputs.patch", "inputs.delete"],
        "concepts": ["concepts.add", "concepts.get", "concepts.patch"],
        "models": ["models.add", "models.get", "models.patch", "models.delete", "models.train"],
    }
    assert [o["id"] for o in doc["operations"]] == list(TABLE)
    for o in doc["operations"]:
        assert set(o) == {"id", "requires", "redacts", "billable", "auth", "resource", "deprecated"}
        assert (o["auth"], o["resource"], o["deprecated"]) == ("key", TABLE[o["id"]][0], False), o["id"]
        assert o["requires"] == CLOSED.get(o["id"], [o["id"]]), o["id"]
        assert o["billable"] is TABLE[o["id"]][2], o["id"]
        expected = {"concepts": "concepts.get"} if o["id"] in ("inputs.get", "inputs.patch") else {}
        assert o["redacts"] == expected, o["id"]


def test_scopes_tree_for_people(run, db_path, tty, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # one line per scope
    r = run("scopes")
    assert r.code == 0
    text = unstyled(r.stdout)
    for scope in TABLE:
        assert scope in text
    assert "inputs (all of: inputs.add, inputs.get, inputs.patch, inputs.delete)" in text
    patch = next(line for line in text.splitlines() if "inputs.patch " in line)
    assert "requires inputs.get" in patch and "consumes an Operation" in patch
    # "free" only where the guide says so (feedback); nothing where it is silent.
    free = [line for line in text.splitlines() if "free" in line.replace("totally free", "")]
    assert len(free) == 1 and "predict.feedback" in free[0], free
    models_get = next(line for line in text.splitlines() if "models.get " in line)
    assert "(" not in models_get and "Operation" not in models_get
    assert not db_path.exists()  # reading the catalog creates no store


def test_scopes_in_a_real_process(sh):
    r = sh("scopes", "--json")
    assert r.code == 0, r
    assert r.json["catalog"] == "clarifai"
