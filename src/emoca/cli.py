"""The `emoca` command line: parses arguments and calls the modules that do the work."""

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from emoca import __version__
from emoca.errors import InputError
from emoca.methods import DEFAULT_METHOD, FAST_METHOD, FLAME_METHOD, METHODS


def _demo(args: argparse.Namespace) -> int:
    from emoca.demo import DemoConfig, render_demo

    files = render_demo(args.out, DemoConfig(seed=args.seed, image_size=args.size), ict_path=args.ict)
    for path in files:
        print(path)
    return 0


def _landmarks(args: argparse.Namespace) -> int:
    from emoca.commands.landmarks import run_landmarks

    return run_landmarks(args.inputs, Path(args.out), args.json, args.method)


def _emotion(args: argparse.Namespace) -> int:
    from emoca.commands.emotion import run_emotion

    if args.source == "geometry" and (args.no_detect or args.weights):
        raise InputError("--from geometry", "--no-detect and --weights apply to --from image only")
    return run_emotion(args.inputs, args.json, not args.no_detect, args.weights, args.source, args.method)


def _reconstruct(args: argparse.Namespace) -> int:
    from emoca.commands.reconstruct import run_reconstruct
    from emoca.pipeline.photo import ReconstructorConfig

    config = ReconstructorConfig(model=args.model, flame=args.flame, device=args.device, method=args.method)
    if args.expression_encoder is not None:
        config.expression_encoder = None if args.expression_encoder == "none" else args.expression_encoder
    if args.emotion_weight is not None and config.method == "emoca":
        config.emoca.emotion_weight = args.emotion_weight  # 0: the test-time control
    elif args.emotion_weight is not None:
        config.fit.weights.emotion = args.emotion_weight
    if args.engine == "ray":
        from emoca.distributed.ray_reconstruct import run_reconstruct_ray

        if args.workers is not None and args.workers < 1:
            raise InputError("--workers", "must be at least 1")
        return run_reconstruct_ray(args.inputs, Path(args.out), args.json, args.overwrite, config, args.address,
                                   args.workers, args.threads or 1)
    if args.address is not None or args.workers is not None:
        raise InputError("--address/--workers", "apply to --engine ray only")
    return run_reconstruct(args.inputs, Path(args.out), args.json, args.overwrite, config)


def _animate(args: argparse.Namespace) -> int:
    from emoca.commands.animate import AnimateConfig, run_animate

    if args.size is not None and not 64 <= args.size <= 4096:
        raise InputError("--size", "must be between 64 and 4096 pixels")
    if not args.fps > 0:
        raise InputError("--fps", "must be a positive number")
    config = AnimateConfig(pose=not args.no_pose, method=args.method, size=args.size, fps=args.fps)
    return run_animate(args.source, args.target, args.out, config)


def _export(args: argparse.Namespace) -> int:
    from emoca.commands.export import run_export

    return run_export(args.input, args.format, args.out, not args.no_pose, args.flame)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from emoca.serve.app import ServeConfig, create_app

    if not 0 < args.max_upload_mb <= 1024:
        raise InputError("--max-upload-mb", "must be between 0 and 1024")
    if not 0 < args.upload_timeout <= 3600:
        raise InputError("--upload-timeout", "must be between 0 and 3600 seconds")
    config = ServeConfig(method=args.method, max_upload_mb=args.max_upload_mb, upload_timeout_s=args.upload_timeout)
    app = create_app(config)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"emoca: warning: listening on {args.host}, not only this machine: anyone who can reach it can "
              "upload photos and use its CPU (there is no login)", file=sys.stderr, flush=True)
    print(f"emoca: serving on http://{args.host}:{args.port}/ (Ctrl-C stops)", file=sys.stderr, flush=True)
    # WebSocket through the `websockets` library's sans-I/O core; a message over the live frame limit
    # closes its stream (1009); idle keep-alive connections go after 5 s.
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", ws="websockets-sansio",
                ws_max_size=config.live.max_frame_kb * 1024 + 1024, timeout_keep_alive=5)
    return 0


def _add_resource_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--max-megapixels", type=float, default=None, metavar="MP",
                         help="refuse images declaring more pixels, before decoding (default 200)")
    command.add_argument("--threads", type=int, default=None, metavar="N",
                         help="CPU threads for torch, OpenMP and OpenCV (default: the machine's cores); give "
                              "each of several emoca processes on one machine its share")


def _set_resources(args: argparse.Namespace) -> str | None:
    """Apply --max-megapixels and --threads before any model loads; the usage error, if any."""
    if args.max_megapixels is not None:
        if not args.max_megapixels > 0:
            return "--max-megapixels: must be a positive number"
        from emoca.io.images import limits

        limits.max_megapixels = args.max_megapixels
    if args.threads is not None:
        if args.threads < 1:
            return "--threads: must be at least 1"
        import cv2
        import torch

        torch.set_num_threads(args.threads)
        cv2.setNumThreads(args.threads)
    return None


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(prog="emoca", description="Emotion-driven monocular 3D face capture.")
    parser.add_argument("--version", action="version", version=f"emoca {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="render the default face model with named expressions; "
                                            "export it as GLB (53 morph targets) and OBJ")
    demo.add_argument("--out", default="out", help="output folder (default: out)")
    demo.add_argument("--seed", type=int, default=0, help="random identity seed")
    demo.add_argument("--size", type=int, default=512, help="image size in pixels")
    demo.add_argument("--ict", default=None, help="ICT model (.npz or FaceXModel folder); default $EMOCA_ICT "
                                                  "or ../shared/ict-facekit")
    demo.set_defaults(run=_demo)

    landmarks = commands.add_parser("landmarks", help="detect faces; 478 dense and 68 points per face, as overlay "
                                                      "PNGs and (with --json) JSON lines on stdout")
    landmarks.add_argument("inputs", nargs="+", metavar="IMAGE_OR_DIR", help="images, or folders walked in order")
    landmarks.add_argument("--json", action="store_true", help="one JSON line per face on stdout")
    landmarks.add_argument("--out", default="out/landmarks", help="overlay folder (default: out/landmarks)")
    landmarks.add_argument("--method", choices=("dense", "dlib", "fused"), default=None,
                           help="68-point method (default: the one learned best, see the README)")
    _add_resource_options(landmarks)
    landmarks.set_defaults(run=_landmarks)

    emotion = commands.add_parser("emotion", help="expression (8 classes), valence and arousal of every face")
    emotion.add_argument("inputs", nargs="+", metavar="IMAGE_OR_DIR", help="images, or folders walked in order")
    emotion.add_argument("--json", action="store_true", help="one JSON line per face on stdout")
    emotion.add_argument("--no-detect", action="store_true",
                         help="treat each image as one already-cropped face (e.g. FER's 48x48 faces)")
    emotion.add_argument("--weights", default=None, help="emotion weights (.safetensors; default: shipped)")
    emotion.add_argument("--from", dest="source", choices=("image", "geometry"), default="image",
                         help="image: the recogniser on the face crop (default); geometry: reconstruct the face, "
                              "then classify its 53 expression weights alone")
    emotion.add_argument("--method", choices=METHODS, default=FAST_METHOD,
                         help=f"--from geometry: how to reconstruct (default {FAST_METHOD}: EMOCA's regressor)")
    _add_resource_options(emotion)
    emotion.set_defaults(run=_emotion)

    reconstruct = commands.add_parser("reconstruct", help="fit a 3D face to every face of each photo: params.json, "
                                                          "mesh.obj, render.png, overlay.png per photo")
    reconstruct.add_argument("inputs", nargs="+", metavar="INPUT", help="photos, or folders walked in order")
    reconstruct.add_argument("--out", required=True, help="output folder (one subfolder per photo)")
    reconstruct.add_argument("--json", action="store_true", help="one JSON line per photo on stdout")
    reconstruct.add_argument("--overwrite", action="store_true", help="redo photos whose params.json exists")
    reconstruct.add_argument("--model", choices=("ict", "flame"), default="ict", help="face model (default ict)")
    reconstruct.add_argument("--flame", default=None, help="your FLAME generic_model.pkl (with --model flame)")
    reconstruct.add_argument("--device", default="cpu", help="where the prediction runs: cpu (default) or cuda[:N]")
    reconstruct.add_argument("--method", choices=METHODS, default=None,
                             help=f"{DEFAULT_METHOD} (default for ICT: the regressor refined with EMOCA's emotion "
                                  f"loss at test time), fit (analysis by synthesis; default for FLAME: "
                                  f"{FLAME_METHOD}), regress (the EMOCA regressor alone, ICT only), "
                                  "regress+fit (a short fit from the regressor's result) or regress+identity "
                                  "(that fit with the expression held)")
    reconstruct.add_argument("--expression-encoder", default=None, metavar="SAFETENSORS|none",
                             help="regress: another stage-2 expression encoder, or none for stage 1's (ablations)")
    reconstruct.add_argument("--emotion-weight", type=float, default=None, metavar="W",
                             help="weight of EMOCA's emotion-consistency term: emoca's emotion stage (default "
                                  "1; 0: its control) or the fits' appearance stage (default 0: off)")
    reconstruct.add_argument("--engine", choices=("local", "ray"), default="local",
                             help="local (default): this process; ray: a pool of Ray actors (Ray Data)")
    reconstruct.add_argument("--address", default=None, help="--engine ray: an existing Ray cluster's address "
                                                             "(default: start a local Ray instance)")
    reconstruct.add_argument("--workers", type=int, default=None,
                             help="--engine ray: actors (default: the cluster's CPUs / --threads)")
    _add_resource_options(reconstruct)
    reconstruct.set_defaults(run=_reconstruct)

    animate = commands.add_parser("animate", help="drive another face with a video's (or photo's) expressions: "
                                                  "animation.mp4, side_by_side.mp4, animation.glb")
    animate.add_argument("source", metavar="SOURCE",
                         help="a video, a folder of frames, a params.jsonl, a photo or a params.json")
    animate.add_argument("--target", required=True, metavar="TARGET",
                         help="a photo (reconstructed), a params.json, or neutral (ICT's mean face)")
    animate.add_argument("--out", required=True, help="output folder")
    animate.add_argument("--no-pose", action="store_true", help="keep the target's head still")
    animate.add_argument("--method", choices=METHODS, default=FAST_METHOD,
                         help=f"how photos and videos are reconstructed (default {FAST_METHOD})")
    animate.add_argument("--size", type=int, default=None, metavar="PX",
                         help="target render side (default: the source video's height, else 384)")
    animate.add_argument("--fps", type=float, default=25.0, help="frame rate of a folder of frames (default 25)")
    _add_resource_options(animate)
    animate.set_defaults(run=_animate)

    export = commands.add_parser("export", help="a params.json/params.jsonl as ARKit CSV (Live Link Face), "
                                                "animated GLB, an OBJ per frame, or FLAME parameters")
    export.add_argument("input", metavar="INPUT", help="params.json or params.jsonl of emoca reconstruct")
    export.add_argument("--format", required=True, choices=("arkit-csv", "glb", "obj-seq", "flame-npz"),
                        help="see the README's Animation section")
    export.add_argument("--out", required=True, help="output file (obj-seq: a folder)")
    export.add_argument("--no-pose", action="store_true", help="leave the head rotation out")
    export.add_argument("--flame", default=None, help="obj-seq of a FLAME capture: your generic_model.pkl")
    export.set_defaults(run=_export)

    serve = commands.add_parser("serve", help="a local web page: drop a photo, turn its 3D face, pose it with "
                                              "sliders, download its files")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine)")
    serve.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    serve.add_argument("--method", choices=METHODS, default=FAST_METHOD,
                       help=f"how uploads are reconstructed (default {FAST_METHOD})")
    serve.add_argument("--max-upload-mb", type=float, default=20.0, help="larger uploads are refused (default 20)")
    serve.add_argument("--upload-timeout", type=float, default=30.0, metavar="S",
                       help="an upload's body must arrive within S seconds (default 30)")
    _add_resource_options(serve)
    serve.set_defaults(run=_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status (0 success, 1 bad input, 2 usage error)."""
    args = build_parser().parse_args(argv)
    if hasattr(args, "threads"):
        problem = _set_resources(args)
        if problem:
            print(f"emoca: error: {problem}", file=sys.stderr)
            return 2
    try:
        return args.run(args)
    except InputError as error:
        print(f"emoca: error: {error}", file=sys.stderr)
        return 1
    except Exception as error:  # noqa: BLE001 - a bug must not show a traceback; one line says what failed
        print(f"emoca: error: unexpected failure ({type(error).__name__}: {' '.join(str(error).split())}); "
              "please report it", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
