"""Architecture rules for `edge`, checked with `ast` over every .py file in edge/: one test per
rule, each listing every offender; each checker has a self-test on synthetic input proving it
can fail (so the rules cannot pass vacuously)."""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = next(p for p in Path(__file__).resolve().parents if (p / "pyproject.toml").is_file())
EDGE = ROOT / "edge"

# Which edge packages each package may import (its own always allowed). "config", "errors",
# "__main__": edge/<name>.py; "edge": edge/__init__.py (`from edge import __version__`).
_ALL = {"core", "models", "thermal", "vision", "sources", "identity", "pipeline", "transport",
        "commands", "sim", "config", "errors", "app", "evaluation", "cli"}
ALLOWED: dict[str, set[str]] = {
    "errors": set(), "edge": set(), "__main__": {"cli"},
    "core": {"errors"}, "models": {"errors"},
    "thermal": {"core", "errors"}, "sources": {"core", "errors"},
    "identity": {"core", "errors"}, "transport": {"core", "errors"},
    "vision": {"core", "errors", "models"},
    "pipeline": {"core", "thermal", "vision", "identity", "errors"},
    "commands": {"transport", "errors"}, "config": {"errors", "transport"},
    "sim": {"core", "sources", "vision", "errors"},
    "app": (_ALL - {"cli"}) | {"edge"}, "evaluation": _ALL - {"cli"}, "cli": _ALL | {"edge"},
}
# Top-level modules that may be imported only under these edge modules.
ONLY_UNDER = {"paho": ("edge.transport.mqtt",), "onnxruntime": ("edge.vision", "edge.models")}
# Modules nothing under a package may import (the core has no OpenCV, no I/O and no clock).
BANNED_UNDER = {"edge.core": {"cv2", "threading", "socket", "sqlite3", "subprocess", "time"}}
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


@dataclass(frozen=True)
class Import:
    line: int
    module: str  # absolute: "edge.core.types", "paho.mqtt.client"
    top_level: bool  # runs when the module is imported (not in a function, not TYPE_CHECKING)


@dataclass(frozen=True)
class SourceFile:
    path: str  # relative to the repository root
    module: str
    tree: ast.Module
    lines: int
    imports: tuple[Import, ...]


def module_name(rel: Path) -> str:
    parts = rel.with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_of(module: str) -> str:  # edge.core.types -> core, edge.config -> config, edge
    parts = module.split(".")
    if len(parts) > 1 and parts[1].startswith("config_"):
        return "config"  # edge.config's section modules (config_base, config_access)
    return parts[1] if len(parts) > 1 else parts[0]


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports_of(tree: ast.Module, module: str, is_package: bool,
               known: Iterable[str]) -> list[Import]:
    """Every import in `tree`, relative ones made absolute; `from X import y` names X.y when that
    is a known module, else X."""
    known = set(known)
    package = module if is_package else module.rpartition(".")[0]
    found: list[Import] = []

    def walk(nodes: Iterable[ast.AST], top: bool) -> None:
        for node in nodes:
            if isinstance(node, ast.Import):
                found.extend(Import(node.lineno, alias.name, top) for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    found.append(Import(node.lineno, sub if sub in known else base, top))
            elif isinstance(node, ast.If) and _is_type_checking(node.test):
                walk(node.body, False)
                walk(node.orelse, top)
            else:
                is_func = isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
                walk(ast.iter_child_nodes(node), top and not is_func)
    walk(tree.body, True)
    return list(dict.fromkeys(found))  # `from m import a, b` is one import of m


@functools.cache
def edge_files() -> tuple[SourceFile, ...]:
    paths = sorted(p for p in EDGE.rglob("*.py") if "__pycache__" not in p.parts)
    known = {module_name(p.relative_to(ROOT)) for p in paths}
    files = []
    for path in paths:
        rel = path.relative_to(ROOT)
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source, filename=str(rel))
        imports = imports_of(tree, module_name(rel), path.name == "__init__.py", known)
        files.append(SourceFile(str(rel), module_name(rel), tree, len(source.splitlines()),
                                tuple(imports)))
    return tuple(files)


def layer_violations(path: str, module: str, imports: Iterable[Import]) -> list[str]:
    own = package_of(module)
    allowed = ALLOWED.get(own)
    out = []
    for imp in (i for i in imports if _within(i.module, "edge")):
        target = package_of(imp.module)
        if allowed is None:
            out.append(f"{path}:{imp.line}: imports {imp.module}; no rule for package {own!r}")
        elif target != own and target not in allowed:
            may = ", ".join(sorted(allowed)) or "nothing"
            out.append(f"{path}:{imp.line}: imports {imp.module}; {own} may import only: {may}")
    return out


def third_party_violations(path: str, module: str, imports: Iterable[Import]) -> list[str]:
    out = []
    for imp in imports:
        top = imp.module.split(".")[0]
        places = ONLY_UNDER.get(top)
        if places and not any(_within(module, p) for p in places):
            out.append(f"{path}:{imp.line}: imports {imp.module}; {top} only under "
                       + ", ".join(places))
        for pkg, banned in BANNED_UNDER.items():
            if _within(module, pkg) and top in banned:
                out.append(f"{path}:{imp.line}: imports {imp.module}; {pkg} must not import "
                           + ", ".join(sorted(banned)))
    return out


def import_graph(files: Iterable[tuple[str, Iterable[Import]]]) -> dict[str, set[str]]:
    """Module -> edge modules it imports when imported (top level, outside TYPE_CHECKING)."""
    files = list(files)
    modules = {module for module, _ in files}
    return {module: {i.module for i in imports if i.top_level and i.module in modules}
            for module, imports in files}


def find_cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """One cycle per back edge of a depth-first search (self-imports ignored)."""
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt != node and state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt):], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2
    for node in sorted(graph):
        if node not in state:
            visit(node)
    return cycles


def long_functions(path: str, tree: ast.AST, limit: int = MAX_FUNCTION_LINES) -> list[str]:
    out: list[str] = []

    def walk(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = prefix + child.name
                length = (child.end_lineno or child.lineno) - child.lineno + 1
                if not isinstance(child, ast.ClassDef) and length > limit:
                    out.append(f"{path}:{child.lineno}: {name} is {length} lines (max {limit})")
                walk(child, name + ".")
            else:
                walk(child, prefix)
    walk(tree, "")
    return out


def package_problems(root: Path, base: Path) -> list[str]:
    """Every folder under `root` holding .py files needs an __init__.py with a docstring."""
    out = []
    dirs = [root, *(p for p in root.rglob("*") if p.is_dir())]
    for d in sorted(d for d in dirs if "__pycache__" not in d.parts and any(d.glob("*.py"))):
        init = d / "__init__.py"
        rel = init.relative_to(base)
        if not init.is_file():
            out.append(f"{rel.parent}: no __init__.py")
        elif not (ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or "").strip():
            out.append(f"{rel}: missing or empty docstring")
    return out


def _check(title: str, problems: list[str]) -> None:
    assert not problems, f"{len(problems)} {title}:\n  " + "\n  ".join(problems)


# ---- the rules, over edge/ ----------------------------------------------------------------

def test_layer_rules() -> None:
    _check("layer rule violations",
           [v for f in edge_files() for v in layer_violations(f.path, f.module, f.imports)])


def test_third_party_boundaries() -> None:
    _check("third-party boundary violations",
           [v for f in edge_files() for v in third_party_violations(f.path, f.module, f.imports)])


def test_no_import_cycles() -> None:
    cycles = find_cycles(import_graph((f.module, f.imports) for f in edge_files()))
    _check("import cycles", [" -> ".join(c) for c in cycles])


def test_module_size() -> None:
    _check("modules too long", [f"{f.path}: {f.lines} lines (max {MAX_MODULE_LINES})"
                                for f in edge_files() if f.lines > MAX_MODULE_LINES])


def test_function_size() -> None:
    _check("functions too long", [v for f in edge_files() for v in long_functions(f.path, f.tree)])


def test_packages_have_docstrings() -> None:
    _check("package __init__ problems", package_problems(EDGE, ROOT))


def test_scan_sees_the_package() -> None:
    modules = {f.module for f in edge_files()}
    assert {"edge", "edge.config", "edge.core.types", "edge.transport.mqtt.link"} <= modules


# ---- self-tests: each checker fails on input that breaks its rule -------------------------

def _imports(source: str, module: str, known: Iterable[str] = ()) -> list[Import]:
    return imports_of(ast.parse(source), module, False, known)


def test_layer_checker_catches_violations() -> None:
    source = ("from edge.errors import GateError\nfrom edge.transport import events\n"
              "def f():\n    from ..app import wiring\n    from . import tracker\n"
              "    from edge import __version__\n")
    known = {"edge", "edge.transport.events", "edge.app.wiring", "edge.core.tracker"}
    imports = _imports(source, "edge.core.decide", known)
    assert [i.module for i in imports] == ["edge.errors", "edge.transport.events",
                                           "edge.app.wiring", "edge.core.tracker", "edge"]
    found = layer_violations("x.py", "edge.core.decide", imports)
    assert [v.split(":")[1] for v in found] == ["2", "4", "6"]
    assert "edge.app.wiring" in found[1]
    assert layer_violations("x.py", "edge.cli.main", imports) == []


def test_third_party_checker_catches_violations() -> None:
    imports = _imports("import time\nimport paho.mqtt.client\nfrom onnxruntime import X\n",
                       "edge.core.tracker")
    assert len(third_party_violations("x.py", "edge.core.tracker", imports)) == 3
    assert third_party_violations("x.py", "edge.transport.mqtt.link", imports[:2]) == []


def test_cycle_checker_catches_a_cycle() -> None:
    a = _imports("from edge.b import x\n", "edge.a", {"edge.b"})
    b_lazy = _imports("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                      "    from edge.a import y\ndef f():\n    import edge.a\n", "edge.b")
    assert find_cycles(import_graph([("edge.a", a), ("edge.b", b_lazy)])) == []
    b = _imports("import edge.a\n", "edge.b")
    assert find_cycles(import_graph([("edge.a", a), ("edge.b", b)])) == [
        ["edge.a", "edge.b", "edge.a"]]


def test_size_checker_catches_a_long_function() -> None:
    def source(body_lines: int) -> str:
        return "class C:\n    def f(self):\n" + "        x = 1\n" * body_lines

    assert long_functions("x.py", ast.parse(source(59))) == []  # 60 lines: allowed
    assert long_functions("x.py", ast.parse(source(60))) == ["x.py:2: C.f is 61 lines (max 60)"]


def test_package_checker_catches_missing_docstrings(tmp_path: Path) -> None:
    files = {"__init__.py": '"""Fine."""', "bare/mod.py": "x = 1", "nodoc/__init__.py": "x = 1"}
    for rel, text in files.items():
        (tmp_path / "pkg" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "pkg" / rel).write_text(text + "\n")
    assert package_problems(tmp_path / "pkg", tmp_path) == [
        "pkg/bare: no __init__.py", "pkg/nodoc/__init__.py: missing or empty docstring"]
