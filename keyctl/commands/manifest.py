"""Team onboarding as code: `apply` (a manifest of keys, planned then applied in one
transaction) and `export` (the store as a manifest). Parse -> call KeyStore -> render;
the rules live in keyctl/manifest.py and keyctl/plan.py."""

import os
import sys
from itertools import islice
from typing import Annotated

import typer

from .. import render, render_apply
from ..app import app, state
from ..completion import complete_manifest
from ..edge import confirm, error, note, say_all, warn
from ..errors import EXIT_USAGE, ManifestError, OutputError
from .params import JSON

STDIN_SOURCE = "<stdin>"


def _read_manifest(path: str) -> tuple[str, str]:
    """(text, source) of FILE; ``-`` reads standard input. Refuses what cannot be a
    manifest (missing, a folder, too large, not UTF-8) before reading all of it."""
    from ..manifest import MAX_MANIFEST_BYTES, shown

    limit = MAX_MANIFEST_BYTES
    if path == "-":
        data = sys.stdin.buffer.read(limit + 1) if hasattr(sys.stdin, "buffer") else sys.stdin.read(limit + 1).encode()
        source = STDIN_SOURCE
    else:
        source = path
        try:
            if os.path.isdir(path):
                raise ManifestError(f"{shown(source)}: is a folder; give the manifest file")
            with open(path, "rb") as handle:
                data = handle.read(limit + 1)
        except OSError as exc:
            raise ManifestError(f"{shown(source)}: cannot be read: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise ManifestError(f"{shown(source)}: is larger than {limit // (1024 * 1024)} MiB; split it into several manifests")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ManifestError(f"{shown(source)}: is not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    return text.removeprefix("\ufeff"), source  # a BOM from a Windows editor


def _fail(exc: ManifestError) -> None:
    """Every problem of a bad manifest, one ``error:`` line each, and exit 2."""
    for problem in exc.problems:
        error(problem)
    raise typer.Exit(EXIT_USAGE)


def _deliver(as_json: bool):
    """The result of an apply, written and flushed before it commits: new secrets that
    cannot be written are never created."""

    def deliver(result) -> None:
        try:
            render_apply.applied(result, as_json)
            render.flush(during_change=True)
        except OutputError as exc:
            raise OutputError(f"{exc.message}; nothing was applied") from None

    return deliver


@app.command()
def apply(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(
        metavar="FILE", autocompletion=complete_manifest,
        help="The manifest (TOML): [keys.NAME] tables; - reads it from stdin.")],
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Print the plan and change nothing.")] = False,
    prune: Annotated[bool, typer.Option(
        "--prune", help="Also delete named keys that the manifest lacks (keys without a name are never deleted).")] = False,
    keyring: Annotated[bool, typer.Option(
        "--keyring",
        help="Store the new secrets in the OS keyring (service keyctl, user the key's id) instead of "
        "printing them; `keyctl secret KEY` reads one back. Checks for a usable keyring before writing anything.",
    )] = False,
    yes: Annotated[bool, typer.Option(
        "--yes", "-y", help="Delete what --prune deletes without asking (needed without a terminal).")] = False,
    as_json: JSON = False,
) -> None:
    """Make the store match a manifest: create, update and (with --prune) delete keys.

    Prints the plan (+ create, ~ update with the scope and field changes, - delete,
    = unchanged, then "N to create, N to update, N to delete") and applies it in one
    transaction: all of it or none of it. New secrets are printed once. A field left
    out means its default (no description, never expires, enabled). A relative
    expires ("90d") counts from when the key is created or the value changes, so
    applying the same file later changes nothing. With --json the plan goes to
    stderr and stdout is JSON. With --keyring the new secrets go to the OS keyring
    instead (if one cannot be stored, nothing is applied). A bad manifest exits 2,
    naming the file, the key and the field, and changes nothing.

    A plan that deletes keys asks first at a terminal ("Delete 3 keys? [y/N]"; no
    applies nothing and exits 1) and is refused without one (exit 2) unless --yes
    is given; --dry-run never asks. Pruning with a manifest that holds no keys (an
    empty file, an empty stdin) deletes only with --yes.

    Examples:

    \b
      keyctl apply team.toml --dry-run
      keyctl apply team.toml --prune --keyring
      keyctl apply team.toml --prune --yes --json | jq -r '.deleted[].name'
      keyctl apply team.toml --json | jq -r '.created[] | "\\(.name) \\(.secret)"'
    """
    ks = state(ctx).keystore()
    text, source = _read_manifest(file)
    try:
        manifest = ks.read_manifest(text, source)
        planned = ks.plan(manifest, prune=prune)
    except ManifestError as exc:
        _fail(exc)
    for message in planned.warnings:
        warn(message)
    if not manifest.keys:
        from ..manifest import shown

        warn(f"{shown(source)} holds no keys" + ("; --prune deletes every named key" if prune else ""))
    for action in planned.actions:
        for change in action.added_prerequisites:
            warn(f"{action.name}: {change.because} requires {change.scope}; added {change.scope}")
    if as_json:
        say_all(render_apply.plan_lines(planned, ks.catalog))
    else:
        render_apply.plan(planned, ks.catalog)
    if dry_run:
        from ..models import ApplyResult

        render_apply.applied(ApplyResult(planned), as_json, dry_run=True)
        return
    doomed = planned.counts()["delete"]
    if doomed:
        render.flush()  # the plan, before the question
        what = f"{doomed} key{'s' if doomed > 1 else ''}"
        refusal = (f"refusing to delete {what}" if manifest.keys else
                   f"{source} holds no keys: --prune would delete every named key ({what})")
        confirm(f"Delete {what}?", yes, refusal, may_ask=bool(manifest.keys),
                declined="nothing deleted; nothing applied")
    result = ks.apply(planned, keyring=keyring, deliver=_deliver(as_json))
    if result.created and result.keyring is None and not as_json:
        note("the secrets are shown only this once; keyctl keeps only their hashes.")


@app.command()
def export(ctx: typer.Context, as_json: JSON = False) -> None:
    """Print the store as a manifest for `keyctl apply` (no secrets, no ids).

    Keys are sorted by name; defaults are left out. A relative expiry that a
    manifest gave is written as given ("90d"), any other as its absolute time, so
    that applying the export changes nothing. Keys without a name are left out with
    a warning. With --json: {"keys": {NAME: {"scopes", "description", "expires",
    "enabled"}}}.

    Examples:

    \b
      keyctl export > team.toml && keyctl apply team.toml --dry-run
      keyctl export --json | jq -r '.keys | keys[]'
    """
    ks = state(ctx).keystore()
    unnamed = ks.unnamed_keys()
    first = list(islice(unnamed, 5))
    count = len(first) + sum(1 for _ in unnamed)
    if count:
        shown = ", ".join(first) + (f" and {count - 5} more" if count > 5 else "")
        warn(f"{count} key(s) without a name left out (a manifest names its keys): {shown}; "
             "name one with `keyctl update KEY --name NAME`")
    render_apply.exported(ks.export_keys(), as_json)
