"""PURE: tables of text. For a terminal, a table that fits its width; for a program
reading a pipe, one record per line with tab-separated columns (as gh prints).

At a terminal every column is as wide as its widest cell while the table fits. When
it does not, columns that may shrink (long lists, details) shrink, down to a floor,
and their cells wrap between words: nothing is split inside a word, and a word (or a
cell that may not wrap) longer than its column is cut with an ellipsis. When even the
floors do not fit, optional columns give way, the least useful first; the columns
marked ``keep`` never do. No line ends in padding.

The caller gives cells as text already made safe to print (keyctl/text.py's
``printable``): no tab, newline or control character reaches a cell.
"""

from __future__ import annotations

from typing import Iterable, Iterator, NamedTuple, Sequence

GAP = 2  # spaces between columns


class Column(NamedTuple):
    header: str
    drop: int = 0  # 0: never left out; else the higher, the sooner it gives way
    wrap: bool = False  # a long cell wraps between words (else it is cut)
    floor: int = 0  # the narrowest it may shrink to (0: it does not shrink)
    max_lines: int = 0  # a wrapped cell's most lines (0: no limit)


def wrap(text: str, width: int, hang: int = 0) -> list[str]:
    """``text`` as lines of at most ``width`` (a word longer stays whole), broken
    between words; every line after the first starts with ``hang`` spaces."""
    import textwrap  # only where a line is too long for the terminal

    return textwrap.wrap(text, width, subsequent_indent=" " * hang, break_long_words=False,
                         break_on_hyphens=False) or [text]


def tsv(columns: Sequence[Column], rows: Iterable[Sequence[str]], headers: bool = True) -> Iterator[str]:
    """One line per record, columns separated by a tab, the header first."""
    if headers:
        yield "\t".join(c.header for c in columns)
    for row in rows:
        yield "\t".join(row)


def layout(columns: Sequence[Column], rows: Sequence[Sequence[str]], width: int, headers: bool = True,
           ellipsis: str = "…") -> list[str]:
    """The lines of a table no wider than ``width`` (where the kept columns' floors
    allow), its header first."""
    shown = list(range(len(columns)))
    natural = [max([len(columns[i].header)] + [len(r[i]) for r in rows]) for i in shown]
    floor = [_floor(columns[i], natural[i], rows, i) for i in shown]
    # Optional columns give way before a cell that may not wrap (a name) is cut, unless
    # it is longer than twice its floor: one long name does not take every column.
    soft = [floor[i] if columns[i].wrap else min(natural[i], max(floor[i], 2 * columns[i].floor)) for i in shown]
    while _total(soft, shown) > width:
        droppable = [i for i in shown if columns[i].drop]
        if not droppable:
            break
        shown.remove(max(droppable, key=lambda i: (columns[i].drop, i)))
    widths = {i: natural[i] for i in shown}
    for wrapping in (True, False):  # wrapped cells shrink first, then cut ones
        limits = {i: floor[i] if columns[i].wrap == wrapping else widths[i] for i in shown}
        _shrink(widths, limits, sum(widths.values()) + GAP * (len(shown) - 1) - width)
    lines = [_join([columns[i].header for i in shown], widths, shown)] if headers else []
    for row in rows:
        cells = [_cell(row[i], widths[i], columns[i], ellipsis) for i in shown]
        for n in range(max(len(c) for c in cells)):
            lines.append(_join([c[n] if n < len(c) else "" for c in cells], widths, shown))
    return lines


def _total(widths: Sequence[int], shown: Sequence[int]) -> int:
    return sum(widths[i] for i in shown) + GAP * (len(shown) - 1)


def _floor(column: Column, natural: int, rows: Sequence[Sequence[str]], i: int) -> int:
    """How narrow a column may get: for one that wraps, its longest word (up to half again
    its floor), so that words are rarely cut."""
    if not column.floor:
        return natural
    floor = max(column.floor, len(column.header))
    if column.wrap:
        longest = max((len(w) for r in rows for w in r[i].split(" ")), default=0)
        floor = max(floor, min(longest, column.floor * 3 // 2))
    return min(natural, floor)


def _shrink(widths: dict[int, int], floor: dict[int, int], excess: int) -> None:
    """Take ``excess`` columns of width from the widest columns that may shrink."""
    while excess > 0:
        room = [i for i in widths if widths[i] > floor[i]]
        if not room:
            return
        widest = max(room, key=lambda i: widths[i])
        others = [widths[i] for i in room if i != widest]
        step = min(excess, widths[widest] - floor[widest], max(1, widths[widest] - max(others, default=0)))
        widths[widest] -= step
        excess -= step


def _cut(text: str, width: int, ellipsis: str) -> str:
    if len(text) <= width:
        return text
    return text[:max(0, width - len(ellipsis))] + ellipsis if width >= len(ellipsis) else text[:width]


def _cell(text: str, width: int, column: Column, ellipsis: str) -> list[str]:
    """A cell's lines: wrapped between words or cut, none wider than ``width``."""
    if not column.wrap or len(text) <= width:
        return [_cut(text, width, ellipsis)]
    lines: list[str] = []
    line = ""
    for word in text.split(" "):
        candidate = f"{line} {word}" if line else word
        if len(candidate) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        line = _cut(word, width, ellipsis)
    lines.append(line)
    if column.max_lines and len(lines) > column.max_lines:
        lines = lines[:column.max_lines]
        lines[-1] = lines[-1][:max(0, width - len(ellipsis))] + ellipsis
    return lines


def _join(cells: list[str], widths: dict[int, int], shown: list[int]) -> str:
    return (" " * GAP).join(cell.ljust(widths[i]) for cell, i in zip(cells, shown)).rstrip()
