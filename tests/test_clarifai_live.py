"""The clarifai-live catalog (issue 15): generated from Clarifai's API definitions,
every scope and every endpoint; what `check`, `show`, `scopes` and completion make
of it; and its generator, run on a small proto written for these tests."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest

from conftest import unstyled, warnings
from keyctl import KeyStore
from keyctl.catalog import builtin, builtin_text, parse_catalog

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "clarifai-proto"
LIVE = "clarifai-live"


def _generator():
    spec = importlib.util.spec_from_file_location("gen_clarifai_catalog", ROOT / "scripts" / "gen_clarifai_catalog.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_clarifai_catalog"] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def web(run):
    """The issue's key: predict only, in a store of the live catalog."""
    r = run("--catalog", LIVE, "create", "--name", "web", "--scope", "predict")
    assert r.code == 0, r
    return r


# --- the walk-through ---------------------------------------------------------------
def test_a_predict_only_key_cannot_call_post_model_outputs_until_it_has_the_rest(run, web):
    # Predict has no depending scopes: nothing is added, but the key can call no endpoint yet
    assert "requires" not in web.stderr
    assert warnings(web.stderr) == [f"warning: {PREDICT_CLOSED}"]
    r = run("check", "web", "PostModelOutputs")
    assert r.code == 4
    assert r.stdout.startswith("✘ rejected  PostModelOutputs  rejected: missing apps.get, concepts.get, models.get;")
    j = run("check", "web", "PostModelOutputs", "--json").json
    assert j["results"][0]["missing_scopes"] == ["apps.get", "concepts.get", "models.get"]
    assert j["results"][0]["status"] == {"code": 11007, "name": "CONN_INSUFFICIENT_SCOPES"}
    assert j["results"][0]["billable"] is None  # the definitions do not say
    added = run("scope", "add", "web", "apps.get", "concepts.get", "models.get")
    assert (added.code, added.stderr) == (0, "")  # each scope added opens an endpoint now
    ok = run("check", "web", "PostModelOutputs")
    assert ok.code == 0, ok
    assert ok.stdout.startswith("✔ allowed   PostModelOutputs  allowed: web holds every scope PostModelOutputs needs")


@pytest.mark.parametrize("scopes", ["predict", "all", "apps,workflows"])
def test_a_pat_endpoint_is_rejected_whatever_the_scopes(run, scopes):
    assert run("--catalog", LIVE, "create", "-n", "k", "-s", scopes).code == 0
    r = run("check", "k", "DeleteApp", "--json")
    assert r.code == 4
    result = r.json["results"][0]
    assert (result["operation"], result["outcome"], result["missing_scopes"]) == ("DeleteApp", "rejected", [])
    assert "personal access token" in result["reason"]


def test_no_auth_and_session_endpoints(run, web):
    r = run("check", "web", "ListStatusCodes", "MyScopes", "ListScopes", "--json")
    assert [(v["operation"], v["outcome"]) for v in r.json["results"]] == [
        ("MyScopes", "allowed"), ("ListScopes", "rejected"), ("ListStatusCodes", "allowed")]
    assert "needs no authorization" in r.json["results"][2]["reason"]
    assert "session token" in r.json["results"][1]["reason"]
    assert run("disable", "web").code == 0  # a disabled key is rejected before anything else
    assert run("check", "web", "ListStatusCodes", "--json").json["results"][0]["status"]["code"] == 11008


# --- names: Clarifai's spelling, any case --------------------------------------------------
@pytest.mark.parametrize("typed", ["PostModelOutputs", "postmodeloutputs", "POSTMODELOUTPUTS"])
def test_endpoints_match_in_any_case_and_show_in_clarifai_spelling(run, web, typed):
    r = run("check", "web", typed, "--json")
    assert r.json["results"][0]["operation"] == "PostModelOutputs"
    assert "PostModelOutputs" in run("check", "web", typed).stdout


def test_clarifai_scope_names_are_accepted_where_scopes_are_typed(run, web, tty, monkeypatch):
    r = run("scope", "add", "web", "Models_Get", "ModelExports_Get", "--json")
    assert r.code == 0, r
    assert {"models.get", "model_exports.get"} <= set(r.json["scopes"])
    assert run("check", "web", "Models_Get", "--json").json["results"][0]["operation"] == "models.get"
    assert [k["name"] for k in run("list", "--scope", "models_get", "--json").json] == ["web"]
    monkeypatch.setenv("COLUMNS", "300")  # one line per scope
    tree = unstyled(run("scopes").stdout)
    assert "model_exports.get (ModelExports_Get)" in tree
    assert run("scope", "add", "web", "Models_Gte").stderr.count("did you mean") == 1


def test_every_scope_is_still_an_operation(run):
    assert run("--catalog", LIVE, "create", "-n", "k", "-s", "inputs.get").code == 0
    r = run("check", "k", "inputs.patch", "--json")
    assert r.code == 4 and r.json["results"][0]["missing_scopes"] == ["inputs.add", "inputs.patch"]


# --- deprecated and hidden scopes -----------------------------------------------------------
def test_deprecated_and_hidden_scopes_are_granted_with_a_warning(run, db_path, tty, monkeypatch):
    r = run("--catalog", LIVE, "create", "-n", "k", "-s", "inputs.patch", "--json")
    assert r.code == 0
    assert "warning: inputs.patch is deprecated" in r.stderr
    assert r.json["scopes"] == ["inputs.add", "inputs.get", "inputs.patch"]
    again = run("scope", "add", "k", "models.sync")
    assert "warning: models.sync is hidden: the API does not offer it for keys" in again.stderr
    assert "deprecated" not in again.stderr  # only what this change grants
    assert run("scope", "add", "k", "apps.get", "concepts.get", "models.get").code == 0
    assert run("scope", "add", "k", "predict").stderr == ""
    monkeypatch.setenv("COLUMNS", "300")  # one line per scope
    tree = unstyled(run("scopes").stdout)
    line = next(t for t in tree.splitlines() if "inputs.patch " in t)
    assert "deprecated" in line and "requires inputs.add, inputs.get" in line
    assert "hidden" in next(t for t in tree.splitlines() if "models.sync " in t)


def test_the_library_reports_what_the_cli_warns(tmp_path):
    with KeyStore(tmp_path / "lib.db", LIVE) as ks:
        created = ks.create(["Inputs_Patch", "predict"])
        assert [(n.scope, n.kind) for n in created.notices if n.kind != "closed"] == [("inputs.patch", "deprecated")]
        assert ("predict", "closed", ("PostModelOutputs", "apps.get", "concepts.get", "models.get")) in created.notices
        change = ks.scope_add(created.key.id, ["models.sync", "models.patch", "apps.get", "concepts.get"])
        assert [(n.scope, n.kind) for n in change.notices if n.kind != "closed"] == [("models.patch", "deprecated"),
                                                                                      ("models.sync", "hidden")]
        assert ks.scope_add(created.key.id, ["all"]).notices == ()


# --- a scope that opens no endpoint ---------------------------------------------------------------
PREDICT_CLOSED = ("predict opens no endpoint to this key yet: every endpoint that needs it needs more "
                  "(PostModelOutputs also needs apps.get, concepts.get, models.get)")


def test_a_scope_granted_that_opens_no_endpoint_is_warned_of_everywhere_it_is_granted(run, tmp_path):
    """create, scope add and set, apply, and the library: a scope whose every endpoint
    needs another scope the key lacks draws one warning, with the endpoint that needs
    the fewest more; a scope the key could already use, or none granted, draws none."""
    assert warnings(run("--catalog", LIVE, "create", "-n", "a", "-s", "predict,apps.get").stderr) == [
        "warning: predict opens no endpoint to this key yet: every endpoint that needs it needs more "
        "(PostModelOutputs also needs concepts.get, models.get)",
        "warning: apps.get opens no endpoint to this key yet: every endpoint that needs it needs more "
        "(GetConcept also needs concepts.get)"]  # catalog order
    assert run("scope", "add", "a", "predict").stderr == ""  # nothing granted
    assert run("scope", "add", "a", "concepts.get", "models.get").stderr == ""
    assert run("scope", "remove", "a", "search").stderr.startswith("warning: a does not hold search")
    # a scope the key keeps, that opened an endpoint before the change and opens none after
    assert warnings(run("scope", "set", "a", "predict").stderr) == [f"warning: {PREDICT_CLOSED}"]
    assert run("scope", "add", "a", "apps.get", "concepts.get", "models.get").stderr == ""
    assert warnings(run("scope", "remove", "a", "concepts.get").stderr) == [
        "warning: predict opens no endpoint to this key yet: every endpoint that needs it needs more "
        "(PostModelOutputs also needs concepts.get)"]  # models.get still opens GetModel with apps.get
    assert run("scope", "add", "a", "concepts.get").stderr == ""
    assert warnings(run("--catalog", LIVE, "create", "-n", "b", "-s", "all").stderr) == []
    manifest = tmp_path / "team.toml"
    manifest.write_text('[keys.c]\nscopes = ["predict"]\n[keys.a]\nscopes = ["predict", "apps.get", "concepts.get", '
                        '"models.get"]\n', encoding="utf-8")
    r = run("apply", str(manifest), "--yes")
    assert r.code == 0, r
    assert warnings(r.stderr) == [f"warning: {manifest}: keys.c: {PREDICT_CLOSED}"]  # a holds them all already
    manifest.write_text('[keys.c]\nscopes = ["predict"]\n[keys.a]\nscopes = ["predict"]\n', encoding="utf-8")
    r = run("apply", str(manifest), "--yes")
    assert r.code == 0, r
    assert warnings(r.stderr) == [f"warning: {manifest}: keys.a: {PREDICT_CLOSED}"]  # c is unchanged
    with KeyStore(tmp_path / "lib.db", LIVE) as ks:
        created = ks.create(["predict"])
        assert created.notices == (("predict", "closed", ("PostModelOutputs", "apps.get", "concepts.get",
                                                          "models.get")),)
        assert created.notices[0].message == PREDICT_CLOSED
        assert ks.scope_add(created.key.id, ["apps.get", "concepts.get", "models.get"]).notices == ()
        removed = ks.scope_remove(created.key.id, ["apps.get"])
        assert [n.scope for n in removed.notices] == ["predict", "concepts.get", "models.get"]  # catalog order
        assert {n.kind for n in removed.notices} == {"closed"}


def test_a_catalog_whose_scopes_are_calls_never_warns_that_one_opens_nothing(run, tmp_path):
    """In the examples (and the seed), a scope's own operation is a call of the API: a
    scope always opens that one. Only a catalog that says `scopes_are_calls = false`
    (clarifai-live) draws the warning."""
    for catalog, scopes in (("examples/catalogs/stripe-like.toml", "charges.read"),
                            ("examples/catalogs/github-like.toml", "pulls.write"), ("clarifai", "predict")):
        r = run("--db", str(tmp_path / f"{catalog.replace('/', '_')}.db"),
                "--catalog", str(ROOT / catalog) if "/" in catalog else catalog, "create", "-s", scopes)
        assert r.code == 0 and "opens no endpoint" not in r.stderr, r
    assert builtin(LIVE).scopes_are_calls is False and builtin("clarifai").scopes_are_calls is True
    mine = parse_catalog('name = "m"\nscopes_are_calls = false\n[[scopes]]\nid = "a"\n[[scopes]]\nid = "b"\n'
                         '[[operations]]\nid = "Call"\nrequires = ["a", "b"]\n')
    assert [(n.scope, n.example) for n in mine.notices(["a"])] == [("a", ("Call", "b"))]
    assert mine.notices(["a", "b"]) == ()
    with pytest.raises(Exception, match="'scopes_are_calls' must be true or false"):
        parse_catalog('name = "m"\nscopes_are_calls = "no"\n[[scopes]]\nid = "a"\n')


def test_a_key_that_loses_what_opens_every_endpoint_gets_one_line_for_them(run):
    """An `all` key of clarifai-live that loses apps.get keeps about sixty scopes that
    open nothing: one warning names the count and the first, not sixty lines (and no
    deprecated or hidden warning: removing grants nothing)."""
    assert run("--catalog", LIVE, "create", "-n", "a", "-s", "all").code == 0
    r = run("scope", "remove", "a", "apps.get")
    assert r.code == 0, r
    closed = [w for w in warnings(r.stderr) if "open no endpoint" in w or "opens no endpoint" in w]
    assert len(closed) == 1 and closed[0].startswith("warning: ") and "scopes open no endpoint to this key yet: " \
        "predict, inputs.add" in closed[0] and "`keyctl check a`" in closed[0], r.stderr
    assert "deprecated" not in r.stderr and "hidden" not in r.stderr


@pytest.mark.parametrize("name", ["clarifai", LIVE])
def test_the_warning_says_exactly_when_check_rejects_every_endpoint_that_needs_the_scope(name):
    """For every scope, granted alone (its prerequisites with it): warned of as opening
    no endpoint exactly when `check` (keyctl/decide.py) rejects every operation of the
    catalog that needs it, other than the scopes' own; and the endpoint named then needs
    what the warning says. The seed catalog has no such operation: it never warns."""
    from keyctl.decide import outcomes_for

    catalog = builtin(name)
    endpoints = [op for op in catalog.operations if op not in catalog.scopes]
    warned = 0
    for scope in catalog.scopes:
        if scope == "all":
            continue
        held, _ = catalog.closure([scope])
        outcomes = outcomes_for(catalog, held)
        needing = [op for op in endpoints if scope in catalog.operations[op].requires
                   and catalog.operations[op].auth == "key"]
        closed = [n for n in catalog.notices([scope], held) if n.kind == "closed"]
        expected = not catalog.scopes_are_calls and bool(needing) and all(outcomes[op] == "rejected" for op in needing)
        assert bool(closed) == expected, scope
        if closed:
            warned += 1
            endpoint, *missing = closed[0].example
            assert endpoint in needing and sorted(catalog.operations[endpoint].requires - held) == missing
    assert (warned > 50) if name == LIVE else (warned == 0)


def test_apply_warns_as_create_does(run, tmp_path):
    manifest = tmp_path / "team.toml"
    manifest.write_text('[keys.k]\nscopes = ["Workflows_Patch"]\n', encoding="utf-8")
    r = run("--catalog", LIVE, "apply", str(manifest))
    assert r.code == 0, r
    assert "k: workflows.patch is deprecated" in r.stderr


# --- many operations, readable ----------------------------------------------------------------
def test_check_every_operation_is_grouped_and_json_is_complete(run, web):
    catalog = builtin(LIVE)
    r = run("check", "web")
    assert r.code == 4
    lines = r.stdout.splitlines()
    assert len(lines) < len(catalog.operations) / 2
    # A predict-only key: per resource, one line for what it lacks scopes for, one for
    # what only a personal access token may call; the allowed ones on one line.
    models = lines.index("models (48)")
    assert lines[models + 1].startswith("  ✘ rejected  models.add, models.get, ")
    assert "PostModelOutputs" in lines[models + 1] and "[missing, between them: " in lines[models + 1]
    assert "  ✘ rejected  ListApps, DeleteApp, PostApps, PatchApps, PatchApp  [needs a personal access token]" in lines
    assert lines[-4:-1] == ["other (2)", "  ✔ allowed   predict", "  ✘ rejected  search  [missing: search]"]
    assert lines[-1].startswith(f"{len(catalog.operations)} operations: 5 allowed, 388 rejected. ")
    j = run("check", "web", "--json").json
    assert [v["operation"] for v in j["results"]] == list(catalog.operations)
    assert len(j["results"]) == len(catalog.operations)


def test_show_groups_by_resource(run, web):
    r = run("show", "web")
    assert r.code == 0
    assert "RESOURCE" in r.stdout and "ALLOWED OPERATIONS" in r.stdout
    models = next(line for line in r.stdout.splitlines() if line.startswith("models\t"))  # piped: tab-separated
    assert models.split("\t")[1] == "0" and "ListModels" not in models  # predict alone reads no model
    ops = run("show", "web", "--json").json["operations"]
    assert len(ops) == len(builtin(LIVE).operations) and ops["PostModelOutputs"] == "rejected"
    assert ops["predict"] == "allowed"


def test_scopes_json_describes_the_live_catalog(run):
    doc = run("--catalog", LIVE, "scopes", "--json").json
    ops = {o["id"]: o for o in doc["operations"]}
    assert ops["DeleteApp"]["auth"] == "pat" and ops["DeleteApp"]["resource"] == "apps"
    assert ops["PostModelOutputs"]["requires"] == ["apps.get", "concepts.get", "models.get", "predict"]
    assert ops["PostAppDuplications"]["deprecated"] is True and ops["ListApps"]["deprecated"] is False
    scopes = {s["id"]: s for s in doc["scopes"]}
    assert scopes["model_exports.get"]["aliases"] == ["ModelExports_Get"]
    assert scopes["inputs.patch"]["deprecated"] is True and scopes["models.sync"]["hidden"] is True
    assert all(s["billable"] is None for s in doc["scopes"])


# --- the shipped catalog: what its header claims --------------------------------------------
def test_the_shipped_catalog_has_the_counts_its_header_claims():
    text = builtin_text(LIVE)
    header = " ".join(line[2:] for line in text.splitlines() if line.startswith("# "))
    source = re.search(r"Source: (\S+), release (\S+), commit ([0-9a-f]{40}), (\d{4}-\d\d-\d\d)", header)
    assert source and source.group(1) == "https://github.com/Clarifai/clarifai-nodejs-grpc"
    numbers = [int(n) for n in re.search(
        r"Counts: (\d+) scopes \(All included; (\d+) exposed, (\d+) deprecated\), (\d+) with depending scopes; "
        r"(\d+) endpoints: (\d+) KeyAuth, (\d+) PATAuth, (\d+) NoAuth, (\d+) SessionTokenAuth; "
        r"(\d+) KeyAuth endpoints name the scopes they need, (\d+) of them Apps_Get", header).groups()]
    scopes_n, exposed, deprecated, depending, rpcs, key, pat, none, session, with_scopes, apps_get = numbers
    catalog = parse_catalog(text)  # parses and validates
    scopes = list(catalog.scopes.values())
    assert scopes_n == len(scopes) + 1  # All is keyctl's `all`
    assert exposed == sum(not s.hidden for s in scopes) + 1
    assert deprecated == sum(s.deprecated for s in scopes)
    assert depending == sum(bool(s.requires) for s in scopes)
    endpoints = [o for o in catalog.operations.values() if o.id not in catalog.scopes]
    assert rpcs == len(endpoints)
    auth = [o.auth for o in endpoints]
    assert (key, pat, none, session) == (auth.count("key"), auth.count("pat"), auth.count("none"), auth.count("session"))
    keyed = [o for o in endpoints if o.auth == "key" and o.requires]
    assert with_scopes == len(keyed) and apps_get == sum("apps.get" in o.requires for o in keyed)
    # What Clarifai's definitions at that release say (the issue checked them by hand).
    assert numbers == [121, 115, 19, 73, 273, 190, 78, 3, 2, 189, 188]


# --- the generator ----------------------------------------------------------------------------
def test_the_generator_on_a_small_proto_writes_the_expected_catalog(tmp_path):
    out = tmp_path / "live.toml"
    gen = _generator()
    assert gen.main([str(FIXTURE), "--output", str(out), "--tag", "1.2.3", "--date", "2026-01-02",
                     "--commit", "0123456789abcdef0123456789abcdef01234567",
                     "--repository", "https://example.com/api-definitions"]) == 0
    assert out.read_text(encoding="utf-8") == (FIXTURE / "expected.toml").read_text(encoding="utf-8")
    catalog = parse_catalog(out.read_text(encoding="utf-8"))
    assert catalog.resolve("TSNEThings_Sync") == {"tsne_things.sync"}


@pytest.mark.parametrize("name, sid", [
    ("Models_Get", "models.get"), ("ModelExports_Get", "model_exports.get"), ("Predict", "predict"),
    ("TSNEVisualizations_Add", "tsne_visualizations.add"), ("PipelineVersionRunStatusLogs_Get",
                                                           "pipeline_version_run_status_logs.get"),
])
def test_one_rule_from_enum_names_to_scope_ids(name, sid):
    assert _generator().scope_id(name) == sid


def test_the_generator_reads_a_git_repository(tmp_path):
    import shutil
    import subprocess

    repo = tmp_path / "repo"
    shutil.copytree(FIXTURE / "proto", repo / "proto")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    for args in (["init", "-q"], ["add", "."], ["commit", "-qm", "defs"], ["tag", "v9"]):
        subprocess.run([*git, *args], check=True, capture_output=True)
    out = tmp_path / "live.toml"
    assert _generator().main([str(repo), "--output", str(out)]) == 0
    commit = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()
    assert f"release v9, commit {commit}, " in out.read_text(encoding="utf-8")


def test_the_readme_walk_through_runs_as_it_says(run, tmp_path):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### `clarifai-live`"):]
    block = section[section.index("```sh\n") + 6:]
    block = block[:block.index("```")]
    import shlex

    expected = {"rejected (exit 4)": 4, "allowed (exit 0)": 0, "rejected whatever the scopes": 4}
    for line in block.strip().splitlines():
        command, _, comment = line.partition("#")
        words = shlex.split(command)
        assert words[:3] == ["keyctl", "--db", "web.db"], line
        r = run("--db", str(tmp_path / "web.db"), *words[3:])
        code = next((c for text, c in expected.items() if text in comment), None)
        if code is None:  # create, scope add: succeed; the last: every endpoint, rejected ones among them
            assert r.code in ((4,) if words[3] == "check" else (0,)), (line, r)
        else:
            assert r.code == code, (line, r)
        if "missing apps.get, concepts.get, models.get" in comment:
            assert "missing apps.get, concepts.get, models.get" in r.stdout
        if "personal access token" in comment:
            assert "personal access token" in r.stdout


def test_a_disabled_key_over_every_operation_says_so_once_per_resource(run, web):
    assert run("disable", "web").code == 0
    r = run("check", "web")
    assert r.code == 4
    lines = r.stdout.splitlines()
    rejected = [line for line in lines if line.startswith("  ")]
    assert rejected and all(line.endswith("[web is disabled]") for line in rejected)
    assert lines[-1] == "393 operations: 393 rejected. `keyctl check web OPERATION` explains one"
