"""The commands, one module per area; keyctl/cli.py imports them all.

Each command parses, calls KeyStore, and renders: no rule is decided here. The modules
do not use ``from __future__ import annotations``: Typer reads every command's
annotations on each start, and string annotations would have to be evaluated first
(tests/test_architecture.py keeps the rule)."""
