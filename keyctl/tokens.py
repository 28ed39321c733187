"""PURE (but for the operating system's randomness): the secret format, its checksum,
hashing, ids and names.

A secret is ``kc_`` + 30 base62 characters (178 random bits) + a 6-character base62
CRC32 of everything before it, as in GitHub's token format: a mistyped secret fails
its checksum and is told apart from an unknown one without touching the store.
"""

from __future__ import annotations

import re
import zlib
from typing import Any

# hashlib (OpenSSL) is imported by the function that uses it: `check` by name,
# completion and `list` need none, and its import is a visible part of a short call's
# start-up (bench/RESULTS.md). Randomness comes from ``secrets`` (the operating
# system's generator), imported by the functions that draw.

SECRET_PREFIX = "kc_"
ID_PREFIX = "key_"
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
BODY_LENGTH = 30  # 30 * log2(62) = 178.6 bits >= 160
CHECKSUM_LENGTH = 6  # 62**6 > 2**32
SECRET_LENGTH = len(SECRET_PREFIX) + BODY_LENGTH + CHECKSUM_LENGTH
# Patterns are compiled on first use (re keeps them): a command compiles only those
# it uses.
_NAME = r"[A-Za-z0-9._@-]{1,64}"
_B32 = "abcdefghijklmnopqrstuvwxyz234567"


def base62(number: int, width: int) -> str:
    pairs = _PAIRS or _pairs()  # two digits at a time (apply makes thousands of secrets)
    out = []
    while number:
        number, two = divmod(number, 3844)
        out.append(pairs[two])
    return "".join(reversed(out)).lstrip("0").rjust(width, "0")


def checksum(text: str) -> str:
    """The 6-character base62 CRC32 of ``text``."""
    n = zlib.crc32(text.encode("ascii"))  # below 2**32 < 62**6: six digits, two at a time
    pairs = _PAIRS or _pairs()
    return pairs[n // 14776336] + pairs[n // 3844 % 3844] + pairs[n % 3844]


def _pairs() -> list[str]:
    """Every two-digit base62 number, made on first use: a service's checks (which
    verify every secret's checksum) use them over and over."""
    global _PAIRS
    _PAIRS = [a + b for a in ALPHABET for b in ALPHABET]
    return _PAIRS


_PAIRS: list[str] = []


def new_secret() -> str:
    # One uniform draw below 62**30, written in base62: the same distribution as 30
    # calls of secrets.choice, at a tenth of the cost (apply creates thousands at once).
    body = SECRET_PREFIX + base62(random_below(62 ** BODY_LENGTH), BODY_LENGTH)
    return body + checksum(body)


def random_below(n: int) -> int:
    """A uniform random integer in [0, n) from the operating system's generator."""
    import secrets

    return secrets.randbelow(n)


def is_well_formed(secret: str) -> bool:
    """True when ``secret`` has the format and its checksum matches."""
    return has_format(secret) and checksum(secret[:-CHECKSUM_LENGTH]) == secret[-CHECKSUM_LENGTH:]


def has_format(secret: str) -> bool:
    """True when ``secret`` is ``kc_`` and 36 base62 characters (checksum not verified)."""
    body = secret[len(SECRET_PREFIX):]
    return len(secret) == SECRET_LENGTH and secret.startswith(SECRET_PREFIX) and body.isascii() and body.isalnum()


def hash_secret(secret: str) -> str:
    """What the store keeps: the hex SHA-256. A fast hash is right for a random
    178-bit secret: there is no dictionary to try (README, Security model)."""
    return _sha256()(secret.encode("utf-8", "surrogateescape")).hexdigest()


def _sha256() -> Any:
    """hashlib's sha256, imported on first use and kept (a service hashes every call)."""
    global _SHA256
    if _SHA256 is None:
        from hashlib import sha256

        _SHA256 = sha256
    return _SHA256


_SHA256: Any = None


def hint(secret: str) -> str:
    """The last four characters, so that a person can tell keys apart."""
    return secret[-4:]


def new_id() -> str:
    """``key_`` + 16 random lowercase base32 characters (80 bits)."""
    import secrets

    number = secrets.randbits(80)
    return ID_PREFIX + "".join(_B32[(number >> (5 * i)) & 31] for i in range(16))


def require_ref(ref: object) -> str:
    """A KEY as the library takes it (secret, id or name): a str (else TypeError), not
    empty (else UsageError, as on the command line)."""
    if not isinstance(ref, str):
        raise TypeError(f"a key is named by a secret, an id or a name (a str), not {type(ref).__name__}")
    if not ref:
        from .errors import UsageError

        raise UsageError("KEY is empty; give a secret, an id (key_...) or a name")
    return ref


def kind_of(ref: str) -> str:
    """How a KEY argument is read: ``secret``, ``id`` or ``name``."""
    if ref.startswith(SECRET_PREFIX):
        return "secret"
    if ref.startswith(ID_PREFIX):
        return "id"
    return "name"


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a key name, or None when it can."""
    if not re.fullmatch(_NAME, name):
        if not name:
            return "a key name cannot be empty"
        if len(name) > 64:
            return f"a key name has at most 64 characters (this one has {len(name)})"
        return "a key name may hold only letters, digits, '.', '_', '-' and '@'"
    if name.startswith((ID_PREFIX, SECRET_PREFIX)):
        return "a key name may not start with 'key_' or 'kc_' (those are ids and secrets)"
    if name == "-":
        return "a key name cannot be '-': as KEY, '-' reads a secret from standard input"
    return None


# C0 and C1 controls (escape sequences, NUL, newlines), the bidirectional overrides and
# marks that make text display in another order than it reads (Trojan Source), and lone
# surrogates (bytes the locale could not decode: not text a store can hold).
_UNSAFE_TEXT = "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"


MAX_DESCRIPTION = 1024  # characters: a sentence or a paragraph, not a document


def description_problem(text: str) -> str | None:
    """Why ``text`` cannot be a key's description, or None when it can. A description
    is printed to terminals by `show`: it may not carry control characters."""
    if len(text) > MAX_DESCRIPTION:
        return f"a description has at most {MAX_DESCRIPTION} characters (this one has {len(text)})"
    found = unsafe_char(text)
    if found and 0xD800 <= ord(found) <= 0xDFFF:
        return (f"a description must be text: it holds a byte that is not valid in the locale's encoding "
                f"(U+{ord(found):04X}); use UTF-8")
    if found:
        return f"a description may not hold control characters (found U+{ord(found):04X})"
    return None


def unsafe_char(text: str) -> str | None:
    """The first character of ``text`` that could drive or reorder a terminal (a C0 or
    C1 control, a bidirectional override or mark), or None."""
    found = re.search(_UNSAFE_TEXT, text)
    return found.group() if found else None
