import ast
from pathlib import Path

import sc_synth._core

# The core serves pp, models and tl alike: it may use the numeric stack only, and no layer of
# the package, so that none of them drags AnnData, Lightning or torch into another.
ALLOWED = {"__future__", "llvmlite", "numba", "numpy", "scipy"}


def test_core_imports_only_the_numeric_stack():
    for path in Path(sc_synth._core.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                roots = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                roots = {"." if node.level else node.module.split(".")[0]}
                if node.level > 1:
                    roots = {"parent package"}
            else:
                continue
            assert roots <= ALLOWED | {"."}, f"{path.name} imports {roots - ALLOWED}"
