"""Default layer names (`dense`, `dense_1`, ...) from a weak registry of the layers alive now.

Keras numbers default names from a process-wide counter, so a name depends on everything the
process built before, and a model unpickled in a fresh process can collide with a layer built
there. graphc gives a new layer the lowest `stem_N` that no *live* layer holds: every layer
registers its name (default or explicit, built or unpickled) under a weak reference, and the entry
leaves when the layer is collected. Names are unique among live layers, the registry is as large
as the set of live layers (building models in a loop leaves nothing behind), and imported models
keep their file's names while new layers step around them. A suffix may depend on whether an
earlier, unreachable model has been collected yet; uniqueness never does.
"""
from __future__ import annotations

import re
import threading
import weakref

_SUFFIX = re.compile(r"^(.+)_([1-9][0-9]*)$")


def split_name(name: str) -> tuple[str, int]:
    """('dense', 3) for 'dense_3'; ('dense', 0) for 'dense'."""
    m = _SUFFIX.match(name)
    return (m.group(1), int(m.group(2))) if m else (name, 0)


class NameRegistry:
    """stem -> index -> {id: weakref} of the live holders of `stem_index` (explicit names may repeat)."""

    def __init__(self):
        self._slots: dict[str, dict[int, dict[int, weakref.ref]]] = {}
        self._lock = threading.RLock()  # a collection inside claim() runs `gone` on this thread

    def claim(self, obj, stem: str) -> str:
        """The lowest free `stem`, `stem_1`, ... registered to `obj`."""
        with self._lock:
            slots = self._slots.get(stem, {})
            i = 0
            while slots.get(i):
                i += 1
            name = stem if i == 0 else f"{stem}_{i}"
            self._add(obj, stem, i)
        return name

    def hold(self, obj, name: str) -> None:
        """Register `obj` as a holder of the given `name`."""
        stem, i = split_name(name)
        with self._lock:
            self._add(obj, stem, i)

    def _add(self, obj, stem, i):
        key = id(obj)

        def gone(_ref, stem=stem, i=i, key=key):
            with self._lock:
                slot = self._slots.get(stem, {}).get(i)
                if slot is not None and slot.get(key) is _ref:
                    del slot[key]
                    if not slot:
                        del self._slots[stem][i]
                        if not self._slots[stem]:
                            del self._slots[stem]

        self._slots.setdefault(stem, {}).setdefault(i, {})[key] = weakref.ref(obj, gone)

    def __len__(self) -> int:
        """How many names are held (for tests: it tracks the live layers)."""
        with self._lock:
            return sum(len(s) for slots in self._slots.values() for s in slots.values())


NAMES = NameRegistry()
