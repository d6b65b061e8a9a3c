"""Train the emotion recogniser on FER+ (soft labels), resumably, in chunks.

    python -m emoca.train.emotion --max-minutes 9        # repeat until it says "done"

FER+ train trains (soft labels from the votes), FER+ valid selects the checkpoint (majority-label
accuracy of the weight average); the test split is only read by `benchmarks/bench_emotion.py`. With
`--affectnet-train CSV --affectnet-valid CSV --affectnet-root DIR` (AffectNet's official layout) it
trains on AffectNet instead, and the valence/arousal head learns from the real V/A labels (the saved
model then reports `va_supervised`). The run directory holds `checkpoint.pt` (model, optimiser, RNG,
step, best score) and `config.json`; the best model is exported as fp16 safetensors to `--out`.
"""

import argparse
import json
import math
import time
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.optim.swa_utils import AveragedModel

from emoca.datasets.affectnet import load_affectnet
from emoca.datasets.faces import FaceSet
from emoca.datasets.ferplus import load_ferplus
from emoca.io.atomic import atomic_path
from emoca.nets.emotion import DEFAULT_WEIGHTS, EmotionConfig, EmotionNet, load_emotion_net, save_emotion_net
from emoca.train.augment import AugmentConfig, augment


@dataclass
class TrainConfig:
    """Schedule of one training run (saved beside the weights)."""

    epochs: int = 10
    batch_size: int = 64
    learning_rate: float = 1e-3
    weight_decay: float = 0.05
    warmup_steps: int = 300
    ema_decay: float = 0.999
    va_weight: float = 1.0  # weight of the V/A mean squared error (AffectNet only)
    seed: int = 0
    net: EmotionConfig = field(default_factory=EmotionConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)


def _learning_rate(step: int, total: int, config: TrainConfig) -> float:
    """Linear warm-up, then cosine decay to zero."""
    if step < config.warmup_steps:
        return config.learning_rate * (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, total - config.warmup_steps)
    return config.learning_rate * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


def _ema_step(average: torch.Tensor, current: torch.Tensor, count: torch.Tensor, decay: float) -> torch.Tensor:
    """Exponential moving average whose decay warms up as min(decay, (1 + n) / (10 + n)), so early
    weights (the ImageNet start) wash out of the average within a short schedule."""
    rate = min(decay, (1 + float(count)) / (10 + float(count)))
    return rate * average + (1 - rate) * current


@torch.no_grad()
def predict(net: torch.nn.Module, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """(N, H, W) uint8 grey faces -> (N, 8) class probabilities, in eval mode."""
    was_training = net.training
    net.eval()
    device = next(net.parameters()).device
    out = [net(torch.from_numpy(images[i:i + batch_size]).to(device).float().div(255)[:, None]).probabilities.cpu()
           for i in range(0, len(images), batch_size)]
    net.train(was_training)
    return torch.cat(out).numpy()


def _save_checkpoint(path: Path, state: dict) -> None:
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def train(run_dir: Path, out: Path, config: TrainConfig, max_minutes: float, train_set: FaceSet,
          valid_set: FaceSet, init: Path | None = None) -> bool:
    """Run (or resume) training for at most `max_minutes`; returns True when the schedule is complete."""
    start = time.monotonic()
    run_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")  # augmentation stays on the CPU
    net = EmotionNet(config.net).to(device)
    if init is not None:  # fine-tune from earlier weights (a new schedule); a resumed run ignores this
        net.load_state_dict(load_emotion_net(init).state_dict())
    supervised_va = train_set.va is not None
    net.va_supervised.fill_(supervised_va)
    ema = AveragedModel(net, avg_fn=partial(_ema_step, decay=config.ema_decay), use_buffers=True)
    optimiser = torch.optim.AdamW(net.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    steps_per_epoch = len(train_set.images) // config.batch_size
    total = config.epochs * steps_per_epoch
    generator = torch.Generator().manual_seed(config.seed)
    step, best = 0, -1.0
    checkpoint = run_dir / "checkpoint.pt"
    if checkpoint.exists():
        state = torch.load(checkpoint, weights_only=False, map_location=device)
        net.load_state_dict(state["net"])
        ema.load_state_dict(state["ema"])
        optimiser.load_state_dict(state["optimiser"])
        generator.set_state(state["generator"].cpu())
        step, best = state["step"], state["best"]
    (run_dir / "config.json").write_text(json.dumps(asdict(config), indent=1))
    images = torch.from_numpy(train_set.images).float().div(255)[:, None]
    targets = torch.from_numpy(train_set.targets)
    va_targets = torch.from_numpy(train_set.va) if supervised_va else None
    net.train()
    while step < total and time.monotonic() - start < 60 * max_minutes:
        epoch, within = divmod(step, steps_per_epoch)
        order = torch.randperm(len(images), generator=torch.Generator().manual_seed(config.seed + epoch))
        rows = order[within * config.batch_size:(within + 1) * config.batch_size]
        batch = augment(images[rows], config.net.input_size, config.augment, generator).to(device)
        for group in optimiser.param_groups:
            group["lr"] = _learning_rate(step, total, config)
        output = net(batch)
        loss = -(targets[rows].to(device) * F.log_softmax(output.logits, -1)).sum(-1).mean()
        if va_targets is not None:
            va = va_targets[rows].to(device)
            known = torch.isfinite(va)
            predicted = torch.stack([output.valence, output.arousal], -1)
            if known.any():
                loss = loss + config.va_weight * F.mse_loss(predicted[known], va[known])
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        ema.update_parameters(net)
        step += 1
        if step % 50 == 0:
            print(f"step {step}/{total} epoch {epoch} loss {loss.item():.4f} lr {group['lr']:.2e}", flush=True)
        if step % steps_per_epoch == 0 or step == total:
            # Select on valid: the weight average or the raw weights, whichever is better now.
            scores = {name: float((predict(model, valid_set.images).argmax(1) == valid_set.labels).mean())
                      for name, model in (("average", ema.module), ("raw", net))}
            print(f"epoch {epoch} valid accuracy: weight average {100 * scores['average']:.2f}%, "
                  f"raw {100 * scores['raw']:.2f}%", flush=True)
            name = max(scores, key=scores.get)
            if scores[name] > best:
                best = scores[name]
                save_emotion_net(ema.module if name == "average" else net, out,
                                 {"valid_accuracy": best, "step": step, "weights": name, "train": asdict(config)})
            _save_checkpoint(checkpoint, {"net": net.state_dict(), "ema": ema.state_dict(),
                                          "optimiser": optimiser.state_dict(), "generator": generator.get_state(),
                                          "step": step, "best": best})
    if step < total:
        _save_checkpoint(checkpoint, {"net": net.state_dict(), "ema": ema.state_dict(),
                                      "optimiser": optimiser.state_dict(), "generator": generator.get_state(),
                                      "step": step, "best": best})
        print(f"paused at step {step}/{total}; run again to resume", flush=True)
        return False
    print(f"done: best valid accuracy {100 * best:.2f}%, weights in {out}", flush=True)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run-dir", type=Path, default=Path.home() / ".cache" / "emoca" / "runs" / "emotion")
    parser.add_argument("--out", type=Path, default=DEFAULT_WEIGHTS)
    parser.add_argument("--data", help="path to ferplus.npz (default: ../shared/data/ferplus)")
    parser.add_argument("--affectnet-train", help="AffectNet training CSV (official layout)")
    parser.add_argument("--affectnet-valid", help="AffectNet validation CSV")
    parser.add_argument("--affectnet-root", help="folder the CSVs' image paths are relative to")
    parser.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    parser.add_argument("--max-minutes", type=float, default=float("inf"))
    parser.add_argument("--learning-rate", type=float, default=TrainConfig.learning_rate)
    parser.add_argument("--init", type=Path, help="start from these weights (.safetensors) instead of ImageNet")
    args = parser.parse_args(argv)
    if args.affectnet_train:
        if not (args.affectnet_valid and args.affectnet_root):
            parser.error("--affectnet-train needs --affectnet-valid and --affectnet-root")
        train_set = load_affectnet(args.affectnet_train, args.affectnet_root)
        valid_set = load_affectnet(args.affectnet_valid, args.affectnet_root)
    else:
        train_set, valid_set = load_ferplus("train", args.data), load_ferplus("valid", args.data)
    config = TrainConfig(epochs=args.epochs, learning_rate=args.learning_rate)
    done = train(args.run_dir, args.out, config, args.max_minutes, train_set, valid_set, args.init)
    return 0 if done else 3


if __name__ == "__main__":
    raise SystemExit(main())
