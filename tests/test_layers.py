"""The packages read top-down: a module imports only its own package and the layers below it, and nothing
but the command line imports `emoca.commands` (DESIGN.md section 2)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "src" / "emoca"

# Lowest first. A package may import a package of a lower layer, never one of its own layer or above.
LAYERS = (
    ("errors", "emotions", "methods", "provenance", "metrics", "last_result"),
    ("io",),
    ("facemodel", "detect", "render", "losses", "face_params"),
    ("targets",),
    ("decode",),
    ("nets", "synthetic", "datasets", "texture"),
    ("predictors",),
    ("pipeline",),
    ("output",),
    ("animation",),
    ("batch", "demo"),
    ("serve", "distributed"),
    ("train",),
    ("commands",),
    ("__init__",),
    ("cli",),
)
LAYER = {package: level for level, packages in enumerate(LAYERS) for package in packages}


def _package(module: str) -> str:
    """"emoca.decode.decoder" -> "decode"; "emoca" (the package's own __init__) -> "__init__"."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _module_name(path: Path) -> str:
    parts = path.relative_to(SOURCE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[str]:
    """Every `emoca...` module `path` imports, at any depth of the file (lazy imports count)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "emoca":
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if alias.name.split(".")[0] == "emoca"]
    return found


def _sources() -> list[Path]:
    return sorted(p for p in SOURCE.rglob("*.py") if "static" not in p.parts)


def test_every_package_has_a_layer():
    packages = {_package(_module_name(path)) for path in _sources()}
    assert packages <= set(LAYER), f"packages without a layer: {sorted(packages - set(LAYER))}"


def test_no_import_runs_up_the_layers():
    upward = []
    for path in _sources():
        own = _package(_module_name(path))
        for target in _imports(path):
            other = _package(target)
            if other != own and LAYER[other] >= LAYER[own]:
                upward.append(f"{_module_name(path)} -> {target}")
    assert not upward, "imports that run up (or across) the layers:\n" + "\n".join(upward)


@pytest.mark.parametrize("folder", ["src", "benchmarks"])
def test_only_the_command_line_imports_commands(folder):
    callers = [str(path.relative_to(ROOT)) for path in (ROOT / folder).rglob("*.py")
               if any(target.startswith("emoca.commands") for target in _imports(path))
               and path.parent.name != "commands" and path.name != "cli.py"]
    assert not callers, f"commands/ is the CLI's only: imported by {callers}"


def test_the_layer_check_sees_an_upward_import(tmp_path):
    """The check itself: a file importing a higher layer is found."""
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from emoca.pipeline.photo import Reconstructor\n")
    assert _imports(sample) == ["emoca.pipeline.photo"]
    assert LAYER[_package("emoca.pipeline.photo")] > LAYER["decode"]
