"""Shared fixtures: the ICT model is loaded once per session; generated files go to tmp_path."""

import subprocess
import sys

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
