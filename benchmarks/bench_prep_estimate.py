"""The whole data preparation at Cityscapes' size, estimated from how each step's cost grows.

For memory banks of several sizes (default 50, 200 and 800 training images of a demo root at base
height 256, i.e. the original's 256x512 / 512x1024 / 1024x2048 levels, and the same 10 test
images) it runs every data-preparation step on one worker, at every level the steps have: the
training-image steps on a sample of about --sample images (--shard 1/k), the test-image steps on
all test images, the segment index (the one step that runs once, in one process) whole. Per step
and bank it records the seconds per image (wall and CPU of all the process's threads) and the
megabytes it writes per image, fits cost = c * bank^p by least squares on the logarithms (p near 0:
the cost does not grow with the bank; retrieval's does), and extrapolates to Cityscapes: 2975
training and 500 test images, the original's set counts (synthesis 5, 5 and 2 sets at 256, 512,
1024; transformation pairs 2 sets at 512). Each image's step costs max(wall, CPU) core-seconds
(a worker either computes or waits on its files), the images are shared evenly over the cores
(the steps' --workers / --shard; reading and writing assumed to keep up), and the index build
is added whole.

With --compare-with COMMIT it also runs the two slowest steps (train_generate_synthesis and
test_generate_canvas at level 512) of that commit's data_prep/ and of today's, each in a fresh
process on the largest bank, and compares their files byte for byte.

    python benchmarks/bench_prep_estimate.py [--work DIR] [--banks 50 200 800] [--test 10]
        [--sample 8] [--base-height 256] [--compare-with COMMIT]

The last line reads `cityscapes_prep_hours_8_cores=<x> cityscapes_prep_hours_64_cores=<y> disk_gb=<z>`.
"""

import argparse
import filecmp
import io
import logging
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "data_prep"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_data_prep  # noqa: E402
import command_line  # noqa: E402
import data_root  # noqa: E402
import folders  # noqa: E402
import make_demo_dataset  # noqa: E402
import per_image_runner  # noqa: E402
import search_segments  # noqa: E402
import segment_index  # noqa: E402
import test_connect_component_mask  # noqa: E402
import test_generate_canvas  # noqa: E402
import test_generate_order  # noqa: E402
import test_generate_transform  # noqa: E402
import train_connect_component_mask  # noqa: E402
import train_generate_order  # noqa: E402
import train_generate_synthesis  # noqa: E402
import train_generate_transform  # noqa: E402

LOG = logging.getLogger("sims")
REPO_ROOT = Path(__file__).resolve().parent.parent
CITYSCAPES = {"train": 2975, "test": 500}
LEVELS = ("256", "512", "1024")
INDEX_STEP = "segment index (once)"

# (name, module, arguments, images it runs over, output folders), in pipeline order
STEPS = [("train_connect_component_mask", train_connect_component_mask, [], "train", [folders.MEMORY_BANK]),
         ("test_connect_component_mask", test_connect_component_mask, [], "test", [folders.QUERY_SEGMENTS]),
         ("search_segments", search_segments, [], "test", [search_segments.OUTPUT_FOLDER]),
         ("train_generate_order", train_generate_order, [], "train", [folders.ORDER_TRAINING]),
         ("test_generate_order", test_generate_order, [], "test", [folders.ORDER_INPUTS]),
         ("train_generate_transform", train_generate_transform, [], "train",
          [str(Path(folders.TRANSFORM_TRAINING).parent)])]
for _level in LEVELS:
    STEPS += [(f"test_generate_transform {_level}", test_generate_transform, ["--level", _level], "test",
               [folders.transform_inputs(_level)]),
              (f"train_generate_synthesis {_level}", train_generate_synthesis, ["--level", _level], "train",
               [folders.synthesis_training(_level)]),
              (f"test_generate_canvas {_level}", test_generate_canvas, ["--level", _level], "test",
               [folders.canvases(_level), folders.canvases(_level, previews=True)])]


def megabytes(root, relative_folders):
    return sum(path.stat().st_size for folder in relative_folders for path in (root / folder).rglob("*")
               if path.is_file()) / 1e6


def link_tree(source, root, keep):
    """ROOT: hard links to the files of SOURCE whose relative path `keep` accepts."""
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if path.is_file() and keep(relative):
            (root / relative).parent.mkdir(parents=True, exist_ok=True)
            os.link(path, root / relative)


def link_bank(source, root, bank):
    """A root of hard links to SOURCE's inputs: every test file, the first `bank` training images."""
    names = {data_root.image_name(image_id)
             for image_id in sorted(data_root.list_image_ids(source / folders.TRAIN_LABELS))[:bank]}
    link_tree(source, root, lambda relative: relative.parts[0] != "traindata" or relative.stem in names)


def measure_bank(root, sample):
    """{step: (images timed, wall s/image, CPU s/image, MB/image)} of one bank's root."""
    bank = len(data_root.list_image_ids(root / folders.TRAIN_LABELS))
    test_count = len(data_root.list_image_ids(root / folders.TEST_LABELS))
    shard = (1, max(1, bank // sample))
    sampled = len(per_image_runner.shard_ids(range(1, bank + 1), shard))
    figures = {}
    for name, module, arguments, images, outputs in STEPS:
        if module is search_segments:
            start, cpu = time.perf_counter(), time.process_time()
            segment_index.prepare_index(root, data_root.load_sizes(root))
            seconds = time.perf_counter() - start
            figures[INDEX_STEP] = (1, seconds, time.process_time() - cpu, megabytes(root, [folders.SEGMENT_INDEX]))
        if images == "train":
            arguments = arguments + ["--shard", f"{shard[0]}/{shard[1]}"]
        count = sampled if images == "train" else test_count
        seconds, _, _, cpu = bench_data_prep.run_step(root, module, arguments)
        figures[name] = (count, seconds / count, cpu / count, megabytes(root, outputs) / count)
        if module is train_connect_component_mask:   # the rest of the bank, untimed: retrieval needs it
            module.main(["--root", str(root), "--workers", "2"])
    return figures


def fit_growth(banks, costs):
    """(c, p) of cost = c * bank^p, least squares on the logarithms."""
    if len(set(banks)) < 2:
        return float(np.mean(costs)), 0.0
    p, log_c = np.polyfit(np.log(banks), np.log(np.maximum(costs, 1e-9)), 1)
    return float(np.exp(log_c)), float(p)


def estimate(banks, measured):
    """Rows per step and the totals at Cityscapes' size."""
    rows, core_seconds, serial_seconds, disk_mb = [], 0.0, 0.0, 0.0
    for name in measured[banks[0]]:
        per_image = [max(measured[bank][name][1:3]) for bank in banks]
        c, p = fit_growth(banks, per_image)
        at_cityscapes = c * CITYSCAPES["train"] ** p
        mb_per_image = measured[banks[-1]][name][3]
        if name == INDEX_STEP:
            count, serial_seconds = 1, at_cityscapes
            mb = mb_per_image * CITYSCAPES["train"] / banks[-1]   # one entry per training segment
        else:
            images = next(images for step, _, _, images, _ in STEPS if step == name)
            count = CITYSCAPES[images]
            core_seconds += count * at_cityscapes
            mb = count * mb_per_image
        disk_mb += mb
        rows.append((name, per_image, p, count, count * at_cityscapes / 3600, mb / 1000))
    hours = {cores: (core_seconds / cores + serial_seconds) / 3600 for cores in (8, 64)}
    return rows, hours, disk_mb / 1000


def compare_with(commit, source_root, sample):
    """Today's train_generate_synthesis and test_generate_canvas at 512 against COMMIT's, each in a
    fresh process on copies of SOURCE_ROOT without the step's outputs; (name, old s, new s, identical)."""
    results = []
    with tempfile.TemporaryDirectory(prefix="bench_prep_compare_") as folder:
        folder = Path(folder)
        archive = subprocess.run(["git", "-C", str(REPO_ROOT), "archive", commit, "data_prep"],
                                 capture_output=True, check=True).stdout
        old_code = folder / "old"
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(old_code, filter="data")
        bank = len(data_root.list_image_ids(source_root / folders.TRAIN_LABELS))
        for name, outputs, extra in [("train_generate_synthesis", [folders.synthesis_training("512")],
                                      ["--shard", f"1/{max(1, bank // sample)}"]),
                                     ("test_generate_canvas", [folders.canvases("512"), folders.canvases("512", True)],
                                      [])]:
            seconds = {}
            for side, code in (("old", old_code / "data_prep"), ("new", REPO_ROOT / "data_prep")):
                root = folder / f"{name}_{side}"
                link_tree(source_root, root, lambda relative: not any(str(relative).startswith(output)
                                                                       for output in outputs))
                start = time.perf_counter()
                subprocess.run([sys.executable, str(code / f"{name}.py"), "--root", str(root), "--level", "512",
                                "--workers", "1", *extra], check=True, capture_output=True)
                seconds[side] = time.perf_counter() - start
            identical = all(_same_tree(folder / f"{name}_old" / output, folder / f"{name}_new" / output)
                            for output in outputs)
            results.append((name, seconds["old"], seconds["new"], identical))
    return results


def _same_tree(a, b):
    comparison = filecmp.dircmp(a, b)
    if comparison.left_only or comparison.right_only or comparison.funny_files:
        return False
    if filecmp.cmpfiles(a, b, comparison.common_files, shallow=False)[1:] != ([], []):
        return False
    return all(_same_tree(a / sub, b / sub) for sub in comparison.common_dirs)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--work", type=Path, help="folder for the demo roots, kept (default: a temporary one)")
    parser.add_argument("--banks", type=int, nargs="+", default=[50, 200, 800], help="memory bank sizes")
    parser.add_argument("--base-height", type=int, default=256, help="of the demo data (256: the original's sizes)")
    parser.add_argument("--test", type=int, default=10, help="test images")
    parser.add_argument("--sample", type=int, default=8, help="training images timed per step and bank")
    parser.add_argument("--compare-with", metavar="COMMIT", help="also time the slow steps of this commit")
    args = parser.parse_args(argv)
    banks = sorted(args.banks)
    with tempfile.TemporaryDirectory(prefix="bench_prep_estimate_") as temporary:
        work = (args.work or Path(temporary)).resolve()
        source = work / "source"
        make_demo_dataset.main(["--root", str(source), "--base-height", str(args.base_height), "--train", str(banks[-1]),
                                "--test", str(args.test), "--workers", "2"])
        measured = {}
        for bank in banks:
            root = work / f"bank_{bank}"
            shutil.rmtree(root, ignore_errors=True)   # a bank is measured from its inputs on
            link_bank(source, root, bank)
            LOG.info("bank of %d training images", bank)
            measured[bank] = measure_bank(root, args.sample)
        comparisons = compare_with(args.compare_with, work / f"bank_{banks[-1]}", args.sample) \
            if args.compare_with else []
    rows, hours, disk_gb = estimate(banks, measured)

    print(f"\n{platform.processor() or platform.machine()}, {os.cpu_count()} cores; one worker; demo data at "
          f"base height {args.base_height}, {args.test} test images, training steps on {args.sample}+ images per bank")
    header = " ".join(f"{'bank ' + str(bank):>9s}" for bank in banks)
    print(f"{'step':34s} {header} {'growth p':>8s} {'images':>7s} {'core-h':>7s} {'GB':>7s}")
    for name, per_image, p, count, core_hours, gb in rows:
        costs = " ".join(f"{cost:9.3f}" for cost in per_image)
        print(f"{name:34s} {costs} {p:8.2f} {count:7d} {core_hours:7.2f} {gb:7.1f}")
    print("(seconds per image: max of wall and CPU time; the index row: seconds for the whole bank)")
    for name, old, new, identical in comparisons:
        print(f"{name} 512 against {args.compare_with}: {old:.1f} s -> {new:.1f} s, speedup {old / new:.2f}, "
              f"identical={str(identical).lower()}")
    print(f"cityscapes_prep_hours_8_cores={hours[8]:.2f} cityscapes_prep_hours_64_cores={hours[64]:.2f} "
          f"disk_gb={disk_gb:.0f}")


if __name__ == "__main__":
    command_line.run_cli(main)
