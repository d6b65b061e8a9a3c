"""What a render must show for a recogniser to read its emotion: ICT's expression prototypes, rendered.

Six prototypes built from ICT's blendshapes (FACS-like recipes below: anger, surprise, sad, happy, disgust,
fear) and neutral, on `--people` random identities (seeded) with random skin tones and light, framed
like a face crop (224 px, the face filling it as a detection crop does). Each is rendered with the albedo's
brow region in its default dark colour and without it (brows painted skin), and read by our recogniser
(`emoca.nets.emotion`, 8 classes) and by the independent judge (`emoca.nets.judge`, FER2013's 7): the
share of renders read as their prototype's class, per class and overall. Synthetic renders, not photos.

Run: `.venv/bin/python benchmarks/bench_prototypes.py [--people 12]` (part of `make bench`).
"""

import argparse

import torch
from figures import record

from emoca.decode.albedo import AlbedoModel
from emoca.emotions import EMOTIONS
from emoca.facemodel import load_model
from emoca.facemodel.face_regions import REGIONS
from emoca.nets.emotion import load_emotion_net, to_grey
from emoca.nets.judge import INPUT_SIZE, JUDGE_CLASSES, load_judge
from emoca.render.camera import weak_perspective
from emoca.render.renderer import Renderer, RendererConfig

SIZE = 224
PROTOTYPES = {
    "neutral": {},
    "happy": {"mouthSmile": 1.0, "cheekSquint": 0.6, "eyeSquint": 0.3},
    "surprise": {"browInnerUp": 1.0, "browOuterUp": 1.0, "eyeWide": 1.0, "jawOpen": 0.5},
    "anger": {"browDown": 1.0, "eyeSquint": 0.6, "mouthPress": 0.7, "noseSneer": 0.3},
    "sad": {"browInnerUp": 1.0, "mouthFrown": 1.0, "eyeSquint": 0.3, "mouthShrugLower": 0.5},
    "disgust": {"noseSneer": 1.0, "mouthUpperUp": 0.8, "browDown": 0.5, "cheekSquint": 0.5},
    "fear": {"browInnerUp": 1.0, "browOuterUp": 0.6, "eyeWide": 1.0, "mouthStretch": 0.8, "jawOpen": 0.3},
}


def weights(model, recipe: dict[str, float]) -> torch.Tensor:
    """(53,) ICT weights of a recipe (a name without _L/_R sets both sides)."""
    out = torch.zeros(len(model.expression_names))
    for name, value in recipe.items():
        for full in (name, f"{name}_L", f"{name}_R"):
            if full in model.expression_names:
                out[model.expression_index(full)] = value
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=12)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    model = load_model("ict")
    albedo = AlbedoModel(model)
    renderer = Renderer(model.triangles, config=RendererConfig(image_size=(SIZE, SIZE)))
    recogniser, judge = load_emotion_net(), load_judge()
    generator = torch.Generator().manual_seed(args.seed)
    names = list(PROTOTYPES)
    brows = REGIONS.index("brows")
    counts = {(view, who): torch.zeros(len(names)) for view in ("brows", "no brows") for who in ("ours", "judge")}
    for _ in range(args.people):
        identity = torch.randn(1, model.n_identity, generator=generator) * 0.8
        tone = 0.3 + 0.55 * torch.rand(1, generator=generator)
        colours = albedo.neutral_parameters(1)
        colours["colours"][0, 0] = tone * torch.tensor([1.0, 0.8, 0.68])
        light = torch.zeros(1, 9, 3)
        light[0, 0] = 1.8 + 0.8 * torch.rand(1, generator=generator)
        light[0, 1:4] = ((torch.rand(3, generator=generator) - 0.5) * 0.8)[:, None]
        expression = torch.stack([weights(model, PROTOTYPES[name]) for name in names])
        params = model.neutral_parameters(len(names))
        params["identity"], params["expression"] = identity.expand(len(names), -1), expression
        with torch.no_grad():
            posed = model(**params).vertices
            screen = weak_perspective(posed, torch.full((len(names),), 0.1), torch.tensor([[0.0, -0.12]]),
                                      (SIZE, SIZE))
            background = torch.full((len(names), 3, SIZE, SIZE), 0.45)
            for view in ("brows", "no brows"):
                shown = colours["colours"].clone()
                if view == "no brows":
                    shown[0, brows] = shown[0, 0]
                vertex_albedo = albedo(shown, colours["coefficients"]).expand(len(names), -1, -1)
                image = renderer(posed, screen, vertex_albedo, light.expand(len(names), -1, -1), background).image
                ours = recogniser.predict(image).probabilities.argmax(-1)
                theirs = judge(to_grey(image, INPUT_SIZE)).argmax(-1)
                for k, name in enumerate(names):
                    counts[(view, "ours")][k] += int(EMOTIONS[int(ours[k])] == name)
                    judged = JUDGE_CLASSES[int(theirs[k])]
                    counts[(view, "judge")][k] += int(judged == {"anger": "angry"}.get(name, name))
    print(f"ICT prototypes on {args.people} synthetic people (seed {args.seed}), share read as their class:")
    print(f"{'':18s}" + "".join(f"{name:>9s}" for name in names) + "      all")
    for (view, who), count in counts.items():
        share = 100 * count / args.people
        record("prototypes", {f"{who}, {view}": dict(zip(names, share.round().tolist(), strict=True))
                              | {"all": round(float(share.mean()), 1), "people": args.people}})
        print(f"{who + ', ' + view:18s}" + "".join(f"{value:8.0f}%" for value in share.tolist())
              + f"{float(share.mean()):8.1f}%")


if __name__ == "__main__":
    main()
