"""PURE: what the TOML reader must not be given. tomllib's memory grows with the square
of the parts of one dotted key (``x.a.a.a... = 1``, ``[keys.bob.a.a...]``): a 30 KB
file of one such key took over a gigabyte. No key keyctl reads has more than a few
parts, so a key of more than MAX_KEY_PARTS is refused before the text is parsed.

Only keys count: a comment, a line of an array or of a multi-line string, and the
dots inside a quoted part of a key (``keys."a.b"``) are no parts."""

import re

MAX_KEY_PARTS = 100
_QUOTED = r"\"(?:[^\"\\]|\\.)*\"|'[^']*'"  # compiled on first use (re keeps it)


def too_many_parts(text: str) -> str | None:
    """The problem with the first key (or table header) of more than MAX_KEY_PARTS
    dotted parts, naming its line; None when there is none."""
    if text.count(".") < MAX_KEY_PARTS:
        return None
    multiline = '"""' in text or "'''" in text
    inside: str | None = None  # the quotes of the multi-line string a line is in
    for number, line in enumerate(text.splitlines(), 1):
        if multiline:
            if inside is not None:
                inside = None if line.count(inside) % 2 else inside
                continue
            inside = next((q for q in ('"""', "'''") if line.count(q) % 2), None)
        if line.count(".") < MAX_KEY_PARTS:
            continue
        stripped = line.lstrip()
        if stripped.startswith("["):
            head = stripped.lstrip("[").split("]", 1)[0]
            if "," in head:  # a line of an array, not a table's header
                continue
        elif "=" in stripped and not stripped.startswith("#"):
            head = stripped.split("=", 1)[0]
        else:  # a comment, a line of an array
            continue
        if re.sub(_QUOTED, "q", head).count(".") >= MAX_KEY_PARTS:
            return (f"line {number}: a key of more than {MAX_KEY_PARTS} dotted parts (a.b.c...), more than "
                    "anything keyctl reads has")
    return None
