"""What ``keyctl status`` reports: which store (its path or URL), whether it exists and
can be used (and if not, why), its catalog, its keys by status, and what is wrong
with it (loose permissions, a folder others can write). KeyStore.status() returns it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import StoreError

if TYPE_CHECKING:  # pragma: no cover
    from .api import KeyStore


def status_of(ks: "KeyStore") -> dict[str, Any]:
    """The store as ``keyctl status --json`` prints it. A store that cannot be used is
    reported (``usable`` false, ``problem`` saying why), not raised."""
    from .catalog import BUILTIN_CATALOGS, builtin
    from .models import STATUSES, key_status
    from . import when as clock

    info = ks.store.describe()
    problem = info.pop("problem", None)
    info.update(usable=problem is None, problem=problem, catalog=None, keys=None)
    if problem is not None:
        return info
    try:
        counts = {s: 0 for s in STATUSES}
        now = clock.iso(clock.utcnow())
        for row in ks.store.iter_keys():
            counts[key_status(row.disabled, row.expires_at, now)] += 1
        catalog = ks.stored_catalog() or ks.catalog
    except StoreError as exc:  # damage found while reading it
        info.update(usable=False, problem=exc.message)
        return info
    built_in = catalog.name in BUILTIN_CATALOGS and builtin(catalog.name).text == catalog.text
    info["catalog"] = {"name": catalog.name, "builtin": built_in}
    info["keys"] = counts | {"total": sum(counts.values())}
    return info
