"""Train the EMOCA regressor on cached faces (`emoca.train.regressor_data`), resumably, in chunks.

    python -m emoca.train.regressor --stage coarse --max-minutes 9       # repeat until it says "done"
    python -m emoca.train.regressor --stage expression --max-minutes 9
    python -m emoca.train.regressor --stage expression --no-emotion      # the ablation's control

Stage `coarse` (DECA's role) trains `CoarseEncoder` on HELEN train, expressions_wild train and FER+
train faces with self-supervised losses on the decoded face (`emoca.predictors.objective`: 478 + 68
landmarks, the silhouette jawline, eye/lip closure, the masked photometric error of a 64-px render) and
priors, plus the fitter's results as pseudo ground truth for identity, light and albedo on the faces
that have them (HELEN, expressions_wild): landmarks cannot tell the identity's depth or the light from
the albedo, the fitter's photometric stage can (and training on it alone gave the coarse encoder's
first runs no usable identity).

Stage `expression` (EMOCA) freezes the coarse encoder and trains `ExpressionEncoder` (initialised from
the coarse head) with the perceptual emotion-consistency loss (`emoca.predictors.emotion_term`) on the 64-px
render composited over the crop, plus the landmark, closure, photometric and expression-prior terms;
the face is decoded as `--method regress` decodes it (the identity head's identity, the camera solved
for it); `--no-emotion` runs the same schedule without the emotion term (the control), written to
another file. `--set NAME=NUMBER` replaces one of the stage's numbers (e.g. `emotion_classes=0.5`, `landmarks.ibug=10`);
stage 2 also learns from SYNTHETIC renders' exact expression weights (`true_expression`, 0.5; the
`synthetic_train` cache; `--set true_expression=0` leaves them out).
Stage 2's expression encoder reads, beside the ImageNet trunk's features and the detected points, the
emotion recogniser's features of the crop (`--set expression_inputs=trunk,points` leaves them out,
`=emotion` reads them alone: the ablation of its inputs); they are cached (`photo_emotion`), so they
cost training nothing.

Validation (checkpoint selection): expressions_wild valid and 1,000 FER+ valid faces, the stage's own
loss (for stage 2 that includes our recogniser's emotion distance, never the independent judge).
The run folder (`~/.cache/emoca/regressor/run_STAGE[_noemotion]`) holds `checkpoint.pt` (model,
optimiser, RNG, step, best score) and `config.json`; the best weights go to `src/emoca/weights/` as fp16
safetensors. `--init FILE` starts a stage from committed weights (e.g. on a new machine).

Several processes: `torchrun --nproc_per_node N -m emoca.train.regressor --stage ...` (DDP over gloo:
`emoca.distributed.torchrun`): each rank takes its 1/N of every batch, gradients are averaged, rank 0
alone validates and writes; resuming is the same. The trainer computes on the CPU.
"""

import argparse
import dataclasses
import json
import math
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from emoca.decode.decoder import FaceDecoder
from emoca.distributed.torchrun import agree, join, leave, shard, wrap
from emoca.errors import InputError
from emoca.face_params import FaceParams
from emoca.facemodel.face_regions import REGIONS
from emoca.facemodel.ict import ICTFaceModel
from emoca.io.atomic import atomic_path
from emoca.losses.priors import gaussian_prior, light_prior, sparsity_prior
from emoca.nets.emotion import load_emotion_net
from emoca.nets.encoders import (
    EXPRESSION_INPUTS,
    IMAGE_INPUTS,
    TRUNK_SIZE,
    CoarseEncoder,
    ExpressionEncoder,
    Trunk,
    normalised_points,
)
from emoca.nets.identity_head import load_identity_head
from emoca.nets.regressor import (
    COARSE_WEIGHTS,
    EXPRESSION_WEIGHTS,
    WEIGHTS,
    Regressor,
    coarse_from_metadata,
    coarse_metadata,
    read_head,
)
from emoca.nets.weights_file import save_weights
from emoca.predictors.brow_colour import with_brow_colour
from emoca.predictors.camera import fit_camera
from emoca.predictors.emotion_term import EmotionConsistency
from emoca.predictors.objective import LandmarkWeights, PhotometricTargets, landmark_losses, photometric_term
from emoca.targets import FaceTargets
from emoca.train.regressor_data import CACHE, SYNTHETIC_SOURCE

TRAIN_SOURCES = ("helen_train", "wild_train", "ferplus_train")
VALID_SOURCES = ("wild_valid", "ferplus_valid")
CONTROL_WEIGHTS = WEIGHTS / "regressor_expression_noemotion.safetensors"


@dataclass
class StageConfig:
    """One stage's schedule and loss weights (saved with its checkpoint and weights). Landmark terms are
    in eye-corner distances (as the fitter's); priors are per face."""

    steps: int = 3000
    batch_size: int = 32
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 100
    valid_every: int = 250
    render_size: int = 64
    rendered_faces: int = 8  # faces of each batch rendered for the photometric term (the render of a
    #                          batch of 32 at 64 px, forward and backward, took 1.0 s here: 28 ms a face)
    landmarks: LandmarkWeights = field(default_factory=LandmarkWeights)
    photometric: float = 0.5
    expression_prior: float = 5e-3  # x the sum of the 53 weights (L1: few active blendshapes)
    identity_prior: float = 2e-4  # x the sum of squared identity weights (std devs), as the fitter
    light_prior: float = 1e-3
    albedo_prior: float = 1e-2
    pseudo_identity: float = 0.05  # x mean squared difference from the fitter's identity
    pseudo_appearance: float = 1.0  # x mean squared difference from the fitter's light and albedo
    true_expression: float = 0.0  # x sum of squared differences from a SYNTHETIC render's exact expression
    #                               weights; > 0 adds the `synthetic_train` cache to the training faces
    emotion: float = 0.0  # the emotion-consistency term (stage 2): x the features' cosine distance
    emotion_classes: float = 0.0  # x the KL divergence of the render's classes from the photo's (stage 2)
    identity_head: bool = False  # decode with the identity head's identity and the camera solved for it,
    #                              as `--method regress` does (stage 2), instead of the coarse identity
    own_tail: bool = False  # stage 2: the expression encoder trains its own copy of the trunk's tail
    expression_inputs: str = "trunk,points"  # stage 2: what the expression encoder reads, comma-separated
    #                                         (`emoca.nets.encoders.EXPRESSION_INPUTS`; "emotion": the
    #                                         recogniser's features of the crop, cached as `photo_emotion`)
    tail_learning_rate: float = 1e-4  # that tail's peak learning rate (the same warm-up and decay)
    seed: int = 0


STAGES = {
    "coarse": StageConfig(steps=6000),
    "expression": StageConfig(steps=6000, batch_size=16, rendered_faces=16, learning_rate=3e-4, pseudo_identity=0.0,
                              pseudo_appearance=0.0, emotion=1.0, identity_head=True, true_expression=0.5,
                              expression_inputs="trunk,points,emotion"),
}


class FaceCache:
    """The cached faces of some sources, in memory: crops (N, S, S, 3) uint8, points in crop pixels of
    the cached crops, trunk stem features, photo emotion features, the fitter's parameters and SYNTHETIC
    renders' exact expressions (`pseudo`, NaN rows where a source has none)."""

    def __init__(self, names: tuple[str, ...]) -> None:
        paths = [CACHE / f"{name}.npz" for name in names]
        missing = [path for path in paths if not path.exists()]
        if missing:
            raise InputError(missing[0], "not cached: run `python -m emoca.train.regressor_data` first")
        parts = [dict(np.load(path)) for path in paths]
        for path, part in zip(paths, parts, strict=True):
            if "stem" not in part:
                raise InputError(path, "cached before the trunk's stem was (no 'stem' array): "
                                 "delete it and rerun `python -m emoca.train.regressor_data`")
            if "fit_colours" in part and part["fit_colours"].shape[1] != len(REGIONS):
                raise InputError(path, f"cached with {part['fit_colours'].shape[1]} albedo colours, the albedo has "
                                 f"{len(REGIONS)} now (brows): delete it and rerun "
                                 "`python -m emoca.train.regressor_data`")
        self.crops = np.concatenate([p["crops"] for p in parts])
        ratio = TRUNK_SIZE / int(parts[0]["crop_size"])  # points were found on the 224-px crops
        self.landmarks_68 = np.concatenate([(p["landmarks_68"] + 0.5) * ratio - 0.5 for p in parts])
        self.dense = np.concatenate([(p["dense"] + 0.5) * ratio - 0.5 for p in parts])
        self.stem = np.concatenate([p["stem"] for p in parts])
        self.photo_emotion = np.concatenate([p["photo_emotion"] for p in parts])
        self.pseudo = {}
        for name, key in (("identity", "fit_identity"), ("light", "fit_light"), ("colours", "fit_colours"),
                          ("coefficients", "fit_coefficients"), ("true_expression", "true_expression")):
            shapes = {p[key].shape[1:] for p in parts if key in p}
            if shapes:  # sources without them get NaN rows
                shape = shapes.pop()
                self.pseudo[name] = np.concatenate([p.get(key, np.full((len(p["crops"]), *shape), np.nan,
                                                                       np.float32)) for p in parts])

    def __len__(self) -> int:
        return len(self.crops)

    def batch(self, rows: np.ndarray) -> dict[str, torch.Tensor]:
        tensor = lambda a: torch.from_numpy(np.ascontiguousarray(a[rows])).float()  # noqa: E731
        return {"images": tensor(self.crops).permute(0, 3, 1, 2) / 255, "landmarks_68": tensor(self.landmarks_68),
                "dense": tensor(self.dense), "stem": tensor(self.stem), "photo_emotion": tensor(self.photo_emotion),
                **{f"pseudo_{k}": tensor(v) for k, v in self.pseudo.items()}}


def _masked_mse(value: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(B, ...) -> (B,) mean squared difference, 0 where the target is NaN (no pseudo ground truth)."""
    have = ~torch.isnan(target.flatten(1)[:, 0])
    difference = (value - torch.nan_to_num(target)).pow(2).flatten(1).mean(1)
    return torch.where(have, difference, torch.zeros_like(difference))


class StageLoss:
    """The losses of one stage on a batch, from the regressor's `FaceParams`."""

    def __init__(self, decoder: FaceDecoder, config: StageConfig, emotion: EmotionConsistency | None) -> None:
        self.decoder, self.config, self.emotion = decoder, config, emotion

    def __call__(self, params: FaceParams, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        config, decoder = self.config, self.decoder
        targets = FaceTargets(batch["images"], batch["landmarks_68"], batch["dense"])
        params = with_brow_colour(params, targets)  # a four-colour coarse encoder (the shipped one)
        if config.identity_head:  # the camera of the head's identity, as at inference
            params = fit_camera(decoder, params, targets)
        losses = landmark_losses(decoder.decode(params, mesh=False), targets, config.landmarks)
        shown = slice(0, min(config.rendered_faces, len(params)))  # the rendered faces (every face in stage 2)
        photometric = PhotometricTargets.of(targets[shown], config.render_size)
        decoded = decoder.decode(params[shown])
        rendered = decoder.render(params[shown], decoded, config.render_size, background=photometric.photo).image
        share = len(params) / len(photometric.photo)  # the rendered faces stand for the batch
        losses["photometric"] = _padded(config.photometric * share * photometric_term(rendered, photometric),
                                        len(params))
        expression, identity = params.expression, params.identity
        losses["expression_prior"] = config.expression_prior * sparsity_prior(expression) * expression.shape[1]
        losses["identity_prior"] = config.identity_prior * gaussian_prior(identity) * identity.shape[1]
        losses["light_prior"] = config.light_prior * light_prior(params.light)
        losses["albedo_prior"] = config.albedo_prior * params.coefficients.pow(2).mean((1, 2))
        if config.pseudo_identity and "pseudo_identity" in batch:
            losses["pseudo_identity"] = config.pseudo_identity * _masked_mse(params.identity, batch["pseudo_identity"])
        if config.pseudo_appearance and "pseudo_light" in batch:
            losses["pseudo_appearance"] = config.pseudo_appearance * sum(
                _masked_mse(getattr(params, name), batch[f"pseudo_{name}"]) for name in ("light", "colours",
                                                                                          "coefficients"))
        if config.true_expression and "pseudo_true_expression" in batch:
            losses["true_expression"] = config.true_expression * expression.shape[1] * _masked_mse(
                expression, batch["pseudo_true_expression"])
        if self.emotion is not None:  # measured in the control too (without a gradient), for the ablation
            weighted = bool(config.emotion or config.emotion_classes)
            with torch.set_grad_enabled(weighted and torch.is_grad_enabled()):
                compared = self.emotion.compare(rendered, batch["photo_emotion"][shown])
            distance = _padded(compared.distance * share, len(params))
            divergence = _padded(compared.divergence * share, len(params))
            if weighted:
                losses["emotion"] = config.emotion * distance + config.emotion_classes * divergence
            losses["_emotion_distance"] = distance.detach()
            losses["_emotion_divergence"] = divergence.detach()
            losses["_emotion_disagreement"] = _padded((~compared.agrees).float() * share, len(params))
        return losses


def _save_checkpoint(path: Path, trainable: torch.nn.Module, optimiser: torch.optim.Optimizer, step: int,
                     best: float, rng: np.random.Generator) -> None:
    with atomic_path(path) as tmp:
        torch.save({"model": trainable.state_dict(), "optimiser": optimiser.state_dict(), "step": step,
                    "best": best, "rng": rng}, tmp)


def _padded(values: torch.Tensor, batch: int) -> torch.Tensor:
    """(n,) values of the batch's first n faces -> (batch,), zero for the other faces."""
    return torch.cat([values, values.new_zeros(batch - len(values))])


def _learning_rate(step: int, config: StageConfig) -> float:
    """Linear warm-up, then cosine decay to a tenth."""
    if step < config.warmup_steps:
        return config.learning_rate * (step + 1) / config.warmup_steps
    progress = min(1.0, (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps))
    return config.learning_rate * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def _parameter_groups(trainable: torch.nn.Module, config: StageConfig) -> list[dict]:
    """The optimiser's groups: the heads at the stage's learning rate, an own trunk tail at
    `tail_learning_rate` (`scale`: the group's multiple of the stage's rate)."""
    tail = getattr(trainable, "tail", None)
    in_tail = set() if tail is None else {id(p) for p in tail.parameters()}
    heads = [p for p in trainable.parameters() if p.requires_grad and id(p) not in in_tail]
    groups = [{"params": heads, "scale": 1.0}]
    if tail is not None:
        groups.append({"params": list(tail.parameters()), "scale": config.tail_learning_rate / config.learning_rate})
    return groups


def _total(losses: dict[str, torch.Tensor]) -> torch.Tensor:
    return sum(v for k, v in losses.items() if not k.startswith("_"))


def validate(regressor: Regressor, loss: StageLoss, valid: FaceCache, batch_size: int = 64) -> dict[str, float]:
    """Mean of each loss term over the validation faces (eval mode, no gradient)."""
    regressor.eval()
    sums: dict[str, float] = {}
    with torch.no_grad():
        for start in range(0, len(valid), batch_size):
            batch = valid.batch(np.arange(start, min(start + batch_size, len(valid))))
            params = regressor.from_stem(batch["stem"], _points(batch), batch["photo_emotion"])
            for name, value in loss(params, batch).items():
                sums[name] = sums.get(name, 0.0) + float(value.sum())
    _train_mode(regressor)
    return {name: value / len(valid) for name, value in sums.items()}


def _train_mode(regressor: Regressor) -> None:
    """Training mode for the part being trained; a frozen coarse encoder (stage 2) stays in eval mode (the
    trunk's parts always are)."""
    regressor.train()
    if regressor.expression is not None:
        regressor.coarse.eval()


def _points(batch: dict[str, torch.Tensor]) -> torch.Tensor:
    return normalised_points(batch["landmarks_68"], batch["dense"], TRUNK_SIZE)


def _inputs(config: StageConfig) -> tuple[str, ...]:
    return tuple(name.strip() for name in config.expression_inputs.split(",") if name.strip())


def build(stage: str, init: Path | None, control: bool, decoder: FaceDecoder, identity_head: bool = False,
          own_tail: bool = False, inputs: tuple[str, ...] = IMAGE_INPUTS) -> tuple[Regressor, torch.nn.Module, dict]:
    """The regressor to train (sized for `decoder`'s model and albedo), its trainable part and the metadata
    its weights file records; stage 2 decodes with the frozen identity head when `identity_head`, its
    expression encoder trains its own copy of the trunk's tail when `own_tail` and reads `inputs`."""
    trunk = Trunk()
    if stage == "coarse":
        if init is not None:
            state, metadata = read_head(init)
            coarse = coarse_from_metadata(metadata)
            coarse.load_state_dict(state)
        else:
            model, albedo = decoder.model, decoder.albedo
            coarse = CoarseEncoder(model.n_identity, len(model.expression_names), albedo.membership.shape[1],
                                   albedo.n_coefficients)
        return Regressor(trunk, coarse), coarse, coarse_metadata(coarse, {"stage": "coarse"})
    state, metadata = read_head(COARSE_WEIGHTS)
    coarse = coarse_from_metadata(metadata)
    coarse.load_state_dict(state)
    coarse.requires_grad_(False)
    expression = ExpressionEncoder.from_coarse(coarse, trunk.tail if own_tail else None, inputs)
    if init is not None:
        expression.load_state_dict(read_head(init)[0])
    extra = {"stage": "expression", "emotion_loss": not control, "own_tail": own_tail,
             "inputs": list(expression.inputs)}
    identity = load_identity_head().requires_grad_(False) if identity_head else None
    emotion = load_emotion_net() if expression.reads_emotion else None
    return Regressor(trunk, coarse, expression, identity, emotion), expression, coarse_metadata(coarse, extra)


class _FromFeatures(torch.nn.Module):
    """The regressor's forward on cached trunk stem features (what DistributedDataParallel wraps)."""

    def __init__(self, regressor: Regressor) -> None:
        super().__init__()
        self.regressor = regressor

    def forward(self, stem: torch.Tensor, points: torch.Tensor, photo_emotion: torch.Tensor) -> FaceParams:
        return self.regressor.from_stem(stem, points, photo_emotion)


def train(stage: str, max_minutes: float, init: Path | None, control: bool, steps: int | None,
          run: Path | None = None, out: Path | None = None, overrides: dict[str, float] | None = None) -> bool:
    """Run (or resume) one stage for at most `max_minutes`; returns True when the stage is done. `run`:
    the run folder (default under the cache), `out`: the weights file (default the shipped one),
    `overrides`: `StageConfig` numbers replaced (e.g. {"emotion_classes": 1.0})."""
    started = time.monotonic()
    ranks = join()
    config = _overrides(STAGES[stage], overrides or {})
    if control:
        config = replace(config, emotion=0.0, emotion_classes=0.0)
    if steps:
        config = replace(config, steps=steps)
    run = run or CACHE / (f"run_{stage}" + ("_noemotion" if control else ""))
    run.mkdir(parents=True, exist_ok=True)
    out = out or (COARSE_WEIGHTS if stage == "coarse" else (CONTROL_WEIGHTS if control else EXPRESSION_WEIGHTS))
    torch.manual_seed(config.seed)
    decoder = FaceDecoder(ICTFaceModel(), TRUNK_SIZE)
    regressor, trainable, metadata = build(stage, init, control, decoder, config.identity_head, config.own_tail,
                                           _inputs(config))
    forward = wrap(_FromFeatures(regressor), ranks)
    emotion = EmotionConsistency(load_emotion_net()) if stage == "expression" else None
    loss = StageLoss(decoder, config, emotion)
    optimiser = torch.optim.AdamW(_parameter_groups(trainable, config), lr=config.learning_rate,
                                  weight_decay=config.weight_decay)
    train_set = FaceCache(TRAIN_SOURCES + ((SYNTHETIC_SOURCE,) if config.true_expression else ()))
    valid_set = FaceCache(VALID_SOURCES)
    step, best, rng = 0, math.inf, np.random.default_rng(config.seed)
    checkpoint = run / "checkpoint.pt"
    if checkpoint.exists():
        saved = torch.load(checkpoint, weights_only=False)
        trainable.load_state_dict(saved["model"])
        optimiser.load_state_dict(saved["optimiser"])
        step, best, rng = saved["step"], saved["best"], saved["rng"]
    if ranks.writes:
        (run / "config.json").write_text(json.dumps(asdict(config), indent=1))
    log = open(run / "log.txt", "a") if ranks.writes else None
    _train_mode(regressor)
    while step < config.steps and agree((time.monotonic() - started) < 60 * max_minutes, ranks):
        for group in optimiser.param_groups:
            group["lr"] = _learning_rate(step, config) * group["scale"]
        rows = rng.integers(0, len(train_set), config.batch_size)  # the same global batch on every rank
        batch = train_set.batch(shard(rows, ranks))
        params = forward(batch["stem"], _points(batch), batch["photo_emotion"])
        losses = loss(params, batch)
        total = _total(losses).mean()
        optimiser.zero_grad(set_to_none=True)
        total.backward()
        optimiser.step()
        step += 1
        if log is not None and step % 50 == 0:
            print(f"step {step}: " + ", ".join(f"{k} {float(v.detach().mean()):.4f}" for k, v in losses.items()),
                  file=log, flush=True)
        if ranks.writes and (step % config.valid_every == 0 or step == config.steps):
            scores = validate(regressor, loss, valid_set)
            score = sum(v for k, v in scores.items() if not k.startswith("_"))
            print(f"valid at step {step}: total {score:.4f}; " + ", ".join(f"{k} {v:.4f}" for k, v in scores.items()),
                  file=log, flush=True)
            if score < best:
                best = score
                save_weights(trainable, out, {**metadata, "step": step, "valid": scores, "config": asdict(config)})
            _save_checkpoint(checkpoint, trainable, optimiser, step, best, rng)
    if ranks.writes:
        _save_checkpoint(checkpoint, trainable, optimiser, step, best, rng)
    leave(ranks)
    done = step >= config.steps
    if ranks.writes:
        print(f"{stage}{' (no emotion)' if control else ''}: step {step}/{config.steps}, best valid {best:.4f}, "
              f"{'done' if done else 'not done: run again'}", flush=True)
    return done


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", choices=tuple(STAGES), required=True)
    parser.add_argument("--max-minutes", type=float, default=9.0)
    parser.add_argument("--init", type=Path, default=None, help="start from these weights (a fresh run only)")
    parser.add_argument("--no-emotion", action="store_true", help="stage 2 without the emotion loss (control)")
    parser.add_argument("--steps", type=int, default=None, help="override the stage's step count")
    parser.add_argument("--run-dir", type=Path, default=None, help="run folder (default: under the cache)")
    parser.add_argument("--out", type=Path, default=None, help="weights file (default: the shipped one)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=NUMBER",
                        help="replace one of the stage's numbers (StageConfig), e.g. emotion_classes=1.0")
    args = parser.parse_args(argv)
    try:
        overrides = {name: _number(StageConfig, name, value) for name, value in
                     (item.split("=", 1) for item in args.set)}
        unknown = set(_inputs(_overrides(STAGES[args.stage], overrides))) - set(EXPRESSION_INPUTS)
        if unknown:
            raise ValueError(f"expression_inputs: {sorted(unknown)} not among {EXPRESSION_INPUTS}")
    except ValueError as error:
        parser.error(f"--set: {error}")
    try:
        train(args.stage, args.max_minutes, args.init, args.no_emotion, args.steps, args.run_dir, args.out, overrides)
    except InputError as error:
        parser.exit(2, f"error: {error}\n")


def _number(config: type, name: str, value: str) -> float | int | bool | str:
    """`value` parsed as the type of `config`'s number (or text) field `name`, or of a nested config's
    field as "landmarks.ibug"; ValueError naming what is wrong."""
    head, _, rest = name.partition(".")
    fields = {f.name: f.default_factory() if callable(f.default_factory) else f.default
              for f in dataclasses.fields(config)}
    if rest and head in fields and dataclasses.is_dataclass(fields[head]):
        return _number(type(fields[head]), rest, value)
    if name not in fields or not isinstance(fields[name], (int, float, str)):
        raise ValueError(f"{name!r} is not one of the stage's numbers")
    kind = type(fields[name])
    return value.lower() in ("1", "true", "yes") if kind is bool else kind(value)


def _overrides(config: StageConfig, values: dict[str, float | int | bool | str]) -> StageConfig:
    """`config` with the `--set` values replaced; a dotted name ("landmarks.ibug") replaces a nested
    config's field."""
    for name, value in values.items():
        head, _, rest = name.partition(".")
        config = replace(config, **{head: replace(getattr(config, head), **{rest: value}) if rest else value})
    return config


if __name__ == "__main__":
    main()
