"""Shared fixtures: the ICT model is loaded once per session; generated files go to tmp_path."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from emoca.facemodel.ict import ICTFaceModel
from emoca.facemodel.ict_files import locate_ict, read_ict


@pytest.fixture(scope="session")
def ict_model() -> ICTFaceModel:
    return ICTFaceModel()


@pytest.fixture(scope="session")
def ict_arrays() -> dict:
    return read_ict(locate_ict())


@pytest.fixture(scope="session")
def ict_source():
    return locate_ict()


@pytest.fixture(scope="session")
def run_emoca():
    """Run the `emoca` command line in a fresh interpreter: run_emoca("landmarks", path, "--json")."""

    def run(*args) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "emoca.cli", *map(str, args)], capture_output=True, text=True)

    return run


@pytest.fixture(scope="session")
def validate_gltf():
    """validate_gltf(*files) -> the Khronos glTF Validator's report of each file ({"errors", "warnings",
    "messages"}); skips only where Node.js is absent (`make setup` installs the validator with npm)."""
    if shutil.which("node") is None:
        pytest.skip("Node.js is not installed: the Khronos glTF Validator runs on Node")
    root = Path(__file__).resolve().parents[1]

    def validate(*files) -> list[dict]:
        result = subprocess.run(["node", str(root / "tests" / "tools" / "validate_gltf.cjs"), *map(str, files)],
                                capture_output=True, text=True, check=False,
                                env={**os.environ, "NODE_PATH": str(root / ".venv" / "node" / "node_modules")})
        assert result.returncode == 0, result.stderr
        return [json.loads(line) for line in result.stdout.splitlines()]

    return validate
