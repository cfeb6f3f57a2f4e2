"""How well each aligner fits the retrieved segments to the query: none, affine (transformation.py)
and appearance flow (appearance_flow.py), on the demo test set at level 512.

1. Per demo seed of --seeds (default 2027-2029: seeds that neither the tests nor the demo use, and
   that the flow's settings were not chosen on; 2021-2023 chose them), a root of its own,
   ROOT/seed_S (run_demo.sh up to the canvases, SIMS_DEMO_STOP_AFTER=canvases); a root that has
   them already is reused.
2. Per aligner, a variant root ROOT/seed_S/eval_alignment/<aligner and settings> sharing the seed
   root's data and ordering predictions through symbolic links, with its own models; there the
   aligner is trained for --steps (at its script's learning rate unless --learning-rate, the flow's
   unless --flow-learning-rate; the flow with --outside-weight and --smoothness-weight) and tested.
   Settings already run are reused.
3. Per aligner, over every retrieved segment of every test image: the IoU between the aligned
   segment's mask (its non-black pixels) and its query mask; the mean absolute error (0..255)
   inside the query mask between the aligned segment and the ground-truth test image (RGB512Full;
   pixels the segment leaves empty count as black); the share of segments whose aligned version
   overlaps the query more than the unaligned one (those the canvas keeps); and the LPIPS of the canvases
   test_generate_canvas.py makes with that aligner (which keeps an aligned segment only where it
   overlaps its query more than the unaligned one) against the ground truth, with the evaluation's
   distribution distance of those canvases (FD-VGG16 and KID-VGG16 against the real test images)
   and its segmentation score (the seed root's own segmenter, trained there at level 512 as
   run_demo.sh trains it; mIoU against the test layouts, and against each canvas' revised layout).
4. Each seed's table, then every figure's mean and standard deviation over the seeds.
Last lines: `flow_canvas_lpips=<mean> affine_canvas_lpips=<mean> flow_beats_affine=<true|false>` (true
when the flow's mean is lower by more than the larger of the two spreads), then
`flow_mask_iou=<x> affine_mask_iou=<y> none_mask_iou=<z>` (means).
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
import folders  # noqa: E402
import labels  # noqa: E402
import test_generate_canvas  # noqa: E402
import appearance_flow  # noqa: E402
from demo_roots import (benchmark_parser, chosen_seeds, mean_and_spread, own_segmenter,  # noqa: E402
                        prepare_demo_root, variant_root)

LOG = logging.getLogger("sims")
LEVEL_NAME = "512"   # the aligners work at level 2
ALIGNERS = ("none", "affine", "flow")
SCRIPTS = {"affine": "transformation.py", "flow": "appearance_flow.py"}
# (title, key, column width, digits, scale) of the figures per aligner; KID x 1000, as evaluate.py shows it
FIGURES = (("mask IoU", "mask_iou", 9, 3, 1), ("L1 in query", "l1", 12, 2, 1), ("kept", "kept", 6, 2, 1),
           ("canvas LPIPS", "canvas_lpips", 13, 3, 1), ("FD-VGG16", "vgg16_fd", 9, 1, 1),
           ("KID-VGG16 x 1000", "vgg16_kid", 16, 1, 1000), ("mIoU", "miou", 6, 3, 1),
           ("mIoU revised", "miou_revised", 12, 3, 1))


def aligner_variant(root, aligner, args):
    """ROOT/eval_alignment/<aligner and its training settings>: a variant root per aligner and
    settings, so that runs with other settings train anew and those with the same are reused."""
    rate = learning_rate(aligner, args)
    name = f"{aligner}_{args.steps}_steps" + (f"_rate_{rate:g}" if rate else "")
    if aligner == "flow":
        name += f"_outside_{args.outside_weight:g}_smoothness_{args.smoothness_weight:g}"
    return variant_root(root, f"eval_alignment/{name}", linked=(folders.VGG19_FILE, folders.ORDER_PREDICTIONS))


def learning_rate(aligner, args):
    """The rate an aligner trains at: --flow-learning-rate for the flow when given, else --learning-rate
    (None: its script's own)."""
    return args.flow_learning_rate if aligner == "flow" and args.flow_learning_rate else args.learning_rate


def train_and_test(variant, aligner, args):
    rate = learning_rate(aligner, args)
    options = ["--learning-rate", str(rate)] if rate else []
    if aligner == "flow":
        options += ["--outside-weight", str(args.outside_weight), "--smoothness-weight", str(args.smoothness_weight)]
    for phase in (["--train", "--max-steps", str(args.steps), "--save-every", str(args.steps), "--seed",
                   str(args.seed), *options], ["--test"]):
        command = [sys.executable, str(REPO_ROOT / "python_code" / SCRIPTS[aligner]), "--root", str(variant), *phase]
        LOG.info("%s", " ".join(command))
        subprocess.run(command, check=True)


def aligner_scores(root, aligner, lpips, truths):
    """({figure: value} of an aligner's segments and canvases: mask_iou, l1, kept, canvas_lpips, segments;
    {name: canvas (uint8)}, {name: the canvas' revised layout}); truths: {name: ground-truth test image}."""
    sizes, classes = data_root.load_sizes(root), class_table.load_classes(root)
    train_ids = data_root.list_image_ids(root / test_generate_canvas.TRAIN_IMAGE_LIST)
    ious, errors, kept, perceptual, canvases, revised = [], [], [], [], {}, {}
    for image_id in data_root.list_image_ids(root / test_generate_canvas.LAYOUT_FOLDER):
        name = data_root.image_name(image_id)
        truth = truths[name]
        canvas, revised[name], segments = test_generate_canvas.make_canvas(
            image_id, root, sizes, classes, LEVEL_NAME, aligner=aligner, tricks=test_generate_canvas.TRICKS,
            original_ordering_cut=False, seed=0, train_ids=train_ids)
        for aligned, unaligned, query in zip(segments.transferred, segments.answer, segments.query_masks):
            landing = canvas_ops.content_mask(aligned)
            ious.append((landing & query).sum() / max((landing | query).sum(), 1))
            kept.append((landing & query).sum() > (canvas_ops.content_mask(unaligned) & query).sum())
            errors.append(np.abs(aligned[query].astype(float) - truth[query]).mean() if query.any() else 0.0)
        canvases[name] = np.round(canvas * 255).astype(np.uint8)
        perceptual.append(lpips(canvases[name], truth))
    figures = {"mask_iou": np.mean(ious), "l1": np.mean(errors), "kept": np.mean(kept),
               "canvas_lpips": np.mean(perceptual), "segments": len(ious)}
    return figures, canvases, revised


def canvas_evaluation(root, canvases, revised, truths, lpips, segmenter):
    """{aligner: {vgg16_fd, vgg16_kid, vgg16_kid_sd, miou, pixel_accuracy, miou_revised, ...}}: the
    evaluation's distribution distance (against the real test images) and segmentation score
    (against the test layouts and each canvas' own revised layout) of every aligner's canvases."""
    classes = class_table.load_classes(root)
    shape = data_root.load_sizes(root).shape(data_root.LEVELS[LEVEL_NAME])
    names = sorted(truths)
    layouts = {name: labels.read_label(root / folders.LAYOUTS[LEVEL_NAME][1] / f"{name}.png", classes, shape=shape)
               for name in names}
    sets = {aligner: [images[name] for name in names] for aligner, images in canvases.items()}
    figures = evaluate.distribution_scores(sets, [truths[name] for name in names], lpips.pooled_features, "vgg16")[0]
    for aligner, images in canvases.items():
        figures[aligner].update(evaluate.segmentation_scores({aligner: images}, layouts, revised[aligner], segmenter,
                                                             classes)[aligner])
    return figures


def seed_scores(root, demo_seed, args, lpips):
    """{aligner: {figure: value}} on one demo seed's root (built and trained when not done yet)."""
    prepare_demo_root(root, demo_seed, "quick")
    segmenter = own_segmenter(root, LEVEL_NAME, class_table.load_classes(root))
    image_ids = data_root.list_image_ids(root / test_generate_canvas.LAYOUT_FOLDER)
    names = [data_root.image_name(image_id) for image_id in image_ids]
    truths = dict(zip(names, evaluate.read_truths(root, LEVEL_NAME, names)))
    scores, canvases, revised = {}, {}, {}
    for aligner in SCRIPTS:
        variant = aligner_variant(root, aligner, args)
        train_and_test(variant, aligner, args)
        scores[aligner], canvases[aligner], revised[aligner] = aligner_scores(variant, aligner, lpips, truths)
    scores["none"], canvases["none"], revised["none"] = aligner_scores(variant, "none", lpips, truths)
    for aligner, figures in canvas_evaluation(root, canvases, revised, truths, lpips, segmenter).items():
        scores[aligner].update(figures)
    return {aligner: scores[aligner] for aligner in ALIGNERS}


def main(argv=None):
    parser = benchmark_parser(__doc__, demo_seeds=(2027, 2028, 2029))
    parser.add_argument("--steps", type=command_line.positive_int, default=1000, help="training steps of each aligner")
    parser.add_argument("--learning-rate", type=float,
                        help="one rate for both (default: each script's, 1e-5 affine as the original, 1e-4 flow)")
    parser.add_argument("--flow-learning-rate", type=command_line.positive_float,
                        help="the flow's rate alone (default: --learning-rate, or its script's 1e-4)")
    parser.add_argument("--seed", type=int, default=0, help="training seed of both")
    parser.add_argument("--outside-weight", type=float, default=appearance_flow.OUTSIDE_WEIGHT,
                        help=f"the flow's --outside-weight (default {appearance_flow.OUTSIDE_WEIGHT:g})")
    parser.add_argument("--smoothness-weight", type=float, default=appearance_flow.SMOOTHNESS_WEIGHT,
                        help=f"the flow's --smoothness-weight (default {appearance_flow.SMOOTHNESS_WEIGHT:g})")
    args = parser.parse_args(argv)
    lpips, seeds = evaluate.Lpips(), chosen_seeds(args)
    scores = {seed: seed_scores(args.root.resolve() / f"seed_{seed}", seed, args, lpips) for seed in seeds}
    print(f"demo seeds {', '.join(map(str, seeds))} (a root each in {args.root}/seed_S), level {LEVEL_NAME}; "
          f"{args.steps} training steps each, learning rate {args.learning_rate or 'of each script'}, seed {args.seed}; "
          f"flow: learning rate {learning_rate('flow', args) or appearance_flow.LEARNING_RATE:g}, "
          f"outside weight {args.outside_weight:g}, smoothness weight {args.smoothness_weight:g}")
    print(f"{'seed':>6} {'aligner':<8} {'segments':>8} " + " ".join(f"{title:>{width}}" for title, _, width, *_ in FIGURES))
    for seed in seeds:
        for aligner, figures in scores[seed].items():
            cells = (f"{figures[key] * scale:>{width}.{digits}f}" for _, key, width, digits, scale in FIGURES)
            print(f"{seed:>6} {aligner:<8} {figures['segments']:>8} " + " ".join(cells))
    summary = {aligner: {key: mean_and_spread([scores[seed][aligner][key] for seed in seeds]) for _, key, *_ in FIGURES}
               for aligner in ALIGNERS}
    print(f"mean (standard deviation) over {len(seeds)} seeds:")
    for aligner, figures in summary.items():
        cells = (f"{figures[key][0] * scale:.{digits}f} ({figures[key][1] * scale:.{digits}f})"
                 for _, key, _, digits, scale in FIGURES)
        print(f"{'':>6} {aligner:<8} {'':>8} " + " ".join(cells))
    (flow_lpips, flow_sd), (affine_lpips, affine_sd) = (summary[aligner]["canvas_lpips"] for aligner in ("flow", "affine"))
    print(f"flow_canvas_lpips={flow_lpips:.4f} affine_canvas_lpips={affine_lpips:.4f} "
          f"flow_beats_affine={str(affine_lpips - flow_lpips > max(flow_sd, affine_sd)).lower()}")
    print(" ".join(f"{aligner}_mask_iou={summary[aligner]['mask_iou'][0]:.4f}" for aligner in ("flow", "affine", "none")))


if __name__ == "__main__":
    command_line.run_cli(main)
