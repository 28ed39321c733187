"""Shell completion, driven through Typer's protocol in real processes.

What a shell does on TAB: it runs keyctl with ``_KEYCTL_COMPLETE=complete_bash`` and the
words typed so far in ``COMP_WORDS``/``COMP_CWORD`` (bash), or with
``_KEYCTL_COMPLETE=complete_zsh`` and ``_TYPER_COMPLETE_ARGS`` holding the command line
(zsh: the last word is the one being completed unless the line ends with a space), and
reads the candidates from stdout (see typer/_completion_classes.py).

The variable's name comes from the program name. keyctl.cli.main() passes
prog_name="keyctl", so the console script and ``python -m keyctl`` both answer to
``_KEYCTL_COMPLETE`` (click alone would derive the name from argv[0]: ``python -m
keyctl`` would need ``_PYTHON _M KEYCTL_COMPLETE``). The tests run
``python -m keyctl`` with this interpreter, and the console script installed beside it
when there is one, never whatever ``keyctl`` is first on PATH (keyutils ships one).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

INPUTS_OPERATIONS = ["inputs.add", "inputs.get", "inputs.patch", "inputs.delete"]
MODELS_SCOPES = ["models", "models.add", "models.get", "models.patch", "models.delete", "models.train"]  # group first
SCRIPT = Path(sys.executable).parent / "keyctl"


def _argv(how: str) -> list[str]:
    if how == "module":
        return [sys.executable, "-m", "keyctl"]
    if not SCRIPT.is_file():
        pytest.skip(f"no keyctl console script beside {sys.executable} (pip install -e . puts one there)")
    return [str(SCRIPT)]


def _run(env: dict[str, str], how: str = "module") -> subprocess.CompletedProcess:
    p = subprocess.run(_argv(how), env={**os.environ, **env}, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p
    assert p.stderr == "", p.stderr  # completion never prints an error or a warning
    return p


def bash(line: str, how: str = "module") -> list[str]:
    """Candidates for the last word of ``line`` ('' after a trailing space), as bash asks."""
    words = line.split()
    cword = len(words) if line.endswith(" ") else len(words) - 1
    p = _run({"_KEYCTL_COMPLETE": "complete_bash", "COMP_WORDS": line, "COMP_CWORD": str(cword)}, how)
    return [line for line in p.stdout.splitlines() if line]  # no candidate: one empty line


def zsh(line: str) -> list[str]:
    p = _run({"_KEYCTL_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": line})
    out = p.stdout
    if out.strip() == "_files":  # Typer's answer when nothing matches
        return []
    m = re.fullmatch(r"_arguments '\*: :\(\((.*)\)\)'\n?", out, re.S)
    assert m, out
    values = []
    for item in m.group(1).split("\n"):
        # one item per line: "value" or "value":"help" (a wrapped help would break zsh)
        im = re.fullmatch(r'"((?:[^"]|"")+)"(?::"(?:[^"]|"")*")?', item)
        assert im, f"not one zsh completion item: {item!r}"
        values.append(im.group(1))
    return values


@pytest.fixture
def store(run):
    """A store holding NAME (predict only) and three more keys: their ids by name."""
    ids = {}
    for name, scope in (("NAME", "predict"), ("alpha-bot", "inputs"), ("alpine", "search"), ("beta", "models")):
        r = run("create", "--name", name, "--scope", scope, "--json")
        assert r.code == 0, r
        ids[name] = r.json["id"]
    return ids


@pytest.mark.parametrize("how", ["module", "script"])
def test_bash_completes_the_inputs_operations_for_check(store, how):
    assert bash("keyctl check NAME inputs.", how) == INPUTS_OPERATIONS


def test_bash_protocol_as_the_issue_gives_it(store):
    p = _run({"_KEYCTL_COMPLETE": "complete_bash", "COMP_WORDS": "keyctl check NAME inputs.",
              "COMP_CWORD": "3"})
    assert p.stdout.split() == INPUTS_OPERATIONS


def test_zsh_completes_the_inputs_operations_for_check(store):
    assert zsh("keyctl check NAME inputs.") == INPUTS_OPERATIONS


def test_scope_add_completes_the_models_scopes(store):
    assert bash("keyctl scope add NAME mod") == MODELS_SCOPES
    assert zsh("keyctl scope add NAME mod") == MODELS_SCOPES


def test_zsh_items_carry_their_description_on_one_line(store):
    p = _run({"_KEYCTL_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": "keyctl scope add NAME models.p"})
    # models.patch has the catalog's longest description: shortened, not wrapped
    assert p.stdout.count("\n") <= 1
    assert p.stdout.startswith("_arguments '*: :((\"models.patch\":\"Edit a model")


def test_key_names_complete_by_prefix(store):
    assert sorted(bash("keyctl show al")) == ["alpha-bot", "alpine"]
    assert sorted(bash("keyctl check alp")) == ["alpha-bot", "alpine"]
    assert bash("keyctl scope add be") == ["beta"]
    assert sorted(zsh("keyctl rotate al")) == ["alpha-bot", "alpine"]
    assert bash("keyctl show zz") == []


def test_key_ids_complete_by_prefix(store):
    assert sorted(bash("keyctl show key_")) == sorted(store.values())
    one = store["beta"]
    assert bash(f"keyctl check {one[:9]}") == [i for i in sorted(store.values()) if i.startswith(one[:9])]


def test_operations_and_scopes_after_more_words(store):
    assert bash("keyctl check NAME predict.call inputs.") == INPUTS_OPERATIONS
    assert bash("keyctl scope set NAME search mod") == MODELS_SCOPES
    assert "all" in bash("keyctl check NAME a")


def test_scope_option_completes_scopes_after_a_comma(store):
    assert bash("keyctl create --scope inputs.p") == ["inputs.patch"]
    assert bash("keyctl create -s predict,inputs.g") == ["predict,inputs.get"]
    assert bash("keyctl list --scope models.t") == ["models.train"]


def test_commands_complete(store):
    assert sorted(bash("keyctl sco")) == ["scope", "scopes"]
    assert bash("keyctl scope re") == ["remove"]


def test_completion_on_a_missing_store_is_empty_and_creates_nothing(db_path):
    assert not db_path.exists()
    assert bash("keyctl show a") == []
    assert bash("keyctl check x inputs.") == INPUTS_OPERATIONS  # the built-in catalog
    assert not db_path.exists()


def test_completion_reads_the_store_named_by_db(store, tmp_path, run):
    other = tmp_path / "other.db"
    assert run("--db", str(other), "create", "--name", "gamma", "--scope", "search").code == 0
    assert bash(f"keyctl --db {other} show g") == ["gamma"]
    assert bash("keyctl show g") == []


# keyctl's own script (keyctl/completion.py): no `-o default`, which fell back to file names.
BASH_NEEDLES = ["_KEYCTL_COMPLETE=complete_bash", "\ncomplete -F _keyctl_completion keyctl"]
ZSH_NEEDLES = ["#compdef keyctl", "_KEYCTL_COMPLETE=complete_zsh", "_TYPER_COMPLETE_ARGS"]
# With shellingham installed (Typer requires it) --show-completion and
# --install-completion are flags that detect the shell keyctl runs under: `keyctl
# --show-completion zsh` typed in bash prints the bash script. Typer's own test switch
# turns detection off so that the option takes the shell's name.
NO_DETECTION = {"_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}


def _under_bash(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """keyctl run by a bash (`; true` keeps bash from exec'ing it: bash stays its parent,
    the shell that Typer detects)."""
    cmd = " ".join(f"'{a}'" for a in [sys.executable, "-m", "keyctl", *args])
    return subprocess.run(["bash", "--norc", "--noprofile", "-c", f"{cmd}; true"], capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=60)


def test_the_source_instruction_gives_the_same_script(sh):
    p = _run({"_KEYCTL_COMPLETE": "source_bash"})
    assert p.stdout.strip() == sh("--show-completion", "bash", env=NO_DETECTION).stdout.strip()
    for needle in BASH_NEEDLES:
        assert needle in p.stdout


def test_show_completion_detects_bash():
    p = _under_bash("--show-completion")
    assert p.returncode == 0, p
    for needle in BASH_NEEDLES:
        assert needle in p.stdout


@pytest.mark.parametrize("shell,needles", [("bash", BASH_NEEDLES), ("zsh", ZSH_NEEDLES)])
def test_show_completion_prints_the_script_of_a_named_shell(sh, shell, needles):
    r = sh("--show-completion", shell, env=NO_DETECTION)
    assert r.code == 0, r
    for needle in needles:
        assert needle in r.stdout


def test_install_completion_for_bash_writes_a_script_and_sources_it(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    p = _under_bash("--install-completion", env={"HOME": str(home)})
    assert p.returncode == 0, p
    script = home / ".bash_completions" / "keyctl.sh"
    for needle in BASH_NEEDLES:
        assert needle in script.read_text()
    assert f"source '{script}'" in (home / ".bashrc").read_text()


def test_install_completion_for_zsh_writes_a_completion_function(sh, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    r = sh("--install-completion", "zsh", env={"HOME": str(home), **NO_DETECTION})
    assert r.code == 0, r
    for needle in ZSH_NEEDLES:
        assert needle in (home / ".zfunc" / "_keyctl").read_text()
    assert "fpath+=~/.zfunc" in (home / ".zshrc").read_text()


def test_the_bash_script_completes_in_a_real_bash(store, sh, tmp_path):
    """The script --show-completion prints, sourced into bash, with keyctl on PATH."""
    script = sh("--show-completion", "bash").stdout
    bindir = tmp_path / "bin"
    bindir.mkdir()
    wrapper = bindir / "keyctl"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m keyctl "$@"\n')
    wrapper.chmod(0o755)
    (tmp_path / "completion.bash").write_text(script)
    program = (
        f"source {tmp_path / 'completion.bash'}\n"
        "COMP_WORDS=(keyctl check NAME inputs.); COMP_CWORD=3\n"
        "_keyctl_completion keyctl\n"  # bash passes the command's name as $1
        "printf '%s\\n' \"${COMPREPLY[@]}\"\n"
    )
    p = subprocess.run(["bash", "--norc", "--noprofile", "-c", program], capture_output=True, text=True,
                       env={**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"}, timeout=60)
    assert p.returncode == 0, p
    assert p.stdout.splitlines() == INPUTS_OPERATIONS


def test_a_name_that_could_not_be_typed_back_is_not_offered(store, db_path):
    """A store written by hand may hold a name with control characters: it is not
    offered (it would reach the terminal raw, and no command takes it)."""
    import sqlite3

    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE keys SET name = 'alp\x1b]0;pwned\x07ha' WHERE name = 'alpha-bot'")
    conn.commit()
    conn.close()
    assert bash("keyctl show alp") == ["alpine"]


def test_what_bash_would_never_send_gives_nothing_and_no_traceback():
    for cword in ("x", "", "-1"):
        p = subprocess.run([sys.executable, "-m", "keyctl"], capture_output=True, text=True, timeout=60,
                           env={**os.environ, "_KEYCTL_COMPLETE": "complete_bash", "COMP_WORDS": "keyctl show ",
                                "COMP_CWORD": cword})
        assert (p.returncode, p.stdout.strip(), p.stderr) == (0, "", ""), (cword, p)


def test_install_completion_into_a_shell_file_that_is_a_folder_is_one_error_line(tmp_path):
    home = tmp_path / "home"
    (home / ".bashrc").mkdir(parents=True)
    p = subprocess.run([sys.executable, "-m", "keyctl", "--install-completion", "bash"], capture_output=True,
                       text=True, timeout=60, env={**os.environ, "HOME": str(home)})
    assert p.returncode == 1 and p.stderr.count("\n") == 1, p
    assert p.stderr.startswith(f"error: {home / '.bashrc'}: Is a directory") and "Traceback" not in p.stderr
