"""PURE: the manifest of ``keyctl apply`` (a TOML file of keys identified by name),
parsed and validated into frozen values, and written back by ``keyctl export``.

No I/O here: the caller reads the file and hands in its text, its name (for messages
and the audit trail), the catalog (scope names) and "now" (relative expiry checks).

A manifest::

    [keys.ci-bot]
    scopes = ["predict", "inputs.get"]   # required, at least one
    description = "CI predictions"       # optional; absent means none
    expires = "90d"                      # optional, WHEN as for --expires; absent means never
    enabled = true                       # optional, default true

Every problem becomes a :class:`keyctl.errors.ManifestError` (exit 2) whose message
names the file, the key and the field: ``team.toml: keys.ci-bot.scopes: unknown scope
'inputs.pach'; did you mean 'inputs.patch'?``. All problems are collected (a manifest
of 500 people should not take 500 runs to fix); the error's message is the first one
and ``problems`` holds every one.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timezone
from typing import TYPE_CHECKING, Any, Iterable, Iterator, NamedTuple

from .errors import InvalidWhenError, ManifestError, UnknownScopeError
from .tokens import description_problem, name_problem
from .text import printable
from .when import is_relative, iso, parse_when, to_utc

if TYPE_CHECKING:  # pragma: no cover
    from .catalog import Catalog

# 16 MiB holds about 100,000 keys; a larger file is a mistake or an attack, and
# tomllib (pure Python) would spend minutes on it.
MAX_MANIFEST_BYTES = 16 * 1024 * 1024
MAX_PROBLEMS = 50  # listed; the rest are counted

KEY_FIELDS = ("scopes", "description", "expires", "enabled")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
# parse_when refuses a time that is not after "now". An absolute expiry in a manifest
# may lie in the past when it describes a key that has already expired (`keyctl export`
# writes such keys), so absolute times are parsed against the earliest moment and the
# plan refuses only a past time that it would have to write.
_EPOCH = datetime(1, 1, 2, tzinfo=timezone.utc)


class KeySpec(NamedTuple):
    """One ``[keys.NAME]`` table, validated. Exactly one of ``expires_spec`` (a relative
    WHEN such as ``90d``, normalised) and ``expires_at`` (ISO 8601 UTC) is set, or
    neither (never expires)."""

    name: str
    scopes: frozenset[str]  # resolved scope ids (groups expanded), before prerequisites
    description: str | None = None
    expires_spec: str | None = None
    expires_at: str | None = None
    enabled: bool = True

    @property
    def expires(self) -> str | None:
        """The expiry as the manifest states it: ``90d``, an ISO time, or None (never)."""
        return self.expires_spec or self.expires_at


class Manifest(NamedTuple):
    source: str  # the file name, as given on the command line
    keys: tuple[KeySpec, ...]  # in file order
    warnings: tuple[str, ...] = ()
    catalog: "Catalog | None" = None  # the catalog its scope names were resolved with

    def names(self) -> frozenset[str]:
        return frozenset(k.name for k in self.keys)


def key_path(name: str) -> str:
    """``keys.NAME`` as TOML writes it, as a message quotes it: ``keys.ci-bot``,
    ``keys."ci.bot"`` (escaped, and cut when the name is too long to be one)."""
    if _BARE_KEY.fullmatch(name):
        path = f"keys.{name}"
    else:
        import json

        path = f"keys.{json.dumps(name, ensure_ascii=False)}"
    return printable(path, 90)


def shown(source: str) -> str:
    """The manifest's name (a file name as typed) as a message quotes it."""
    return printable(source, 200)


def _fail(source: str, problems: list[str]) -> ManifestError:
    where = shown(source)
    listed = [f"{where}: {p}" for p in problems[:MAX_PROBLEMS]]
    if len(problems) > MAX_PROBLEMS:
        listed.append(f"{where}: ... and {len(problems) - MAX_PROBLEMS} more problem(s)")
    more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
    return ManifestError(listed[0] + more, tuple(listed))


def parse_manifest(text: str, source: str, catalog: "Catalog", now: datetime) -> Manifest:
    """Parse and validate manifest TOML text. Raises ManifestError (every problem)."""
    if len(text) > MAX_MANIFEST_BYTES // 4 and len(text.encode("utf-8", "surrogatepass")) > MAX_MANIFEST_BYTES:
        raise _fail(source, [f"is larger than {MAX_MANIFEST_BYTES // (1024 * 1024)} MiB; split it into several manifests"])
    from .toml_guard import too_many_parts

    problem = too_many_parts(text)
    if problem:
        raise _fail(source, [problem])
    try:
        return _validated(_pieces(text), source, catalog, now)
    except _NotPlain:
        return _validated([_whole(text, source)], source, catalog, now)


def _validated(documents: Iterable[dict], source: str, catalog: "Catalog", now: datetime) -> Manifest:
    """The manifest that ``documents`` (parsed TOML: the whole text, or its pieces in
    order) make, validated."""
    fields: list[str] = []  # the top-level fields but keys
    problems: list[str] = []
    specs: list[KeySpec] = []
    for data in documents:
        fields += [field for field in data if field != "keys"]
        raw_keys = data.get("keys", {})
        if not isinstance(raw_keys, dict):
            problems.append(f"keys: must be a table of [keys.NAME] tables, not {_type(raw_keys)}")
            continue
        for name, body in raw_keys.items():
            spec = _key_spec(name, body, catalog, now, problems)
            if spec is not None:
                specs.append(spec)
    problems[:0] = [f"unknown field '{printable(field)}' at the top level; a manifest holds only [keys.NAME] tables"
                    for field in fields]
    if problems:
        raise _fail(source, problems)
    return Manifest(source, tuple(specs), tuple(f"{shown(source)}: {w}" for w in _case_twins(specs)), catalog)


def _whole(text: str, source: str) -> dict:
    import tomllib

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _fail(source, [_toml_problem(exc, text)]) from None
    except RecursionError:
        # tomllib recurses once per nested array or inline table.
        raise _fail(source, ["nested too deeply to be a manifest (arrays or tables inside each other)"]) from None


class _NotPlain(Exception):
    """The text is not plainly one [keys.NAME] table after another: it is parsed whole."""


PIECE = 500  # [keys.NAME] tables parsed at a time
# A line that may open a table (or a value) other than a plain [keys.NAME] header.
_OTHER_BRACKET = r"^(?:[ \t]+\[|\[(?!keys\.))"


def _pieces(text: str) -> Iterator[dict]:
    """The manifest's TOML parsed a few hundred [keys.NAME] tables at a time: for a
    whole document tomllib keeps bookkeeping that comes to a few hundred MiB for
    100,000 keys. The text is cut before lines that begin with ``[keys.``, only where
    no other line begins with a bracket; every piece must parse on its own, and no
    name or field may come twice. Anything else raises _NotPlain (then the text is
    parsed whole, which also says what is wrong with it in tomllib's words): so the
    pieces always make what the whole text makes."""
    import tomllib

    if re.search(_OTHER_BRACKET, text, re.MULTILINE):
        raise _NotPlain
    cuts = [0]
    seen = 0
    found = text.find("\n[keys.")
    while found != -1:
        seen += 1
        if seen % PIECE == 0:
            cuts.append(found + 1)
        found = text.find("\n[keys.", found + 1)
    cuts.append(len(text))
    names: set[str] = set()
    fields: set[str] = set()
    for start, end in zip(cuts, cuts[1:]):
        try:
            data = tomllib.loads(text[start:end])
        except (tomllib.TOMLDecodeError, RecursionError):
            raise _NotPlain from None
        keys = data.get("keys", {})
        other = data.keys() - {"keys"}
        if not isinstance(keys, dict) or other & fields or not names.isdisjoint(keys):
            raise _NotPlain
        fields |= other
        names.update(keys)
        yield data


def _key_spec(name: str, body: Any, catalog: "Catalog", now: datetime, problems: list[str]) -> KeySpec | None:
    path = key_path(name)
    before = len(problems)
    bad_name = name_problem(name)
    if bad_name:
        problems.append(f"{path}: invalid name: {bad_name}")
    if not isinstance(body, dict):
        problems.append(f"{path}: must be a table ([{path}] with scopes = [...]), not {_type(body)}")
        return None
    for field in body:
        if field not in KEY_FIELDS:
            problems.append(f"{path}.{printable(field)}: unknown field; a key has {', '.join(KEY_FIELDS)}")

    scopes: frozenset[str] = frozenset()
    raw_scopes = body.get("scopes")
    if raw_scopes is None:
        problems.append(f"{path}.scopes: missing; every key needs at least one scope, e.g. scopes = [\"predict\"]")
    elif not isinstance(raw_scopes, list) or not all(isinstance(s, str) for s in raw_scopes):
        problems.append(f"{path}.scopes: must be a list of scope names, e.g. [\"predict\", \"inputs.get\"]")
    elif not raw_scopes:
        problems.append(f"{path}.scopes: is empty; every key needs at least one scope")
    else:
        try:
            scopes = catalog.resolve_many(raw_scopes)
        except UnknownScopeError as exc:
            problems.append(f"{path}.scopes: {exc.message}")
        else:
            if not scopes:  # names that stand for no scope (a group a stored catalog left empty)
                problems.append(f"{path}.scopes: names no scope; every key needs at least one scope")

    description = body.get("description")
    if description is not None and not isinstance(description, str):
        problems.append(f"{path}.description: must be a string, not {_type(description)}")
        description = None
    if description == "":
        description = None  # "" and absent mean the same: no description
    if description and description_problem(description):
        problems.append(f"{path}.description: {description_problem(description)}")

    expires_spec, expires_at = None, None
    if "expires" in body:
        try:
            expires_spec, expires_at = _expiry(body["expires"], now)
        except InvalidWhenError as exc:
            problems.append(f"{path}.expires: {_when_message(exc)}")
        except ValueError as exc:
            problems.append(f"{path}.expires: {exc}")

    enabled = body.get("enabled", True)
    if not isinstance(enabled, bool):
        problems.append(f"{path}.enabled: must be true or false, not {_type(enabled)}")
        enabled = True

    if len(problems) > before:
        return None
    return KeySpec(name, scopes, description, expires_spec, expires_at, enabled)


def _expiry(value: Any, now: datetime) -> tuple[str | None, str | None]:
    """(relative spec, absolute ISO time) for an ``expires`` value; (None, None) = never.
    TOML's own dates and datetimes are accepted too (midnight UTC; UTC unless zoned)."""
    if isinstance(value, datetime):
        return None, iso(to_utc(value, f"'{value.isoformat()}'"))
    if isinstance(value, date):
        return None, iso(datetime.combine(value, time(0), tzinfo=timezone.utc))
    if not isinstance(value, str):
        raise ValueError(f"must be a string such as \"90d\", \"2027-01-31\" or \"never\", not {_type(value)}")
    text = value.strip().lower()
    if is_relative(text):
        parse_when(text, now)  # refuses 0d and times beyond the year 9999
        amount, unit = int(text[:-1]), text[-1]
        return f"{amount}{unit}", None  # "090D" and "90d" are the same spec
    moment = parse_when(value, _EPOCH)
    return None, iso(moment)


def _when_message(exc: InvalidWhenError) -> str:
    # parse_when speaks of the --expires option; here the value comes from the file.
    message = exc.message
    return message[len("--expires "):] if message.startswith("--expires ") else message


def _case_twins(specs: list[KeySpec]) -> list[str]:
    """Names that differ only by case are two keys to keyctl (names are case-sensitive,
    as in `create`), so this is allowed, but almost always a typo: say so."""
    seen: dict[str, str] = {}
    out = []
    for spec in specs:
        low = spec.name.lower()
        if low in seen:
            out.append(f"{key_path(seen[low])} and {key_path(spec.name)} differ only by case; they are two different keys")
        else:
            seen[low] = spec.name
    return out


# --- TOML syntax errors ------------------------------------------------------------------
_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")


def _toml_problem(exc: Exception, text: str) -> str:
    """tomllib's own message. Where the exception says where (``lineno``: Python 3.14
    and later), the ``keys.NAME`` table around that line is named too; its English
    message is never parsed."""
    line = getattr(exc, "lineno", None)
    message = getattr(exc, "msg", None) or str(exc)
    where = _table_at(text, line) if isinstance(line, int) else None
    at = f" (line {line}, column {getattr(exc, 'colno', '?')})" if isinstance(line, int) else ""
    return f"{where + ': ' if where else ''}not valid TOML: {printable(message, 200)}{at}"


def _table_at(text: str, line: int) -> str | None:
    """The ``keys.NAME`` table that line ``line`` of ``text`` is in, if any."""
    lines = text.splitlines()
    for i in range(min(line, len(lines)) - 1, -1, -1):
        header = _HEADER.match(lines[i])
        if header:
            parts = _split_dotted(header.group(1))
            if parts and len(parts) == 2 and parts[0] == "keys":
                return key_path(parts[1])
            return None
    return None


def _split_dotted(text: str) -> list[str] | None:
    import tomllib

    try:  # let tomllib read the header's dotted key, quotes and all
        data = tomllib.loads(f"[{text}]\n")
    except tomllib.TOMLDecodeError:
        return None
    parts = []
    while isinstance(data, dict) and len(data) == 1:
        (key, data), = data.items()
        parts.append(key)
    return parts


def _type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return f"the number {value}"
    if isinstance(value, float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string '{printable(value)}'"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return f"a {type(value).__name__}"




# --- writing (export) -------------------------------------------------------------------
def manifest_entry(scopes: list[str], description: str | None, expires: str | None, enabled: bool) -> dict[str, Any]:
    """One key as a manifest table. Defaults are left out: the manifest is declarative,
    so an absent field already means no description, never expires, enabled."""
    entry: dict[str, Any] = {"scopes": scopes}
    if description:
        entry["description"] = description
    if expires is not None:
        entry["expires"] = expires
    if not enabled:
        entry["enabled"] = False
    return entry


HEADER = (
    "# A keyctl manifest: the keys of a store, by name (no secrets, no ids).\n"
    "# Review the changes with `keyctl apply FILE --dry-run`, then `keyctl apply FILE`.\n"
)
CHUNK = 500  # keys written per piece of text


def dump_manifest(keys: "Iterable[tuple[str, dict[str, Any]]]") -> Iterator[str]:
    """The TOML text of a manifest, piece by piece (``keys``: (name, {"scopes",
    "description", "expires", "enabled"}), written in that order): the same text as
    one document, a few hundred keys at a time."""
    import tomli_w
    from itertools import islice

    yield HEADER + "\n"
    keys = iter(keys)
    first = True
    while True:
        chunk = {name: manifest_entry(f["scopes"], f["description"], f["expires"], f["enabled"])
                 for name, f in islice(keys, CHUNK)}
        if not chunk:
            break
        # Tables are separated by a blank line, between pieces as within one.
        yield ("" if first else "\n") + tomli_w.dumps({"keys": chunk})
        first = False
    if first:
        yield "[keys]\n"
