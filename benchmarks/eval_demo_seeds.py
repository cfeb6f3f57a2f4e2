"""The demo on several demo seeds: each seed's evaluation table, then the mean and spread of every
figure over the seeds, and whether SIMS meets the demo's goal on each.

1. For each seed S, run_demo.sh --seed S (the preset given, quick by default) on ROOT/seed_S; a
   root it finished is reused (run_demo.sh skips what is done), so the script can be stopped and
   run again.
2. python_code/evaluate.py's scores of each root: PSNR, SSIM, LPIPS, |x - canvas| (the mean
   absolute difference from the test canvas on its content), FD-VGG16, KID-VGG16 and the own
   segmenter's mIoU against the test layouts and the revised ones (when the root has it) of SIMS,
   the parametric baseline and the canvas alone; the ground truth's |x - canvas| and the own
   segmenter's mIoU on the real test images.
   Also |x - canvas| of SIMS and the baseline on the content at least INNER_MARGIN pixels from its
   edges (gaps and elision marks), where no blending with what the network paints is expected, and
   per class of the canvas' label (the classes with at least 1 % of the content over the seeds), and
   by the pixel's place on the content (evaluate.canvas_edge_sums: next to a gap, next to an
   elision mark, two steps from either, further inside) with the mean signed difference, which
   shows whether the network darkens the content's edge toward the gap's black.
3. Per seed, the goal: SIMS's LPIPS below both the parametric baseline's and the canvas alone's, and
   its |x - canvas| at most a third of the parametric baseline's.
Seeds run one after another (--parallel N runs N at once: the figures are the same, since every
step is seeded, but the minutes then say nothing); --no-run scores the roots as they are. The processor is printed with the table:
TensorFlow's CPU kernels differ between processors, and so do the figures; ONEDNN_MAX_CPU_ISA=AVX2 (say)
holds oneDNN to the kernels of an older processor, which the printed processor then names.
Last line: `seeds_won=<k>/<n> lpips_seeds_won=<l>/<n> sims_lpips_mean=<x> sims_lpips_sd=<y> canvas_error_ratio_max=<z>`
(the ratio being SIMS's |x - canvas| over the parametric baseline's).
"""

import argparse
import concurrent.futures
import logging
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "python_code"))

import script_setup  # noqa: E402,F401  (first: data_prep on the path, TensorFlow loaded quietly)
import numpy as np  # noqa: E402

import class_table  # noqa: E402
import command_line  # noqa: E402
import errors  # noqa: E402
import evaluate  # noqa: E402
import file_io  # noqa: E402
import folders  # noqa: E402
import labels  # noqa: E402

LOG = logging.getLogger("sims")
METHODS = ("SIMS (canvas + synthesis)", "parametric (empty canvas)", "canvas alone")
FIGURES = ("PSNR", "SSIM", "LPIPS", "|x - canvas|", "FD-VGG16", "KID-VGG16 x1e3", "mIoU", "mIoU revised")
RECORD_KEYS = ("psnr", "ssim", "lpips", "canvas_error", "vgg16_fd", "vgg16_kid", "miou", "miou_revised")
EVALUATED_LEVEL = {"quick": "256", "long": "512", "textured": "256"}
INNER_MARGIN = 3
CLASS_SHARE = 0.01


def processor():
    """The processor's model name and whether it has AVX-512 (Linux; the platform's name elsewhere)."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine()
    model = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")),
                 platform.machine())
    held = os.environ.get("ONEDNN_MAX_CPU_ISA")
    # oneDNN's kernels are what differ most between processors; holding them to an older ISA is
    # the one machine's way to see the figures move as on another processor
    held_note = f", oneDNN held to {held} (ONEDNN_MAX_CPU_ISA)" if held else ""
    return f"{model}, {os.cpu_count()} cores, {'with' if ' avx512f' in info else 'without'} AVX-512{held_note}"


def run_seed(root, seed, preset):
    """run_demo.sh on ROOT/seed_S; returns the seconds it took."""
    seed_root = root / f"seed_{seed}"
    environment = {**os.environ, "SIMS_DEMO_ROOT": str(seed_root), "SIMS_DEMO_PRESET": preset}
    started = time.perf_counter()
    with open(root / f"seed_{seed}.log", "w") as log:
        subprocess.run([str(REPO_ROOT / "run_demo.sh"), "--seed", str(seed)], env=environment, check=True,
                       stdout=log, stderr=subprocess.STDOUT)
    return time.perf_counter() - started


def seed_scores(seed_root, level_name, lpips, rows):
    """({method: FIGURES' values (nan where the root has no segmenter)}, the evaluate_level record,
    {method: |x - canvas| at least INNER_MARGIN pixels inside the content}) of a finished root whose
    read_rows are `rows`."""
    missing = [method for method in METHODS if method not in rows]
    if missing:
        raise errors.DataError(f"{seed_root}: no {', '.join(missing)} results; run_demo.sh did not finish there")
    segmenter, why = evaluate.choose_segmenter(seed_root, level_name, class_table.load_classes(seed_root))
    record = evaluate.evaluate_level(seed_root, level_name, lpips, segmenter=segmenter, segmenter_missing=why, rows=rows)
    table = {row: [record["rows"][row].get(key, float("nan")) * (1000 if key == "vgg16_kid" else 1) for key in RECORD_KEYS]
             for row in METHODS}
    names = sorted(rows["canvas alone"])
    inner = {method: evaluate.canvas_error([rows[method][name] for name in names],
                                           [rows["canvas alone"][name] for name in names], INNER_MARGIN)
             for method in METHODS[:2]}
    return table, record, inner


def class_errors(seed_root, level_name, rows):
    """{class name: (pixels, summed |SIMS - canvas|, summed |parametric - canvas|)} over the canvas'
    content, by the class of the test canvas' revised label there."""
    classes = class_table.load_classes(seed_root)
    folder = seed_root / folders.canvases(level_name)
    sums = {}
    for name, canvas in rows["canvas alone"].items():
        index = labels.label_to_index(file_io.load_mat(folder / f"{name}.mat", ["label"])["label"], classes)[0]
        content = evaluate.canvas_content(canvas)
        differences = [np.abs(rows[method][name].astype(np.float64) - canvas).mean(axis=2) for method in METHODS[:2]]
        for class_id in np.unique(index[content]):
            where = content & (index == class_id)
            name_of = classes.names[class_id] if class_id < classes.count else "void"
            pixels, sims, parametric = sums.get(name_of, (0, 0.0, 0.0))
            sums[name_of] = (pixels + int(where.sum()), sims + differences[0][where].sum(), parametric + differences[1][where].sum())
    return sums


def edge_errors(rows_of_seeds):
    """{method: {band: [pixels, summed |x - canvas|, summed x - canvas]}} of SIMS and the baseline,
    over the seeds' read_rows."""
    sums = {method: {band: np.zeros(3) for band in evaluate.EDGE_BANDS} for method in METHODS[:2]}
    for rows in rows_of_seeds:
        for name, canvas in rows["canvas alone"].items():
            for method in METHODS[:2]:
                for band, part in evaluate.canvas_edge_sums(rows[method][name], canvas).items():
                    sums[method][band] += part
    return sums


def goal(table):
    """(SIMS wins on LPIPS against both, SIMS's |x - canvas| over the parametric baseline's)."""
    sims, parametric, canvas = (table[method] for method in METHODS)
    return sims[2] < parametric[2] and sims[2] < canvas[2], sims[3] / parametric[3]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    command_line.add_root_argument(parser)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4, 5], help="demo seeds (default 0-5)")
    parser.add_argument("--preset", choices=sorted(EVALUATED_LEVEL), default="quick", help="run_demo.sh's preset")
    parser.add_argument("--parallel", type=command_line.positive_int, default=1, help="seeds run at once (default 1)")
    parser.add_argument("--no-run", action="store_true", help="score the seeds' roots as they are, without run_demo.sh")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    root.mkdir(parents=True, exist_ok=True)
    if args.no_run:
        seconds = {seed: None for seed in args.seeds}
    else:
        with concurrent.futures.ThreadPoolExecutor(args.parallel) as pool:
            seconds = dict(zip(args.seeds, pool.map(lambda seed: run_seed(root, seed, args.preset), args.seeds)))
    level_name, lpips = EVALUATED_LEVEL[args.preset], evaluate.Lpips()
    rows = {seed: evaluate.read_rows(root / f"seed_{seed}", level_name) for seed in args.seeds}
    results = {seed: seed_scores(root / f"seed_{seed}", level_name, lpips, rows[seed]) for seed in args.seeds}

    print(f"preset {args.preset}, evaluated at level {level_name}; processor: {processor()}; "
          f"{args.parallel} seed(s) at a time")
    print(f"{'seed':>4}  {'method':<26} " + " ".join(f"{figure:>12}" for figure in FIGURES))
    for seed, (table, record, inner) in results.items():
        for method in METHODS:
            print(f"{seed:>4}  {method:<26} " + " ".join(f"{value:>12.3f}" for value in table[method]))
        wins, ratio = goal(table)
        real = record["rows"][evaluate.REAL_ROW]
        print(f"{seed:>4}  real test images: own segmenter mIoU {real.get('miou', float('nan')):.3f}, FD-VGG16 of as many "
              f"real training images {real.get('vgg16_fd', float('nan')):.1f}, KID-VGG16 x1e3 "
              f"{1000 * real.get('vgg16_kid', float('nan')):.1f}")
        print(f"{seed:>4}  ground truth |x - canvas| {real['canvas_error']:.1f}; {INNER_MARGIN}+ px inside the content: SIMS "
              f"{inner[METHODS[0]]:.1f}, parametric {inner[METHODS[1]]:.1f}; SIMS LPIPS lowest: {'yes' if wins else 'no'}; "
              f"|SIMS - canvas| / |parametric - canvas| = {ratio:.2f}; "
              + ("run_demo.sh not run (--no-run)" if seconds[seed] is None else f"run_demo.sh {seconds[seed] / 60:.1f} min"))
    print(f"mean (standard deviation) over {len(results)} seeds:")
    for method in METHODS:
        values = np.array([table[method] for table, _, _ in results.values()])
        spread = values.std(axis=0, ddof=1) if len(values) > 1 else np.zeros(len(FIGURES))
        print(f"      {method:<26} " + " ".join(f"{m:>6.3f} ({s:.3f})" for m, s in zip(values.mean(axis=0), spread)))
    by_class = {}
    for seed in args.seeds:
        for name, sums in class_errors(root / f"seed_{seed}", level_name, rows[seed]).items():
            by_class[name] = [total + part for total, part in zip(by_class.get(name, (0, 0.0, 0.0)), sums)]
    content = sum(pixels for pixels, _, _ in by_class.values())
    print(f"|x - canvas| by class over the seeds (classes with {CLASS_SHARE:.0%} of the content or more):")
    for name, (pixels, sims, parametric) in sorted(by_class.items(), key=lambda item: -item[1][0]):
        if pixels >= CLASS_SHARE * content:
            print(f"      {name:<14} {pixels / content:>5.0%} of the content: SIMS {sims / pixels:5.1f}, "
                  f"parametric {parametric / pixels:5.1f}")
    by_edge = edge_errors(rows.values())
    print("|x - canvas| of the RGB-averaged difference (its mean) by the place on the content, over the seeds:")
    for band in evaluate.EDGE_BANDS:
        pixels = by_edge[METHODS[0]][band][0]
        if not pixels:
            continue
        print(f"      {band:<24} {pixels / content:>5.0%} of the content: " + ", ".join(
            f"{label} {by_edge[method][band][1] / pixels:5.1f} ({by_edge[method][band][2] / pixels:+5.1f})"
            for label, method in (("SIMS", METHODS[0]), ("parametric", METHODS[1]))))
    outcomes = [goal(table) for table, _, _ in results.values()]
    won = sum(wins and ratio <= 1 / 3 for wins, ratio in outcomes)
    lpips_won = sum(wins for wins, _ in outcomes)
    sims_lpips = np.array([table[METHODS[0]][2] for table, _, _ in results.values()])
    print(f"seeds_won={won}/{len(results)} lpips_seeds_won={lpips_won}/{len(results)} "
          f"sims_lpips_mean={sims_lpips.mean():.4f} "
          f"sims_lpips_sd={sims_lpips.std(ddof=1) if len(sims_lpips) > 1 else 0:.4f} "
          f"canvas_error_ratio_max={max(ratio for _, ratio in outcomes):.3f}")


if __name__ == "__main__":
    command_line.run_cli(main)
