"""``keyctl check`` and its TAB, answered without Typer.

They are the calls paid again and again: in shell loops and services' health checks
(``check``), and on every TAB. Importing Typer and building its commands alone costs
about four times what Python's own start does (bench/README.md), more than the whole
of the work that follows; so ``main()`` first offers the command line to this module,
which handles only the plainest forms and hands everything else to Typer, unchanged:

    keyctl [--db PATH] [--catalog NAME|FILE] check KEY [OPERATION ...] [--json]

and bash completion of OPERATION after ``check KEY``. Anything else (help, another
command, an unknown or repeated option, ``--``, zsh or fish completion) returns None
and Typer parses it. What this path prints comes from the same code as Typer's path
(KeyStore.check_many, render.check, keyctl/edge.py), and tests/test_fastpath.py runs
each case both ways and requires the same output and exit status.
"""

from __future__ import annotations

import os
import sys
from typing import Mapping, Sequence

_GLOBAL = ("--db", "--catalog")


def _globals(args: Sequence[str]) -> tuple[dict[str, str], list[str]] | None:
    """The global options before the command, and the rest; None when they are not
    plain (repeated, empty, or anything else starting with '-')."""
    found: dict[str, str] = {}
    i = 0
    while i < len(args) and args[i].startswith("-"):
        word = args[i]
        name, eq, value = word.partition("=")
        if name not in _GLOBAL or name in found:
            return None
        if not eq:
            if i + 1 >= len(args):
                return None
            value = args[i + 1]
            i += 1
        if not value or "\0" in value:
            return None
        found[name] = value
        i += 1
    return found, list(args[i:])


def run_check(args: Sequence[str]) -> int | None:
    """Run ``check`` when ``args`` is its plain form; the exit status, or None."""
    parsed = _globals(args)
    if parsed is None:
        return None
    options, rest = parsed
    if not rest or rest[0] != "check":
        return None
    as_json = False
    positional: list[str] = []
    for word in rest[1:]:
        if word == "--json":
            as_json = True
        elif word.startswith("-") and word != "-":
            return None  # --help, -h, --, unknown options: Typer's to answer
        else:
            positional.append(word)
    if not positional:
        return None  # Typer's "missing argument" message
    key, operations = positional[0], positional[1:]

    from . import render
    from .edge import EXIT_FOR_OUTCOME, expected, failed, open_keystore, read_key

    try:
        keystore = open_keystore(options.get("--db"), options.get("--catalog"))
        report = keystore.check_many(read_key(key), operations)
        render.check(report, as_json)
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
    parsed = _globals(words[1:cword])
    if parsed is None or incomplete.startswith("-"):
        return None
    options, rest = parsed
    if len(rest) < 2 or rest[0] != "check" or any(w.startswith("-") and w != "-" for w in rest[1:]):
        return None
    from .edge import open_keystore

    try:
        catalog = open_keystore(options.get("--db"), options.get("--catalog")).catalog
    except Exception:  # completion never prints an error
        return ""
    # As app.complete_operation, then Typer's own filter: values that start with what
    # was typed, as typed.
    values = [op for op in catalog.operations if op.startswith(incomplete)]
    if "all".startswith(incomplete):
        values.append("all")
    return "\n".join(values)


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
