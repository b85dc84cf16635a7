"""The layout docs/architecture.md describes is the one the code has: every module is on the
map, every Redis key and Lua script is in the tables, and the imports go the one way the
document says they go."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from app import redis_scripts
from app.redis_keys import Keys
from tests.support.processes import REPO_ROOT

DOC = (REPO_ROOT / "docs" / "architecture.md").read_text()
APP = REPO_ROOT / "app"

# Modules that import nothing from alerter but each other (the document's "leaves").
LEAVES = {"app.gostrings", "app.regex", "app.durations", "app.timeutil", "app.yamlv2", "app.requesturi"}


def modules() -> list[Path]:
    return sorted(p for p in APP.rglob("*.py") if p.name != "__init__.py")


def imports(path: Path) -> set[str]:
    """The alerter modules `path` imports (`from app.x import y` counts as app.x and app.x.y)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name.split(".")[0] in ("app", "workers")}


def test_every_module_is_on_the_map() -> None:
    missing = []
    for path in modules():
        relative = path.relative_to(REPO_ROOT).as_posix()
        if f"`{relative}`" not in DOC and f"`{path.name}`" not in DOC:
            missing.append(relative)
    assert not missing, f"docs/architecture.md does not name: {missing}"


def test_every_redis_key_is_in_the_key_table() -> None:
    keys = Keys("P")
    patterns = {
        value
        for name, value in vars(keys).items()
        # SCAN patterns, not keys
        if name not in ("prefix", "everything", "inflight_pattern", "lease_pattern")
        and isinstance(value, str)
    }
    table = set(re.findall(r"^\| `(P:[^`]+)`", DOC, flags=re.M))
    missing = [p for p in sorted(patterns) if not any(row.startswith(p) for row in table)]
    assert not missing, f"docs/architecture.md's key table lacks: {missing}"


def test_every_lua_script_is_listed() -> None:
    scripts = [
        name for name, value in vars(redis_scripts).items() if name.isupper() and isinstance(value, str)
    ]
    missing = [name for name in scripts if f"`{name}`" not in DOC]
    assert not missing, f"docs/architecture.md does not list the scripts {missing}"


def test_imports_go_one_way() -> None:
    for path in modules():
        name = ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts)
        found = imports(path)
        # app never imports the RQ job entry points: workers -> app only.
        assert not any(i.split(".")[0] == "workers" for i in found), f"{name} imports workers"
        if name in LEAVES:
            outside = [
                i for i in found if i != "app" and not any(i == f or i.startswith(f"{f}.") for f in LEAVES)
            ]
            assert not outside, f"leaf {name} imports {outside}"
    # The pipeline finds senders through the registry, never a concrete integration.
    concrete = {f"app.notify.integrations.{p.stem}" for p in (APP / "notify" / "integrations").glob("*.py")}
    assert not imports(APP / "notify" / "pipeline.py") & concrete
