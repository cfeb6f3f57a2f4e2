"""Any labelled dataset -> the folder layout the pipeline expects, with its class table.

Not a step of the original. Reads images (PNG/JPG) and label maps matched by file stem:
  --images DIR --labels DIR            training images and their labels
  --val-images DIR --val-labels DIR    test layouts (and their ground-truth images), optional
  --disparity DIR                      16-bit disparity PNGs of training images (optional; without
                                       them the ordering step keeps the class table's order)
  --classes CLASSES.json               the class table (data_prep/datasets/ has examples)
A label map is either a class-index PNG (one channel: each class's train_id, any other value is
void, e.g. ADE20K's 0 = other) or a colour PNG in the table's palette (black and unknown colours
are void; unknown colours are counted in a warning); --label-kind picks, auto by the PNG's mode.
Writes under --root the layout prepare_cityscapes.py writes (ids %08d: training 1.., test
100001.., each in sorted stem order), dataset_ids.csv (id, split, stem) and dataset.json with
base_height and the class table.
"""

import argparse
import dataclasses
import functools
import logging
from pathlib import Path

import numpy as np
from PIL import Image

import class_table
import command_line
import data_root
import dataset_import
import errors
import file_io
import labels
import per_image_runner

LOG = logging.getLogger("sims")
ID_TABLE = "dataset_ids.csv"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
INDEX_MODES = ("L", "I", "I;16")  # single-channel PNGs hold class indices


@dataclasses.dataclass(frozen=True)
class Sample:
    split: str
    stem: str
    image: Path
    label: Path
    disparity: Path | None


def _by_stem(folder, suffixes):
    folder = Path(folder)
    if not folder.is_dir():
        raise errors.DataError(f"{folder}: folder not found")
    return {path.stem: path for path in sorted(folder.iterdir()) if path.suffix.lower() in suffixes}


def find_samples(split, images, labels, disparity=None):
    """The samples of one split: every image with the label of the same stem."""
    image_files, label_files = _by_stem(images, IMAGE_SUFFIXES), _by_stem(labels, (".png",))
    if not image_files:
        raise errors.DataError(f"{images}: no images (*.png, *.jpg)")
    missing = sorted(set(image_files) - set(label_files))
    if missing:
        raise errors.DataError(f"{Path(labels) / missing[0]}.png: label not found for {image_files[missing[0]]}")
    disparity_files = _by_stem(disparity, (".png",)) if disparity else {}
    return [Sample(split, stem, image_files[stem], label_files[stem], disparity_files.get(stem))
            for stem in sorted(image_files)]


def assign_ids(samples):
    ids = {}
    for split, (first_id, _) in dataset_import.SPLITS.items():
        ids.update({first_id + position: sample
                    for position, sample in enumerate(s for s in samples if s.split == split)})
    return ids


def read_class_indices(path, classes, kind):
    """The class index map (0..K-1, 255 void) of a label PNG, class-index or colour."""
    with Image.open(path) as image:
        mode = image.mode
    if kind == "index" or (kind == "auto" and mode in INDEX_MODES):
        values = file_io.read_png16(path) if mode.startswith("I") else file_io.read_image(path, channels=1)
        lookup = np.full(65536, class_table.VOID_INDEX, np.uint8)
        lookup[list(classes.train_ids)] = np.arange(classes.count)
        return lookup[values]
    index, unknown = labels.label_to_index(file_io.read_image(path), classes)
    if unknown:
        LOG.warning("%s: %d pixels have colours outside the class table; treated as void", path, unknown)
    return index


def output_paths(root, image_id, sample):
    return dataset_import.output_paths(root, image_id, sample.split, sample.disparity is not None)


def process_image(image_id, samples, root, sizes, classes, label_kind):
    sample = samples[image_id]
    rgb = file_io.read_image(sample.image)
    index = read_class_indices(sample.label, classes, label_kind)
    if index.shape != rgb.shape[:2]:
        raise errors.DataError(f"{sample.label}: size is {index.shape[0]}x{index.shape[1]}, its image "
                               f"{sample.image} is {rgb.shape[0]}x{rgb.shape[1]}")
    disparity = file_io.read_png16(sample.disparity, shape=rgb.shape[:2]) if sample.disparity else None
    dataset_import.write_image_files(root, image_id, sample.split, sizes, classes, rgb, index, disparity)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, required=True, help="training images")
    parser.add_argument("--labels", type=Path, required=True, help="their label PNGs (same stems)")
    parser.add_argument("--val-images", type=Path, help="test images (ground truth of the test layouts)")
    parser.add_argument("--val-labels", type=Path, help="test label PNGs, the layouts to synthesize")
    parser.add_argument("--disparity", type=Path, help="16-bit disparity PNGs of the training images")
    parser.add_argument("--classes", type=Path, required=True, help="class table (JSON, see class_table.py)")
    parser.add_argument("--label-kind", choices=("auto", "index", "colour"), default="auto",
                        help="class-index or colour label PNGs (auto: single-channel PNGs are class indices)")
    dataset_import.add_output_arguments(parser)
    args = parser.parse_args(argv)
    if (args.val_images is None) != (args.val_labels is None):
        parser.error("--val-images and --val-labels go together")

    try:
        classes = class_table.read(args.classes)
    except class_table.ClassTableError as error:
        raise errors.DataError(f"{args.classes}: {error}") from None
    sizes = data_root.Sizes(args.base_height)
    root = args.root.resolve()
    samples = find_samples("train", args.images, args.labels, args.disparity)
    if args.val_images:
        samples += find_samples("val", args.val_images, args.val_labels)
    ids = assign_ids(samples)
    data_root.write_dataset_json(root, sizes, source="prepare_dataset", classes=classes.description())
    without_disparity = sum(1 for s in samples if s.split == "train" and s.disparity is None)
    if without_disparity:
        LOG.warning("%d training images have no disparity map; the ordering step keeps the class table's "
                    "order for them", without_disparity)
    dataset_import.write_id_table(root / ID_TABLE, ["id", "split", "stem"],
                                  [[data_root.image_name(image_id), sample.split, sample.stem]
                                   for image_id, sample in sorted(ids.items())])
    process = functools.partial(process_image, samples=ids, root=root, sizes=sizes, classes=classes,
                                label_kind=args.label_kind)
    done, skipped = per_image_runner.run_per_image(process, list(ids), lambda i: output_paths(root, i, ids[i]),
                                         workers=args.workers, shard=args.shard, description="import")
    LOG.info("dataset in %s: %d images written, %d already there", root, done, skipped)


if __name__ == "__main__":
    command_line.run_cli(main)
