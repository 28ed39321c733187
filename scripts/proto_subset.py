"""A reader for the subset of protobuf text that Clarifai's API definitions use to say
who may call what: enum values with options, and the rpcs of a service with options.

No protobuf dependency: a tokenizer (comments, strings, identifiers, numbers,
punctuation) and a recursive walk over declarations. Everything else in a file
(messages, extends, imports, file options) is skipped as balanced blocks or
statements, so the reader only needs to understand what it reads.

    values = enum_values(text, "S")        # [EnumValue(name, number, options), ...]
    rpcs = service_rpcs(text, "V2")        # [Rpc(name, options), ...]

An option is a (name, value) pair; a name in parentheses keeps only its last part
(``(clarifai.auth.util.cl_auth_type)`` -> ``cl_auth_type``); a value is a string, an
identifier (``KeyAuth``, ``true``) or a number, or for a message literal
(``{ get: "..." }``) a tuple of (field, value) pairs. Repeated options stay repeated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterator

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<line_comment>//[^\n]*)
  | (?P<block_comment>/\*.*?\*/)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<number>-?(?:0[xX][0-9a-fA-F]+|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?))
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<punct>[{}\[\]()<>=;,:.])
    """,
    re.VERBOSE | re.DOTALL,
)


class ProtoError(ValueError):
    """Text this reader does not understand, with the line it is on."""


@dataclass(frozen=True)
class Token:
    kind: str  # string | number | ident | punct
    value: str
    line: int


@dataclass(frozen=True)
class EnumValue:
    name: str
    number: int
    options: tuple[tuple[str, object], ...]


@dataclass(frozen=True)
class Rpc:
    name: str
    options: tuple[tuple[str, object], ...]


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos, line = 0, 1
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise ProtoError(f"line {line}: unexpected character {text[pos]!r}")
        kind = m.lastgroup or ""
        if kind in ("string", "number", "ident", "punct"):
            tokens.append(Token(kind, m.group(), line))
        line += m.group().count("\n")
        pos = m.end()
    return tokens


class _Reader:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.i = 0

    def peek(self, ahead: int = 0) -> Token | None:
        j = self.i + ahead
        return self.tokens[j] if j < len(self.tokens) else None

    def take(self, expected: str | None = None) -> Token:
        tok = self.peek()
        if tok is None:
            raise ProtoError(f"unexpected end of text{f', expected {expected!r}' if expected else ''}")
        if expected is not None and tok.value != expected:
            raise ProtoError(f"line {tok.line}: expected {expected!r}, found {tok.value!r}")
        self.i += 1
        return tok

    def at(self, value: str) -> bool:
        tok = self.peek()
        return tok is not None and tok.value == value

    def skip_block(self) -> None:
        """From an opening brace to its match (braces inside strings are tokens of
        their own kind, so they do not count)."""
        self.take("{")
        depth = 1
        while depth:
            tok = self.take()
            if tok.kind == "punct" and tok.value in "{}":
                depth += 1 if tok.value == "{" else -1

    def skip_statement(self) -> None:
        """To the end of a statement: its ``;``, or a block it ends with."""
        while True:
            if self.at("{"):
                self.skip_block()
                return
            if self.take().value == ";":
                return

    def option_name(self) -> str:
        if self.at("("):
            self.take("(")
            name = self.take().value
            self.take(")")
        else:
            name = self.take().value
        while self.at("."):  # (ext).field
            self.take(".")
            name = self.take().value
        return name.rsplit(".", 1)[-1]

    def option_value(self) -> object:
        if self.at("{"):
            return self.message_literal()
        tok = self.take()
        if tok.kind == "string":
            return tok.value[1:-1]
        if tok.kind == "number":
            return int(tok.value, 0) if re.fullmatch(r"-?(0[xX])?[0-9a-fA-F]+", tok.value) else float(tok.value)
        if tok.kind == "ident":
            return tok.value
        raise ProtoError(f"line {tok.line}: unexpected {tok.value!r} as an option's value")

    def message_literal(self) -> tuple[tuple[str, object], ...]:
        """``{ get: "/v2/..." additional_bindings { ... } }`` as (field, value) pairs,
        a nested literal as a tuple of its own pairs."""
        self.take("{")
        fields: list[tuple[str, object]] = []
        while not self.at("}"):
            name = self.take().value
            if self.at(":"):
                self.take(":")
            fields.append((name, self.option_value()))
            if self.at(",") or self.at(";"):
                self.take()
        self.take("}")
        return tuple(fields)

    def bracket_options(self) -> list[tuple[str, object]]:
        """``[a = 1, (b) = X, ...]``, or nothing."""
        options: list[tuple[str, object]] = []
        if not self.at("["):
            return options
        self.take("[")
        while True:
            name = self.option_name()
            self.take("=")
            options.append((name, self.option_value()))
            if self.at(","):
                self.take(",")
                continue
            self.take("]")
            return options


def _find(reader: _Reader, keyword: str, name: str) -> bool:
    """Move to just inside the first ``keyword name {`` (at any depth: a nested
    declaration is found too); False when there is none."""
    while reader.peek() is not None:
        tok = reader.take()
        after, brace = reader.peek(), reader.peek(1)
        if (tok.kind == "ident" and tok.value == keyword and after is not None and after.value == name
                and brace is not None and brace.value == "{"):
            reader.take()
            reader.take("{")
            return True
    return False


def _members(text: str, keyword: str, name: str, wanted: Callable[[Token], bool]) -> Iterator[_Reader]:
    """The reader at each declaration of ``keyword name { ... }`` whose first token
    ``wanted`` accepts (it must read the declaration whole); the rest are skipped."""
    reader = _Reader(text)
    if not _find(reader, keyword, name):
        raise ProtoError(f"no {keyword} {name}")
    while not reader.at("}"):
        tok = reader.peek()
        if tok is None:
            raise ProtoError(f"{keyword} {name} is not closed")
        if wanted(tok):
            yield reader
        else:
            reader.skip_statement()  # option, reserved, an empty statement


def enum_values(text: str, enum: str) -> list[EnumValue]:
    """The values of ``enum NAME { ... }``, in the order written."""
    values: list[EnumValue] = []
    is_value = lambda tok: tok.kind == "ident" and tok.value not in ("option", "reserved")  # noqa: E731
    for reader in _members(text, "enum", enum, is_value):
        name = reader.take()
        reader.take("=")
        number = reader.take()
        if number.kind != "number":
            raise ProtoError(f"line {number.line}: expected the number of {name.value}")
        options = reader.bracket_options()
        reader.take(";")
        values.append(EnumValue(name.value, int(number.value, 0), tuple(options)))
    return values


def service_rpcs(text: str, service: str) -> list[Rpc]:
    """The rpcs of ``service NAME { ... }``, in the order written, with their options."""
    rpcs: list[Rpc] = []
    for reader in _members(text, "service", service, lambda tok: tok.value == "rpc"):
        reader.take("rpc")
        name = reader.take()
        if name.kind != "ident":
            raise ProtoError(f"line {name.line}: expected an rpc's name, found {name.value!r}")
        for _ in range(2):  # (stream? Request) returns (stream? Response)
            reader.take("(")
            while not reader.at(")"):
                reader.take()
            reader.take(")")
            if reader.at("returns"):
                reader.take("returns")
        options: list[tuple[str, object]] = []
        if reader.at(";"):
            reader.take(";")
        else:
            reader.take("{")
            while not reader.at("}"):
                if reader.at("option"):
                    reader.take("option")
                    option = reader.option_name()
                    reader.take("=")
                    options.append((option, reader.option_value()))
                    reader.take(";")
                else:
                    reader.skip_statement()
            reader.take("}")
        rpcs.append(Rpc(name.value, tuple(options)))
    return rpcs
