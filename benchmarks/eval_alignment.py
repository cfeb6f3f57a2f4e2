"""How well each aligner fits the retrieved segments to the query: none, affine (transformation.py)
and appearance flow (appearance_flow.py), on the demo test set at level 512.

1. A demo root of its own (run_demo.sh up to the canvases, SIMS_DEMO_STOP_AFTER=canvases, with a
   demo seed that neither the tests nor the demo use); a root that has them already is reused.
2. ROOT/eval_alignment: a variant root sharing ROOT's data and ordering predictions through
   symbolic links, with its own models; there both aligners are trained for the same --steps (each
   at its script's learning rate unless --learning-rate) and tested.
3. Per aligner, over every retrieved segment of every test image: the IoU between the aligned
   segment's mask (its non-black pixels) and its query mask; the mean absolute error (0..255)
   inside the query mask between the aligned segment and the ground-truth test image (RGB512Full;
   pixels the segment leaves empty count as black); the share of segments whose aligned version
   overlaps the query more than the unaligned one (those the canvas keeps); and the LPIPS of the canvases
   test_generate_canvas.py makes with that aligner (which keeps an aligned segment only where it
   overlaps its query more than the unaligned one) against the ground truth.
Last line: `flow_mask_iou=<x> affine_mask_iou=<y> none_mask_iou=<z>`.
"""

import logging
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "python_code"))

import script_setup  # noqa: E402,F401  (first: data_prep on the path, TensorFlow loaded quietly)
import numpy as np  # noqa: E402

import canvas as canvas_ops  # noqa: E402
import class_table  # noqa: E402
import command_line  # noqa: E402
import data_root  # noqa: E402
import evaluate  # noqa: E402
import file_io  # noqa: E402
import folders  # noqa: E402
import test_generate_canvas  # noqa: E402
from demo_roots import benchmark_parser, prepare_demo_root, variant_root  # noqa: E402

LOG = logging.getLogger("sims")
LEVEL_NAME = "512"   # the aligners work at level 2
ALIGNERS = ("none", "affine", "flow")
SCRIPTS = {"affine": "transformation.py", "flow": "appearance_flow.py"}


def train_and_test_aligners(variant, steps, learning_rate, seed):
    for script in SCRIPTS.values():
        rate = ["--learning-rate", str(learning_rate)] if learning_rate else []
        for phase in (["--train", "--max-steps", str(steps), "--save-every", str(steps), "--seed", str(seed), *rate],
                      ["--test"]):
            command = [sys.executable, str(REPO_ROOT / "python_code" / script), "--root", str(variant), *phase]
            LOG.info("%s", " ".join(command))
            subprocess.run(command, check=True)


def aligner_scores(root, aligner, lpips):
    """(mean mask IoU, mean L1 inside the query masks, share kept, mean canvas LPIPS, segments) of an aligner."""
    sizes, classes = data_root.load_sizes(root), class_table.load_classes(root)
    shape = sizes.shape(data_root.LEVELS[LEVEL_NAME])
    train_ids = data_root.list_image_ids(root / test_generate_canvas.TRAIN_IMAGE_LIST)
    ious, errors, kept, perceptual = [], [], [], []
    for image_id in data_root.list_image_ids(root / test_generate_canvas.LAYOUT_FOLDER):
        name = data_root.image_name(image_id)
        truth = file_io.read_image(root / folders.test_images("512") / f"{name}.png", shape=shape)
        canvas, _, segments = test_generate_canvas.make_canvas(
            image_id, root, sizes, classes, LEVEL_NAME, aligner=aligner, tricks=test_generate_canvas.TRICKS,
            original_ordering_cut=False, seed=0, train_ids=train_ids)
        for aligned, unaligned, query in zip(segments.transferred, segments.answer, segments.query_masks):
            landing = canvas_ops.content_mask(aligned)
            ious.append((landing & query).sum() / max((landing | query).sum(), 1))
            kept.append((landing & query).sum() > (canvas_ops.content_mask(unaligned) & query).sum())
            errors.append(np.abs(aligned[query].astype(float) - truth[query]).mean() if query.any() else 0.0)
        perceptual.append(lpips(np.round(canvas * 255).astype(np.uint8), truth))
    return np.mean(ious), np.mean(errors), np.mean(kept), np.mean(perceptual), len(ious)


def main(argv=None):
    parser = benchmark_parser(__doc__, demo_seed=2016)
    parser.add_argument("--steps", type=command_line.positive_int, default=1000, help="training steps of each aligner")
    parser.add_argument("--learning-rate", type=float,
                        help="one rate for both (default: each script's, 1e-5 affine as the original, 1e-4 flow)")
    parser.add_argument("--seed", type=int, default=0, help="training seed of both")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    prepare_demo_root(root, args.demo_seed, "quick")
    variant = variant_root(root, "eval_alignment", linked=(folders.VGG19_FILE, folders.ORDER_PREDICTIONS))
    train_and_test_aligners(variant, args.steps, args.learning_rate, args.seed)
    lpips = evaluate.Lpips()
    scores = {aligner: aligner_scores(variant, aligner, lpips) for aligner in ALIGNERS}
    print(f"demo seed {args.demo_seed}, base height {data_root.load_sizes(root).base_height}, level {LEVEL_NAME}; "
          f"{args.steps} training steps each, learning rate {args.learning_rate or 'of each script'}, seed {args.seed}")
    print(f"{'aligner':<10} {'segments':>8} {'mask IoU':>9} {'L1 in query':>12} {'kept':>6} {'canvas LPIPS':>13}")
    for aligner, (iou, error, kept, perceptual, count) in scores.items():
        print(f"{aligner:<10} {count:>8} {iou:>9.3f} {error:>12.2f} {kept:>6.2f} {perceptual:>13.3f}")
    print(" ".join(f"{aligner}_mask_iou={scores[aligner][0]:.4f}" for aligner in ("flow", "affine", "none")))


if __name__ == "__main__":
    command_line.run_cli(main)
