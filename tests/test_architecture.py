"""The layering rules of keyctl/ (README "How it is built"), checked on the source so
that a change that breaks one fails here rather than in a review."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "keyctl"
MODULES = sorted(p for p in PACKAGE.rglob("*.py"))
PURE = ["catalog/model.py", "decide.py", "tokens.py", "when.py", "plan.py", "manifest.py", "text.py", "models.py"]
IO_MODULES = {"sqlite3", "psycopg", "sqlite_utils", "typer", "rich", "keyring", "subprocess", "socket"}


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), str(path))


def _name(path: Path) -> str:
    return path.relative_to(PACKAGE).as_posix()


def _imports(tree: ast.Module) -> set[str]:
    """What a module imports at run time (imports for type checkers only are left out)."""
    found: set[str] = set()
    checking = [n for n in ast.walk(tree) if isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test)]
    skipped = {id(child) for n in checking for child in ast.walk(n)}
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            found.add(base)
            found |= {f"{base}.{a.name}" if base.endswith(".") is False else base + a.name for a in node.names}
    return found


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_no_module_is_over_450_lines_and_no_class_over_300(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").count("\n")
    assert lines <= 450, f"{_name(path)} has {lines} lines"
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.ClassDef):
            size = (node.end_lineno or node.lineno) - node.lineno + 1
            assert size <= 300, f"class {node.name} in {_name(path)} has {size} lines"


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_only_the_edge_writes_to_stderr(path: Path) -> None:
    if _name(path) == "edge.py":
        return
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.Attribute) and node.attr == "stderr":
            pytest.fail(f"{_name(path)}:{node.lineno} uses sys.stderr; write through keyctl/edge.py")
        if isinstance(node, ast.keyword) and node.arg == "err" and getattr(node.value, "value", None) is True:
            pytest.fail(f"{_name(path)}:{node.lineno} prints to stderr (err=True); use keyctl/edge.py")


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_only_the_store_speaks_sql(path: Path) -> None:
    if _name(path).startswith("store/"):
        return
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value.upper()
            for word in ("SELECT ", "INSERT INTO", "DELETE FROM", "CREATE TABLE", "BEGIN IMMEDIATE"):
                assert word not in text or "`" in node.value, f"{_name(path)}:{node.lineno} holds SQL ({word.strip()})"


@pytest.mark.parametrize("name", PURE)
def test_the_pure_core_does_no_io(name: str) -> None:
    imported = _imports(_tree(PACKAGE / name))
    heavy = {m for m in imported if m.split(".")[0] in IO_MODULES}
    assert not heavy, f"{name} imports {sorted(heavy)}"
    assert not {m for m in imported if ".store" in m or ".api" in m or "edge" in m or "render" in m}, name


@pytest.mark.parametrize("path", sorted((PACKAGE / "commands").glob("*.py")), ids=_name)
def test_command_modules_do_not_postpone_annotations(path: Path) -> None:
    for node in _tree(path).body:
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            assert "annotations" not in {a.name for a in node.names}, _name(path)
