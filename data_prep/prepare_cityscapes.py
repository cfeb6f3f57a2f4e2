"""Real data: the official Cityscapes download -> the folder layout the original expects.

Not a step of the original (its authors shipped prepared downloads that are gone). Reads
  CITYSCAPES/leftImg8bit/{train,val}/CITY/NAME_leftImg8bit.png
  CITYSCAPES/gtFine/{train,val}/CITY/NAME_gtFine_labelIds.png
  CITYSCAPES/disparity/{train,val}/CITY/NAME_disparity.png   (optional)
and writes under --root, with ids %08d (train 1.. and val 100001.., each in sorted name order):
  traindata/RGB256Full RGB512Full RGB1024Full Label256Full Label512Full Label1024Full label_refine
            label_refine_512 disparity
  testdata/label_refine label_refine_512 RGB256Full RGB512Full
  cityscapes_ids.csv (id, split, city, name), dataset.json (base_height)
Label ids become the 19 train classes (everything else void) drawn in the palette; images are
resized with area averaging (bicubic when enlarging), labels and disparity with MATLAB's nearest.
"""

import argparse
import dataclasses
import functools
import logging
from pathlib import Path

import numpy as np

import class_table
import command_line
import data_root
import dataset_import
import errors
import file_io
import folders
import per_image_runner

LOG = logging.getLogger("sims")

# Cityscapes label id -> train class index (0-based); all other ids are void.
LABEL_ID_TO_CLASS = {7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9, 23: 10,
                     24: 11, 25: 12, 26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18}

ID_TABLE = "cityscapes_ids.csv"


@dataclasses.dataclass(frozen=True)
class Sample:
    split: str
    city: str
    name: str                    # e.g. aachen_000000_000019
    image: Path
    label: Path
    disparity: Path | None


def label_id_lookup():
    table = np.full(256, class_table.VOID_INDEX, np.uint8)
    for label_id, class_index in LABEL_ID_TO_CLASS.items():
        table[label_id] = class_index
    return table


def find_samples(cityscapes):
    """Every image of the train and val splits with its label (and disparity when present)."""
    cityscapes = Path(cityscapes)
    if not cityscapes.is_dir():
        raise errors.DataError(f"{cityscapes}: Cityscapes folder not found")
    images_root = cityscapes / "leftImg8bit"
    if not images_root.is_dir():
        raise errors.DataError(f"{images_root}: folder not found (expected the official leftImg8bit/)")
    samples = []
    for split in dataset_import.SPLITS:
        for image in sorted((images_root / split).glob("*/*_leftImg8bit.png")):
            city, name = image.parent.name, image.name[: -len("_leftImg8bit.png")]
            label = cityscapes / "gtFine" / split / city / f"{name}_gtFine_labelIds.png"
            if not label.is_file():
                raise errors.DataError(f"{label}: label file not found for {image}")
            disparity = cityscapes / "disparity" / split / city / f"{name}_disparity.png"
            samples.append(Sample(split, city, name, image, label, disparity if disparity.is_file() else None))
    if not samples:
        raise errors.DataError(f"{images_root}: no train or val images (*/NAME_leftImg8bit.png) found")
    return samples


def assign_ids(samples):
    """Train images 1.., val images 100001.., in sorted (city, name) order."""
    ids = {}
    for split, (first_id, _) in dataset_import.SPLITS.items():
        in_split = sorted((s for s in samples if s.split == split), key=lambda s: (s.city, s.name))
        ids.update({first_id + position: sample for position, sample in enumerate(in_split)})
    return ids


def output_paths(root, image_id, sample):
    return dataset_import.output_paths(root, image_id, sample.split, sample.disparity is not None)


def process_image(image_id, samples, root, sizes):
    sample = samples[image_id]
    rgb = file_io.read_image(sample.image)
    label_ids = file_io.read_image(sample.label, channels=1, shape=rgb.shape[:2])
    disparity = file_io.read_png16(sample.disparity, shape=rgb.shape[:2]) if sample.disparity is not None else None
    dataset_import.write_image_files(root, image_id, sample.split, sizes, class_table.CITYSCAPES,
                                     rgb, label_id_lookup()[label_ids], disparity)


def write_id_table(root, ids):
    dataset_import.write_id_table(Path(root) / ID_TABLE, ["id", "split", "city", "name"],
                                  [[data_root.image_name(image_id), sample.split, sample.city, sample.name]
                                   for image_id, sample in sorted(ids.items())])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cityscapes", type=Path, required=True,
                        help="folder of the official download (holds leftImg8bit/, gtFine/, disparity/)")
    dataset_import.add_output_arguments(parser)
    args = parser.parse_args(argv)

    sizes = data_root.Sizes(args.base_height)
    root = args.root.resolve()
    ids = assign_ids(find_samples(args.cityscapes))
    data_root.write_dataset_json(root, sizes, source="cityscapes")
    without_disparity = sum(1 for s in ids.values() if s.split == "train" and s.disparity is None)
    if without_disparity:
        LOG.warning("%d training images have no disparity map under %s; the ordering step needs "
                    "%s/ for them", without_disparity, Path(args.cityscapes) / "disparity", folders.TRAIN_DISPARITY)
    write_id_table(root, ids)
    process = functools.partial(process_image, samples=ids, root=root, sizes=sizes)
    done, skipped = per_image_runner.run_per_image(process, list(ids), lambda i: output_paths(root, i, ids[i]),
                                         workers=args.workers, shard=args.shard, description="cityscapes")
    LOG.info("cityscapes in %s: %d images written, %d already there", root, done, skipped)


if __name__ == "__main__":
    command_line.run_cli(main)
