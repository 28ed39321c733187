"""Completion in a real, interactive bash on a pseudo-terminal: the script that
`keyctl --install-completion` installs, loaded by bash from ~/.bashrc, TAB typed as a
person types it, and what bash then shows (the candidates it lists, the line it
completes). bash splits the words itself (COMP_WORDS, with `--db=x` split at the =),
so these tests see what a user sees, which calling keyctl's completion with
hand-made COMP_WORDS does not."""

from __future__ import annotations

import os
import pty
import re
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, create_key

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")

INPUTRC = "set show-all-if-ambiguous on\nset completion-query-items 0\nset page-completions off\nset bell-style none\n"


class Bash:
    """An interactive bash with keyctl's completion installed in its HOME."""

    def __init__(self, tmp: Path, db: Path) -> None:
        home, bindir, self.cwd = tmp / "home", tmp / "bin", tmp / "work"
        for folder in (home, bindir, self.cwd):
            folder.mkdir()
        wrapper = bindir / "keyctl"
        wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m keyctl "$@"\n')
        wrapper.chmod(0o755)
        (home / ".inputrc").write_text(INPUTRC)
        self.env = {"HOME": str(home), "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}", "TERM": "dumb",
                    "KEYCTL_DB": str(db), "PYTHONPATH": str(ROOT), "INPUTRC": str(home / ".inputrc"),
                    "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring", "LANG": "C.UTF-8",
                    "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
        done = subprocess.run([str(wrapper), "--install-completion", "bash"], env=self.env, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, done
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: bash reads ~/.bashrc, which sources the script
            os.chdir(self.cwd)
            os.execve(shutil.which("bash"), ["bash", "--noprofile", "-i"], self.env)
        self.count = 0
        self.run("PS1='$ '")

    def _read_until(self, marker: bytes) -> str:
        """What bash wrote before ``marker``, once it has shown its prompt again: keys
        typed before readline has the terminal would be echoed as typed, not edited."""
        out = b""
        deadline = time.monotonic() + 60
        while marker + b"$ " not in out:
            assert time.monotonic() < deadline, out
            if select.select([self.fd], [], [], 0.5)[0]:
                out += os.read(self.fd, 65536)
        return out.split(marker)[0].decode(errors="replace")

    def _marker(self) -> tuple[str, bytes]:
        self.count += 1  # printed by the shell, so never in what was typed
        return f"echo $(({self.count} * 7919))", f"{self.count * 7919}\r\n".encode()

    def run(self, command: str) -> str:
        """A command's output."""
        echo, marker = self._marker()
        os.write(self.fd, f"{command}; {echo}\n".encode())
        return self._read_until(marker).split("\n", 1)[-1].replace("\r", "")

    def tab(self, line: str) -> tuple[list[str], str]:
        """Type ``line`` and TAB: the candidates bash lists, and the line after TAB."""
        echo, marker = self._marker()
        # The line as TAB left it, printed by the shell: go to its start, quote it.
        os.write(self.fd, line.encode() + b"\t" + b"\x01printf '<%s>\\n' '\x05'; " + echo.encode() + b"\n")
        shown = self._read_until(marker)
        completed = re.findall(r"<(.*)>\r\n", shown)[-1]
        # Before ^A's redraw: the line typed, then (when bash lists candidates) a row
        # or more of them and the prompt with the line again.
        rows = shown.split("\r$ printf")[0].split("\r\n")
        return sorted(w for row in rows[1:-1] for w in row.split()), completed

    def close(self) -> None:
        os.write(self.fd, b"exit\n")
        os.waitpid(self.pid, 0)
        os.close(self.fd)


@pytest.fixture
def bash(tmp_path, run, db_path):
    create_key(run, "predict", "inputs.get", name="ci")
    shell = Bash(tmp_path, db_path)
    (shell.cwd / "team.toml").write_text('[keys.ci]\nscopes = ["predict"]\n')
    (shell.cwd / "notes.txt").write_text("not a catalog\n")
    (shell.cwd / "sub").mkdir()
    yield shell
    shell.close()


def test_the_installed_script_is_registered_without_file_fallback(bash):
    assert bash.run("complete -p keyctl").strip() == "complete -F _keyctl_completion keyctl"


def test_scope_offers_the_group_too(bash):
    listed, line = bash.tab("keyctl create --scope pred")
    assert listed == ["predict", "predict.call", "predict.feedback"]
    assert line == "keyctl create --scope predict"  # what they share, typed for you


def test_status_offers_the_three_statuses(bash):
    assert bash.tab("keyctl list --status ")[0] == ["active", "disabled", "expired"]
    assert bash.tab("keyctl list --status dis") == ([], "keyctl list --status disabled ")


@pytest.mark.parametrize("line", ["keyctl --catalog ", "keyctl create -s search --catalog ", "keyctl catalog upgrade "])
def test_catalog_offers_the_built_ins_and_toml_files(bash, line):
    assert bash.tab(line)[0] == ["clarifai", "clarifai-live", "sub/", "team.toml"]  # not notes.txt


def test_scope_remove_offers_only_what_the_key_holds(bash):
    listed, _ = bash.tab("keyctl scope remove ci ")
    assert listed == ["inputs.get", "predict", "predict.call", "predict.feedback"]
    assert bash.tab("keyctl scope remove ci inputs.get pre")[0] == ["predict", "predict.call", "predict.feedback"]


def test_expires_offers_nothing_not_file_names(bash):
    assert bash.tab("keyctl create -s search --expires ") == ([], "keyctl create -s search --expires ")


def test_a_folder_completes_without_a_space_and_db_equals_works(bash):
    assert bash.tab("keyctl --db=su")[1] == "keyctl --db=sub/"
    assert bash.tab("keyctl apply te")[1] == "keyctl apply team.toml "
    assert bash.tab("keyctl list --scope=models.tr")[1] == "keyctl list --scope=models.train "


def test_operations_and_names_as_before(bash):
    assert bash.tab("keyctl check ci inputs.")[0] == ["inputs.add", "inputs.delete", "inputs.get", "inputs.patch"]
    assert bash.tab("keyctl show c")[1] == "keyctl show ci "
