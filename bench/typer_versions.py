#!/usr/bin/env python3
"""Start-up of keyctl and of a minimal two-command app on several Typer releases: the
measurements behind the Typer range in pyproject.toml (bench/README.md).

    python bench/typer_versions.py                       # 0.28.0, 0.29.0, 0.29.2
    python bench/typer_versions.py 0.28.0 0.29.2 --runs 20

Each version gets its own venv under $TMPDIR/keyctl-typer-venvs/ (kept between runs),
with keyctl installed from this checkout as a wheel would be (not editable, byte-code
compiled) and its other dependencies at their newest. A venv does not load the base
interpreter's site-packages, so these floors are those of a clean machine. All commands
of all venvs run interleaved; the table gives medians (ms) and ratios to the floor.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fixtures import MINI_APP  # bench/ is on sys.path when this script runs

ROOT = Path(__file__).resolve().parent.parent
VENVS = Path(tempfile.gettempdir()) / "keyctl-typer-venvs"
DEFAULT_VERSIONS = ("0.28.0", "0.29.0", "0.29.2")
MINI = MINI_APP  # the same app as run.py's "for scale" row
# What a process has loaded when it exits (pydantic is the question for Typer 0.29).
LOADED = ("import runpy, sys; sys.argv = sys.argv[1:]; "
          "exec('try:\\n runpy.run_path(sys.argv[0], run_name=\"__main__\")\\nexcept SystemExit: pass'); "
          "sys.stderr.write('LOADED ' + ' '.join(sorted({m.split('.')[0] for m in sys.modules})))")


def log(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def venv(version: str) -> Path:
    """A venv with Typer ``version`` and this checkout's keyctl (reinstalled each time)."""
    path = VENVS / version
    pip = [str(path / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    # Built from a copy: pip's in-tree build would write build/ and *.egg-info into the
    # checkout that others are working in.
    src = Path(tempfile.mkdtemp(prefix="keyctl-src-")) / "keyctl"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".git", "build", "dist", "*.egg-info", "__pycache__", ".venv", ".pytest_cache", ".hypothesis"))
    steps = [["--no-deps", "--force-reinstall", str(src)]]
    if not (path / "ready").exists():
        log(f"typer {version}: making {path}")
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(path)], check=True)
        # keyctl's own range would refuse other Typer releases: its dependencies are
        # installed by name, then keyctl itself without them.
        steps.insert(0, [f"typer=={version}", "rich", "sqlite-utils", "keyring", "tomli-w"])
    for args in steps:
        done = subprocess.run([*pip, *args], capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"bench: pip install {' '.join(args)} failed:\n{done.stderr}")
    shutil.rmtree(src.parent, ignore_errors=True)
    (path / "mini.py").write_text(MINI, encoding="utf-8")
    (path / "ready").write_text(version, encoding="utf-8")
    return path


def commands(path: Path, db: Path) -> dict[str, tuple[list[str], dict[str, str]]]:
    py, kc = str(path / "bin" / "python"), str(path / "bin" / "keyctl")
    complete = {"_KEYCTL_COMPLETE": "complete_bash", "COMP_WORDS": "keyctl check NAME inputs.", "COMP_CWORD": "3"}
    return {
        "floor": ([py, "-c", "import sqlite3"], {}),
        "mini app": ([py, str(path / "mini.py"), "hello", "x"], {}),
        "keyctl check": ([kc, "check", "NAME", "inputs.get"], {"KEYCTL_DB": str(db)}),
        "keyctl TAB": ([kc], {"KEYCTL_DB": str(db), **complete}),
        "keyctl --version": ([kc, "--version"], {}),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("versions", nargs="*", default=list(DEFAULT_VERSIONS))
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "KEYCTL_DB", "PYTHONPATH")}
    env.update({"NO_COLOR": "1", "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"})
    tmp = Path(tempfile.mkdtemp(prefix="keyctl-typer-"))
    plan: dict[str, dict] = {}
    notes: dict[str, str] = {}
    for version in args.versions:
        path = venv(version)
        db = tmp / f"{version}.db"
        made = subprocess.run([str(path / "bin" / "keyctl"), "create", "-n", "NAME", "-s", "predict", "-s", "inputs.get"],
                              env={**env, "KEYCTL_DB": str(db)}, capture_output=True, text=True)
        cmds = commands(path, db)
        broken = [name for name, (argv, extra) in cmds.items() if name != "floor" and subprocess.run(
            argv, env={**env, **extra}, capture_output=True).returncode not in (0, 3)]
        if made.returncode != 0 or broken:
            first = (made.stderr or "").strip().splitlines()[-1:] or ["?"]
            notes[version] = f"keyctl fails here ({', '.join(broken) or 'create'}: {first[0][:120]})"
        mini = subprocess.run([str(path / "bin" / "python"), "-c", LOADED, str(path / "mini.py"), "hello", "x"],
                              env=env, capture_output=True, text=True)
        loaded = mini.stderr.rsplit("LOADED ", 1)[-1].split()
        notes.setdefault(version, "")
        notes[version] += ("" if not notes[version] else "; ") + (
            "the mini app loads pydantic" if "pydantic" in loaded else "no pydantic loaded")
        plan[version] = {name: c for name, c in cmds.items() if name not in broken}

    times: dict[tuple[str, str], list[float]] = {}
    for r in range(args.runs + 2):
        for version, cmds in plan.items():
            for name, (argv, extra) in cmds.items():
                start = time.perf_counter()
                subprocess.run(argv, env={**env, **extra}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                if r >= 2:  # the first rounds warm the page cache
                    times.setdefault((version, name), []).append(time.perf_counter() - start)
        log(f"  round {r + 1}/{args.runs + 2}")

    names = list(commands(Path("."), Path(".")))
    load = os.getloadavg()
    print(f"Medians of {args.runs} interleaved runs, ms (× the floor `python -c \"import sqlite3\"` of the same venv); "
          f"load average at the end {load[0]:.2f}.")
    print()
    print("| Typer | " + " | ".join(names) + " | notes |")
    print("|---|" + "---:|" * len(names) + "---|")
    for version in plan:
        floor = statistics.median(times[(version, "floor")])
        cells = []
        for name in names:
            if (version, name) not in times:
                cells.append("–")
                continue
            m = statistics.median(times[(version, name)])
            cells.append(f"{m * 1000:.0f}" if name == "floor" else f"{m * 1000:.0f} ({m / floor:.1f}×)")
        print(f"| {version} | " + " | ".join(cells) + f" | {notes[version]} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
