"""Data-preparation speed: every per-image step of the pipeline once, on one worker, with the share
of its time spent writing (and reading) .mat files; and the retrieval step with scipy's savemat,
as the port wrote its files before mat_v5.py, against today's writer, on the same data.

Per step it prints the seconds per image (wall clock, and CPU time of all the process's threads:
today's writer deflates on the cores the worker leaves idle and, in the steps that write many
files per image, behind the step) and the shares of the step's time spent in save_mat or waiting
for its background writes, and in load_mat. The search step runs twice, first with the old writer (every variable handed to
scipy.io.savemat as a C-ordered array at zlib's default level, as the steps built and wrote them),
then with today's; loadmat must read the two sets of files equal. The last line reads
`search_step_speedup=<x> identical=<true|false> max_write_share=<y>`.

Without --root it builds a demo root at base height 256 (40 training, 10 test images) in a
temporary folder. With --root, the root must hold prepared inputs and no step outputs yet (fresh
from make_demo_dataset.py or prepare_cityscapes.py); the outputs stay there. The canvas steps
run without network results (untransformed segments, the class order), as before training.
"""

import argparse
import contextlib
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.io

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "data_prep"))

import command_line  # noqa: E402
import data_root  # noqa: E402
import errors  # noqa: E402
import file_io  # noqa: E402
import folders  # noqa: E402
import make_demo_dataset  # noqa: E402
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


def parent(folder):   # the step's whole output, all levels and previews
    return str(Path(folder).parent)


# (module, extra arguments, images it runs over, its output folder), in pipeline order
STEPS = [
    (train_connect_component_mask, [], "train", folders.MEMORY_BANK),
    (test_connect_component_mask, [], "test", folders.QUERY_SEGMENTS),
    (search_segments, [], "test", search_segments.OUTPUT_FOLDER),
    (train_generate_order, [], "train", folders.ORDER_TRAINING),
    (test_generate_transform, ["--level", "512"], "test", parent(folders.transform_inputs("512"))),
    (train_generate_transform, [], "train", parent(folders.TRANSFORM_TRAINING)),
    (test_generate_order, [], "test", folders.ORDER_INPUTS),
    (train_generate_synthesis, ["--level", "512"], "train", parent(folders.synthesis_training("512"))),
    (test_generate_canvas, ["--level", "512"], "test", parent(folders.canvases("512"))),
]


class FileTimer:
    """Seconds the step spends in file_io.save_mat, waiting for its background writes, and in
    load_mat, while it is installed."""

    def __init__(self):
        self.seconds = {"write": 0.0, "read": 0.0}

    def timed(self, function, account):
        def timed_function(*args, **kwargs):
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[account] += time.perf_counter() - start
        return timed_function

    @contextlib.contextmanager
    def installed(self, writer=None):
        names = ("save_mat", "wait_for_background_writes", "load_mat")
        originals = {name: getattr(file_io, name) for name in names}
        replacements = {"save_mat": (writer or originals["save_mat"], "write"),
                        "wait_for_background_writes": (originals["wait_for_background_writes"], "write"),
                        "load_mat": (originals["load_mat"], "read")}
        for name, (function, account) in replacements.items():
            setattr(file_io, name, self.timed(function, account))
        try:
            yield self
        finally:
            for name, function in originals.items():
                setattr(file_io, name, function)


def old_save_mat(path, variables, background=False):
    """The writer before mat_v5.py: C-ordered arrays (as the steps built them) through savemat at
    zlib's default level, always at once (run_step makes the C-ordered copies, uncounted)."""
    with file_io.atomic_path(path) as temporary, open(temporary, "wb") as handle:
        scipy.io.savemat(handle, variables, do_compression=True, oned_as="column")


def run_step(root, module, arguments, writer=None):
    """(seconds, write seconds, read seconds, CPU seconds of all threads) of one step. With the old
    writer the variables are first made C-ordered; that copy is not counted (the steps built them so)."""
    timer, copy_seconds = FileTimer(), 0.0

    def write_c_ordered(path, variables, background=False):
        nonlocal copy_seconds
        start = time.perf_counter()
        variables = {name: np.ascontiguousarray(value) for name, value in variables.items()}
        copy_seconds += time.perf_counter() - start
        writer(path, variables)

    with timer.installed(write_c_ordered if writer else None):
        start, cpu_start = time.perf_counter(), time.process_time()
        module.main(["--root", str(root), "--workers", "1"] + arguments)
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    return (seconds - copy_seconds, timer.seconds["write"] - copy_seconds, timer.seconds["read"],
            cpu_seconds - copy_seconds)

def same_content(folder_a, folder_b):
    files_a = sorted(path.relative_to(folder_a) for path in folder_a.rglob("*.mat"))
    files_b = sorted(path.relative_to(folder_b) for path in folder_b.rglob("*.mat"))
    if files_a != files_b or not files_a:
        return False
    for relative in files_a:
        a, b = (scipy.io.loadmat(folder / relative) for folder in (folder_a, folder_b))
        names = sorted(name for name in a if not name.startswith("__"))
        if names != sorted(name for name in b if not name.startswith("__")):
            return False
        for name in names:
            if a[name].dtype != b[name].dtype or a[name].shape != b[name].shape \
                    or not np.array_equal(a[name], b[name]):
                return False
    return True


def folder_megabytes(folder):
    return sum(path.stat().st_size for path in Path(folder).rglob("*.mat")) / 1e6


def run(root):
    present = [folder for *_, folder in STEPS if (root / folder).exists()]
    if present:
        raise errors.DataError(f"{root / present[0]}: already there; give a root with prepared inputs "
                               "and no step outputs (fresh from make_demo_dataset.py or prepare_cityscapes.py)")
    counts = {"train": len(data_root.list_image_ids(root / folders.TRAIN_LABELS)),
              "test": len(data_root.list_image_ids(root / folders.TEST_LABELS))}
    rows, search = [], {}  # rows: (name, s/image, CPU s/image, write share, read share, MB written)
    for module, arguments, images, output_folder in STEPS:
        name = module.__name__
        if module is search_segments:
            start = time.perf_counter()
            segment_index.prepare_index(root, data_root.load_sizes(root))
            LOG.info("segment index built in %.1f s (not counted in the search step)", time.perf_counter() - start)
            seconds, write, read, cpu = search["old"] = run_step(root, module, arguments, writer=old_save_mat)
            old_folder = root / (output_folder + "_old_writer")
            (root / output_folder).rename(old_folder)
            rows.append((name + " (old writer)", seconds / counts[images], cpu / counts[images], write / seconds,
                         read / seconds, folder_megabytes(old_folder)))
        seconds, write, read, cpu = run_step(root, module, arguments)
        if module is search_segments:
            search["new"] = (seconds, write, read, cpu)
            search["identical"] = same_content(old_folder, root / output_folder)
            shutil.rmtree(old_folder)
        rows.append((name, seconds / counts[images], cpu / counts[images], write / seconds, read / seconds,
                     folder_megabytes(root / output_folder)))

    print(f"\nroot {root}: {counts['train']} training, {counts['test']} test images, "
          f"base height {data_root.load_sizes(root).shape(1)[0]}, one worker")
    print(f"{'step':36s} {'s/image':>8s} {'CPU s/image':>12s} {'write':>6s} {'read':>6s} {'MB out':>8s}")
    for name, per_image, cpu_per_image, write_share, read_share, megabytes in rows:
        print(f"{name:36s} {per_image:8.3f} {cpu_per_image:12.3f} {write_share:6.0%} {read_share:6.0%} {megabytes:8.1f}")
    speedup = search["old"][0] / search["new"][0]
    max_write_share = max(row[3] for row in rows if "old" not in row[0])
    print(f"search step: old writer {search['old'][0]:.1f} s ({search['old'][1]:.1f} s writing), "
          f"today's {search['new'][0]:.1f} s ({search['new'][1]:.1f} s writing)")
    print(f"search_step_speedup={speedup:.2f} identical={str(search['identical']).lower()} "
          f"max_write_share={max_write_share:.2f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--root", type=Path, help="a root with prepared inputs and no step outputs "
                        "(default: a demo root in a temporary folder)")
    parser.add_argument("--base-height", type=int, default=256, help="of the demo root built without --root")
    parser.add_argument("--train", type=int, default=40, help="training images of the demo root")
    parser.add_argument("--test", type=int, default=10, help="test images of the demo root")
    args = parser.parse_args(argv)
    if args.root:
        run(args.root.resolve())
        return
    with tempfile.TemporaryDirectory(prefix="bench_data_prep_") as folder:
        root = Path(folder) / "demo"
        make_demo_dataset.main(["--root", str(root), "--base-height", str(args.base_height),
                                "--train", str(args.train), "--test", str(args.test), "--workers", "2"])
        run(root)


if __name__ == "__main__":
    command_line.run_cli(main)
