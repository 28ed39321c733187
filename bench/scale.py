"""``bench/run.py --scale``: keyctl as a store grows to a million keys (issue 17). Takes
minutes (most of it building the stores and applying 100,000 keys six times); never
part of the test suite.

* The library's growth table: ``KeyStore.check`` on random keys of stores of 1,000,
  10,000, 100,000 and 1,000,000 keys, by secret against the floor of the same look-up
  by hand (bench/library.py), and by name and by id against by secret, in one run.
* ``keyctl check`` as a process on the million-key store against the 10-key store.
* ``keyctl apply`` of a 100,000-key manifest into a copy of a 900,000-key store against
  the same into a new store: time and peak memory of each.
* ``keyctl export`` (TOML and ``--json``) and ``keyctl list --json`` of the million
  keys: peak memory against the same commands on the 10-key store.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from types import ModuleType
from typing import Callable

import fixtures
import library

SIZES = (1_000, 10_000, 100_000, 1_000_000)
CHUNK = 100_000  # keys in the manifest applied
INTO = 900_000  # keys in the store it is applied to


def measure(h: ModuleType, kc: str, tmp: Path, small: Path, runs: int, env: Callable[..., dict]) -> list:
    h.log(f"bench --scale: building stores of {', '.join(f'{n:,}' for n in SIZES)} and {INTO:,} keys "
          f"and a {CHUNK:,}-key manifest")
    stores = {n: tmp / f"scale-{n}.db" for n in SIZES}
    samples = {n: fixtures.fill(path, n) for n, path in stores.items()}
    into = tmp / f"scale-into-{INTO}.db"
    fixtures.fill(into, INTO)
    chunk = tmp / "chunk.toml"
    fixtures.write_manifest(chunk, CHUNK, prefix="chunk")
    few = max(3, runs // 5)  # the slow measurements

    rows = []
    for n in SIZES:
        h.log(f"bench --scale: KeyStore.check on {n:,} keys")
        got = library.rates(stores[n], runs, library.check_sides(stores[n], samples[n].secrets, samples[n].names,
                                                                 samples[n].ids))
        rows.append(h.Row(f"`KeyStore.check(secret, op)` on {n:,} keys, random keys, vs the floor (hash + SELECT + "
                          "subset test)", f"{got['secret']:,.0f}/s", f"{got['floor']:,.0f}/s",
                          f"{got['secret'] / got['floor']:.2f}×", "≥ 0.7×",
                          "pass" if got["secret"] >= 0.7 * got["floor"] else "FAIL"))
        for kind in ("name", "id"):
            slower = got["secret"] / got[kind]
            rows.append(h.Row(f"`KeyStore.check({kind}, op)` on {n:,} keys vs by secret (time per call)",
                              f"{got[kind]:,.0f}/s", f"{got['secret']:,.0f}/s", f"{slower:.2f}×", "≤ 1.3×",
                              "pass" if slower <= 1.3 else "FAIL"))

    big = stores[SIZES[-1]]
    check = [kc, "check", fixtures.NAME, "inputs.get"]
    h.expect(h.run(check, env(big), capture=True), (3,), "check on the million-key store", b"redacted")
    check_pair = h.Pair("check_1m", lambda r: h.run(check, env(big)), lambda r: h.run(check, env(small)))
    h.log("bench --scale: `keyctl check` on a million keys")
    h.run_pairs([check_pair], runs)
    rows.append(h.ratio_row(f"`keyctl check` on {SIZES[-1]:,} keys vs on {fixtures.SMALL} keys", check_pair, 1.10))

    def apply_to(store: "Path | None") -> Callable[[int], object]:
        def one(r: int) -> object:
            target = tmp / "scale-apply.db"
            h.remove_db(target)
            if store is not None:
                shutil.copy(store, target)
            return h.expect(h.peak_rss([kc, "apply", str(chunk), "--json"], env(target)), (0,), "keyctl apply")
        return one

    apply_pair = h.Pair("apply_chunk", apply_to(into), apply_to(None))
    h.log(f"bench --scale: `keyctl apply` of {CHUNK:,} keys into {INTO:,} and into none, {few} runs each")
    h.run_pairs([apply_pair], few, warmup=0)
    rows.append(h.ratio_row(f"`keyctl apply` of {CHUNK:,} keys into a store of {INTO:,} vs into a new store: time",
                            apply_pair, 1.3))
    rows.append(h.memory_row(f"the same: peak memory (into {INTO:,} vs into a new store)", apply_pair, limit_mib=400))

    memory = []
    for args, what, limit_mib, limit_ratio in ((["export"], "`keyctl export`", 100, None),
                                               (["export", "--json"], "`keyctl export --json`", 100, None),
                                               (["list", "--json"], "`keyctl list --json`", None, 1.25)):
        argv = [kc, *args]
        pair = h.Pair(what, lambda r, a=argv: h.peak_rss(a, env(big)), lambda r, a=argv: h.peak_rss(a, env(small)))
        memory.append((pair, what, limit_mib, limit_ratio))
    h.log(f"bench --scale: export and list of {SIZES[-1]:,} keys, {few} runs each")
    h.run_pairs([m[0] for m in memory], few, warmup=0)
    for pair, what, limit_mib, limit_ratio in memory:
        rows.append(h.memory_row(f"{what} of {SIZES[-1]:,} keys: peak memory vs of {fixtures.SMALL} keys", pair,
                                 limit_mib=limit_mib, limit_ratio=limit_ratio))
        rows.append(h.ratio_row(f"{what} of {SIZES[-1]:,} keys: time (vs of {fixtures.SMALL} keys)", pair, None))
    return rows
