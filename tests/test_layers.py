"""The flows stay self-contained: only the registry imports them, and no flow imports another.

What several flows share (role sets, labels, the request rules, what recipients get) lives
in modules under handlers/ that are not flows; the sender, the jobs and the exports use
those, never a flow module.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "handlers", "models")
FLOWS = "handlers.flows"
REGISTRY = "handlers.registry"


def module_name(path: Path) -> str:
    """The dotted name a source file is imported by."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(source: str, module: str, *, package: bool = False) -> set[str]:
    """Every module the source imports, anywhere in it (a function, TYPE_CHECKING); each name
    of `from X import y` also as X.y, since y may be a module."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module if package else module.rpartition(".")[0]
                for _ in range(node.level - 1):
                    anchor = anchor.rpartition(".")[0]
                base = f"{anchor}.{base}" if base else anchor
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def flow_modules(names: set[str]) -> set[str]:
    """The flow modules (or the flows package) among imported names."""
    return {
        ".".join(name.split(".")[:3])
        for name in names
        if name == FLOWS or name.startswith(f"{FLOWS}.")
    }


def sources() -> dict[str, set[str]]:
    """Each module of bot/, handlers/ and models/ with what it imports."""
    found: dict[str, set[str]] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            name = module_name(path)
            text = path.read_text(encoding="utf-8")
            found[name] = imported(text, name, package=path.name == "__init__.py")
    return found


def test_the_scanner_finds_every_way_of_importing_a_flow() -> None:
    module = "handlers.flows.report"
    assert flow_modules(imported("from handlers.flows import checkin", module)) == {
        FLOWS,
        "handlers.flows.checkin",
    }
    assert flow_modules(imported("import handlers.flows.stats as s", "bot.daily")) == {
        "handlers.flows.stats"
    }
    inside = "def f() -> None:\n    from handlers.flows.letter import percent\n"
    assert flow_modules(imported(inside, "bot.sender")) == {"handlers.flows.letter"}
    assert flow_modules(imported("from .checkin import TICK", module)) == {"handlers.flows.checkin"}
    assert flow_modules(imported("from . import roles", "handlers.flows", package=True)) == {
        FLOWS,
        "handlers.flows.roles",
    }
    assert flow_modules(imported("from handlers import labels, access", module)) == set()


def test_only_the_registry_imports_a_flow_module() -> None:
    offenders = {
        name: sorted(flow_modules(names))
        for name, names in sources().items()
        if name != REGISTRY and flow_modules(names)
    }
    assert offenders == {}


def test_no_flow_module_imports_another() -> None:
    flows = {name: names for name, names in sources().items() if name.startswith(f"{FLOWS}.")}
    assert flows
    offenders = {name: sorted(flow_modules(names) - {name}) for name, names in flows.items()}
    assert {name: found for name, found in offenders.items() if found} == {}


def test_the_registry_gathers_every_flow_module() -> None:
    modules = {name for name in sources() if name.startswith(f"{FLOWS}.")}
    assert modules <= flow_modules(sources()[REGISTRY])
