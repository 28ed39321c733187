"""Shell completion beyond names and scopes (keyctl/app.py has those): catalogs and
files, --status, the scopes a key holds, and keyctl's own bash script.

The shell runs keyctl on every TAB, so each function reads as little as it can: a
folder listing, or one key by its name.
"""

from __future__ import annotations

import os
from typing import Any

# keyctl's bash script, given by --show-completion and --install-completion. Typer's
# falls back to file names whenever keyctl offers nothing (`complete -o default`), so
# `--expires <TAB>` offered the files of the current folder. This one offers exactly
# what keyctl answers (keyctl lists files itself where a file is wanted), lets TAB go
# on into a folder, and gives keyctl `--db=PATH` whole where bash splits it at the =.
BASH_SCRIPT = r"""
%(complete_func)s() {
    local IFS=$'\n' words=() cword=0 i
    for ((i = 0; i < ${#COMP_WORDS[@]}; i++)); do
        if [[ ${COMP_WORDS[i]} == "=" && ${words[-1]} == --* && ${words[-1]} != *=* ]] ||
           [[ $i -gt 0 && ${COMP_WORDS[i-1]} == "=" && ${words[-1]} == --*= ]]; then
            words[-1]+=${COMP_WORDS[i]}
        else
            words+=("${COMP_WORDS[i]}")
        fi
        if ((i == COMP_CWORD)); then cword=$((${#words[@]} - 1)); fi
    done
    COMPREPLY=( $( env COMP_WORDS="${words[*]}" \
                   COMP_CWORD=$cword \
                   %(autocomplete_var)s=complete_bash $1 ) )
    if [[ ${COMP_WORDS[COMP_CWORD]} == "=" ]]; then  # bash replaces the "=" itself
        COMPREPLY=("${COMPREPLY[@]/#/=}")
    fi
    if [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == */ ]]; then
        compopt -o nospace
    fi
    return 0
}

complete -F %(complete_func)s %(prog_name)s
"""


def use_keyctl_bash_script() -> None:
    """Make Typer's --show-completion, --install-completion and ``source_bash`` give
    BASH_SCRIPT. Typer has no setting for it: its template is replaced where Typer
    looks it up (tests/test_shell.py checks all three)."""
    from typer import _completion_classes, _completion_shared

    _completion_shared._completion_scripts["bash"] = BASH_SCRIPT
    _completion_classes.BashComplete.source_template = BASH_SCRIPT


def complete_path(incomplete: str, suffix: str = "") -> list[str]:
    """Folders (with a trailing /) and files ending in ``suffix`` whose path starts
    with what was typed (hidden ones only when a dot was typed)."""
    cut = incomplete.rfind("/") + 1
    head, start = incomplete[:cut], incomplete[cut:]
    try:
        entries = list(os.scandir(os.path.expanduser(head) if head else "."))
    except OSError:
        return []
    out = []
    for entry in entries:
        if not entry.name.startswith(start) or (entry.name[:1] == "." and start[:1] != "."):
            continue
        try:
            folder = entry.is_dir()
        except OSError:
            continue
        if folder:
            out.append(head + entry.name + "/")
        elif entry.name.endswith(suffix):
            out.append(head + entry.name)
    return sorted(out)[:200]


def complete_catalog(ctx: Any, incomplete: str) -> list[str]:
    """The built-in catalogs' names, then catalog files (.toml) and folders."""
    from .catalog.load import BUILTIN_CATALOGS

    return [name for name in BUILTIN_CATALOGS if name.startswith(incomplete)] + complete_path(incomplete, ".toml")


def complete_manifest(ctx: Any, incomplete: str) -> list[str]:
    """Manifest files (.toml) and folders."""
    return complete_path(incomplete, ".toml")


def complete_status(ctx: Any, incomplete: str) -> list[str]:
    from .models import STATUSES

    return [s for s in STATUSES if s.startswith(incomplete)]


def complete_held_scope(ctx: Any, incomplete: str) -> list[str]:
    """After ``scope remove KEY``: the scopes KEY holds (and its groups it holds whole),
    less those already typed."""
    from .app import _completion_keystore

    ref = ctx.params.get("key")
    ks = _completion_keystore(ctx)
    if ks is None or not ref or ref == "-":
        return []
    try:
        key = ks.get(ref)
        catalog = ks.catalog
    except Exception:  # completion never prints an error
        return []
    held = catalog.expand(key.granted)
    typed = set(ctx.params.get("scopes") or ())
    head, _, last = incomplete.rpartition(",")
    prefix = f"{head}," if head else ""
    typed |= set(head.split(",")) if head else set()
    groups = [g for g, members in catalog.groups.items() if set(members) <= held]
    return [prefix + s for s in [*groups, *catalog.sorted_ids(held)]
            if s.startswith(last.lower()) and s not in typed]
