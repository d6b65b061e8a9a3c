"""Finding and reading the ICT-FaceKit model files: the compact `.npz`, or an original `FaceXModel` OBJ folder.

Either source is converted once into an uncompressed `.npz` under the cache folder (decompressing the
shipped file costs more than the 0.5 s load budget) and reused until the source changes (name, size or
modification time of its files).
"""

import hashlib
import os
import zipfile
from pathlib import Path

import numpy as np

from emoca.errors import InputError
from emoca.io.atomic import atomic_path

ENV_VAR = "EMOCA_ICT"
NPZ_NAME = "ict_facekit.npz"
NEUTRAL_OBJ = "generic_neutral_mesh.obj"
REQUIRED_ARRAYS = ("neutral", "uv", "faces", "faces_uv", "expression_names", "expression_deltas",
                   "identity_names", "identity_deltas")
GET_IT = ("get the model from the ICT-FaceKit repository (its FaceXModel folder) or "
          "../shared/ict-facekit/ict_facekit.npz, and pass it with --ict PATH or EMOCA_ICT")

# The 53 expression shapes of ICT-FaceKit, in the model's order (vertex_indices.json["expressions"]).
EXPRESSION_NAMES = (
    "browDown_L", "browDown_R", "browInnerUp_L", "browInnerUp_R", "browOuterUp_L", "browOuterUp_R",
    "cheekPuff_L", "cheekPuff_R", "cheekSquint_L", "cheekSquint_R", "eyeBlink_L", "eyeBlink_R",
    "eyeLookDown_L", "eyeLookDown_R", "eyeLookIn_L", "eyeLookIn_R", "eyeLookOut_L", "eyeLookOut_R",
    "eyeLookUp_L", "eyeLookUp_R", "eyeSquint_L", "eyeSquint_R", "eyeWide_L", "eyeWide_R", "jawForward",
    "jawLeft", "jawOpen", "jawRight", "mouthClose", "mouthDimple_L", "mouthDimple_R", "mouthFrown_L",
    "mouthFrown_R", "mouthFunnel", "mouthLeft", "mouthLowerDown_L", "mouthLowerDown_R", "mouthPress_L",
    "mouthPress_R", "mouthPucker", "mouthRight", "mouthRollLower", "mouthRollUpper", "mouthShrugLower",
    "mouthShrugUpper", "mouthSmile_L", "mouthSmile_R", "mouthStretch_L", "mouthStretch_R",
    "mouthUpperUp_L", "mouthUpperUp_R", "noseSneer_L", "noseSneer_R",
)
EXTRA_NAMES = ("PupilDilate_L", "PupilDilate_R", "cheekRaiser_L", "cheekRaiser_R")


def cache_dir() -> Path:
    """Folder for generated caches: `$EMOCA_CACHE`, else `~/.cache/emoca`."""
    return Path(os.environ.get("EMOCA_CACHE", Path.home() / ".cache" / "emoca"))


def default_search_paths() -> list[Path]:
    """Where the model is looked for when neither --ict nor EMOCA_ICT names it, in order."""
    repo_root = Path(__file__).resolve().parents[3]  # src/emoca/facemodel/ict_files.py -> repo
    return [repo_root.parent / "shared" / "ict-facekit" / NPZ_NAME,
            Path.cwd().parent / "shared" / "ict-facekit" / NPZ_NAME]


def locate_ict(path: str | Path | None = None) -> Path:
    """The ICT model to load: `path`, else `$EMOCA_ICT`, else the shared copy beside the repo.

    Raises:
        InputError: nothing usable there; the message says where it looked and how to get the model.
    """
    explicit = path if path is not None else os.environ.get(ENV_VAR)
    if explicit:
        candidate = Path(explicit)
        if candidate.is_dir() and (candidate / NPZ_NAME).is_file():
            candidate = candidate / NPZ_NAME
        if not candidate.exists():
            raise InputError(candidate, f"ICT face model not found; {GET_IT}")
        return candidate
    tried = default_search_paths()
    for candidate in tried:
        if candidate.is_file():
            return candidate
    raise InputError(None, f"ICT face model not found (looked in {', '.join(map(str, tried))}); {GET_IT}")


def read_ict(path: str | Path) -> dict[str, np.ndarray]:
    """Read an ICT model (`.npz` or FaceXModel OBJ folder) into the arrays of the `.npz` layout.

    Returns:
        dict with `neutral` (V, 3) cm, `uv` (T, 2), `faces`/`faces_uv` (F, 4) int32 (-1 pads triangles),
        `expression_names` (53,), `expression_deltas` (53, V, 3), `identity_names` (K,),
        `identity_deltas` (K, V, 3), and `extra_names`/`extra_deltas` when present.
    Raises:
        InputError: missing, truncated or malformed files, naming the file.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(path, "ICT face model file does not exist")
    files = sorted(path.glob("*.obj")) if path.is_dir() else [path]
    cached = cache_dir() / "ict" / f"{path.resolve().name}-{_fingerprint(files)}.npz"
    if cached.is_file():
        return _read_npz(cached)
    arrays = _convert_obj_folder(path) if path.is_dir() else _read_npz(path)
    try:
        with atomic_path(cached) as tmp:
            np.savez(tmp, **arrays)
    except OSError:
        pass  # a read-only cache only costs speed
    return arrays


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise InputError(path, "ICT face model file does not exist")
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in REQUIRED_ARRAYS if k not in data.files]
            if missing:
                raise InputError(path, f"not an ICT model: arrays missing: {', '.join(missing)}")
            arrays = {k: data[k] for k in data.files}
    except InputError:
        raise
    except (zipfile.BadZipFile, EOFError, ValueError, OSError, KeyError) as exc:
        raise InputError(path, f"cannot read ICT model (truncated or corrupt file): {exc}") from exc
    _check_shapes(path, arrays)
    return arrays


def _check_shapes(path: Path, a: dict[str, np.ndarray]) -> None:
    n_vertices = a["neutral"].shape[0]
    problems = []
    if a["neutral"].ndim != 2 or a["neutral"].shape[1] != 3:
        problems.append(f"neutral has shape {a['neutral'].shape}, expected (V, 3)")
    for key in ("expression_deltas", "identity_deltas"):
        if a[key].ndim != 3 or a[key].shape[1:] != (n_vertices, 3):
            problems.append(f"{key} has shape {a[key].shape}, expected (K, {n_vertices}, 3)")
    if a["expression_deltas"].shape[0] != len(a["expression_names"]):
        problems.append("expression_names and expression_deltas differ in length")
    if a["faces"].shape != a["faces_uv"].shape or a["faces"].ndim != 2 or a["faces"].shape[1] != 4:
        problems.append("faces/faces_uv must both be (F, 4)")
    elif a["faces"].max() >= n_vertices:
        problems.append("faces index past the last vertex")
    if problems:
        raise InputError(path, "malformed ICT model: " + "; ".join(problems))


def read_obj(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Read an OBJ's positions, texture coordinates and polygons (tris/quads, `v/vt` corners).

    Returns:
        vertices (V, 3) float32, uv (T, 2) float32, faces (F, 4) int32 and faces_uv (F, 4) int32,
        0-based, with -1 in the fourth column of triangles (the `.npz` layout).
    Raises:
        InputError: unreadable file or polygons with other than 3 or 4 corners.
    """
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot read OBJ file: {exc}") from exc
    vertices, uvs, faces, faces_uv = [], [], [], []
    try:
        for line in lines:
            if line.startswith("v "):
                vertices.append(line.split()[1:4])
            elif line.startswith("vt "):
                uvs.append(line.split()[1:3])
            elif line.startswith("f "):
                corners = [c.split("/") for c in line.split()[1:]]
                if len(corners) not in (3, 4):
                    raise InputError(path, f"polygon with {len(corners)} corners (only 3 or 4 supported)")
                pad = [0] * (4 - len(corners))
                faces.append([int(c[0]) for c in corners] + pad)
                faces_uv.append([int(c[1]) if len(c) > 1 and c[1] else 0 for c in corners] + pad)
        v = np.asarray(vertices, dtype=np.float32).reshape(-1, 3)
        vt = np.asarray(uvs, dtype=np.float32).reshape(-1, 2)
    except ValueError as exc:
        raise InputError(path, f"malformed OBJ line: {exc}") from exc
    # OBJ indices are 1-based; padded corners (0) become -1.
    return v, vt, np.asarray(faces, np.int32).reshape(-1, 4) - 1, np.asarray(faces_uv, np.int32).reshape(-1, 4) - 1


def _read_positions(path: Path, n_vertices: int) -> np.ndarray:
    if not path.is_file():
        raise InputError(path, "shape missing from the ICT OBJ folder")
    vertices = read_obj(path)[0]
    if vertices.shape[0] != n_vertices:
        raise InputError(path, f"has {vertices.shape[0]} vertices, the neutral mesh has {n_vertices}")
    return vertices


def _fingerprint(files: list[Path]) -> str:
    digest = hashlib.sha1()
    for file in files:
        stat = file.stat()
        digest.update(f"{file.resolve()}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    return digest.hexdigest()[:16]


def _convert_obj_folder(folder: Path) -> dict[str, np.ndarray]:
    """Read an ICT FaceXModel OBJ folder into the `.npz` layout."""
    if not (folder / NEUTRAL_OBJ).is_file():
        raise InputError(folder / NEUTRAL_OBJ, "not an ICT FaceXModel folder: neutral mesh missing")
    neutral, uv, faces, faces_uv = read_obj(folder / NEUTRAL_OBJ)
    n = neutral.shape[0]
    identity_files = sorted(folder.glob("identity[0-9][0-9][0-9].obj"))
    if not identity_files:
        raise InputError(folder, "no identityNNN.obj shapes in the ICT OBJ folder")
    extras = [name for name in EXTRA_NAMES if (folder / f"{name}.obj").is_file()]
    arrays = {
        "neutral": neutral, "uv": uv, "faces": faces, "faces_uv": faces_uv,
        "expression_names": np.asarray(EXPRESSION_NAMES),
        "expression_deltas": np.stack([_read_positions(folder / f"{name}.obj", n) - neutral
                                       for name in EXPRESSION_NAMES]),
        "identity_names": np.asarray([p.stem for p in identity_files]),
        "identity_deltas": np.stack([_read_positions(p, n) - neutral for p in identity_files]),
    }
    if extras:
        arrays["extra_names"] = np.asarray(extras)
        arrays["extra_deltas"] = np.stack([_read_positions(folder / f"{name}.obj", n) - neutral
                                           for name in extras])
    _check_shapes(folder, arrays)
    return arrays
