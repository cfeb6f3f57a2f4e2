"""The loop of a per-image step: every image whose outputs are missing, with a progress bar, on
worker processes (the original's parfor), in shards (--shard K/N), with per-image seeds, and with
the .mat files it writes behind the step waited for before an image counts as done. An
interrupted run leaves whole files only; a re-run skips them."""

import argparse
import concurrent.futures
import contextlib
import functools
import json
import logging
import multiprocessing
import os
import signal
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

import class_table
import command_line
import data_root
import errors
import file_io

LOG = logging.getLogger("sims")


def image_rng(seed, image_id, *stream):
    """Random generator of one image: depends only on the seed and the image, never on the order
    or process in which images run, so workers and shards give identical results."""
    return np.random.default_rng([seed, image_id, *stream])


def shard_ids(image_ids, shard):
    """The K-th of N interleaved slices (K 1-based) of the sorted ids."""
    index, count = shard
    return sorted(image_ids)[index - 1::count]


MADE_FROM_RECORD = ".made_from.json"  # in an output folder: what its outputs were made from


def made_from(folder):
    """The record of what the outputs in a folder were made from, or None."""
    try:
        return json.loads((Path(folder) / MADE_FROM_RECORD).read_text())
    except (OSError, ValueError):
        return None


def keep_outputs_made_from(sources, folder, suffix, also=()):
    """A step skips the outputs that are already there, so they must come from the same sources
    (a checkpoint, other steps' network results, options): when the record of `folder` is not
    `sources`, its *suffix files, and those of the (folder, suffix) pairs in `also`, are removed
    so that the step writes them again; then `sources` is recorded."""
    folder, sources = Path(folder), json.loads(json.dumps(sources))  # as it reads back (tuples are lists)
    recorded = made_from(folder)
    if recorded == sources:
        return
    earlier = [path for where, pattern in [(folder, suffix), *also] for path in sorted(Path(where).glob(f"*{pattern}"))]
    if earlier:
        LOG.warning("%s: removing %d outputs made from other sources (%s); they are made again from %s",
                    folder, len(earlier), "no record" if recorded is None else json.dumps(recorded), json.dumps(sources))
        for path in earlier:
            path.unlink()
    file_io.write_bytes_atomic(folder / MADE_FROM_RECORD, json.dumps(sources).encode())



def run_per_image(process_image, image_ids, outputs_of, *, workers=1, shard=(1, 1), description=""):
    """Call process_image(image_id) for every image of this shard whose outputs are not all there.

    process_image writes its outputs itself (atomically, with the helpers above), so an
    interrupted run leaves only whole files and a re-run skips them. The first DataError stops
    the run (pending images are cancelled) and is re-raised for run_cli to report in one line.
    Returns (number processed, number skipped).
    """
    selected = shard_ids(image_ids, shard)
    output_folders = sorted({Path(path).parent for image_id in selected for path in outputs_of(image_id)})
    with contextlib.ExitStack() as locks:
        for folder in output_folders:   # a second run of this shard stops here, in one line
            locks.enter_context(file_io.folder_lock(folder, f"shard-{shard[0]}-of-{shard[1]}",
                                                    f"{description or 'a step'} (shard {shard[0]}/{shard[1]})"))
            file_io.remove_stale_temporaries(folder)
        return _run_pending(process_image, selected, outputs_of, workers, description)


def _run_pending(process_image, selected, outputs_of, workers, description):
    pending = [image_id for image_id in selected
               if not all(Path(path).exists() for path in outputs_of(image_id))]
    skipped = len(selected) - len(pending)
    if skipped:
        LOG.info("%s: %d of %d images already done, skipped", description, skipped, len(selected))
    progress = tqdm(total=len(pending), desc=description, unit="img", file=sys.stderr)
    file_io.set_mat_write_threads(workers)
    process_image = functools.partial(file_io.call_with_background_writes, process_image)
    try:
        if workers <= 1 or len(pending) <= 1:
            for image_id in pending:
                process_image(image_id)
                progress.update()
        else:
            context = multiprocessing.get_context("spawn" if sys.platform != "linux" else "fork")
            with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker,
                                                        initargs=(os.getpid(),)) as pool:
                futures = [pool.submit(process_image, image_id) for image_id in pending]
                try:
                    for future in concurrent.futures.as_completed(futures):
                        future.result()
                        progress.update()
                except BaseException:
                    for future in futures:
                        future.cancel()
                    raise
    finally:
        progress.close()
    return len(pending), skipped



def _start_worker(parent):
    """A worker process dies with the step that started it (kill -9 included) and holds none of its locks."""
    file_io.release_inherited_locks()
    if sys.platform == "linux":
        import ctypes   # prctl(PR_SET_PDEATHSIG, SIGKILL): the kernel kills us when the parent dies
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)
        if os.getppid() != parent:   # it died before the call
            os._exit(1)


def add_runner_arguments(parser):
    parser.add_argument("--workers", type=int, default=1,
                        help="worker processes (the original's parfor); default 1")
    parser.add_argument("--shard", type=command_line.parse_shard, default=(1, 1), metavar="K/N",
                        help="process only the K-th of N interleaved slices of the images (K = 1..N), "
                             "e.g. --shard $SLURM_ARRAY_TASK_ID/8 with --array=1-8")



def step_parser(doc):
    """Argument parser of a per-image step: --root, --workers, --shard."""
    parser = argparse.ArgumentParser(description=doc.strip().splitlines()[0])
    command_line.add_root_argument(parser)
    add_runner_arguments(parser)
    return parser


def run_step(args, description, image_folder, process_image, outputs_of, **options):
    """The main loop of a per-image step: every image of ROOT/image_folder through the runner.

    process_image(image_id, root=, sizes=, classes=, **options) writes the outputs that
    outputs_of(root, image_id) lists; classes is the root's class table.
    """
    root = args.root.resolve()
    sizes, classes = data_root.load_sizes(root), class_table.load_classes(root)
    image_ids = data_root.list_image_ids(root / image_folder)
    if not image_ids:
        raise errors.DataError(f"{root / image_folder}: no images (files named by an 8-digit id, 00000001.png, ...)")
    process = functools.partial(process_image, root=root, sizes=sizes, classes=classes, **options)
    done, skipped = run_per_image(process, image_ids, lambda image_id: outputs_of(root, image_id),
                                  workers=args.workers, shard=args.shard, description=description)
    LOG.info("%s: %d images done, %d already there", description, done, skipped)
