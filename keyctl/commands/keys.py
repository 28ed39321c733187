"""The key lifecycle: create, list, show, scope add|remove|set, update, disable, enable,
rotate, delete, log. Parse -> call KeyStore -> render; no rules here."""

from typing import Annotated, Callable, List, Optional

import typer

from .. import render
from ..app import app, complete_key, complete_scope, read_key, state, subgroup
from ..completion import complete_held_scope, complete_status
from ..edge import confirm, note, warn
from ..errors import OutputError
from .params import JSON, KEY, NO_HEADERS

SCOPES_HELP = "Scope ids (inputs.patch or Inputs:Patch), groups (inputs, inputs.*) or all; commas allowed."
SCOPES = Annotated[List[str], typer.Argument(metavar="SCOPE...", autocompletion=complete_scope, help=SCOPES_HELP)]
HELD_SCOPES = Annotated[List[str], typer.Argument(metavar="SCOPE...", autocompletion=complete_held_scope,
                                                  help=SCOPES_HELP)]
EXPIRES_HELP = "When the key expires: 90m, 12h, 30d, 2w, a date (2027-01-31), a datetime (UTC unless it names a zone) or never."
KEYRING = Annotated[bool, typer.Option(
    "--keyring",
    help="Store the new secret in the OS keyring (service keyctl, user the key's id) instead of "
    "printing it; `keyctl secret KEY` reads it back. Checks for a usable keyring before writing anything.",
)]
SHOW_SECRET = Annotated[bool, typer.Option(
    "--show-secret", help="With --keyring, print the secret as well (without --keyring it is always printed).")]

scope_app = subgroup("scope", (
    "Change a key's scopes: add, remove or set them (prerequisites follow).\n\n"
    "Examples:\n\n\b\n"
    "  keyctl scope add ci-bot inputs.patch\n"
    "  keyctl scope set ci-bot predict search"
))


def _change(ctx: typer.Context, key: str, what: str, call: Callable) -> tuple:
    """``call(keystore, ref)`` on KEY; should its confirmation then fail to print, the
    error says the change was made (when the key is not as it was before). Returns the
    KeyStore and the result."""
    ks = state(ctx).keystore()
    ref = read_key(key)
    try:
        before = ks.get(ref)
    except Exception:  # the change itself says what is wrong
        before = None
    result = call(ks, ref)
    changed = getattr(result, "key", result)  # a ScopeChange's key, or the Key
    if changed != before:
        state(ctx).done = f"{changed.ref} was {what}"
    return ks, result


def _warn_added(result) -> None:
    for change in result.added_prerequisites:
        warn(f"{change.because} requires {change.scope}; added {change.scope}")
    _warn_notices(result)


def _warn_notices(result) -> None:
    """The notices of a change; more than a few scopes that open no endpoint (a key
    that lost apps.get in clarifai-live) in one line."""
    closed = [n for n in result.notices if n.kind == "closed"]
    for notice in result.notices:
        if notice.kind != "closed" or len(closed) <= 5:
            warn(notice.message)
    if len(closed) > 5:
        names = ", ".join(n.scope for n in closed[:5])
        warn(f"{len(closed)} scopes open no endpoint to this key yet: {names}, ...; every endpoint that needs "
             f"one needs more (`keyctl check {result.key.ref}` says what each lacks)")


def _warn_removed(result) -> None:
    for change in result.removed_dependents:
        warn(f"removed {change.scope}, which requires {change.because}")
    if result.not_held:
        warn(f"{result.key.ref} does not hold {', '.join(result.not_held)}; nothing to remove")
    _warn_notices(result)  # scopes kept that open no endpoint any more


def deliver_secret(ks, as_json: bool, show_secret: bool, action: str) -> Callable:
    """How a new secret reaches the user: written and flushed while the change is still
    open, so that a secret nobody could see is never committed."""

    def deliver(result) -> None:
        try:
            render.created(result, as_json, ks.catalog, stored_in=result.stored_in,
                           show_secret=show_secret or result.stored_in is None)
            render.flush(during_change=True)
        except OutputError as exc:
            raise OutputError(f"{exc.message}; the key was not {action}") from None

    return deliver


def _secret_note(result, as_json: bool, show_secret: bool) -> None:
    if not as_json and (show_secret or result.stored_in is None):
        note("the secret is shown only this once; keyctl keeps only its hash.")


@app.command()
def create(
    ctx: typer.Context,
    scope: Annotated[List[str], typer.Option(
        "--scope", "-s", metavar="SCOPE", autocompletion=complete_scope,
        help="A scope, group or all; repeat it or give a comma-separated list. At least one.",
    )],
    name: Annotated[Optional[str], typer.Option(
        "--name", "-n", metavar="NAME",
        help="A unique name: letters, digits, . _ - @; 1 to 64 characters; not '-'.")] = None,
    description: Annotated[Optional[str], typer.Option("--description", "-d", metavar="TEXT", help="What the key is for.")] = None,
    expires: Annotated[str, typer.Option("--expires", "-e", metavar="WHEN", help=EXPIRES_HELP)] = "never",
    keyring: KEYRING = False,
    show_secret: SHOW_SECRET = False,
    as_json: JSON = False,
) -> None:
    """Create a key with scopes and print its secret, once.

    Prerequisites are added with a warning on stderr (inputs.patch brings inputs.get).
    A scope that opens none of the catalog's endpoints to the key draws a warning too,
    naming one that needs it and what else that one needs (clarifai-live's predict
    without apps.get). Only the secret's SHA-256 is stored: copy the secret now, or keep it in the OS
    keyring with --keyring. The key is created only once its secret is out: if the
    secret cannot be written (a full disk, a closed pipe) or stored in the keyring,
    nothing is created and the exit status is 1.

    Examples:

    \b
      keyctl create --name ci-bot --scope predict
      keyctl create -n etl -s inputs.add,inputs.patch --expires 30d --json | jq -r .secret
      keyctl create --name ci-bot --scope predict --keyring
    """
    ks = state(ctx).keystore()
    result = ks.create(scopes=scope, name=name, description=description, expires=expires, in_keyring=keyring,
                       deliver=deliver_secret(ks, as_json, show_secret, "created"))
    _warn_added(result)
    _secret_note(result, as_json, show_secret)


@app.command("list")
def list_keys(
    ctx: typer.Context,
    status: Annotated[Optional[str], typer.Option(
        "--status", metavar="STATUS", autocompletion=complete_status,
        help="Only keys that are active, disabled or expired.")] = None,
    scope: Annotated[Optional[List[str]], typer.Option(
        "--scope", "-s", metavar="SCOPE", autocompletion=complete_scope,
        help="Only keys holding everything SCOPE stands for (a key with all holds every scope).")] = None,
    no_headers: NO_HEADERS = False,
    as_json: JSON = False,
) -> None:
    """List keys (never their secrets), oldest first.

    At a terminal, a table that fits its width: NAME (the id for a key without a
    name) and STATUS always show, SCOPES wraps, and ID, CREATED and EXPIRES give way
    when there is no room. Piped, one key per line, tab-separated, under a header.
    A complete group shows as its group name. A key both disabled and expired shows
    as disabled.

    Examples:

    \b
      keyctl list --status active
      keyctl list --scope inputs.patch --json | jq -r '.[].name'
      keyctl list --no-headers | cut -f1
    """
    ks = state(ctx).keystore()
    keys = ks.list(status=status, scope=scope)
    found = ks.exists()
    if not found:
        note(f"no store at {ks.path} yet; `keyctl create` makes it")
    catalog = None if as_json else ks.catalog  # JSON shows scope ids, and needs no catalog
    render.keys(keys, as_json, catalog, headers=not no_headers, empty=render.NO_KEYS if found else None)


@app.command()
def show(ctx: typer.Context, key: KEY, as_json: JSON = False) -> None:
    """Show everything about one key, and the outcome of every operation for it.

    Examples:

    \b
      keyctl show ci-bot
      keyctl show key_4k2j... --json | jq .operations
    """
    ks = state(ctx).keystore()
    render.detail(ks.show(read_key(key)), as_json, ks.catalog)


@scope_app.command("add")
def scope_add(ctx: typer.Context, key: KEY, scopes: SCOPES, as_json: JSON = False) -> None:
    """Add scopes to a key; their prerequisites are added with a warning.

    Examples:

    \b
      keyctl scope add ci-bot inputs.patch
      keyctl scope add ci-bot models --json
    """
    ks, result = _change(ctx, key, "changed", lambda ks, ref: ks.scope_add(ref, scopes))
    _warn_added(result)
    render.scope_change(result, as_json, ks.catalog)


@scope_app.command("remove")
def scope_remove(ctx: typer.Context, key: KEY, scopes: HELD_SCOPES, as_json: JSON = False) -> None:
    """Remove scopes from a key, and every scope that requires them (warned).

    Removing from a key with all first expands all into every scope. Removing a
    scope the key does not hold changes nothing. A key keeps at least one scope. A
    scope it keeps that opens none of the catalog's endpoints any more is warned of.

    Examples:

    \b
      keyctl scope remove ci-bot inputs.get      # also removes inputs.patch
      keyctl scope remove admin models.delete
    """
    ks, result = _change(ctx, key, "changed", lambda ks, ref: ks.scope_remove(ref, scopes))
    _warn_removed(result)
    render.scope_change(result, as_json, ks.catalog)


@scope_app.command("set")
def scope_set(ctx: typer.Context, key: KEY, scopes: SCOPES, as_json: JSON = False) -> None:
    """Replace a key's scopes; prerequisites are added with a warning.

    Examples:

    \b
      keyctl scope set ci-bot predict search
    """
    ks, result = _change(ctx, key, "changed", lambda ks, ref: ks.scope_set(ref, scopes))
    _warn_added(result)
    render.scope_change(result, as_json, ks.catalog)


@app.command()
def update(
    ctx: typer.Context,
    key: KEY,
    name: Annotated[Optional[str], typer.Option("--name", "-n", metavar="NAME", help="A new unique name.")] = None,
    description: Annotated[Optional[str], typer.Option("--description", "-d", metavar="TEXT", help="A new description; \"\" clears it.")] = None,
    expires: Annotated[Optional[str], typer.Option(
        "--expires", "-e", metavar="WHEN", help=EXPIRES_HELP + " never clears the expiry.")] = None,
    as_json: JSON = False,
) -> None:
    """Change a key's name, description or expiry.

    Examples:

    \b
      keyctl update ci-bot --expires 90d
      keyctl update ci-bot --name ci-bot-2 --description "CI predictions"
    """
    kwargs = {}
    if name is not None:
        kwargs["name"] = name
    if description is not None:
        kwargs["description"] = description
    if expires is not None:
        kwargs["expires"] = expires
    ks, changed = _change(ctx, key, "updated", lambda ks, ref: ks.update(ref, **kwargs))
    render.key(changed, as_json, ks.catalog)


@app.command()
def disable(ctx: typer.Context, key: KEY, as_json: JSON = False) -> None:
    """Disable a key for a while: every check rejects it until it is enabled.

    Examples:

    \b
      keyctl disable ci-bot
    """
    ks, changed = _change(ctx, key, "disabled", lambda ks, ref: ks.disable(ref))
    render.key(changed, as_json, ks.catalog)


@app.command()
def enable(ctx: typer.Context, key: KEY, as_json: JSON = False) -> None:
    """Enable a disabled key; it comes back with its scopes unchanged.

    Examples:

    \b
      keyctl enable ci-bot
    """
    ks, changed = _change(ctx, key, "enabled", lambda ks, ref: ks.enable(ref))
    render.key(changed, as_json, ks.catalog)


@app.command()
def rotate(
    ctx: typer.Context,
    key: KEY,
    keyring: Annotated[Optional[bool], typer.Option(
        "--keyring/--no-keyring",
        help="Keep the new secret in the OS keyring, or take the key out of it (the stale entry is "
        "removed). Default: where the key keeps it now.")] = None,
    show_secret: SHOW_SECRET = False,
    as_json: JSON = False,
) -> None:
    """Give a key a new secret; the old one stops working at once.

    The id, name and scopes stay. The new secret is printed once; a key whose secret
    is kept in the OS keyring keeps it there (the new one replaces the old, and is
    not printed unless --show-secret). --keyring moves a key's secret into the
    keyring, --no-keyring out of it.

    Examples:

    \b
      keyctl rotate ci-bot
      keyctl rotate ci-bot --json | jq -r .secret
      keyctl rotate ci-bot --keyring
    """
    ks = state(ctx).keystore()
    result = ks.rotate(read_key(key), in_keyring=keyring, deliver=deliver_secret(ks, as_json, show_secret, "rotated"))
    _secret_note(result, as_json, show_secret)


@app.command()
def delete(
    ctx: typer.Context,
    key: KEY,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Delete without asking (needed without a terminal).")] = False,
    as_json: JSON = False,
) -> None:
    """Delete a key for good. Its audit trail stays.

    On a terminal it asks first (answering no deletes nothing and exits 1); without
    one it needs --yes. A secret kept in the OS keyring (--keyring) is removed from
    it too.

    Examples:

    \b
      keyctl delete old-bot
      keyctl delete old-bot --yes --json
    """
    ks = state(ctx).keystore()
    ref = read_key(key)
    if not yes:
        target = ks.get(ref)
        confirm(f"Delete key {target.ref} ({target.id}) for good?", yes, f"refusing to delete {target.ref}")
        ref = target.id  # the key confirmed, even if its name meanwhile went to another
    deleted = ks.delete(ref)
    state(ctx).done = f"{deleted.ref} was deleted"  # should the confirmation fail to print
    render.key(deleted, as_json, ks.catalog)


@app.command("log")
def log_cmd(
    ctx: typer.Context,
    key: Annotated[Optional[str], typer.Argument(
        metavar="[KEY]", autocompletion=complete_key,
        help="Only this key's trail: its id, or its name (a deleted key's too).")] = None,
    limit: Annotated[Optional[int], typer.Option("--limit", metavar="N", min=1, help="At most this many entries.")] = None,
    no_headers: NO_HEADERS = False,
    as_json: JSON = False,
) -> None:
    """Show the audit trail, newest first: time (UTC), OS user, action, key, details.

    Each entry names its key by the name it had then, so a deleted key's trail is
    found by its old name too (a name a key has now finds that key's trail only). At a terminal, a table that fits its width; piped,
    one entry per line, tab-separated, under a header.

    Examples:

    \b
      keyctl log ci-bot --limit 5
      keyctl log --json | jq '.[] | select(.action == "delete")'
      keyctl log old-bot          # a deleted key, by the name it had
    """
    ks = state(ctx).keystore()
    render.log(ks.log(read_key(key) if key is not None else None, limit), as_json, headers=not no_headers)
