"""What the contextual loss option is worth: the synthesis network trained without and with it.

1. Per demo seed of --seeds (seeds that neither the tests nor the demo use, and that the term's
   settings were not chosen on), a root of its own, ROOT/seed_S (run_demo.sh's steps up to the
   canvases of levels 256 and 512, SIMS_DEMO_STOP_AFTER=canvases; base height 32 unless
   --base-height); a root that has them is reused.
2. Two variant roots inside each (ROOT/seed_S/eval_contextual/without_..., .../with_..., their
   settings in the names, so runs with the same settings are reused) that share its data through
   symbolic links and have their own trainedmodels/ and result/. "without" trains level 1 then
   level 2; "with" takes that level-1 network as it is (a link) and trains level 2 from it with the
   same seed, steps and fixed learning rate, the only difference being --contextual-weight (and its
   other options): the term acts at level 2, where its layers have positions to compare (at level 1
   of a base-64 root conv5_2 has 32). Level 2 then paints the test canvases.
3. python_code/evaluate.py's evaluation of both against the same ground truth, per seed (PSNR,
   SSIM, LPIPS, |x - canvas|, FD-VGG16 and KID-VGG16, and the segmentation score with the seed
   root's own segmenter, trained there as run_demo.sh trains it), then every figure's mean and
   standard deviation over the seeds.
4. The extra seconds per level-2 training step that the term costs, in this process on a batch of
   the root's own samples, and the term alone (forward and backward) at the original's level-2 size
   (512x1024: conv3_2 and conv4_2 pooled to at most --max-positions positions).
Last lines: `contextual_fd_delta=<d> contextual_miou_delta=<m>` (means of with - without: a
negative FD and a positive mIoU are the term's gains), `contextual_beats_plain=<true|false>
contextual_lpips_delta_sd=<s>` (true when the mean LPIPS with the term is lower by more than the
larger spread), then `contextual_lpips_delta=<mean of with - without>` (negative: the term helped).
"""

import argparse
import logging
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "python_code"))

import script_setup  # noqa: E402,F401  (first: data_prep on the path, TensorFlow loaded quietly)
import training  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import class_table  # noqa: E402
import command_line  # noqa: E402
import data_root  # noqa: E402
import evaluate  # noqa: E402
import folders  # noqa: E402
import synthesis  # noqa: E402
import synthesis_512_1024  # noqa: E402
from contextual_loss import ContextualLoss  # noqa: E402
from synthesis_network import SynthesisNetwork  # noqa: E402
from demo_roots import (benchmark_parser, chosen_seeds, mean_and_spread, own_segmenter,  # noqa: E402
                        prepare_demo_root, variant_root)
from vgg_features import load_vgg  # noqa: E402

LOG = logging.getLogger("sims")
VARIANTS = ("without", "with")
LEVEL_2 = "512"   # the level the term acts at, whose test canvases both variants paint
ORIGINAL_LEVEL_2 = (512, 1024)
FIGURES = (("PSNR", "psnr"), ("SSIM", "ssim"), ("LPIPS", "lpips"), ("|x - canvas|", "canvas_error"),
           ("FD-VGG16", "vgg16_fd"), ("KID-VGG16 x 1000", "vgg16_kid"), ("mIoU", "miou"),
           ("mIoU revised", "miou_revised"))


def run_script(script, root, *options):
    command = [sys.executable, str(REPO_ROOT / "python_code" / script), "--root", str(root), *map(str, options)]
    LOG.info("%s", " ".join(command))
    subprocess.run(command, check=True)


def train_and_test(variant, args, options, level_1_from=None):
    """Level 1 (unless LEVEL_1_FROM, a variant root whose level-1 network is linked instead), then
    level 2 with OPTIONS, which then paints the test canvases."""
    common_options = ["--seed", args.training_seed, "--learning-rate", args.learning_rate]
    if level_1_from is None:
        run_script("synthesis_256_512.py", variant, "--train", "--max-steps", args.steps_256,
                   "--save-every", args.steps_256, *common_options)
    else:
        level_1 = variant / folders.synthesis_model("256")
        if not level_1.is_symlink():
            level_1.parent.mkdir(parents=True, exist_ok=True)
            level_1.symlink_to(level_1_from / folders.synthesis_model("256"))
    run_script("synthesis_512_1024.py", variant, "--train", "--max-steps", args.steps_512,
               "--save-every", args.steps_512, *common_options, *options)
    run_script("synthesis_512_1024.py", variant, "--test")


def seconds_per_step(root, contextual, steps=4):
    """Seconds of one level-2 training step (batch 1) on the root's first samples."""
    args = argparse.Namespace(root=root, seed=0, sizes=data_root.load_sizes(root), classes=class_table.load_classes(root))
    read_sample = synthesis.sample_reader(synthesis_512_1024.CONFIG, args)[0]
    batches = [{name: value[None] for name, value in read_sample(index).items()} for index in range(steps + 1)]
    tf.random.set_seed(0)
    network, vgg = SynthesisNetwork(2, args.classes.count), load_vgg(root)
    scale = synthesis.VGG16_TERM_SCALE if vgg.kind == "vgg16" else 1.0
    step = training.make_train_step(tf.distribute.get_strategy(), network, tf.keras.optimizers.Adam(1e-4),
                                    lambda batch: synthesis.batch_losses(network, vgg, scale, batch, contextual))
    step(batches[0])   # traces the graph
    start = time.perf_counter()
    for batch in batches[1:]:
        float(step(batch)[0]["total"])
    return (time.perf_counter() - start) / steps


def term_seconds_at_original_size(contextual, repeats=3):
    """Forward and backward of the term alone on random VGG features of a 512x1024 image pair."""
    rng = np.random.default_rng(0)
    def size(layer):   # VGG block b (convb_2) halves the image b - 1 times and has min(64 x 2^(b-1), 512) channels
        block = int(layer[4]) - 1
        return 1, ORIGINAL_LEVEL_2[0] >> block, ORIGINAL_LEVEL_2[1] >> block, min(64 << block, 512)

    shape = {layer: size(layer) for layer in contextual.layers}
    generated = {layer: tf.Variable(rng.random(size, np.float32)) for layer, size in shape.items()}
    real = {layer: tf.constant(rng.random(size, np.float32)) for layer, size in shape.items()}

    @tf.function
    def forward_backward(generated, real):
        with tf.GradientTape() as tape:
            total = tf.reduce_sum(contextual(generated, real))
        return total, tape.gradient(total, list(generated.values()))

    forward_backward(generated, real)
    start = time.perf_counter()
    for _ in range(repeats):
        float(forward_backward(generated, real)[0])
    return (time.perf_counter() - start) / repeats


def variant_name(name, args, contextual):
    """The variant's folder: its settings in the name, so runs with other settings train anew."""
    common = f"{args.steps_256}_{args.steps_512}_steps_rate_{args.learning_rate:g}_seed_{args.training_seed}"
    if name == "without":
        return f"eval_contextual/without_{common}"
    layers = contextual.layers_text().replace(",", "+").replace(":", "_w")
    return (f"eval_contextual/with_at_512_{common}_weight_{contextual.weight:g}_layers_{layers}"
            f"_bandwidth_{contextual.bandwidth:g}_positions_{contextual.max_positions}")


def contextual_options(name, contextual):
    """The synthesis scripts' options of a variant: none without the term, all of its settings with it."""
    if name == "without":
        return []
    return ["--contextual-weight", contextual.weight, "--contextual-layers", contextual.layers_text(),
            "--contextual-bandwidth", contextual.bandwidth, "--contextual-max-positions", contextual.max_positions]


def seed_record(root, demo_seed, args, contextual, lpips):
    """evaluate.py's record of both variants on one seed: its rows are SIMS without and with the term,
    the canvas alone and the real test images, scored with the seed root's own segmenter."""
    prepare_demo_root(root, demo_seed, "long", args.base_height)   # levels 256 and 512
    segmenter = own_segmenter(root, LEVEL_2, class_table.load_classes(root))
    without = variant_root(root, variant_name("without", args, contextual))   # its level 1 serves both
    rows, shared = {}, {}
    for name in VARIANTS:
        variant = variant_root(root, variant_name(name, args, contextual))
        started = time.perf_counter()
        train_and_test(variant, args, contextual_options(name, contextual),
                       level_1_from=None if name == "without" else without)
        LOG.info("seed %d, %s: trained and tested in %.0f s", demo_seed, name, time.perf_counter() - started)
        record = evaluate.evaluate_level(variant, LEVEL_2, lpips, segmenter=segmenter)
        for row, values in record["rows"].items():
            if row.startswith("SIMS"):
                rows[f"SIMS, {name} contextual"] = values
            elif name == VARIANTS[0]:   # the canvas alone and the real images: the same for both
                shared[row] = values
    return {**record, "rows": {**rows, **shared}}


def seed_figure(record, row, key):
    """A figure of a row of a seed's record (NaN where the row has none, as the real images' PSNR)."""
    value = record["rows"][row].get(key)
    return np.nan if value is None else value


def mean_cell(key, mean, spread):
    """"mean (sd)" of a figure over the seeds, KID x 1000 as evaluate.py shows it; "-" where a row has none."""
    if np.isnan(mean):
        return f"{'-':>18}"
    scale = 1000 if key.endswith("_kid") else 1
    return f"{mean * scale:.3f} ({spread * scale:.3f})".rjust(18)


def main(argv=None):
    parser = benchmark_parser(__doc__, demo_seeds=(2024, 2025, 2026))
    parser.add_argument("--training-seed", type=int, default=0, help="seed of both variants' training")
    parser.add_argument("--steps-256", type=command_line.positive_int, default=600, help="level-1 training steps")
    parser.add_argument("--steps-512", type=command_line.positive_int, default=300, help="level-2 training steps")
    parser.add_argument("--learning-rate", type=float, default=1e-4, help="fixed rate of both levels (the demo's)")
    parser.add_argument("--weight", type=command_line.positive_float, default=10.0,
                        help="--contextual-weight of the 'with' variant (default 10: -log CX is about 1 to 3 a "
                             "layer, the CRN terms are tens, so this makes it about as large as one VGG term)")
    parser.add_argument("--layers", type=synthesis.vgg_layer_list, default="conv3_2,conv4_2",
                        help="--contextual-layers, each layer with an optional :weight (CoCosNet's: "
                             "conv3_2:2,conv4_2:4,conv5_2:8)")
    parser.add_argument("--bandwidth", type=command_line.positive_float, default=0.5, help="--contextual-bandwidth")
    parser.add_argument("--base-height", type=command_line.positive_int,
                        help="the demo roots' base height (default the demo's 32; 64 gives level 2 images of "
                             "128x256, four times the positions for the term; use another --root per height)")
    parser.add_argument("--max-positions", type=command_line.positive_int, default=4096, help="--contextual-max-positions")
    args = parser.parse_args(argv)
    seeds = chosen_seeds(args)
    layers, layer_weights = args.layers
    contextual = ContextualLoss(args.weight, layers, args.bandwidth, args.max_positions, layer_weights)
    lpips = evaluate.Lpips()
    roots = {seed: args.root.resolve() / f"seed_{seed}" for seed in seeds}
    records = {seed: seed_record(roots[seed], seed, args, contextual, lpips) for seed in seeds}
    plain_seconds, term_seconds = (seconds_per_step(roots[seeds[0]], loss) for loss in (None, contextual))
    alone = term_seconds_at_original_size(contextual)
    print(f"demo seeds {', '.join(map(str, seeds))} (a root each in {args.root}/seed_S); level 256 "
          f"{args.steps_256} steps, level 512 {args.steps_512} steps, learning rate {args.learning_rate:g}, "
          f"training seed {args.training_seed}, base height {args.base_height or 32}; contextual weight "
          f"{args.weight:g}, layers {contextual.layers_text()}, bandwidth {args.bandwidth:g}, max positions "
          f"{args.max_positions}")
    for seed in seeds:
        print(f"demo seed {seed}:")
        print(evaluate.format_record(records[seed]))
    print(f"mean (standard deviation) over {len(seeds)} seeds:")
    print(f"{'method':<26} " + " ".join(f"{title:>18}" for title, _ in FIGURES))
    summary = {}
    for row in records[seeds[0]]["rows"]:
        summary[row] = {key: mean_and_spread([seed_figure(records[seed], row, key) for seed in seeds])
                        for _, key in FIGURES}
        print(f"{row:<26} " + " ".join(mean_cell(key, *summary[row][key]) for _, key in FIGURES))
    print(f"level-2 training step: {plain_seconds:.3f} s without, {term_seconds:.3f} s with the term "
          f"({term_seconds - plain_seconds:+.3f} s, x{term_seconds / plain_seconds:.2f})")
    print(f"the term alone, forward and backward, at the original's 512x1024: {alone:.3f} s")
    without, with_term = (f"SIMS, {name} contextual" for name in VARIANTS)
    deltas = {key: [seed_figure(records[seed], with_term, key) - seed_figure(records[seed], without, key)
                    for seed in seeds] for key in ("lpips", "vgg16_fd", "miou")}
    (plain_lpips, plain_sd), (term_lpips, term_sd) = (summary[row]["lpips"] for row in (without, with_term))
    print(f"contextual_fd_delta={mean_and_spread(deltas['vgg16_fd'])[0]:+.2f} "
          f"contextual_miou_delta={mean_and_spread(deltas['miou'])[0]:+.4f}")
    print(f"contextual_beats_plain={str(plain_lpips - term_lpips > max(plain_sd, term_sd)).lower()} "
          f"contextual_lpips_delta_sd={mean_and_spread(deltas['lpips'])[1]:.4f}")
    print(f"contextual_lpips_delta={mean_and_spread(deltas['lpips'])[0]:+.4f}")


if __name__ == "__main__":
    command_line.run_cli(main)
