"""Demo roots for the benchmarks that train networks themselves: one built by run_demo.sh up to
the canvases, and variant roots inside it that share its data and keep their own models."""

import argparse
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

import command_line   # the benchmarks import script_setup first, which puts data_prep on the path
import folders
import segmentation_score
from errors import DataError

REPO_ROOT = Path(__file__).resolve().parent.parent
SEGMENTATION_STEPS = 1500   # run_demo.sh's, for the evaluation's segmentation score


def benchmark_parser(doc, demo_seed=None, demo_seeds=None):
    """The command line every benchmark with a demo root of its own starts with: --root and
    --demo-seed (default demo_seed), or --seeds (default demo_seeds) for those that judge on several."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    command_line.add_root_argument(parser)
    if demo_seeds is None:
        parser.add_argument("--demo-seed", type=int, default=demo_seed,
                            help=f"seed of the benchmark's demo data (default {demo_seed})")
    else:
        parser.add_argument("--seeds", type=seed_list, nargs="+", default=[demo_seeds],
                            help="demo seeds, each a root ROOT/seed_S of its own (A,B,C or A B C; default "
                                 f"{','.join(map(str, demo_seeds))})")
    return parser


def seed_list(text):
    try:
        return [int(seed) for seed in text.split(",") if seed]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of seeds: {text!r}") from None


def chosen_seeds(args):
    """The seeds of --seeds, in order, once each."""
    return list(dict.fromkeys(seed for group in args.seeds for seed in group))


def mean_and_spread(values):
    """(mean, sample standard deviation; 0 for one value)."""
    values = np.asarray(values, np.float64)
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0


def prepare_demo_root(root, demo_seed, preset, base_height=None, texture_scale=None):
    """run_demo.sh (its preset's levels) on ROOT up to the canvases, with its own demo seed (and
    base height and texture scale, the demo's unless given); it skips what is already done."""
    environment = {**os.environ, "SIMS_DEMO_ROOT": str(root), "SIMS_DEMO_PRESET": preset,
                   "SIMS_DEMO_STOP_AFTER": "canvases"}
    data_options = [] if base_height is None else ["--base-height", str(base_height)]
    data_options += [] if texture_scale is None else ["--texture-scale", str(texture_scale)]
    if subprocess.run([str(REPO_ROOT / "run_demo.sh"), "--seed", str(demo_seed), *data_options],
                      env=environment).returncode:
        raise DataError(f"{root}: run_demo.sh could not prepare this demo root (its error is above)")


def variant_root(root, folder, own=("trainedmodels", "result"), linked=(folders.VGG19_FILE,)):
    """ROOT/FOLDER: ROOT's entries through symbolic links, except `own` (made empty here), into which
    the `linked` paths of ROOT that exist are linked again."""
    variant = root / folder
    for name in own:
        (variant / name).mkdir(parents=True, exist_ok=True)
    top = Path(folder).parts[0]
    for entry in root.iterdir():
        link = variant / entry.name
        if entry.name not in own and entry.name != top and not link.is_symlink():
            link.symlink_to(entry)
    for path in linked:
        link = variant / path
        if (root / path).exists() and not link.is_symlink():
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(root / path)
    return variant


def own_segmenter(root, level_name, classes):
    """The project's own segmenter of ROOT at a level, trained there first as run_demo.sh trains it
    (segmentation.py, SEGMENTATION_STEPS; a finished training is left as it is, an interrupted one
    resumes): one segmenter scores every variant root inside ROOT, which share its data."""
    command = [sys.executable, str(REPO_ROOT / "python_code" / "segmentation.py"), "--root", str(root), "--train",
               "--level", level_name, "--max-steps", str(SEGMENTATION_STEPS), "--save-every", "500"]
    if subprocess.run(command).returncode:
        raise DataError(f"{root}: the segmenter could not be trained there (its error is above)")
    return segmentation_score.OwnSegmenter(root, level_name, classes)
