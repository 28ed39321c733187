#!/usr/bin/env python3
"""Generate keyctl's roff man pages from the command tree Typer builds.

    python scripts/gen_man.py          # (re)write man/*.1
    python scripts/gen_man.py --check  # exit 1 and list the pages that are stale

It walks the click command tree (``typer.main.get_command(keyctl.cli.app)``), groups
and their subcommands recursively, and writes ``man/keyctl.1`` plus one page per command
(``man/keyctl-create.1``, ``man/keyctl-scope-add.1``, ...). Everything on a page comes
from the tree: the help text (DESCRIPTION, and EXAMPLES from the paragraph after
"Examples:" and its ``\\b`` block), every option and argument with its metavar, help,
default, range, choices and environment variable. A new command needs no change here:
give it help text and an "Examples:" paragraph, then re-run this script.

click-man is not used: on current Typer it drops every option. The output is
deterministic (a fixed date, no terminal width), so a test can compare the committed
pages with a fresh run, and it is written to pass ``mandoc -T lint -W warning``.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Iterator, Optional

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the checkout's keyctl, installed or not

# The date on every page. Fixed, so that a run today and a run tomorrow agree: bump it
# together with keyctl.__version__ when a release changes the pages.
DATE = "2026-11-30"
MAN_DIR = ROOT / "man"
PROG = "keyctl"

# README "Exit codes": the contract for scripts, the same on every page.
EXIT_STATUS = (
    (0, "Success; for \\fBcheck\\fR, every operation allowed."),
    (1, "Runtime error: no such key, the name is taken, the store cannot be used."),
    (2, "Usage error: a bad option, an unknown scope or operation (with a did\\-you\\-mean), a bad WHEN."),
    (3, "\\fBcheck\\fR only: the worst outcome is redacted."),
    (4, "\\fBcheck\\fR only: the worst outcome is rejected."),
)

# Environment variables that no option declares (options' env vars are found in the
# tree and listed after these, so a new `envvar=` needs no change here).
ENVIRONMENT = (
    ("KEYCTL_DB", "The store, when \\fB\\-\\-db\\fR is not given: a SQLite file, or a PostgreSQL "
     "database as \\fIpostgresql://[USER@]HOST[:PORT]/DBNAME[?PARAMS]\\fR (\\fIpostgres://\\fR too)."),
    ("PGPASSWORD, PGPASSFILE, PGSERVICE", "The password of a PostgreSQL store, or where libpq finds it "
     "(\\fI~/.pgpass\\fR by default): keep it out of the URL, which shows in \\fBps\\fR(1) and shell history."),
    ("XDG_DATA_HOME", "The default store is \\fI$XDG_DATA_HOME/keyctl/keyctl.db\\fR "
     "(\\fI~/.local/share/keyctl/keyctl.db\\fR when it is unset)."),
    ("NO_COLOR", "When set (to anything), human output has no colour. Output that is "
     "not a terminal never has colour."),
    ("KEYCTL_DEBUG", "When set, an unexpected error shows its Python traceback instead "
     "of a one\\-line request for a bug report. The traceback may show your data."),
    ("KEYCTL_KEYRING_TIMEOUT", "Seconds after which a call to the OS keyring "
     "(\\fB\\-\\-keyring\\fR, \\fBsecret\\fR) gives up with exit 1: a locked or unresponsive "
     "keyring is reported, never waited on for ever. Default 10."),
    ("PYTHON_KEYRING_BACKEND", "The \\fBkeyring\\fR package's backend for \\fB\\-\\-keyring\\fR "
     "and \\fBsecret\\fR, e.g. \\fIkeyring.backends.SecretService.Keyring\\fR."),
)

FILES = (
    ("$XDG_DATA_HOME/keyctl/keyctl.db",
     "The default store: one SQLite file (WAL mode) that keeps only a SHA\\-256 hash of "
     "each secret. It is created on the first write with mode 0600, its folder with "
     "mode 0700 when keyctl creates it. Commands that only read treat a missing store "
     "as empty."),
    ("~/.local/share/keyctl/keyctl.db", "The default store when XDG_DATA_HOME is unset."),
)


# Sections of their own for some pages, after DESCRIPTION: (page, heading, roff lines).
def _catalog_file_section() -> list[str]:
    example = (ROOT / "examples" / "catalogs" / "example.toml").read_text(encoding="utf-8")
    return [
        "A catalog is a TOML file. Top level: \\fBname\\fR (required), \\fBdescription\\fR, "
        "\\fBscopes_are_calls\\fR (false: a scope's own operation is not a call of the API, and a scope "
        "that opens no other operation to a key is warned of), "
        "\\fB[groups]\\fR (group = [scope ids], one at least; a group or \\fIgroup.*\\fR stands for its "
        "scopes), \\fB[[scopes]]\\fR (\\fBid\\fR, \\fBdescription\\fR, \\fBrequires\\fR: "
        "direct prerequisites, \\fBbillable\\fR: consumes an Operation (false: free; left out: "
        "the catalog does not say), \\fBaliases\\fR: other names, \\fBdeprecated\\fR and "
        "\\fBhidden\\fR: granted with a warning) and \\fB[[operations]]\\fR (\\fBid\\fR, "
        "\\fBdescription\\fR, \\fBrequires\\fR, \\fBbillable\\fR, \\fBredacts\\fR: portion = "
        "the scope without which it is hidden, \\fBauth\\fR: key (the default), pat or session "
        "(no API key may call it) or none (anyone may), \\fBresource\\fR: what it acts on, "
        "\\fBdeprecated\\fR).",
        ".PP",
        "Every scope is also an operation with the same id; \\fB[[operations]]\\fR entries "
        "refine those or add operations of their own. Scope ids are lowercase letters, digits, _ "
        "and \\-, dot\\-separated; an operation id may hold capitals, is shown as written and "
        "matched in any case, as aliases are; \\fBall\\fR is reserved: it grants every scope. "
        "The loader refuses a duplicate id, a prerequisite or group member that names no scope, "
        "a scope in two groups, a cycle of prerequisites, an operation that names no scope, an "
        "alias that is already a name, an unknown auth and an unknown field; "
        "\\fBkeyctl catalog validate\\fR reports each with its entry.",
        ".PP",
        "A complete small catalog (examples/catalogs/example.toml):",
        ".EX",
        esc(example.rstrip("\n")),
        ".EE",
        ".PP",
        "A store keeps the full text of its catalog from its first write (global option "
        "\\fB\\-\\-catalog\\fR \\fINAME|FILE\\fR or \\fBKEYCTL_CATALOG\\fR); naming "
        "another catalog for it is an error until \\fBkeyctl catalog upgrade\\fR replaces it. "
        "Built\\-in catalogs: \\fBclarifai\\fR (the default: the API\\-key guide) and "
        "\\fBclarifai\\-live\\fR (every scope and endpoint of Clarifai's published API "
        "definitions, generated by scripts/gen_clarifai_catalog.py; README.md says what it "
        "models and what it cannot).",
    ]


EXTRA_SECTIONS = {
    "keyctl-catalog": (("CATALOG FILES", _catalog_file_section),),
    "keyctl-catalog-validate": (("CATALOG FILES", _catalog_file_section),),
}


# --- roff text --------------------------------------------------------------------------
def esc(text: str) -> str:
    """Escape plain text for a roff text line: backslashes, hyphens (as \\- so that a
    copied option or command works) and a line that would start with a control
    character."""
    text = text.replace("\\", "\\e").replace("-", "\\-").replace("\t", "    ")
    return "\n".join(_guard(line) for line in text.split("\n"))


def _guard(line: str) -> str:
    # A text line starting with . or ' is a request to roff: \& makes it text.
    return "\\&" + line if line.startswith((".", "'")) else line


def bold(text: str) -> str:
    return f"\\fB{esc(text)}\\fR"


def italic(text: str) -> str:
    return f"\\fI{esc(text)}\\fR"


def metavar_roff(piece: str) -> str:
    """A usage piece such as ``[OPERATION]...`` or ``NAME|FILE``: the names in italics,
    brackets and dots roman."""
    out, pos = [], 0
    for m in re.finditer(r"[A-Za-z0-9_<>|:-]+", piece):
        out.append(esc(piece[pos:m.start()]))
        out.append(italic(m.group()))
        pos = m.end()
    out.append(esc(piece[pos:]))
    return "".join(out)


def page_name(path: list[str]) -> str:
    return "-".join(path)


def xref(path: list[str]) -> str:
    return f"\\fB{esc(page_name(path))}\\fR(1)"


# --- help text --------------------------------------------------------------------------
@dataclass(frozen=True)
class Help:
    """A command's help split as click formats it: prose paragraphs (a paragraph whose
    first line is click's \\b marker keeps its lines) and the examples."""

    paragraphs: tuple[tuple[bool, str], ...]  # (verbatim, text)
    examples: tuple[tuple[bool, str], ...]


def split_help(text: Optional[str]) -> Help:
    text = (text or "").split("\f", 1)[0]  # click: help stops at a form feed
    paragraphs: list[tuple[bool, str]] = []
    for block in re.split(r"\n[ \t]*\n", text.strip("\n")):
        lines = block.split("\n")
        if lines and lines[0].strip() == "\b":
            body = _dedent([line.rstrip() for line in lines[1:]])
            if body:
                paragraphs.append((True, body))
        elif block.strip():
            paragraphs.append((False, " ".join(line.strip() for line in lines if line.strip())))
    for i, (verbatim, para) in enumerate(paragraphs):
        if not verbatim and re.match(r"examples?:", para, re.IGNORECASE):
            rest = para.split(":", 1)[1].strip()
            examples = ([(False, rest)] if rest else []) + paragraphs[i + 1:]
            return Help(tuple(paragraphs[:i]), tuple(examples))
    return Help(tuple(paragraphs), ())


def _dedent(lines: list[str]) -> str:
    while lines and not lines[-1].strip():
        lines.pop()
    indents = [len(line) - len(line.lstrip()) for line in lines if line.strip()]
    cut = min(indents) if indents else 0
    return "\n".join(line[cut:] for line in lines)


def summary(cmd: Any) -> str:
    """The NAME line's description: the short help or the help's first sentence."""
    text = cmd.short_help or next((p for v, p in split_help(cmd.help).paragraphs if not v), "")
    text = re.split(r"(?<=[.!?])\s", text.strip(), maxsplit=1)[0].rstrip(".")
    if len(text) > 80 and ": " in text:  # a long first sentence: its head, for whatis(1)
        text = text.split(": ", 1)[0]
    if text[:2] != text[:2].upper():
        text = text[:1].lower() + text[1:]
    return text or "a keyctl command"


def paragraphs_roff(paras: tuple[tuple[bool, str], ...]) -> list[str]:
    out: list[str] = []
    for verbatim, para in paras:
        if out:
            out.append(".PP")
        if verbatim:
            out += [".EX", esc(para), ".EE"]
        else:
            out.append(esc(para))
    return out


# --- the command tree --------------------------------------------------------------------
@dataclass
class Node:
    """A command in the tree, with the context click would give it."""

    path: tuple[str, ...]
    cmd: Any
    ctx: Any
    parent: Optional["Node"] = None
    children: list["Node"] = field(default_factory=list)

    @property
    def name(self) -> str:
        return page_name(list(self.path))


def build_tree(cmd: Any, path: tuple[str, ...] = (PROG,), parent: Optional[Node] = None) -> Node:
    # A context per level, with its parent, so that inherited settings (the -h alias of
    # --help from the root's context_settings) show as they do in --help.
    ctx = cmd.context_class(cmd, info_name=path[-1], parent=parent.ctx if parent else None,
                            **(cmd.context_settings or {}))
    node = Node(path, cmd, ctx, parent)
    if hasattr(cmd, "list_commands"):
        for name in cmd.list_commands(ctx):
            sub = cmd.get_command(ctx, name)
            if sub is not None and not getattr(sub, "hidden", False):
                node.children.append(build_tree(sub, path + (name,), node))
    return node


def walk(node: Node) -> Iterator[Node]:
    yield node
    for child in node.children:
        yield from walk(child)


def visible_params(node: Node) -> list[Any]:
    return [p for p in node.cmd.get_params(node.ctx) if not getattr(p, "hidden", False)]


def is_option(param: Any) -> bool:
    return getattr(param, "param_type_name", "") == "option"


def is_flag(param: Any) -> bool:
    return bool(getattr(param, "is_flag", False) or getattr(param, "count", False))


def sorted_opts(opts: list[str]) -> list[str]:
    """Short options first, as click's --help lists them (-s, --scope)."""
    return sorted(opts, key=lambda o: len(o) - len(o.lstrip("-/+")))


def long_opt(param: Any) -> str:
    return next((o for o in param.opts if o.startswith("--")), param.opts[0])


TYPE_METAVARS = {
    "StringParamType": "TEXT", "IntParamType": "INTEGER", "FloatParamType": "FLOAT",
    "BoolParamType": "BOOLEAN", "UUIDParameterType": "UUID", "DateTime": "DATETIME",
    "File": "FILENAME", "Path": "PATH",
}


def option_metavar(param: Any, ctx: Any) -> str:
    if is_flag(param):
        return ""
    if param.metavar is not None:
        return param.metavar
    # No metavar given: Typer's own differs between releases (0.26 TEXT, 0.28 <str>),
    # which would make the pages depend on the Typer installed. Name the type instead.
    choices = getattr(param.type, "choices", None)
    if choices:
        return "|".join(str(getattr(c, "value", c)) for c in choices)
    for cls in type(param.type).__mro__:  # by class: the types' `name` changed too
        if cls.__name__ in TYPE_METAVARS:
            return TYPE_METAVARS[cls.__name__]
    return "VALUE"


def default_text(param: Any, ctx: Any) -> str:
    """The default as --help shows it (nothing for None, empty or an off flag)."""
    show = getattr(param, "show_default", None)
    if isinstance(show, str):
        return show
    if show is False:
        return ""
    try:
        value = param.get_default(ctx, call=False)
    except Exception:  # a default that cannot be computed here is not worth a crash
        return ""
    if callable(value):
        return "(dynamic)"
    secondary = getattr(param, "secondary_opts", None)
    if is_flag(param) and secondary and isinstance(value, bool):  # --flag/--no-flag
        return param.opts[0] if value else secondary[0]
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v.value if isinstance(v, Enum) else v) for v in value)
    if isinstance(value, Enum):
        return str(value.value)
    if value is None or value is False or value == "":
        return ""
    if value is True and is_flag(param):
        return "on"
    return str(value)


def envvars(param: Any) -> list[str]:
    env = getattr(param, "envvar", None)
    if not env:
        return []
    return [env] if isinstance(env, str) else [str(e) for e in env]


def argument_metavar(param: Any) -> str:
    """KEY, [KEY], SCOPE..., [OPERATION]...: the argument's metavar as given (keyctl
    gives every one), else its name, in the same shape. Not Typer's own rendering,
    which changed between releases (0.28 writes a required one as {KEY})."""
    if param.metavar is not None:
        return param.metavar
    var = (param.name or "arg").upper() + ("..." if param.nargs != 1 else "")
    return var if param.required else f"[{var}]"


def param_tag(param: Any, ctx: Any) -> str:
    if not is_option(param):
        return metavar_roff(argument_metavar(param))
    opts = ", ".join(bold(o) for o in sorted_opts(param.opts))
    if getattr(param, "secondary_opts", None):
        opts += " / " + ", ".join(bold(o) for o in sorted_opts(param.secondary_opts))
    mv = option_metavar(param, ctx)
    return f"{opts} {metavar_roff(mv)}" if mv else opts


def param_body(param: Any, ctx: Any) -> str:
    text = " ".join((getattr(param, "help", None) or "").split())
    if text and text[-1] not in ".!?":
        text += "."  # the extras below are sentences of their own
    parts = [esc(text)]
    if param.required:
        parts.append("Required.")
    if is_option(param) and getattr(param, "multiple", False):
        parts.append("May be repeated.")
    choices = getattr(param.type, "choices", None)
    if choices:
        parts.append("One of: " + ", ".join(bold(str(getattr(c, "value", c))) for c in choices) + ".")
    describe = getattr(param.type, "_describe_range", None)
    if callable(describe):
        parts.append(f"Range: {esc(describe())}.")
    default = default_text(param, ctx)
    if default:
        parts.append(f"Default: {bold(default)}.")
    env = envvars(param)
    if env:
        parts.append("Environment: " + ", ".join(bold(e) for e in env) + ".")
    return " ".join(p for p in parts if p)


def synopsis(node: Node) -> list[str]:
    cmd, ctx = node.cmd, node.ctx
    help_opt = cmd.get_help_option(ctx)
    lines = [bold(" ".join(node.path))]
    for param in visible_params(node):
        if not is_option(param) or param is help_opt:
            continue
        mv = option_metavar(param, ctx)
        item = bold(long_opt(param)) + (f" {metavar_roff(mv)}" if mv else "")
        if getattr(param, "secondary_opts", None):
            item += " | " + bold(param.secondary_opts[0])
        if getattr(param, "multiple", False):
            item += " ..."
        lines.append(item if param.required else f"[{item}]")
    if help_opt is not None and help_opt.opts:
        lines.append(f"[{bold(long_opt(help_opt))}]")
    lines += [metavar_roff(argument_metavar(p)) for p in visible_params(node) if not is_option(p)]
    if node.children or hasattr(cmd, "list_commands"):
        lines.append(metavar_roff(getattr(cmd, "subcommand_metavar", None) or "COMMAND [ARGS]..."))
    return lines


# --- one page ---------------------------------------------------------------------------
def render(node: Node, root: Node) -> str:
    cmd = node.cmd
    helptext = split_help(cmd.help)
    title = node.name.upper()
    out = [
        '.\\" Generated by scripts/gen_man.py from the keyctl command tree. Do not edit:',
        '.\\" change the help text in keyctl/ and run python scripts/gen_man.py.',
        f'.TH "{esc(title)}" "1" "{DATE}" "keyctl {_version()}" "keyctl manual"',
        ".SH NAME",
        f"{esc(node.name)} \\- {esc(summary(cmd))}",
        ".SH SYNOPSIS",
        *synopsis(node),
        ".SH DESCRIPTION",
    ]
    if getattr(cmd, "deprecated", False):
        out += ["This command is deprecated.", ".PP"]
    out += paragraphs_roff(helptext.paragraphs) or [esc(summary(cmd))]
    for heading, make in EXTRA_SECTIONS.get(node.name, ()):
        out += [f".SH {heading}", *make()]

    if node.children:
        out.append(".SH COMMANDS")
        for sub in walk(node):
            if sub is node:
                continue
            out += [".TP", f"{xref(list(sub.path))}", esc(summary(sub.cmd)) + "."]

    out.append(".SH OPTIONS")
    params = visible_params(node)
    arguments = [p for p in params if not is_option(p)]
    options = [p for p in params if is_option(p)]
    for heading, group in (("Arguments", arguments), ("Options", options)):
        if not group:
            continue
        out.append(f".SS {heading}")
        for param in group:
            out += [".TP", param_tag(param, node.ctx), param_body(param, node.ctx)]
    globals_ = [p for p in options if type(p).__name__ == "GlobalOption"]  # keyctl/app.py
    if globals_:
        names = " and ".join(bold(p.opts[0]) for p in globals_)
        out += [".PP", f"{names} are global options: every command takes them, before or after its name."]

    if node is root:
        out.append(".SH ENVIRONMENT")
        known = {name for name, _ in ENVIRONMENT}
        for name, text in ENVIRONMENT:
            out += [".TP", bold(name), text]
        for sub in walk(root):
            for param in visible_params(sub):
                for env in envvars(param):
                    if env in known:
                        continue
                    known.add(env)
                    where = " ".join(sub.path[1:] + (param.opts[0],)) if is_option(param) else param.name
                    out += [".TP", bold(env), f"The default of {bold(where)}."]
        out.append(".SH FILES")
        for path, text in FILES:
            out += [".TP", italic(path), text]

    out.append(".SH EXIT STATUS")
    for code, text in EXIT_STATUS:
        out += [".TP", f"\\fB{code}\\fR", text]

    out.append(".SH EXAMPLES")
    out += paragraphs_roff(examples(node))

    out.append(".SH SEE ALSO")
    out.append(",\n".join(xref(list(p)) for p in see_also(node, root)))
    return "\n".join(out) + "\n"


def examples(node: Node) -> tuple[tuple[bool, str], ...]:
    """The command's own examples; for a group without any, the first example of each
    of its commands. Never empty: an empty section is a lint warning and no help."""
    own = split_help(node.cmd.help).examples
    if own:
        return own
    lines = []
    for sub in walk(node):
        first = next((p for v, p in split_help(sub.cmd.help).examples if v), "")
        if sub is not node and first:
            lines.append(first.split("\n")[0])
    if lines:
        return ((True, "\n".join(lines)),)
    return ((False, f"See {' '.join(node.path)} --help."),)


def see_also(node: Node, root: Node) -> list[tuple[str, ...]]:
    """keyctl(1), the parent group's page, the children's pages and the siblings'."""
    refs: list[tuple[str, ...]] = []
    if node is not root:
        refs.append(root.path)
        if node.parent is not None and node.parent is not root:
            refs.append(node.parent.path)
    refs += [c.path for c in node.children]
    if node.parent is not None:
        refs += [s.path for s in node.parent.children if s.path != node.path]
    if node is root:
        refs = [n.path for n in walk(root) if n is not root]
    seen: list[tuple[str, ...]] = []
    for r in refs:
        if r not in seen:
            seen.append(r)
    return seen


def _version() -> str:
    from keyctl import __version__

    return __version__


def generate(command: Any = None) -> dict[str, str]:
    """File name -> page text for every command in the tree (keyctl's, or the click
    command given)."""
    if command is None:
        import typer.main

        from keyctl.cli import app

        command = typer.main.get_command(app)
    root = build_tree(command)
    return {f"{node.name}.1": render(node, root) for node in walk(root)}


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Generate man/*.1 from the keyctl command tree.")
    parser.add_argument("--check", action="store_true", help="exit 1 and list stale pages; write nothing")
    parser.add_argument("--out", type=Path, default=MAN_DIR, help="folder of the pages (default: man/)")
    args = parser.parse_args(argv)

    pages = generate()
    existing = {p.name for p in args.out.glob(f"{PROG}*.1")} if args.out.is_dir() else set()
    stale = sorted(
        name for name, text in pages.items()
        if not (args.out / name).is_file() or (args.out / name).read_text(encoding="utf-8") != text
    )
    orphans = sorted(existing - set(pages))
    if args.check:
        for name in stale:
            print(f"stale: {args.out.name}/{name}")
        for name in orphans:
            print(f"no such command: {args.out.name}/{name}")
        if stale or orphans:
            print("run python scripts/gen_man.py", file=sys.stderr)
            return 1
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name in stale:
        (args.out / name).write_text(pages[name], encoding="utf-8")
    for name in orphans:
        (args.out / name).unlink()
    print(f"{len(pages)} pages in {args.out}: {len(stale)} written, {len(orphans)} removed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
