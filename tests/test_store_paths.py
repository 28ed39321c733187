"""Where the store is made: through a dangling symbolic link (at the link's target, 0600,
and usable from then on), in folders keyctl creates (0700 whatever the umask), and not
at all through a link that loops (one error line, nothing created)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def keyctl(*args: str, umask: int | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "keyctl", *args], capture_output=True, text=True, cwd=str(ROOT),
                          preexec_fn=(lambda: os.umask(umask)) if umask is not None else None)


def test_a_dangling_symlink_gets_its_store_at_the_target_0600_and_stays_usable(tmp_path: Path) -> None:
    target = tmp_path / "real" / "deeper" / "keys.db"  # its folders do not exist yet either
    link = tmp_path / "link.db"
    link.symlink_to(target)
    made = keyctl("--db", str(link), "create", "--scope", "predict", "--name", "bob", umask=0o022)
    assert made.returncode == 0, made.stderr
    assert link.is_symlink() and target.is_file()
    assert _mode(target) == 0o600
    assert _mode(target.parent) == 0o700 and _mode(target.parent.parent) == 0o700
    for args in (("list", "--json"), ("check", "bob", "predict.call"), ("scope", "add", "bob", "search")):
        r = keyctl("--db", str(link), *args)
        assert r.returncode == 0 and r.stderr == "", (args, r.stderr)
    assert keyctl("--db", str(target), "show", "bob").returncode == 0  # the same store


def test_a_relative_dangling_symlink_points_where_it_says(tmp_path: Path) -> None:
    (tmp_path / "stores").mkdir()
    link = tmp_path / "stores" / "link.db"
    link.symlink_to(Path("..") / "elsewhere.db")
    assert keyctl("--db", str(link), "create", "--scope", "predict").returncode == 0
    assert (tmp_path / "elsewhere.db").is_file() and _mode(tmp_path / "elsewhere.db") == 0o600


def test_a_symlink_loop_is_one_error_and_nothing_is_created(tmp_path: Path) -> None:
    loop = tmp_path / "loop.db"
    loop.symlink_to(loop)
    before = sorted(os.listdir(tmp_path))
    r = keyctl("--db", str(loop), "create", "--scope", "predict")
    assert r.returncode == 1 and r.stdout == ""
    (line,) = r.stderr.splitlines()
    assert line.startswith("error: the store ") and "bug" not in line
    assert sorted(os.listdir(tmp_path)) == before


def test_folders_keyctl_creates_are_0700_whatever_the_umask(tmp_path: Path) -> None:
    db = tmp_path / "a" / "b" / "keys.db"
    made = keyctl("--db", str(db), "create", "--scope", "predict", umask=0o000)
    assert made.returncode == 0, made.stderr
    assert _mode(tmp_path / "a") == 0o700 and _mode(tmp_path / "a" / "b") == 0o700
    assert _mode(db) == 0o600
    assert made.stderr.count("warning") == 0  # nothing others can read, so nothing to warn about


# --- locations no store can have ------------------------------------------------------------------
LONG = {"a name over 255 bytes": "y" * 300, "a path over 4095 bytes": "/".join(["d" * 200] * 25)}


@pytest.mark.parametrize("what", LONG, ids=list(LONG))
@pytest.mark.parametrize("args", [("list",), ("status",), ("status", "--json"), ("create", "-s", "predict"),
                                  ("check", "bob", "predict.call"), ("log",), ("export",)])
def test_a_location_too_long_for_a_file_is_one_usage_error(what: str, args: tuple, tmp_path: Path) -> None:
    p = keyctl("--db", str(tmp_path / LONG[what]), *args)
    assert p.returncode == 2 and p.stdout == "", p
    assert p.stderr.startswith("error: the store path ") and "too long for a file" in p.stderr
    assert p.stderr.count("\n") == 1 and "bug" not in p.stderr


def test_an_empty_location_never_means_the_default_store(tmp_path: Path) -> None:
    """An unset shell variable (`keyctl copy a.db "$BACKUP"`) must not copy into, or
    from, the user's own store."""
    from keyctl import KeyStore
    from keyctl.errors import UsageError

    source = tmp_path / "a.db"
    assert keyctl("--db", str(source), "create", "-s", "predict").returncode == 0
    home = tmp_path / "home"
    for args in (("copy", str(source), ""), ("copy", "", str(tmp_path / "b.db"))):
        p = subprocess.run([sys.executable, "-m", "keyctl", *args], capture_output=True, text=True, cwd=str(ROOT),
                           env={**os.environ, "HOME": str(home), "XDG_DATA_HOME": ""})
        assert p.returncode == 2 and "location is empty" in p.stderr, p
    assert not home.exists()  # no default store made or read
    with pytest.raises(UsageError, match="location is empty"):
        KeyStore("")
    with KeyStore(source) as ks, pytest.raises(UsageError, match="location is empty"):
        ks.copy_to("")


def test_a_location_the_file_system_cannot_name_is_a_usage_error(tmp_path: Path) -> None:
    from keyctl import KeyStore
    from keyctl.errors import UsageError

    for location in (str(tmp_path / "\ud800.db"), str(tmp_path / ("y" * 300))):
        with pytest.raises(UsageError, match="the store path"):
            KeyStore(location).status()


@pytest.mark.parametrize("special", ["/dev/null", "folder"])
def test_a_store_path_that_is_no_regular_file_gets_no_advice_to_chmod_or_remove_it(special: str,
                                                                                   tmp_path: Path) -> None:
    path = special
    if special == "folder":
        path = str(tmp_path / "adir")
        os.mkdir(path, 0o755)
    for args in (("status",), ("list",), ("create", "-s", "predict")):
        p = keyctl("--db", path, *args)
        assert p.returncode == 1, p
        assert "chmod" not in p.stderr and "remove it" not in p.stderr and "empty file" not in p.stderr, p
        assert p.stderr.splitlines()[-1].startswith(f"error: the store {path} is ")
