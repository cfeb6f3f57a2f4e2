"""Retrieval speed: the port's indexed search against a transcription of the original loop.

The original answers each query by loading every training image's segment file of the class and
computing IoU with each of its segments. Both run here on the same queries (every test segment
above the area threshold), their IoUs are compared, and the last line reads
`speedup_vs_naive=<x> identical=<true|false> queries=<n> train_segments=<m>`.

Without --root it builds a demo root of 300 training and 20 test images in a temporary folder.
"""

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "data_prep"))

import class_table  # noqa: E402
import command_line  # noqa: E402
import data_root  # noqa: E402
import folders  # noqa: E402
import make_demo_dataset  # noqa: E402
import segment_index  # noqa: E402
import segments  # noqa: E402
import test_connect_component_mask  # noqa: E402
import train_connect_component_mask  # noqa: E402

TOPK = 10


def naive_top_k(root, class_id, query, train_ids, shape, k=TOPK):
    """The original's loop: per query, load each training file and score every segment."""
    best = []  # (-iou, image, segment)
    for position, train_id in enumerate(train_ids, start=1):
        path = segments.segment_file(root / folders.MEMORY_BANK, class_id, train_id)
        (masks,) = segments.read_segment_masks(path, shape, names=("library_mask",))
        for slot in range(masks.shape[2]):
            mask = masks[:, :, slot] > 0
            iou = np.logical_and(mask, query).sum() / np.logical_or(mask, query).sum()
            if iou > 0:
                best.append((-iou, position, slot + 1))
        best = sorted(best)[:k]
    return [-negative for negative, _, _ in best]


def all_queries(root, sizes):
    queries = []
    for test_id in data_root.list_image_ids(root / folders.TEST_LABELS):
        for class_id in range(1, class_table.load_classes(root).count + 1):
            path = segments.segment_file(root / folders.QUERY_SEGMENTS, class_id, test_id)
            (masks,) = segments.read_segment_masks(path, sizes.shape(1), names=("library_mask",))
            queries += [(class_id, masks[:, :, j] > 0) for j in range(masks.shape[2])
                        if masks[:, :, j].sum() > sizes.area_threshold]
    return queries


def folder_bytes(folder):
    return sum(path.stat().st_size for path in Path(folder).iterdir())


def run(root, naive_limit):
    sizes = data_root.load_sizes(root)
    if not (root / folders.MEMORY_BANK).exists():
        train_connect_component_mask.main(["--root", str(root), "--workers", "2"])
    if not (root / folders.QUERY_SEGMENTS).exists():
        test_connect_component_mask.main(["--root", str(root)])
    train_ids = data_root.list_image_ids(root / folders.train_images("256"))

    start = time.perf_counter()
    folder = segment_index.prepare_index(root, sizes)
    build_seconds = time.perf_counter() - start
    index = segment_index.SegmentIndex(folder, sizes)
    classes = [index.of_class(c) for c in range(1, class_table.load_classes(root).count + 1)]
    train_segments = sum(len(c) for c in classes)
    mapped = sum(c.masks.nbytes + c.poles.nbytes for c in classes)
    metadata = sum(c.area.nbytes + c.box.nbytes + c.image.nbytes + c.image_id.nbytes + c.segment.nbytes
                   for c in classes)

    queries = all_queries(root, sizes)
    start = time.perf_counter()
    port = [[m.iou for m in index.of_class(class_id).top_k(query, TOPK)] for class_id, query in queries]
    port_seconds = time.perf_counter() - start

    compared = queries[:naive_limit] if naive_limit else queries
    start = time.perf_counter()
    naive = [naive_top_k(root, class_id, query, train_ids, sizes.shape(1)) for class_id, query in compared]
    naive_seconds = time.perf_counter() - start
    identical = naive == port[:len(compared)]

    port_per_query = port_seconds / len(queries)
    naive_per_query = naive_seconds / len(compared)
    print(f"training images: {len(train_ids)}, training segments: {train_segments}, "
          f"queries: {len(queries)} (naive loop on {len(compared)})")
    print(f"index: {folder_bytes(folder) / 2**20:.1f} MiB on disk; in memory {metadata / 2**20:.2f} MiB "
          f"of metadata plus {mapped / 2**20:.1f} MiB of masks memory-mapped on demand; built in {build_seconds:.2f} s")
    print(f"port: {1 / port_per_query:.1f} queries/s; naive loop: {1 / naive_per_query:.2f} queries/s")
    print(f"port including the index build: {len(queries) / (port_seconds + build_seconds):.1f} queries/s")
    print(f"speedup_vs_naive={naive_per_query / port_per_query:.1f} identical={str(identical).lower()} "
          f"queries={len(compared)} train_segments={train_segments}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, help="a data root with at least 300 training and 20 test "
                                                  "images (default: a new demo root)")
    parser.add_argument("--naive-queries", type=int, default=0,
                        help="run the slow loop on the first N queries only (default: all)")
    args = parser.parse_args(argv)
    command_line.setup_logging(logging.WARNING)
    if args.root:
        run(args.root.resolve(), args.naive_queries)
        return
    with tempfile.TemporaryDirectory() as folder:
        make_demo_dataset.main(["--root", folder, "--train", "300", "--test", "20", "--workers", "2"])
        run(Path(folder), args.naive_queries)


if __name__ == "__main__":
    main()
