"""Subcommands of the `cantor` CLI, one module per group; each module has `register(subparsers)`.

Modules are discovered, so adding a file adds its commands. A module's import must stay cheap
(no torch, no textual at import time): heavy imports go inside the handlers.
"""

import pkgutil


def command_modules() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))
