#!/usr/bin/env python3
"""Generate keyctl's ``clarifai-live`` catalog from Clarifai's published API definitions.

    python scripts/gen_clarifai_catalog.py PATH_TO_CHECKOUT [--output FILE|-]

PATH_TO_CHECKOUT is a copy of Clarifai's public client repository
(github.com/Clarifai/clarifai-nodejs-grpc holds the .proto files; the Python client
ships only generated code). It may be a work tree, a bare git repository (files are
read from ``--rev``, default HEAD), or a plain folder (then give ``--tag``,
``--commit`` and ``--date`` for the header). It reads:

* ``proto/clarifai/auth/scope/scope.proto``: the scope enum ``S``; each value's
  ``clarifai_depending_scopes`` (prerequisites), ``clarfai_exposed`` (sic: offered for
  keys) and ``deprecated``;
* ``proto/clarifai/api/service.proto``: every rpc of service ``V2`` with its
  ``cl_auth_type`` and ``cl_depending_scopes``, and the first collection of its HTTP
  path (``/v2/users/{..}/apps/{..}/models/...`` -> ``models``) as its resource.

and writes keyctl/catalogs/clarifai-live.toml (or FILE; ``-`` for stdout): a scope per
enum value (``undef``, which is no permission, and ``All``, which is keyctl's ``all``,
left out), an operation per rpc under its own name, and a header naming the source
and the counts. The mapping is mechanical; README "Catalogs" documents it.

Scope ids, one rule: split the enum name at ``_`` into resource and action, write each
part's CamelCase words in lowercase joined by ``_`` and join the parts with ``.``:
``Models_Get`` -> ``models.get``, ``ModelExports_Get`` -> ``model_exports.get``,
``TSNEVisualizations_Add`` -> ``tsne_visualizations.add``, ``Predict`` -> ``predict``.
The enum name stays an alias of the scope.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from proto_subset import EnumValue, Rpc, enum_values, service_rpcs  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "keyctl" / "catalogs" / "clarifai-live.toml"
SCOPE_PROTO = "proto/clarifai/auth/scope/scope.proto"
SERVICE_PROTO = "proto/clarifai/api/service.proto"
REPOSITORY = "https://github.com/Clarifai/clarifai-nodejs-grpc"

AUTH = {"KeyAuth": "key", "PATAuth": "pat", "NoAuth": "none", "SessionTokenAuth": "session"}
_WHO = {
    "pat": "a personal access token only",
    "session": "a session token (a signed-in browser) only",
    "none": "no authorization",
}
_ACTION_WORDS = {"get": "read", "add": "write", "delete": "delete"}
_HTTP_VERBS = ("get", "post", "put", "patch", "delete")


@dataclass(frozen=True)
class Source:
    repository: str
    tag: str
    commit: str
    date: str


def scope_id(name: str) -> str:
    """The one rule from an enum name to a scope id (module docstring)."""
    return ".".join(_snake(part) for part in name.split("_"))


def _snake(part: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", part).lower()


def _option(options: tuple[tuple[str, object], ...], name: str) -> list:
    return [value for key, value in options if key == name]


def _resource_of(rpc: Rpc) -> str | None:
    """The first collection of the rpc's HTTP path, after the user and app it is in."""
    for http in _option(rpc.options, "http"):
        paths = [value for key, value in http if key in _HTTP_VERBS] if isinstance(http, tuple) else []
        if not paths:
            continue
        words = [w for w in str(paths[0]).split("/")[2:] if w and not w.startswith("{")]
        for prefix in (["users", "apps"], ["users"]):
            if words[:len(prefix)] == prefix and len(words) > len(prefix):
                words = words[len(prefix):]
                break
        return words[0].replace("-", "_") if words else None
    return None


def _describe_scope(sid: str) -> str:
    resource, _, action = sid.partition(".")
    words = resource.replace("_", " ")
    if not action:
        return f"Call the {words} endpoints"
    return f"{_ACTION_WORDS.get(action, action).capitalize()} {words}"


def _toml(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string or list of strings is TOML


def generate(scopes_text: str, service_text: str, source: Source) -> str:
    values: list[EnumValue] = [v for v in enum_values(scopes_text, "S") if v.name != "undef"]
    rpcs: list[Rpc] = service_rpcs(service_text, "V2")
    ids = {v.name: scope_id(v.name) for v in values}
    real = [v for v in values if v.name != "All"]
    if len(set(ids.values())) != len(ids):
        raise SystemExit("two enum names give the same scope id")

    def needs(names: list) -> list[str]:
        if "All" in names:
            raise SystemExit("an rpc or scope depends on All, which a catalog cannot say")
        return sorted(ids[n] for n in names)

    groups: dict[str, list[str]] = {}
    for v in real:
        resource, dot, _ = ids[v.name].partition(".")
        if dot:
            groups.setdefault(resource, []).append(ids[v.name])
    auth = {r.name: _option(r.options, "cl_auth_type") for r in rpcs}
    for name, kinds in auth.items():
        if len(kinds) != 1 or kinds[0] not in AUTH:
            raise SystemExit(f"rpc {name}: cl_auth_type {kinds} is not one keyctl knows")
    counts = _counts(values, rpcs, auth)
    lines = _header(source, counts)
    lines += ['name = "clarifai-live"',
              f'description = {_toml(f"Clarifai API: every scope and endpoint of release {source.tag}")}',
              "scopes_are_calls = false  # the endpoints are the calls; a scope's own operation is not one", "",
              "[groups]"]
    lines += [f"{g} = {_toml(m)}" for g, m in groups.items()]
    for v in real:
        sid = ids[v.name]
        lines += ["", "[[scopes]]", f"id = {_toml(sid)}"]
        if v.name.lower() != sid:  # Predict is predict in any case
            lines.append(f"aliases = {_toml([v.name])}")
        lines.append(f"description = {_toml(_describe_scope(sid))}")
        requires = needs(_option(v.options, "clarifai_depending_scopes"))
        if requires:
            lines.append(f"requires = {_toml(requires)}")
        if _option(v.options, "deprecated") == ["true"]:
            lines.append("deprecated = true")
        if _option(v.options, "clarfai_exposed") != ["true"]:
            lines.append("hidden = true")
    for rpc in rpcs:
        kind = AUTH[auth[rpc.name][0]]
        requires = needs(_option(rpc.options, "cl_depending_scopes"))
        who = f"an API key with {', '.join(requires) or 'no scope'}" if kind == "key" else _WHO[kind]
        lines += ["", "[[operations]]", f"id = {_toml(rpc.name)}"]
        resource = _resource_of(rpc)
        if resource:
            lines.append(f"resource = {_toml(resource)}")
        lines += [f"description = {_toml(f'Endpoint {rpc.name}: {who}')}", f"requires = {_toml(requires)}"]
        if kind != "key":
            lines.append(f"auth = {_toml(kind)}")
        if _option(rpc.options, "deprecated") == ["true"]:
            lines.append("deprecated = true")
    return "\n".join(lines) + "\n"


def _counts(values: list[EnumValue], rpcs: list[Rpc], auth: dict[str, list]) -> dict[str, int]:
    kinds = Counter(k[0] for k in auth.values())
    keyed = [r for r in rpcs if auth[r.name] == ["KeyAuth"]]
    with_scopes = [r for r in keyed if _option(r.options, "cl_depending_scopes")]
    return {
        "scopes": len(values),
        "exposed": sum(_option(v.options, "clarfai_exposed") == ["true"] for v in values),
        "deprecated": sum(_option(v.options, "deprecated") == ["true"] for v in values),
        "depending": sum(bool(_option(v.options, "clarifai_depending_scopes")) for v in values),
        "rpcs": len(rpcs), **{k: kinds[k] for k in AUTH},
        "with_scopes": len(with_scopes),
        "apps_get": sum("Apps_Get" in _option(r.options, "cl_depending_scopes") for r in with_scopes),
    }


def _header(source: Source, c: dict[str, int]) -> list[str]:
    return [
        "# Clarifai's API authorization: every scope and every endpoint, generated by",
        "# scripts/gen_clarifai_catalog.py from Clarifai's published API definitions. Do not",
        "# edit: run the script again on a newer release.",
        "#",
        f"# Source: {source.repository}, release {source.tag}, commit {source.commit}, {source.date}",
        f"# ({SCOPE_PROTO}: enum S; {SERVICE_PROTO}: service V2).",
        f"# Counts: {c['scopes']} scopes (All included; {c['exposed']} exposed, {c['deprecated']} deprecated), "
        f"{c['depending']} with depending scopes;",
        f"# {c['rpcs']} endpoints: {c['KeyAuth']} KeyAuth, {c['PATAuth']} PATAuth, {c['NoAuth']} NoAuth, "
        f"{c['SessionTokenAuth']} SessionTokenAuth;",
        f"# {c['with_scopes']} KeyAuth endpoints name the scopes they need, {c['apps_get']} of them Apps_Get.",
        "#",
        "# Scopes: one per value of S but undef (no permission) and All (keyctl's `all`), id by",
        "# one rule (Models_Get -> models.get, ModelExports_Get -> model_exports.get), the enum",
        "# name kept as an alias. A scope's `requires` are its clarifai_depending_scopes: Clarifai",
        "# calls them recommendations applied when a key is created, not enforced afterwards;",
        "# keyctl adds them at creation, with a warning. `deprecated` as the enum marks it",
        "# (*_Patch scopes are checked nowhere); `hidden`: not clarfai_exposed, so not offered",
        "# for keys. Descriptions are made from the names.",
        "#",
        "# Operations: one per scope (as in every catalog), and one per rpc under its own name.",
        "# KeyAuth: an API key holding the rpc's cl_depending_scopes may call it; PATAuth: only a",
        "# personal access token (auth = \"pat\"); SessionTokenAuth: only a browser's session",
        "# (\"session\"); NoAuth: anyone (\"none\"). `resource` is the first collection of the",
        "# rpc's HTTP path. The definitions say nothing of billing or redaction, so neither does",
        "# this catalog. What `keyctl check` cannot model: the API also checks that the key",
        "# belongs to the app, the user and the resource named in the request.",
        "",
    ]


def _git(checkout: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(checkout), *args], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return done.stdout.strip()


def read_source(checkout: Path, rev: str, given: argparse.Namespace) -> tuple[str, str, Source]:
    """The two files' text and where they come from (git when the checkout is a
    repository; the options say it otherwise, or override it)."""
    # A repository of its own (bare, or the top of a work tree); a folder inside
    # another repository is read as a plain folder.
    top = _git(checkout, "rev-parse", "--show-toplevel")
    own = _git(checkout, "rev-parse", "--is-bare-repository") == "true" or (
        top is not None and Path(top).resolve() == checkout.resolve())
    commit = _git(checkout, "rev-parse", "--verify", f"{rev}^{{commit}}") if own else None
    if commit is not None:
        texts = [_git(checkout, "show", f"{commit}:{path}") for path in (SCOPE_PROTO, SERVICE_PROTO)]
        if None in texts:
            raise SystemExit(f"{checkout} has no {SCOPE_PROTO} and {SERVICE_PROTO} at {rev}")
        tag = _git(checkout, "describe", "--tags", "--exact-match", commit) or "untagged"
        date = _git(checkout, "log", "-1", "--format=%cs", commit) or "unknown"
    else:
        try:
            texts = [(checkout / path).read_text(encoding="utf-8") for path in (SCOPE_PROTO, SERVICE_PROTO)]
        except OSError as exc:
            raise SystemExit(f"cannot read the definitions: {exc}") from None
        commit, tag, date = "unknown", "unknown", "unknown"
    source = Source(given.repository, given.tag or tag, given.commit or commit, given.date or date)
    return str(texts[0]), str(texts[1]), source


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkout", type=Path, help="a copy of Clarifai/clarifai-nodejs-grpc")
    parser.add_argument("--output", default=str(OUTPUT), help="the catalog to write; - for stdout")
    parser.add_argument("--rev", default="HEAD", help="the git revision to read (a repository only)")
    parser.add_argument("--repository", default=REPOSITORY, help="the source named in the header")
    parser.add_argument("--tag", help="the release, for the header (default: from git)")
    parser.add_argument("--commit", help="the commit, for the header (default: from git)")
    parser.add_argument("--date", help="the commit's date, for the header (default: from git)")
    args = parser.parse_args(argv)
    scopes_text, service_text, source = read_source(args.checkout, args.rev, args)
    catalog = generate(scopes_text, service_text, source)
    if args.output == "-":
        sys.stdout.write(catalog)
    else:
        Path(args.output).write_text(catalog, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
