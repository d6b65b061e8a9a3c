"""Shared fixtures: the ICT model is loaded once per session; generated files go to tmp_path."""

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
