"""Reading FLAME's pickles without running their code.

A pickle can call any importable function, so FLAME files (and DECA's landmark embedding, a pickled
dict inside an `.npy`) are read by an unpickler that resolves only the NumPy, SciPy and chumpy names
such files contain, and refuses every other name with a one-line error. chumpy (dead on Python 3.11)
is replaced by a stub whose state keeps the wrapped array; `plain_arrays` turns stubs into arrays.
"""

import copyreg
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse

from emoca.errors import InputError


class ChumpyStub:
    """Stands in for any chumpy class; keeps the pickled state (chumpy stores its array as `x`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        self.state = state


def _numpy_multiarray(name: str) -> Any:
    """A function of NumPy's multiarray module, which moved to `numpy._core` in NumPy 2."""
    try:
        from numpy._core import multiarray
    except ImportError:  # pragma: no cover - older NumPy
        from numpy.core import multiarray
    return getattr(multiarray, name)


_ALLOWED: dict[tuple[str, str], Any] = {
    ("copy_reg", "_reconstructor"): copyreg._reconstructor,
    ("copyreg", "_reconstructor"): copyreg._reconstructor,
    ("copyreg", "__newobj__"): copyreg.__newobj__,
    ("__builtin__", "object"): object,
    ("builtins", "object"): object,
    ("_codecs", "encode"): __import__("codecs").encode,  # how Python 2 bytes reach Python 3
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): _numpy_multiarray("_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"): _numpy_multiarray("_reconstruct"),
    ("numpy.core.multiarray", "scalar"): _numpy_multiarray("scalar"),
    ("numpy._core.multiarray", "scalar"): _numpy_multiarray("scalar"),
}
for _module in ("scipy.sparse.csc", "scipy.sparse._csc", "scipy.sparse.csr", "scipy.sparse._csr",
                "scipy.sparse.compressed", "scipy.sparse._compressed"):
    _ALLOWED[(_module, "csc_matrix")] = scipy.sparse.csc_matrix
    _ALLOWED[(_module, "csr_matrix")] = scipy.sparse.csr_matrix


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file: Any, path: Path) -> None:
        super().__init__(file, encoding="latin1")
        self.path = path

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        if module == "chumpy" or module.startswith("chumpy."):
            return ChumpyStub
        raise InputError(self.path, f"refusing to load {module}.{name}: not part of a FLAME model file "
                                    "(a pickle can run code)")


def safe_load(path: str | Path, stream: Any = None) -> Any:
    """Unpickle `path` (or the open binary `stream` read from it) allowing only FLAME's classes.

    Raises:
        InputError: a refused class, or a file that is missing, truncated or not a pickle.
    """
    path = Path(path)
    try:
        if stream is None:
            with open(path, "rb") as handle:
                return _RestrictedUnpickler(handle, path).load()
        return _RestrictedUnpickler(stream, path).load()
    except InputError:
        raise
    except FileNotFoundError as exc:
        raise InputError(path, "file does not exist") from exc
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, OSError) as exc:
        raise InputError(path, f"not a readable pickle (truncated or another format): {exc}") from exc


def safe_load_npy(path: str | Path) -> Any:
    """Read an `.npy`; an object array (a pickled dict, as DECA's landmark embedding) goes through
    `safe_load`, and a 0-d object array is unwrapped."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            version = np.lib.format.read_magic(handle)
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            _, _, dtype = read_header(handle)
            if not dtype.hasobject:
                handle.seek(0)
                return np.load(handle, allow_pickle=False)
            value = safe_load(path, handle)
    except InputError:
        raise
    except FileNotFoundError as exc:
        raise InputError(path, "file does not exist") from exc
    except (ValueError, OSError, EOFError) as exc:
        raise InputError(path, f"not a readable .npy file: {exc}") from exc
    if isinstance(value, np.ndarray) and value.dtype == object and value.shape == ():
        value = value.item()
    return value


def plain_arrays(value: Any, path: Path) -> Any:
    """Replace chumpy stubs (recursively in dicts) by their NumPy arrays."""
    if isinstance(value, dict):
        return {key: plain_arrays(item, path) for key, item in value.items()}
    if isinstance(value, ChumpyStub):
        state = getattr(value, "state", None)
        if isinstance(state, dict) and "x" in state:
            return np.asarray(state["x"])
        raise InputError(path, "unsupported chumpy object (no array inside)")
    return value
