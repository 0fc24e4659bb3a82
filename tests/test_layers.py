"""The layering of the package: imports point downward only, and nothing imports in a circle.

Layers, bottom to top (README "Layout"): core → model → policies → evaluation →
solvers → workflows → cli.  A module may import from its own layer and the
layers below; every import counts, also the ones inside functions (a lazy
import upward is still an upward dependency).  The package root
(``replenish/__init__.py``) is the public facade: it names its exports as
strings and imports nothing from the layers at run time (but the stdlib-only
``replenish.core.lazy``), so any module may
read ``replenish.__version__`` or ``replenish.ENV_ID`` from it.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "replenish"
LAYERS = ("core", "model", "policies", "evaluation", "solvers", "workflows", "cli")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` of every ``replenish`` import in ``path``, relative ones resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod == "replenish" or mod.startswith("replenish."):
                # "from replenish.x import y" may import the submodule replenish.x.y
                for alias in node.names:
                    sub = f"{mod}.{alias.name}"
                    out.append((node.lineno, sub if _exists(sub) else mod))
        elif isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.startswith("replenish")]
    return out


def _exists(module: str) -> bool:
    rel = Path(*module.split(".")[1:])
    return (SRC / rel).with_suffix(".py").is_file() or (SRC / rel / "__init__.py").is_file()


def _layer(module: str) -> int:
    parts = module.split(".")
    if len(parts) == 1:
        return -1  # the facade
    if parts[1] not in LAYERS:
        raise AssertionError(f"{module}: not in any layer; add its folder to LAYERS and README")
    return LAYERS.index(parts[1])


MODULES = sorted(p for p in SRC.rglob("*.py"))


def test_every_module_is_in_a_layer():
    for path in MODULES:
        name = _module_name(path)
        if name != "replenish" and name != "replenish.__main__":
            _layer(name)


def test_imports_point_downward():
    wrong = []
    for path in MODULES:
        name = _module_name(path)
        if name in ("replenish", "replenish.__main__"):
            continue
        for line, target in _imports(path):
            if _layer(target) > _layer(name):
                wrong.append(f"{path.relative_to(SRC.parent)}:{line}: {name} imports {target}")
    assert not wrong, "imports against the layering:\n" + "\n".join(wrong)


def test_the_facade_imports_no_layer_at_run_time():
    tree = ast.parse((SRC / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:  # top-level statements only; the TYPE_CHECKING block is for type checkers
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("replenish") \
                and node.module != "replenish.core.lazy":  # stdlib only
            raise AssertionError(f"replenish/__init__.py:{node.lineno} imports {node.module} at run time")


def test_no_import_cycles():
    graph = {}
    for path in MODULES:
        name = _module_name(path)
        graph[name] = {t for _, t in _imports(path) if t != name and t in {_module_name(p) for p in MODULES}}
    # Tarjan's strongly connected components
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            # a package and the modules it re-exports form no real cycle: skip __init__ pairs
            real = [m for m in comp if not any(o.startswith(m + ".") for o in comp)]
            if len(real) > 1:
                cycles.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"


def test_layer_checker_catches_an_upward_import(tmp_path, monkeypatch):
    """The checker itself: a model module importing from the CLI is reported."""
    fake = tmp_path / "replenish"
    (fake / "model").mkdir(parents=True)
    (fake / "cli").mkdir()
    (fake / "__init__.py").write_text("")
    (fake / "cli" / "__init__.py").write_text("X = 1\n")
    (fake / "model" / "__init__.py").write_text("")
    bad = fake / "model" / "bad.py"
    bad.write_text("def f():\n    from replenish.cli import X\n    return X\n")
    monkeypatch.setattr(sys.modules[__name__], "SRC", fake)
    assert [t for _, t in _imports(bad)] == ["replenish.cli"]
    assert _layer("replenish.cli") > _layer("replenish.model.bad")


@pytest.mark.parametrize("argv, forbidden", [
    (["--help"], ("numpy", "scipy", "numba", "torch", "matplotlib", "gymnasium")),
    (["recommend", "--help"], ("scipy", "numba", "torch", "matplotlib")),
])
def test_cli_start_imports_nothing_heavy(argv, forbidden):
    code = (f"import sys\nfrom replenish.cli import main\ntry:\n    main({argv!r})\nexcept SystemExit:\n"
            f"    pass\nprint('HEAVY=' + ','.join(m for m in {forbidden!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    heavy = out.stdout.strip().splitlines()[-1]
    assert heavy == "HEAVY=", f"imported at start: {heavy[len('HEAVY='):]}"
