"""``keyctl check`` and its TAB, answered without Typer.

They are the calls paid again and again: in shell loops and services' health checks
(``check``), and on every TAB. Importing Typer and building its commands alone costs
several times what Python's own start does (bench/RESULTS.md), more than the whole
of the work that follows; so ``main()`` first offers the command line to this module,
which handles only the plainest forms and hands everything else to Typer, unchanged:

    keyctl [--db PATH] [--catalog NAME|FILE] check KEY [OPERATION ...] [--json | -q]

(the global options also after ``check``), and bash completion of OPERATION after
``check KEY``. Anything else (help, another command, an unknown option, a global
option given twice differently, ``--``, zsh or fish completion) returns None and
Typer parses it. What this path prints comes from the same code as Typer's path
(KeyStore.check_many, render.check, keyctl/edge.py), and tests/test_fastpath.py runs
each case both ways and requires the same output and exit status.
"""

from __future__ import annotations

import os
import sys
from typing import Mapping, Sequence

_GLOBAL = ("--db", "--catalog")
_QUIET = ("-q", "--quiet")


def _global(args: Sequence[str], i: int, found: dict[str, str]) -> int | None:
    """Record the global option at ``args[i]`` (``--db X`` or ``--db=X``) in ``found``;
    the index of the word after it, or None when it is not plain (no value, an empty
    one, or another value than the one given before: Typer's to refuse)."""
    name, eq, value = args[i].partition("=")
    if not eq:
        if i + 1 >= len(args):
            return None
        i += 1
        value = args[i]
    if not value or "\0" in value or found.get(name, value) != value:
        return None
    found[name] = value
    return i + 1


def _parse(args: Sequence[str]) -> tuple[dict[str, str], set[str], list[str]] | None:
    """A plain ``check`` command line: the global options (before or after ``check``),
    the flags after ``check`` (--json, -q/--quiet) and its positional words; None for
    anything else."""
    found: dict[str, str] = {}
    i = 0
    while i < len(args) and args[i] != "check":
        if args[i].partition("=")[0] not in _GLOBAL:
            return None  # another command, or an option only Typer knows
        step = _global(args, i, found)
        if step is None:
            return None
        i = step
    if i >= len(args):
        return None
    flags: set[str] = set()
    positional: list[str] = []
    i += 1
    while i < len(args):
        word = args[i]
        if word.partition("=")[0] in _GLOBAL:
            step = _global(args, i, found)
            if step is None:
                return None
            i = step
            continue
        if word == "--json" or word in _QUIET:
            flags.add("--quiet" if word in _QUIET else word)
        elif word.startswith("-") and word != "-":
            return None  # --help, -h, --, unknown options: Typer's to answer
        else:
            positional.append(word)
        i += 1
    return found, flags, positional


def run_check(args: Sequence[str]) -> int | None:
    """Run ``check`` when ``args`` is its plain form; the exit status, or None."""
    parsed = _parse(args)
    if parsed is None:
        return None
    options, flags, positional = parsed
    if not positional or flags == {"--json", "--quiet"}:
        return None  # Typer's "missing argument", or its refusal of both flags
    key, operations = positional[0], positional[1:]

    from . import render
    from .edge import EXIT_FOR_OUTCOME, expected, failed, open_keystore, read_key

    try:
        keystore = open_keystore(options.get("--db"), options.get("--catalog"))
        report = keystore.check_many(read_key(key), operations)
        if "--quiet" not in flags:
            render.check(report, "--json" in flags, keystore.catalog)
        render.flush()
        return EXIT_FOR_OUTCOME[report.outcome.value]
    except BaseException as exc:
        if os.environ.get("KEYCTL_DEBUG") and not expected(exc):
            raise
        return failed(exc)


def complete_bash(env: Mapping[str, str]) -> str | None:
    """The bash completion of an OPERATION after ``check KEY``, in Typer's bash format
    (one value a line); None for anything else."""
    if env.get("_KEYCTL_COMPLETE") != "complete_bash":
        return None
    import shlex

    try:
        words = shlex.split(env.get("COMP_WORDS", ""))
        cword = int(env.get("COMP_CWORD", ""))
    except ValueError:
        return None
    if cword < 1 or cword > len(words):
        return None
    incomplete = words[cword] if cword < len(words) else ""
    parsed = _parse(words[1:cword])
    if parsed is None or incomplete.startswith("-"):
        return None
    options, flags, positional = parsed
    if flags or not positional:
        return None
    from .edge import open_keystore

    try:
        catalog = open_keystore(options.get("--db"), options.get("--catalog")).catalog
    except Exception:  # completion never prints an error
        return ""
    # As app.complete_operation: any case typed, the catalog's spelling offered.
    return "\n".join(catalog.complete_operations(incomplete))


def main(argv: Sequence[str], env: Mapping[str, str]) -> int | None:
    """The exit status when this module answered the command line, else None."""
    if env.get("_KEYCTL_COMPLETE"):
        text = complete_bash(env)
        if text is None:
            return None
        try:
            sys.stdout.write(text + "\n")
            sys.stdout.flush()
        except (OSError, ValueError):  # the shell went away: completion never complains
            from .edge import quiet_stdout

            quiet_stdout()
            return 1
        return 0
    return run_check(argv)
