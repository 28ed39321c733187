"""PostgreSQL URLs as keyctl reads them, without psycopg (so that a URL can be
recognised, shown with its password hidden and refused with a clear message on a
machine where psycopg is not installed).

    postgresql://[user[:password]@][host][:port]/dbname[?param=value&...]

``postgres://`` works too. Any libpq parameter may follow ``?`` (``host=/run/postgresql``
for a unix socket, ``sslmode=verify-full``, ``service=team``...). keyctl's tables live
in one schema: ``keyctl``, or the first schema of a search_path given in ``options``
(``?options=-csearch_path%3Dteam``; the ``=`` inside a value may also be written as is).
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote

DEFAULT_SCHEMA = "keyctl"
HIDDEN = "***"

# -c search_path=a,b  |  -csearch_path=a  |  --search_path=a  (libpq's options string)
_SEARCH_PATH = re.compile(r"(?:-c\s*|--)search_path=((?:\\.|[^\s\\])+)")
_PASSWORD_PARAM = re.compile(r"([?&]password=)[^&]*", re.IGNORECASE)


def hide_password(url: str) -> str:
    """``url`` with any password (in the user part or as ``password=``) shown as ***."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    netloc_end = len(rest)
    for mark in "/?#":
        found = rest.find(mark)
        if found != -1:
            netloc_end = min(netloc_end, found)
    netloc, tail = rest[:netloc_end], rest[netloc_end:]
    userinfo, at, hosts = netloc.rpartition("@")
    if at and ":" in userinfo:
        netloc = f"{userinfo.split(':', 1)[0]}:{HIDDEN}@{hosts}"
    tail = _PASSWORD_PARAM.sub(lambda m: m.group(1) + HIDDEN, tail)
    return f"{scheme}{sep}{netloc}{tail}"


def has_password(url: str) -> bool:
    return hide_password(url) != url


def escaped(url: str) -> str:
    """libpq refuses a second '=' inside a query value (``options=-csearch_path=x``):
    it is encoded here, so that the form people write works."""
    head, q, query = url.partition("?")
    if not q:
        return url
    parts = []
    for item in query.split("&"):
        key, eq, value = item.partition("=")
        parts.append(f"{key}{eq}{value.replace('=', quote('='))}")
    return f"{head}?{'&'.join(parts)}"


def schema_of(options: str | None) -> str:
    """The schema keyctl uses: the first of the search_path in libpq's ``options``, else
    ``keyctl``."""
    found = _SEARCH_PATH.search(options or "")
    if not found:
        return DEFAULT_SCHEMA
    first = re.sub(r"\\(.)", r"\1", found.group(1)).split(",")[0].strip()
    if len(first) >= 2 and first[0] == first[-1] == '"':
        first = first[1:-1].replace('""', '"')
    return first or DEFAULT_SCHEMA


def scrub(text: str, url: str) -> str:
    """``text`` (a driver's message) without the URL's password in it."""
    secrets = []
    userinfo = url.partition("://")[2].split("/", 1)[0].rpartition("@")[0]
    if ":" in userinfo:
        secrets.append(userinfo.split(":", 1)[1])
    secrets += [m.group(0).split("=", 1)[1] for m in _PASSWORD_PARAM.finditer(url)]
    for secret in secrets:
        for form in {secret, unquote(secret)}:
            if len(form) >= 3:  # shorter, it would blot out ordinary text
                text = text.replace(form, HIDDEN)
    return text


def options_of(url: str) -> str | None:
    """The ``options`` parameter of a URL's query (libpq's decoding: no '+' for space)."""
    query = escaped(url).partition("?")[2].partition("#")[0]
    for item in query.split("&"):
        key, _, value = item.partition("=")
        if unquote(key) == "options":
            return unquote(value)
    return None
