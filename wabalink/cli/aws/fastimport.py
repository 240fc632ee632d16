"""Import botocore's client machinery without its documentation generator.

``botocore.client`` and ``botocore.waiter`` import ``botocore.docs.docstring`` only to
attach lazily generated docstrings to client methods, and ``botocore.handlers``
imports ``botocore.docs.utils``; importing them pulls in the whole ``botocore.docs``
package (a good part of botocore's import time).  A command-line call never reads
those docstrings, so while botocore's client modules are imported we put a bare
``botocore.docs`` package (submodules still load from botocore's own directory) and
a ``botocore.docs.docstring`` whose docstring classes defer to the real ones on first
use.  Both placeholders leave ``sys.modules`` afterwards, so a later
``import botocore.docs`` gets the real package and docstrings still work.
"""
from __future__ import annotations

import sys
import types


def _lazy(name: str):
    class _Docstring(str):
        _real_name = name

        def __new__(cls, *args, **kwargs):
            return super().__new__(cls)

        def __init__(self, *args, **kwargs):
            super().__init__()
            self._args, self._kwargs, self._real = args, kwargs, None

        def _get(self):
            if self._real is None:
                import importlib

                real_cls = getattr(importlib.import_module("botocore.docs.docstring"), self._real_name)
                self._real = real_cls(*self._args, **self._kwargs)
            return self._real

        def expandtabs(self, tabsize=8):
            return self._get().expandtabs(tabsize)

        def __str__(self):
            return str(self._get())

    _Docstring.__name__ = _Docstring.__qualname__ = name
    return _Docstring


def import_botocore_session():
    """Import and return ``botocore.session`` as cheaply as possible."""
    if "botocore.session" in sys.modules or "botocore.docs" in sys.modules:
        import botocore.session

        return botocore.session
    import botocore

    pkg = types.ModuleType("botocore.docs")
    pkg.__path__ = [p + "/docs" for p in botocore.__path__]
    pkg.__package__ = "botocore.docs"
    doc = types.ModuleType("botocore.docs.docstring")
    for cls in ("ClientMethodDocstring", "PaginatorDocstring", "WaiterDocstring"):
        setattr(doc, cls, _lazy(cls))
    sys.modules["botocore.docs"] = pkg
    sys.modules["botocore.docs.docstring"] = doc
    try:
        import botocore.client  # noqa: F401
        import botocore.session
    finally:
        if sys.modules.get("botocore.docs") is pkg:
            del sys.modules["botocore.docs"]
        if sys.modules.get("botocore.docs.docstring") is doc:
            del sys.modules["botocore.docs.docstring"]
        if getattr(botocore, "docs", None) is pkg:
            del botocore.docs
    return botocore.session


class _KnownServices:
    """What ``Loader.list_available_services`` answers, without listing every service.

    botocore asks for the whole list only to check that one name is in it; membership
    is checked here against that service's own directory, and the full (real) list is
    built only if something iterates it.
    """

    def __init__(self, loader, type_name, full):
        self._loader, self._type, self._full, self._list = loader, type_name, full, None

    def __contains__(self, name) -> bool:
        import os

        for base in self._loader.search_paths:
            d = os.path.join(os.path.expanduser(base), name)
            if os.path.isdir(d):
                for version in os.listdir(d):
                    if self._loader.file_loader.exists(os.path.join(d, version, self._type)):
                        return True
        return name in self._materialize()

    def _materialize(self):
        if self._list is None:
            self._list = self._full(self._type)
        return self._list

    def __iter__(self):
        return iter(self._materialize())

    def __len__(self):
        return len(self._materialize())


def speed_up_loader(session) -> None:
    """Make the session's data loader check one service instead of listing all of them."""
    loader = session.get_component("data_loader")
    full = loader.list_available_services

    def list_available_services(type_name):
        return _KnownServices(loader, type_name, full)

    loader.list_available_services = list_available_services
