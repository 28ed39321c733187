"""Random argument lists against the command line (hypothesis): real command names,
options, scope names, key references and garbage, in any order. Whatever comes in, the
exit code is one of keyctl's (0-4), nothing prints a traceback or the "unexpected
problem" bug-report line, an error exit says `error:`, no error message carries a
secret, and the store still passes PRAGMA integrity_check.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keyctl import KeyStore

COMMANDS = [
    ["create"], ["list"], ["show"], ["scope", "add"], ["scope", "remove"], ["scope", "set"],
    ["update"], ["disable"], ["enable"], ["rotate"], ["delete"], ["log"], ["check"], ["scopes"],
    ["apply"], ["export"], ["secret"], ["catalog"], ["catalog", "list"], ["scope"], [],
]
OPTIONS = [
    "--name", "-n", "--scope", "-s", "--description", "-d", "--expires", "-e", "--json",
    "--status", "--limit", "--yes", "-y", "--dry-run", "--prune", "--keyring", "--help",
    "--version", "--frobnicate", "--", "-",
]
WORDS = [
    # scopes, groups, operations, in several spellings
    "predict", "predict.call", "inputs", "inputs.get", "inputs.patch", "Inputs:Patch", "INPUTS.*",
    "models.train", "concepts.get", "all", "inputs.get,inputs.patch", "search",
    # key references and values
    "ci-bot", "etl", "nobody", "key_aaaaaaaaaaaaaaaa", "kc_", "never", "30d", "90m", "2w",
    "2001-01-01", "9999-12-31", "active", "disabled", "expired", "1", "0", "-1",
    # garbage
    "", " ", ",", ",,", "'", "\"", "%s", "{}", "\\", "\u202e", "\U0001f511", "x" * 300,
    "'; DROP TABLE keys;--",
]

token = st.one_of(
    st.sampled_from(OPTIONS),
    st.sampled_from(WORDS),
    st.text(max_size=12),
)


@pytest.fixture
def fuzz_store(db_path: Path) -> dict[str, str]:
    with KeyStore(db_path) as ks:
        bot = ks.create(scopes=["inputs.patch"], name="ci-bot")
        etl = ks.create(scopes=["all"], name="etl", expires="30d")
    return {"secret": bot.secret, "id": bot.key.id, "etl": etl.secret}


def _mistype(secret: str) -> str:
    return secret[:-1] + ("A" if secret[-1] != "A" else "B")


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_random_argument_lists(data, fuzz_store: dict[str, str], run, db_path: Path) -> None:
    secrets_ = [fuzz_store["secret"], fuzz_store["etl"]]
    refs = st.sampled_from([fuzz_store["id"], fuzz_store["secret"], _mistype(fuzz_store["secret"])])
    command = data.draw(st.sampled_from(COMMANDS), label="command")
    rest = data.draw(st.lists(st.one_of(token, refs), max_size=7), label="args")
    args = [*command, *rest]
    stdin = data.draw(st.sampled_from([None, "", fuzz_store["secret"] + "\n", "garbage\n"]), label="stdin")

    r = run(*args, input=stdin)

    assert r.code in (0, 1, 2, 3, 4), r
    assert "Traceback" not in r.stdout + r.stderr, r
    assert "unexpected problem" not in r.stderr, r
    if r.code in (1, 2):
        assert r.stderr.strip(), r  # an error is never silent
    for secret in secrets_:
        assert secret not in r.stderr, r  # no error or warning carries a secret
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()
