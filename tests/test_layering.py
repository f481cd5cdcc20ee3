"""The import graph of the package: read from the source (module- and function-level imports
alike), it has no circle, and the layers (convcore.nn) reach neither the training loop nor the
file format, so they read and test without them."""
import ast
import pathlib

import convcore

ROOT = pathlib.Path(convcore.__file__).parent


def _name(path):
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _graph():
    """{module: set of convcore modules it imports}, every import statement counted. An import of
    a module's own parent package is left out: it is under way whenever the module runs."""
    files = {_name(p): p for p in ROOT.rglob("*.py")}
    graph = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = package
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                base = ".".join(filter(None, [base if node.level else "", node.module or ""]))
                # `from a import b`: the module a.b when there is one, else a
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in files else base
                           for a in node.names]
            else:
                continue
            edges |= {t for t in targets if t in files and t != name
                      and not name.startswith(t + ".")}
        graph[name] = edges
    return graph


def _reach(graph, start):
    seen, todo = set(), [start]
    while todo:
        for nxt in graph[todo.pop()] - seen:
            seen.add(nxt)
            todo.append(nxt)
    return seen


def test_graph_reads_the_imports():
    graph = _graph()
    assert "convcore.nn._module" in graph["convcore.io"]
    assert {"convcore.training", "convcore.io", "convcore.nn._module"} <= graph["convcore._model"]
    assert "convcore.functional._conv.choice" in graph["convcore.functional._conv.plan"]


def test_no_import_circle():
    graph = _graph()
    circles = sorted(name for name in graph if name in _reach(graph, name))
    assert circles == []


def test_layers_reach_neither_training_nor_files():
    graph = _graph()
    above = {"convcore.training", "convcore.io", "convcore._model", "convcore.optim"}
    for name in graph:
        if name.startswith("convcore.nn"):
            assert not _reach(graph, name) & above, name
