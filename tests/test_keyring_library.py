"""The OS keyring through the library, as through the CLI: KeyStore.create(in_keyring=True)
really stores the secret, KeyStore.secret(ref) reads it back (as `keyctl secret` does),
rotate replaces it and delete removes it; a keyring that refuses leaves nothing behind."""

from __future__ import annotations

import pytest
from test_keyring import MemoryKeyring, RefusingKeyring, use

from keyctl import KeyStore
from keyctl.errors import KeyringError, UsageError

SERVICE = "keyctl"


def test_the_library_keeps_reads_rotates_and_removes_a_secret_in_the_keyring(monkeypatch, db_path) -> None:
    backend = use(monkeypatch, MemoryKeyring())
    with KeyStore(db_path) as ks:
        made = ks.create(scopes=["predict"], name="bob", in_keyring=True)
        assert made.stored_in is not None and made.key.in_keyring
        assert backend.entries[(SERVICE, made.key.id)] == made.secret
        assert ks.secret("bob").secret == made.secret == ks.secret(made.key.id).secret
        with pytest.raises(UsageError):
            ks.secret(made.secret)  # a secret is not a way to name the key here
        rotated = ks.rotate("bob")
        assert backend.entries[(SERVICE, made.key.id)] == rotated.secret != made.secret
        assert ks.check(rotated.secret, "predict.call").outcome.value == "allowed"
        ks.delete("bob")
        assert backend.entries == {}


def test_a_keyring_that_refuses_leaves_no_key_behind(monkeypatch, db_path) -> None:
    use(monkeypatch, RefusingKeyring())
    with KeyStore(db_path) as ks:
        with pytest.raises(KeyringError) as refused:
            ks.create(scopes=["predict"], name="bob", in_keyring=True)
        assert "the key was not created" in refused.value.message
        assert list(ks.list()) == []


def test_secret_of_a_key_without_a_keyring_entry_is_a_keyring_error(monkeypatch, db_path) -> None:
    use(monkeypatch, MemoryKeyring())
    with KeyStore(db_path) as ks:
        ks.create(scopes=["predict"], name="plain")
        with pytest.raises(KeyringError, match="without --keyring"):
            ks.secret("plain")


def test_apply_prune_removes_the_deleted_keys_secrets_from_the_keyring_as_delete_does(monkeypatch, db_path,
                                                                                      run) -> None:
    backend = use(monkeypatch, MemoryKeyring())
    with KeyStore(db_path) as ks:
        kept = ks.create(scopes=["predict"], name="kept", in_keyring=True).key
        gone = ks.create(scopes=["predict"], name="gone", in_keyring=True).key
        plain = ks.create(scopes=["predict"], name="plain").key
        assert set(backend.entries) == {(SERVICE, kept.id), (SERVICE, gone.id)}
        ks.apply(ks.read_manifest('[keys.kept]\nscopes = ["predict"]\n'), prune=True)
        assert set(backend.entries) == {(SERVICE, kept.id)}  # gone's secret left with its key
        assert [k.name for k in ks.list()] == ["kept"] and plain.id not in str(backend.entries)
    r = run("apply", "-", "--prune", "--yes", input="")
    assert r.code == 0, r
    assert backend.entries == {}
