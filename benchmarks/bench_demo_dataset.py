"""Throughput of the demo-dataset generator, one process against --workers N, in the same run.

Prints images per second for each and ends with one line
`workers_speedup=<x> workers=<n> images=<m> base_height=<h>`.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "data_prep"))

import command_line  # noqa: E402
import make_demo_dataset  # noqa: E402


def images_per_second(images, base_height, workers):
    with tempfile.TemporaryDirectory() as root:
        start = time.perf_counter()
        make_demo_dataset.main(["--root", root, "--train", str(images), "--test", "0",
                                "--base-height", str(base_height), "--workers", str(workers)])
        return images / (time.perf_counter() - start)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=60)
    parser.add_argument("--base-height", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    command_line.setup_logging()

    serial = images_per_second(args.images, args.base_height, 1)
    parallel = images_per_second(args.images, args.base_height, args.workers)
    print(f"one process: {serial:.1f} images/s")
    print(f"{args.workers} workers: {parallel:.1f} images/s")
    print(f"workers_speedup={parallel / serial:.2f} workers={args.workers} images={args.images} "
          f"base_height={args.base_height}")


if __name__ == "__main__":
    main()
