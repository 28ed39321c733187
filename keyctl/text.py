"""PURE: text that keyctl did not write, made safe to quote on a terminal."""

from __future__ import annotations


def printable(text: object, limit: int = 80) -> str:
    """``text`` as a message may quote it: control characters, escape sequences and
    bidirectional overrides escaped (``\\x1b``, ``\\u202e``) so that nothing typed or
    stored reaches a terminal raw, and cut at ``limit`` characters, escapes included
    (``...``)."""
    text = str(text)
    cut = text[:limit]
    if not cut.isprintable():
        cut = "".join(c if c.isprintable() else _escape(c) for c in cut)
        if len(cut) > limit:
            return cut[:limit] + "..."
    return cut + ("..." if len(text) > limit else "")


def _escape(char: str) -> str:
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"
