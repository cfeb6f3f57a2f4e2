"""How the level-256 synthesis network learns to keep its canvas, measured over training steps.

1. A demo root of its own (run_demo.sh up to the level-256 canvases, SIMS_DEMO_STOP_AFTER=canvases;
   demo seed 3 unless --demo-seed, base height 32 unless --base-height, --texture-scale passed to
   make_demo_dataset.py if given); a root that has them already is reused. It prints the test
   canvases' own LPIPS against the ground truth ("canvas alone" in the demo's table).
2. The SIMS network of synthesis_256_512.py is trained in this process exactly as the demo trains
   it (same seed, so the same initial weights and samples; --batch-size, 1 as the demo by default;
   the fixed --learning-rate or a schedule "RATE:UNTIL,RATE": 1e-3 to step 1500, then 1e-4, is
   "1e-3:1500,1e-4"; --sets N draws its canvases from the first N training canvas sets, the
   original's 5 by default). With --parametric it trains the parametric baseline instead (empty canvases,
   the clean layout), whose |x - canvas| the demo's goal compares SIMS' with. --layer-rate-factor K
   trains the layers of --layers (default: g_decoder_final and g_256_conv100, the layers after the
   full-size canvas enters) at K times the rate: each Adam update of their variables is scaled by
   K, which is the same as a rate of K x rate for them, since Adam's step is proportional to it.
3. Every --every steps, without changing the weights:
   - test |x - canvas|: evaluate.py's mean absolute difference from the test canvases on their
     content (neither black gaps nor white elision marks), and the test LPIPS;
   - train |x - canvas|: the same on 20 fixed training samples, whose canvases are their own
     image's pixels, so that copying is exactly what the loss asks for there;
   - high-frequency gain: on the training samples' content (eroded by a pixel), the least-squares
     factor from the canvas' detail (canvas minus its Gaussian blur, sigma 1) to the output's: 1 is
     a sharp copy, 0 a copy of the blurred canvas at best;
   - low-pass error: |blur(output) - blur(canvas)| there, the colour error left when detail is
     ignored;
   - |w| canvas / decoder: mean absolute weight of g_decoder_final's first convolution on the three
     canvas channels and on the 256 decoder channels, the only place the full-size canvas enters.
Last line: `test_canvas_error=<x> train_canvas_error=<y> high_frequency_gain=<z>` at the last step.
"""

import argparse
import dataclasses
import logging
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "python_code"))

import script_setup  # noqa: E402,F401  (first: data_prep on the path, TensorFlow loaded quietly)
import cv2  # noqa: E402
import training  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import class_table  # noqa: E402
import command_line  # noqa: E402
import data_root  # noqa: E402
import distribution  # noqa: E402
import evaluate  # noqa: E402
import file_io  # noqa: E402
import folders  # noqa: E402
import labels  # noqa: E402
import matlab_image_ops  # noqa: E402
import synthesis  # noqa: E402
import synthesis_256_512  # noqa: E402
from demo_roots import benchmark_parser, prepare_demo_root  # noqa: E402
from synthesis_network import SynthesisNetwork  # noqa: E402
from vgg_features import load_vgg  # noqa: E402

LOG = logging.getLogger("sims")
TRAIN_SAMPLES = range(0, 2000, 100)   # 20 fixed training samples, by global index
DETAIL_SIGMA = 1.0


def rate_schedule(text):
    """"1e-3:1500,1e-4" -> rate(step): 1e-3 before step 1500, then 1e-4."""
    parts = []
    try:
        for part in text.split(","):
            rate, _, until = part.partition(":")
            parts.append((float(rate), int(until) if until else None))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected RATE or RATE:UNTIL,...,RATE") from None
    if parts[-1][1] is not None:
        raise argparse.ArgumentTypeError(f"{text!r}: the last rate must have no end step")
    return lambda step: next(rate for rate, until in parts if until is None or step < until)


def detail_and_blur_errors(output, canvas):
    """(high-frequency gain, low-pass error) of an output against its uint8 canvas."""
    content = cv2.erode(evaluate.canvas_content(canvas).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    if not content.any():
        return np.nan, np.nan
    canvas, output = canvas.astype(np.float32), output.astype(np.float32)
    blur = lambda image: cv2.GaussianBlur(image, (0, 0), DETAIL_SIGMA)  # noqa: E731
    canvas_detail, output_detail = (canvas - blur(canvas))[content], (output - blur(output))[content]
    gain = float((output_detail * canvas_detail).sum() / max(float((canvas_detail ** 2).sum()), 1e-6))
    return gain, float(np.abs(blur(output) - blur(canvas))[content].mean())


def with_layer_rate_factor(train_step, variables, factor):
    """train_step with each update of `variables` scaled by `factor` (a per-layer learning rate)."""
    if factor == 1:
        return train_step

    def step(batch, batch_size=None):
        before = [tf.identity(variable) for variable in variables]
        result = train_step(batch, batch_size)
        for variable, old in zip(variables, before):
            variable.assign(old + factor * (variable - old))
        return result
    return step


def test_inputs(root, classes, config):
    """[(network canvas in 0..1, label index, uint8 test canvas, ground truth)] of the level's test
    canvases; the parametric baseline is given an empty canvas and the clean layout, as its test phase."""
    level_name = config.name
    folder = root / folders.canvases(level_name)
    names = sorted(path.stem for path in folder.glob("*.mat"))
    truths = evaluate.read_truths(root, level_name, names)
    found = []
    for name, truth in zip(names, truths):
        content = file_io.load_mat(folder / f"{name}.mat", ["proposal", "label"])
        canvas = np.clip(content["proposal"], 0, 1)
        label_index = labels.label_to_index(content["label"], classes)[0]
        given = canvas
        if config.parametric:
            given = np.zeros_like(canvas)
            label_index = matlab_image_ops.resize_nearest(
                labels.read_label(root / config.test_layout_folder / f"{name}.png", classes=classes), canvas.shape[:2])
        found.append((given, label_index, np.round(canvas * 255).astype(np.uint8), truth))
    return found


def nan_mean(values):
    """The mean of the values that are not nan; nan if none is (the baseline's empty training canvases)."""
    values = np.asarray(values, np.float64)
    return float(values[~np.isnan(values)].mean()) if not np.isnan(values).all() else float("nan")


def measure(network, tests, train_samples, lpips):
    outputs = [synthesis.synthesize(network, canvas, label) for canvas, label, _, _ in tests]
    test_error = evaluate.canvas_error(outputs, [canvas for _, _, canvas, _ in tests])
    test_lpips = float(np.mean([lpips(output, truth) for output, (_, _, _, truth) in zip(outputs, tests)]))
    train_outputs = [synthesis.synthesize(network, sample["canvas"] / 255.0, sample["label_index"])
                     for sample in train_samples]
    train_canvases = [sample["canvas"] for sample in train_samples]
    gains, blur_errors = zip(*(detail_and_blur_errors(output, canvas)
                               for output, canvas in zip(train_outputs, train_canvases)))
    weights = network.final.layers[0].weights.numpy()
    canvas_channel = network.class_count + 1   # the input is label (K + 1), canvas (3), mask, then the decoder
    return {"test |x - canvas|": test_error, "test LPIPS": test_lpips,
            "train |x - canvas|": evaluate.canvas_error(train_outputs, train_canvases),
            "high-frequency gain": nan_mean(gains), "low-pass error": nan_mean(blur_errors),
            "|w| canvas": float(np.abs(weights[:, :, canvas_channel:canvas_channel + 3]).mean()),
            "|w| decoder": float(np.abs(weights[:, :, canvas_channel + 4:]).mean())}


def main(argv=None):
    parser = benchmark_parser(__doc__, demo_seed=3)
    parser.add_argument("--seed", type=int, default=0, help="training seed (the demo's: 0)")
    parser.add_argument("--steps", type=command_line.positive_int, default=2000, help="training steps (default 2000)")
    parser.add_argument("--every", type=command_line.positive_int, default=250, help="steps between measurements")
    parser.add_argument("--batch-size", type=command_line.positive_int, default=1, help="samples a step (default 1)")
    parser.add_argument("--parametric", action="store_true", help="train the parametric baseline (empty canvases)")
    parser.add_argument("--learning-rate", type=rate_schedule, default=rate_schedule("3e-4"),
                        help="fixed rate or schedule RATE:UNTIL,...,RATE (default 3e-4, the quick demo's)")
    parser.add_argument("--layer-rate-factor", type=command_line.positive_float, default=1.0,
                        help="rate factor for the layers of --layers (default 1: one rate for all)")
    parser.add_argument("--layers", default="g_decoder_final,g_256_conv100",
                        help="variable scopes --layer-rate-factor applies to, comma-separated")
    parser.add_argument("--base-height", type=command_line.positive_int, help="base height of the demo root it builds (default 32)")
    parser.add_argument("--texture-scale", type=command_line.positive_float,
                        help="texture scale of the demo root it builds (default: the demo's)")
    synthesis.add_sets_option(parser, synthesis_256_512.CONFIG)
    args = parser.parse_args(argv)
    root = args.root.resolve()
    prepare_demo_root(root, args.demo_seed, "quick", args.base_height, args.texture_scale)
    run = argparse.Namespace(root=root, seed=args.seed, sizes=data_root.load_sizes(root), classes=class_table.load_classes(root))
    config = dataclasses.replace(synthesis_256_512.CONFIG, parametric=args.parametric, sets=args.sets)
    read_sample = synthesis.sample_reader(config, run)[0]
    tf.random.set_seed(args.seed)   # as training.parse_arguments: the demo's initial weights
    network, vgg = SynthesisNetwork(config.level, run.classes.count), load_vgg(root)
    optimizer = distribution.adam(args.learning_rate(0))
    train_step = training.make_train_step(
        tf.distribute.get_strategy(), network, optimizer,
        lambda batch: synthesis.batch_losses(network, vgg, synthesis.VGG16_TERM_SCALE, batch),
        samples_can_be_empty=False)
    scopes = [scope for scope in args.layers.split(",") if scope]
    faster = [variable for variable in network.trainable_variables
              if any(variable.name.startswith(scope + "/") for scope in scopes)]
    if args.layer_rate_factor != 1 and not faster:
        parser.error(f"--layers {args.layers}: no variable of the network is in these scopes")
    train_step = with_layer_rate_factor(train_step, faster, args.layer_rate_factor)
    lpips, tests = evaluate.Lpips(), test_inputs(root, run.classes, config)
    train_samples = [read_sample(index) for index in TRAIN_SAMPLES]
    print(f"demo seed {args.demo_seed}, base height {run.sizes.base_height}, training seed {args.seed}, "
          f"batch {args.batch_size}, training canvas sets {args.sets}{', parametric baseline' if args.parametric else ''}"
          + (f", {args.layer_rate_factor:g} x the rate for {args.layers}" if args.layer_rate_factor != 1 else ""))
    canvas_lpips = float(np.mean([lpips(canvas, truth) for _, _, canvas, truth in tests]))
    print(f"the test canvases alone: LPIPS {canvas_lpips:.4f} on {len(tests)} test scenes")
    header = None
    started = time.perf_counter()
    for current in range(args.steps):
        optimizer.learning_rate.assign(args.learning_rate(current))
        samples = [read_sample(current * args.batch_size + i) for i in range(args.batch_size)]
        train_step({name: np.stack([sample[name] for sample in samples]) for name in samples[0]}, args.batch_size)
        if (current + 1) % args.every == 0 or current + 1 == args.steps:
            figures = measure(network, tests, train_samples, lpips)
            if header is None:
                header = f"{'step':>6} {'rate':>7} {'minutes':>7} " + " ".join(f"{name:>19}" for name in figures)
                print(header)
            print(f"{current + 1:>6} {args.learning_rate(current):>7.0e} {(time.perf_counter() - started) / 60:>7.1f} "
                  + " ".join(f"{value:>19.4f}" for value in figures.values()), flush=True)
    print(f"test_canvas_error={figures['test |x - canvas|']:.2f} train_canvas_error={figures['train |x - canvas|']:.2f} "
          f"high_frequency_gain={figures['high-frequency gain']:.3f}")


if __name__ == "__main__":
    command_line.run_cli(main)
