"""Export a trained model without its optimizer's state: the newest intact checkpoint's network
weights and step, with the folder's records and TensorBoard logs. Adam's two moments are two thirds
of a checkpoint (the synthesis network's 0.7 GB become about 0.25 GB at the original's size); the
test phases, synthesize_layouts.py and evaluate.py load an export like any model folder, training
refuses to continue from one.

    python python_code/export_model.py --model trainedmodels/synthesis/synthesis_256     # in place
    python python_code/export_model.py --model trainedmodels/transform --into /archive/transform

--model is a model folder, relative to --root or absolute. Without --into the folder's checkpoints
are replaced by the export, once it is whole.
"""

import script_setup  # noqa: F401  (first: data_prep on the path, TensorFlow loaded quietly)

import argparse
import logging
from pathlib import Path

import checkpoints
import command_line
import errors
import file_io

LOG = logging.getLogger("sims")


def folder_size(folder):
    return sum(path.stat().st_size for path in Path(folder).rglob("*") if path.is_file())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    command_line.add_root_argument(parser)
    parser.add_argument("--model", type=Path, required=True, help="model folder, relative to --root or absolute")
    parser.add_argument("--into", type=Path, help="write the export here (default: replace the model's checkpoints)")
    args = parser.parse_args(argv)
    source = (args.root / args.model).resolve()   # an absolute --model stays itself
    if not source.is_dir():
        raise errors.DataError(f"{source}: folder not found")
    target = args.into.resolve() if args.into else source
    before = folder_size(source)
    with file_io.folder_lock(source, "training", "a training"):   # not while it trains
        exported = checkpoints.export(source, target)
    LOG.info("exported %s to %s: %.1f MB, was %.1f MB", source, exported, folder_size(target) / 1e6, before / 1e6)


if __name__ == "__main__":
    command_line.run_cli(main)
