"""How bench/run.py measures: whole processes timed from spawn to exit, peak memory
through a bare launcher, a keyctl process and its baseline run alternately, and the
table's rows. bench/README.md says why each is done the way it is."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Callable

PYTHON = sys.executable  # the interpreter measured (run.py's --python sets it)


def log(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


# --- running a process -------------------------------------------------------------------
@dataclass
class Run:
    seconds: float
    code: int
    maxrss_kib: int  # meaningful only from peak_rss()
    first_byte: float | None = None
    out: bytes = b""


def run(argv: list[str], env: dict[str, str], capture: bool = False, first_byte: bool = False,
        stdin: str | None = None) -> Run:
    """One whole process, timed from spawn to exit (``stdin``: a file to read)."""
    start = time.perf_counter()
    source = open(stdin, "rb") if stdin else subprocess.DEVNULL
    try:
        proc = subprocess.Popen(argv, env=env, stdin=source, stderr=subprocess.DEVNULL,
                                stdout=subprocess.PIPE if capture or first_byte else subprocess.DEVNULL)
    finally:
        if stdin:
            source.close()  # type: ignore[union-attr]
    ttfb = None
    out = b""
    if proc.stdout is not None:
        chunk = proc.stdout.read1(65536) if first_byte else b""
        if first_byte:
            ttfb = time.perf_counter() - start
        rest = proc.stdout.read() if capture else _drain(proc.stdout)
        out = chunk + rest if capture else b""
        proc.stdout.close()
    code = proc.wait()
    return Run(time.perf_counter() - start, code, 0, ttfb, out)


# Peak memory needs a small parent: a child forked from this process (which holds the
# 100,000-key build in memory) starts with this process's high-water mark, and the
# kernel keeps it across exec. So the child is started by a bare `python -S` that
# reports its wait4 ru_maxrss.
PEAK_RSS = ("import os, sys; pid = os.posix_spawn(sys.argv[1], sys.argv[1:], os.environ); "
            "_, status, usage = os.wait4(pid, 0); "
            "sys.stderr.write(f'{os.waitstatus_to_exitcode(status)} {usage.ru_maxrss}')")


def peak_rss(argv: list[str], env: dict[str, str]) -> Run:
    """A process's own peak RSS (KiB), measured through the PEAK_RSS launcher."""
    start = time.perf_counter()
    done = subprocess.run([PYTHON, "-S", "-c", PEAK_RSS, *argv], env=env,
                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    code, kib = done.stderr.split()[-2:]
    return Run(time.perf_counter() - start, int(code), int(kib))


def _drain(stream) -> bytes:
    while stream.read1(1 << 20):
        pass
    return b""


def remove_db(db: "os.PathLike[str] | str") -> None:
    for suffix in ("", "-wal", "-shm"):
        try:
            os.unlink(f"{db}{suffix}")
        except OSError:
            pass


def expect(result: Run, codes: tuple[int, ...], what: str, contains: bytes | None = None) -> Run:
    if result.code not in codes or (contains is not None and contains not in result.out):
        sys.exit(f"bench: {what} exited {result.code} (expected {codes}); output: {result.out[:300]!r}")
    return result


# --- measurements ------------------------------------------------------------------------
@dataclass
class Pair:
    """A keyctl process and its baseline, run alternately."""

    name: str
    keyctl: Callable[[int], Run]
    baseline: Callable[[int], Run]
    k: list[Run] = field(default_factory=list)
    b: list[Run] = field(default_factory=list)


@dataclass
class Row:
    measurement: str
    keyctl: str
    baseline: str
    ratio: str
    target: str
    verdict: str  # pass | FAIL | report | n/a


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def median(values: list[float]) -> float:
    return statistics.median(values)


def run_pairs(pairs: list[Pair], runs: int, warmup: int = 2) -> None:
    """Round-robin over the pairs; inside a pair the order alternates (ABBA), so drift
    in the machine's load falls on both sides alike."""
    for r in range(warmup + runs):
        for pair in pairs:
            first, second = (pair.keyctl, pair.baseline) if r % 2 == 0 else (pair.baseline, pair.keyctl)
            a, b = first(r), second(r)
            if r < warmup:
                continue
            k, base = (a, b) if r % 2 == 0 else (b, a)
            pair.k.append(k)
            pair.b.append(base)
        log(f"  round {r + 1}/{warmup + runs}")


def ratio_row(name: str, pair: Pair, limit: float | None) -> Row:
    """keyctl's median time over the baseline's; ``limit`` None: reported only."""
    k = median([r.seconds for r in pair.k])
    b = median([r.seconds for r in pair.b])
    ratio = k / b
    if limit is None:
        return Row(name, ms(k), ms(b), f"{ratio:.2f}×", "report", "report")
    return Row(name, ms(k), ms(b), f"{ratio:.2f}×", f"≤ {limit:g}×", "pass" if ratio <= limit else "FAIL")


def memory_row(name: str, pair: Pair, limit_mib: float | None = None, limit_ratio: float | None = None) -> Row:
    """Median peak memory of each side (a Pair of peak_rss runs): at most ``limit_mib``
    on the keyctl side, and/or at most ``limit_ratio`` times the baseline's."""
    for r in pair.k + pair.b:
        expect(r, (0,), f"{name} under the memory launcher")
    k = median([r.maxrss_kib for r in pair.k]) / 1024
    b = median([r.maxrss_kib for r in pair.b]) / 1024
    targets, ok = [], True
    if limit_mib is not None:
        targets.append(f"≤ {limit_mib:g} MiB")
        ok = ok and k <= limit_mib
    if limit_ratio is not None:
        targets.append(f"≤ {limit_ratio:g}×")
        ok = ok and k / b <= limit_ratio
    return Row(name, f"{k:.1f} MiB", f"{b:.1f} MiB", f"{k / b:.2f}×", " and ".join(targets) or "report",
               ("pass" if ok else "FAIL") if targets else "report")


def print_table(rows: list[Row]) -> None:
    print("| measurement | keyctl | baseline | ratio | target | result |")
    print("|---|---:|---:|---:|---|---|")
    for r in rows:
        print(f"| {r.measurement} | {r.keyctl} | {r.baseline} | {r.ratio} | {r.target} | {r.verdict} |")
