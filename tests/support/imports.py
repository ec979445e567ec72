"""The import rule, as a checker over source files (AST, not imports at run time: nothing is executed).

Every dependency of a module on an app counts, wherever it is written: ``import x`` and ``from x import y`` at
module level or inside a function, ``importlib.import_module("x...")``, ``apps.get_model("x", ...)`` or
``apps.get_model("x.Model")``, and a lazy model reference such as ``ForeignKey("x.Model")``. Imports under
``if TYPE_CHECKING:`` are ignored (they never run). Migrations are left out: they name other apps' models by
design, and the schema's dependencies are Django's to order.

``violations`` lists the app-level breaches; ``module_cycles`` the import cycles between modules of the apps,
counting module-level imports only (an import inside a function runs late, after both modules are loaded).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

RELATION_FIELDS = {"ForeignKey", "OneToOneField", "ManyToManyField"}


@dataclass(frozen=True)
class Dependency:
    module: str  # the importing module, dotted
    target: str  # the dotted name depended on ("safety.models", "safety" for a model label)
    line: int
    how: str  # "import", "import in a function", "get_model", "import_module", "model reference"
    top_level: bool  # runs when the module is imported


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _string(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _resolve_relative(module: str, is_package: bool, level: int, name: str | None) -> str:
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (level - 1)] if level > 1 else base
    return ".".join([*base, name] if name else base)


def dependencies(root: Path, path: Path) -> Iterator[Dependency]:
    """Every dependency written in one file (see the module's docstring)."""
    module = module_name(root, path)
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(), filename=str(path))

    def visit(node: ast.AST, top_level: bool) -> Iterator[Dependency]:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                yield from visit(child, top_level)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                how = "import" if top_level else "import in a function"
                yield Dependency(module, alias.name, node.lineno, how, top_level)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve_relative(module, is_package, node.level, node.module) if node.level else node.module or ""
            how = "import" if top_level else "import in a function"
            for alias in node.names:
                # "from pkg import mod" depends on pkg.mod when that is a module, else on pkg itself.
                yield Dependency(module, f"{base}.{alias.name}", node.lineno, how, top_level)
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            first = _string(node.args[0]) if node.args else None
            if name == "get_model" and first:
                yield Dependency(module, first.split(".")[0], node.lineno, "get_model", False)
            elif name == "import_module" and first:
                yield Dependency(module, first, node.lineno, "import_module", False)
            elif name in RELATION_FIELDS:
                target = first or next((_string(k.value) for k in node.keywords if k.arg == "to"), None)
                if target and "." in target:
                    yield Dependency(module, target.split(".")[0], node.lineno, "model reference", top_level)
        inner = top_level and not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        for child in ast.iter_child_nodes(node):
            yield from visit(child, inner)

    yield from visit(tree, True)


def source_files(root: Path, packages: Iterable[str]) -> Iterator[Path]:
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            if "migrations" not in path.relative_to(root).parts:
                yield path


def violations(root: Path, allowed: Mapping[str, set[str]]) -> list[str]:
    """``allowed``: {app: the other apps it may depend on}. One line per dependency outside that set."""
    found = []
    for path in source_files(root, allowed):
        app = path.relative_to(root).parts[0]
        for dep in dependencies(root, path):
            target_app = dep.target.split(".")[0]
            if target_app in allowed and target_app != app and target_app not in allowed[app]:
                found.append(
                    f"{path.relative_to(root)}:{dep.line}: {app} -> {target_app} ({dep.how} of {dep.target!r})"
                )
    return found


def module_cycles(root: Path, packages: Iterable[str]) -> list[list[str]]:
    """Cycles of module-level imports between the modules of ``packages`` (each cycle listed once)."""
    packages = list(packages)
    modules = {module_name(root, p): p for p in source_files(root, packages)}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        for dep in dependencies(root, path):
            if not dep.top_level or dep.how not in ("import", "import_module"):
                continue
            target = dep.target
            while target and target not in modules:  # "from pkg import name": the module that defines it
                target = target.rpartition(".")[0]
            if target and target != name:
                graph[name].add(target)
    cycles: list[list[str]] = []
    seen: set[frozenset[str]] = set()
    # Strongly connected components (Tarjan), iteratively over sorted names so the report is stable.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    counter = 0

    def connect(start: str) -> None:
        nonlocal counter
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1 and frozenset(component) not in seen:
                        seen.add(frozenset(component))
                        cycles.append(sorted(component))

    for name in sorted(graph):
        if name not in index:
            connect(name)
    return cycles


def private_imports(root: Path, packages: Iterable[str]) -> list[str]:
    """``from x import _name`` across modules of ``packages`` (a private name is its module's own business)."""
    packages = list(packages)
    found = []
    for path in source_files(root, packages):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if not isinstance(node, ast.ImportFrom) or (node.module or "").split(".")[0] not in packages:
                continue
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append(f"{path.relative_to(root)}:{node.lineno}: {node.module}.{alias.name}")
    return found
