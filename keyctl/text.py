"""PURE: text that keyctl did not write, made safe to quote on a terminal."""

from __future__ import annotations


def printable(text: object, limit: int = 80) -> str:
    """``text`` as a message may quote it: control characters, escape sequences and
    bidirectional overrides escaped (``\\x1b``, ``\\u202e``) so that nothing typed or
    stored reaches a terminal raw, and cut at ``limit`` characters, escapes included
    (``...``)."""
    text = text if isinstance(text, str) else _shown(text, limit)
    cut = text[:limit]
    if not cut.isprintable():
        cut = "".join(c if c.isprintable() else _escape(c) for c in cut)
        if len(cut) > limit:
            return cut[:limit] + "..."
    return cut + ("..." if len(text) > limit else "")


def _shown(value: object, limit: int) -> str:
    """A value that is not text, as a message quotes it: tables and arrays (a catalog's
    or manifest's, nested as deep as TOML's dotted keys allow) to a few levels and items,
    never walked whole (``str()`` of a table nested a thousand deep recurses without
    end)."""
    if isinstance(value, (dict, list, tuple, set, frozenset)):
        import reprlib  # only where such a value is quoted: a problem's message

        short = reprlib.Repr()
        short.maxlevel = 3
        short.maxdict = short.maxlist = short.maxtuple = short.maxset = short.maxfrozenset = 6
        short.maxstring = short.maxother = max(limit, 10)
        return short.repr(value)
    return str(value)


def _escape(char: str) -> str:
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"
