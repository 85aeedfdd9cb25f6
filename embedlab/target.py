"""The learner's code under grading: `exercises/` by default, `solutions/` with --solutions, or any
folder of exercise files (a submission) with --exercises-dir.

The folder is imported as a package named after it, so its files may import each other
(`from .embed import embed`). A file that fails to import fails only its own tests, with the
reason in one sentence.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

from embedlab.outcomes import fail


class Target:
    def __init__(self, directory: Path) -> None:
        self.directory = directory.resolve()
        self.package = self.directory.name
        self._modules: dict[str, ModuleType | BaseException] = {}

    def prepare(self) -> None:
        """Make `import <package>.<name>` find this folder first, and forget any other copy."""
        parent = str(self.directory.parent)
        if sys.path[:1] != [parent]:
            sys.path.insert(0, parent)
        loaded = sys.modules.get(self.package)
        paths = [Path(p).resolve() for p in getattr(loaded, "__path__", [])]
        if loaded is not None and self.directory not in paths:
            for name in [n for n in sys.modules if n == self.package or n.startswith(self.package + ".")]:
                del sys.modules[name]

    def module(self, name: str) -> ModuleType:
        """The learner's module `name` (e.g. "embed"), imported once per session."""
        if name not in self._modules:
            try:
                self._modules[name] = importlib.import_module(f"{self.package}.{name}")
            except (Exception, SystemExit) as err:  # a broken file costs its own tests only
                self._modules[name] = err
        found = self._modules[name]
        if isinstance(found, BaseException):
            fail(f"{self.package}/{name}.py could not be imported: {type(found).__name__}: {found}")
        return found

    def function(self, module: str, name: str):
        found = getattr(self.module(module), name, None)
        if not callable(found):
            fail(f"{self.package}/{module}.py has no function {name}(): did it get renamed or deleted?")
        return found
