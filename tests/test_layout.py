"""The code's layout: imports run one way (no circle), no module past 500 lines, no private name
imported from another module.

The checkers read the source (``ast``), never import it, and are tested on small fake packages
written to ``tmp_path`` as well as on the project itself.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "dan_dice"
SOURCES = [PACKAGE, ROOT / "benchmarks", ROOT / "run_experiments.py"]
"""The code the line and private-name rules apply to (tests may reach into privates)."""
MAX_LINES = 500


def python_files(sources: list[Path]) -> list[Path]:
    return sorted(p for s in sources for p in ([s] if s.is_file() else s.rglob("*.py")))


def module_names(package: Path) -> dict[str, Path]:
    """Every module of ``package`` by dotted name (a package by its own name)."""
    names = {}
    for path in package.rglob("*.py"):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement, those inside functions included, but not those under
    ``if TYPE_CHECKING:``."""
    found = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _base(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute module an ``ImportFrom`` names (relative levels resolved)."""
    if not node.level:
        return node.module or ""
    parts = module.split(".")
    parts = parts[: len(parts) - node.level + (1 if is_package else 0)]
    return ".".join([*parts, *([node.module] if node.module else [])])


def _named(module: str, path: Path, modules: dict[str, Path]) -> list[tuple[str, str | None]]:
    """(module named, name imported from it or None) for each import of ``module``."""
    named = []
    for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            named += [(alias.name, None) for alias in node.names]
            continue
        base = _base(node, module, path.name == "__init__.py")
        for alias in node.names:
            sub = f"{base}.{alias.name}"
            named.append((sub, None) if sub in modules else (base, alias.name))
    return [(name, what) for name, what in named if name in modules]


def _is_pass_through(path: Path) -> bool:
    """Whether a package's ``__init__.py`` only hands on its submodules' names: a docstring,
    ``from .sub import ...``, ``__all__`` and a module ``__getattr__`` that imports lazily."""
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        docstring = isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        relative = isinstance(node, ast.ImportFrom) and node.level == 1 and node.module
        all_names = isinstance(node, ast.Assign) and [
            getattr(t, "id", None) for t in node.targets
        ] == ["__all__"]
        lazy = isinstance(node, ast.FunctionDef) and node.name == "__getattr__"
        if not (docstring or relative or all_names or lazy):
            return False
    return True


def import_graph(package: Path) -> dict[str, set[str]]:
    """Module -> the package's modules its import statements name. A pass-through package
    (:func:`_is_pass_through`) is no node: an import of one of its names goes to the submodule
    that defines it. Python running a parent package's ``__init__.py`` first is no edge."""
    modules = module_names(package)
    named = {module: _named(module, path, modules) for module, path in modules.items()}
    through = {m for m, p in modules.items() if p.name == "__init__.py" and _is_pass_through(p)}
    handed = {  # pass-through package -> {name: submodule defining it}
        package_name: {what: name for name, what in named[package_name] if what}
        | {name.rpartition(".")[2]: name for name, what in named[package_name] if not what}
        for package_name in through
    }

    def resolve(name: str, what: str | None) -> set[str]:
        if name not in through:
            return {name}
        if what in handed[name]:
            return resolve(handed[name][what], None)
        return {t for n, w in named[name] for t in resolve(n, w)}

    return {
        module: {t for name, what in imports for t in resolve(name, what)} - {module}
        for module, imports in named.items()
        if module not in through
    }


def find_circle(graph: dict[str, set[str]]) -> list[str]:
    """One circle of imports (``[a, b, ..., a]``), or ``[]`` when imports run one way."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> list[str]:
        state[module] = 1
        path.append(module)
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (circle := visit(target)):
                return circle
        state[module] = 2
        path.pop()
        return []

    for module in sorted(graph):
        if module not in state and (circle := visit(module)):
            return circle
    return []


def long_files(sources: list[Path], limit: int = MAX_LINES) -> list[str]:
    """``path: N lines`` for each Python file of ``sources`` past ``limit`` lines."""
    counts = {p: len(p.read_text(encoding="utf-8").splitlines()) for p in python_files(sources)}
    return [f"{p}: {n} lines" for p, n in counts.items() if n > limit]


def private_imports(sources: list[Path]) -> list[str]:
    """``path:line name`` for each import of a private name (``_x``, not ``__x__``) or from a
    private module, another project's included."""

    def private(name: str) -> bool:
        return name.startswith("_") and not name.endswith("__")

    found = []
    for path in python_files(sources):
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            names = [alias.name for alias in node.names]
            if isinstance(node, ast.ImportFrom):
                names = [*names, *(node.module or "").split(".")]
            names = [n for name in names for n in name.split(".")]
            found += [f"{path}:{node.lineno} {n}" for n in names if private(n)]
    return found


def write_package(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root / "pkg"


def test_the_package_imports_one_way():
    assert find_circle(import_graph(PACKAGE)) == []


def test_no_module_is_past_500_lines():
    assert long_files(SOURCES) == []


def test_no_private_name_is_imported_from_another_module():
    assert private_imports(SOURCES) == []


def test_a_circle_through_an_import_inside_a_function_is_found(tmp_path):
    package = write_package(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "from .b import f\n",
            "pkg/b.py": "def f():\n    from . import c\n",
            "pkg/c.py": "import pkg.a\n",
        },
    )
    assert find_circle(import_graph(package)) == ["pkg.a", "pkg.b", "pkg.c", "pkg.a"]


def test_type_checking_imports_and_parent_packages_are_no_edges(tmp_path):
    package = write_package(
        tmp_path,
        {
            "pkg/__init__.py": "VERSION = 1\n",
            "pkg/a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
            "    from .b import B\n",
            "pkg/b.py": "from .sub.c import f\n",
            "pkg/sub/__init__.py": "from .c import f\n",
            "pkg/sub/c.py": "from .. import a\n",
        },
    )
    graph = import_graph(package)
    assert graph == {"pkg": set(), "pkg.a": set(), "pkg.b": {"pkg.sub.c"}, "pkg.sub.c": {"pkg.a"}}
    assert find_circle(graph) == []


def test_a_pass_through_package_hands_edges_to_its_submodules(tmp_path):
    package = write_package(
        tmp_path,
        {
            "pkg/__init__.py": '"""Docs."""\nfrom .a import A\n__all__ = ["A", "B"]\n\n'
            "def __getattr__(name):\n    from .b import B\n    return B\n",
            "pkg/a.py": "from pkg import B\n",
            "pkg/b.py": "from . import A\n",
        },
    )
    graph = import_graph(package)
    assert graph == {"pkg.a": {"pkg.b"}, "pkg.b": {"pkg.a"}}
    assert find_circle(graph) == ["pkg.a", "pkg.b", "pkg.a"]


def test_a_package_that_defines_names_is_a_layer(tmp_path):
    package = write_package(
        tmp_path,
        {
            "pkg/__init__.py": "from .a import A\nVERSION = 1\n",
            "pkg/a.py": "from . import VERSION\n",
        },
    )
    assert find_circle(import_graph(package)) == ["pkg", "pkg.a", "pkg"]


def test_long_files_and_private_imports_are_found(tmp_path):
    write_package(
        tmp_path,
        {
            "pkg/long.py": "x = 1\n" * (MAX_LINES + 1),
            "pkg/ok.py": "x = 1\n" * MAX_LINES,
            "pkg/private.py": "from sklearn.utils import _safe_indexing\n"
            "from sklearn.utils._param_validation import Interval\n"
            "def f():\n    from .ok import _x, __version__\n",
        },
    )
    package = tmp_path / "pkg"
    assert long_files([package]) == [f"{package / 'long.py'}: {MAX_LINES + 1} lines"]
    private = private_imports([package])
    assert private == [
        f"{package / 'private.py'}:1 _safe_indexing",
        f"{package / 'private.py'}:2 _param_validation",
        f"{package / 'private.py'}:4 _x",
    ]


@pytest.mark.parametrize("module", ["dan_dice.cli", "dan_dice.experiments"])
def test_the_project_graph_knows_its_modules(module):
    assert module in import_graph(PACKAGE)
