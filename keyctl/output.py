"""Standard output, written so that a failure is always a keyctl error: every byte of
data keyctl prints (keyctl/render.py's tables, lines and JSON, Rich's included) goes
through :func:`write`, which raises OutputError when stdout cannot take it (a full
disk, a closed pipe) and never crashes on a character stdout cannot encode.

* A stdout that cannot encode non-ASCII text (``LC_ALL=C``, ``PYTHONIOENCODING=ascii``)
  gets ASCII marks (``[allowed]``), JSON with ``\\u`` escapes, and anything else with
  backslash escapes.
* JSON written to a terminal escapes every non-ASCII character too, so that a
  description or name holding a bidirectional override or a C1 control (U+202E,
  U+009B) cannot reorder or drive the terminal; JSON to a pipe or a file is unchanged.
"""

from __future__ import annotations

import json
import os
import re
import sys
from typing import Any, Iterable

from .errors import OutputError
from .text import printable


def ascii_only() -> bool:
    """True when stdout cannot encode the marks keyctl prints (✔, …)."""
    encoding = getattr(sys.stdout, "encoding", None) or "ascii"
    try:
        "✔◐✘…é".encode(encoding)
    except (UnicodeEncodeError, LookupError):
        _escape_what_cannot_be_encoded()
        return True
    return False


def json_ascii() -> bool:
    """True when JSON (and the TOML of export) must escape non-ASCII: stdout cannot
    encode it, or is a terminal."""
    if ascii_only():
        return True
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError, OSError):
        return False


def _escape_what_cannot_be_encoded() -> None:
    # User text (a description) may hold what stdout cannot encode: escape it, never crash.
    if getattr(sys.stdout, "errors", "strict") == "strict" and hasattr(sys.stdout, "reconfigure"):
        try:
            sys.stdout.reconfigure(errors="backslashreplace")
        except (ValueError, OSError):  # pragma: no cover - a stream that cannot change
            pass


def write(text: str, during_change: bool = False) -> None:
    """Text to stdout; OutputError when it cannot be written."""
    stream = sys.stdout
    try:
        target = getattr(stream, "buffer", None)
        if target is None:  # a text-only stream (an embedding program's)
            _write_text(stream, text)
        else:
            _write_all(stream, target, _encoded(stream, text))
    except OSError as exc:
        raise _output_error(exc, during_change) from None
    except ValueError as exc:  # stdout closed (I/O operation on closed file)
        raise OutputError(f"could not write to standard output ({exc})") from None


def _write_all(stream: Any, target: Any, data: bytes) -> None:
    """``data`` to the binary layer under stdout, all of it. The text layer drops the
    rest of a write that a pipe took only in part (its reader went away meanwhile)
    without a word; written here, the rest is written again and fails as it should."""
    global _text_flushed
    if not _text_flushed:  # whatever reached the text layer before goes out first
        stream.flush()
        _text_flushed = True
    view = memoryview(data)
    while view:
        written = target.write(view)
        view = view[len(view) if written is None else written:]


_text_flushed = False


def _encoded(stream: Any, text: str) -> bytes:
    if os.linesep != "\n":  # the newline translation the text layer would have made
        text = text.replace("\n", os.linesep)
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        return text.encode(encoding, getattr(stream, "errors", None) or "strict")
    except UnicodeEncodeError:
        _escape_what_cannot_be_encoded()
        return text.encode(encoding, "backslashreplace")
    except LookupError:
        return text.encode("utf-8", "backslashreplace")


def _write_text(stream: Any, text: str) -> None:
    try:
        stream.write(text)
    except UnicodeEncodeError:
        _escape_what_cannot_be_encoded()
        encoding = getattr(stream, "encoding", None) or "ascii"
        stream.write(text.encode(encoding, "backslashreplace").decode(encoding))


def flush(during_change: bool = False) -> None:
    """Everything written so far, out now: a secret must reach its reader before the
    change that made it commits."""
    try:
        sys.stdout.flush()
    except OSError as exc:
        raise _output_error(exc, during_change) from None
    except ValueError as exc:
        raise OutputError(f"could not write to standard output ({exc})") from None


def _output_error(exc: OSError, during_change: bool) -> OutputError:
    broken = isinstance(exc, BrokenPipeError)
    reason = "the reader went away" if broken else (exc.strerror or str(exc))
    return OutputError(f"could not write to standard output ({reason})", quiet=broken and not during_change)


def out(text: str = "") -> None:
    """A line for people, with anything that could drive a terminal escaped (a line that
    carries keyctl's own colours is written with :func:`write`, its parts escaped)."""
    write(printable(text, 10 * len(text)) + "\n")  # whole: an escape is at most 10 characters


def emit_json(data: Any) -> None:
    write(json.dumps(data, indent=2, ensure_ascii=json_ascii()) + "\n")


def emit_json_stream(items: Iterable[dict]) -> None:
    """A JSON array written as it is read, a few hundred items at a time: constant
    memory for any number of keys, and the first item out at once."""
    ascii_ = json_ascii()
    dumps = json.dumps
    parts = ["["]
    count = 0
    for item in items:
        parts.append("\n  " if count == 0 else ",\n  ")
        parts.append(dumps(item, ensure_ascii=ascii_))
        count += 1
        if count == 1 or len(parts) >= 512:
            write("".join(parts))
            parts = []
    parts.append("\n]\n" if count else "]\n")
    write("".join(parts))


def toml_ascii(text: str) -> str:
    """TOML text with every non-ASCII character written as a \\u escape. Valid where the
    characters are in basic strings, as everywhere in what keyctl writes (names are
    ASCII; descriptions are quoted)."""
    return re.sub(r"[^\x00-\x7f]", lambda m: _unicode_escape(m.group()), text)


def _unicode_escape(char: str) -> str:
    code = ord(char)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


class RichFile:
    """Stdout as Rich's Console sees it: its writes go through :func:`write`, so a full
    disk or a closed pipe is an OutputError there too, and text stdout cannot encode is
    escaped."""

    def write(self, text: str) -> int:
        write(text)
        return len(text)

    def flush(self) -> None:
        flush()

    def isatty(self) -> bool:
        try:
            return sys.stdout.isatty()
        except (AttributeError, ValueError, OSError):
            return False

    def fileno(self) -> int:
        return sys.stdout.fileno()

    @property
    def encoding(self) -> str:
        return getattr(sys.stdout, "encoding", None) or "utf-8"
