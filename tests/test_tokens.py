"""The secret format and its checksum, hashing, ids and key names."""

from __future__ import annotations

import hashlib
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keyctl import tokens
from keyctl.tokens import (
    ALPHABET,
    SECRET_LENGTH,
    hash_secret,
    hint,
    is_well_formed,
    kind_of,
    name_problem,
    new_id,
    new_secret,
)

SECRETS = [new_secret() for _ in range(50)]
ID = re.compile(r"^key_[a-z2-7]{16}$")


def test_secret_length_constant():
    # kc_ + 30 body characters + 6 checksum characters.
    assert SECRET_LENGTH == 39


@pytest.mark.parametrize("secret", SECRETS[:10])
def test_new_secret_shape(secret):
    assert secret.startswith("kc_")
    assert len(secret) == SECRET_LENGTH
    assert set(secret[3:]) <= set(ALPHABET)
    assert is_well_formed(secret)


def test_new_secrets_differ():
    assert len(set(SECRETS)) == len(SECRETS)


def test_checksum_is_the_base62_crc32_of_the_rest():
    import zlib

    secret = SECRETS[0]
    crc = zlib.crc32(secret[:-6].encode("ascii"))
    digits = []
    for _ in range(6):
        crc, d = divmod(crc, 62)
        digits.append(ALPHABET[d])
    assert secret[-6:] == "".join(reversed(digits))


def _replacements(ch: str) -> list[str]:
    # Other alphabet characters (same class and not), and characters outside it.
    return [c for c in ("0", "9", "A", "Z", "a", "z", "_", "-", " ", "é") if c != ch] + [
        ALPHABET[(ALPHABET.index(ch) + 1) % 62] if ch in ALPHABET else "x"
    ]


@pytest.mark.parametrize("secret", SECRETS[:5])
def test_changing_any_one_character_breaks_the_secret(secret):
    changed = 0
    for pos in range(len(secret)):
        for repl in _replacements(secret[pos]):
            if repl == secret[pos]:
                continue
            bad = secret[:pos] + repl + secret[pos + 1 :]
            assert not is_well_formed(bad), (pos, repl, bad)
            changed += 1
    assert changed >= len(secret) * 10


bodies = st.text(alphabet=ALPHABET, min_size=tokens.BODY_LENGTH, max_size=tokens.BODY_LENGTH)


@settings(deadline=None)
@given(bodies)
def test_any_body_with_its_checksum_is_well_formed(body):
    secret = "kc_" + body
    assert is_well_formed(secret + tokens.checksum(secret))


@settings(deadline=None)
@given(bodies, st.integers(0, SECRET_LENGTH - 1), st.sampled_from(ALPHABET + "_-"), st.integers(1, 61))
def test_any_single_substitution_is_caught(body, pos, other, shift):
    secret = "kc_" + body
    secret += tokens.checksum(secret)
    # Either a character from the draw or, when that is the same one, a shifted one.
    if other != secret[pos]:
        repl = other
    elif other in ALPHABET:
        repl = ALPHABET[(ALPHABET.index(other) + shift) % 62]
    else:  # the '_' of the prefix
        repl = ALPHABET[shift]
    assert repl != secret[pos]
    assert not is_well_formed(secret[:pos] + repl + secret[pos + 1 :])


@pytest.mark.parametrize(
    "make",
    [
        lambda s: s[:-1],  # one short
        lambda s: s + "0",  # one long
        lambda s: s[1:],  # prefix cut
        lambda s: "KC_" + s[3:],  # prefix in capitals
        lambda s: s[:10] + s[11] + s[10] + s[12:],  # two characters swapped
        lambda s: " " + s[:-1],
        lambda s: s + "\n",
        lambda s: "",
        lambda s: "kc_",
    ],
)
def test_malformed_secrets(make):
    secret = next(s for s in SECRETS if s[10] != s[11])
    assert not is_well_formed(make(secret))


def test_hash_secret_is_sha256_hex():
    assert hash_secret("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    secret = SECRETS[0]
    assert hash_secret(secret) == hashlib.sha256(secret.encode()).hexdigest()
    assert re.fullmatch(r"[0-9a-f]{64}", hash_secret(secret))
    assert hash_secret(SECRETS[0]) != hash_secret(SECRETS[1])


def test_hint_is_last_four():
    assert hint("kc_abcdefWXYZ") == "WXYZ"


def test_new_id_format():
    ids = [new_id() for _ in range(200)]
    for key_id in ids:
        assert ID.match(key_id), key_id
    assert len(set(ids)) == len(ids)
    # 200 ids of 16 random base32 characters use (nearly) the whole alphabet.
    assert len(set("".join(i[4:] for i in ids))) == 32


@pytest.mark.parametrize(
    "ref, kind", [(SECRETS[0], "secret"), ("key_abcdefghijklmnop", "id"), ("ci-bot", "name")]
)
def test_kind_of(ref, kind):
    assert kind_of(ref) == kind


@pytest.mark.parametrize(
    "name, fragment",
    [
        ("", "cannot be empty"),
        ("a" * 65, "at most 64 characters (this one has 65)"),
        ("a b", "may hold only"),
        ("ci/bot", "may hold only"),
        ("ci-bot\n", "may hold only"),
        ("key_x", "may not start with 'key_' or 'kc_'"),
        ("kc_x", "may not start with 'key_' or 'kc_'"),
    ],
)
def test_name_problem_refuses(name, fragment):
    problem = name_problem(name)
    assert isinstance(problem, str)
    assert fragment in problem


@pytest.mark.parametrize("name", ["ci-bot", "a.b_c@d", "a", "a" * 64, "KEY.x", "Key_x"])
def test_name_problem_accepts(name):
    assert name_problem(name) is None


def test_module_constants():
    assert tokens.SECRET_PREFIX == "kc_"
    assert tokens.ID_PREFIX == "key_"
    assert len(ALPHABET) == len(set(ALPHABET)) == 62
