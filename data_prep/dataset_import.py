"""What the importers (prepare_cityscapes.py, prepare_dataset.py) share: where an imported image
goes, how it is resized, and the table of ids they write."""

import csv
import io
from pathlib import Path

import cv2

import sims_common as common

SPLITS = {"train": (1, "traindata"), "val": (common.FIRST_TEST_ID, "testdata")}  # first id, folder


def add_output_arguments(parser):
    """--root, --base-height and the runner's --workers, --shard."""
    common.add_root_argument(parser)
    parser.add_argument("--base-height", type=int, default=common.DEFAULT_BASE_HEIGHT,
                        help="height of level 1 (the original's 256, the default); a multiple of 32")
    common.add_runner_arguments(parser)


def output_paths(root, image_id, split, has_disparity):
    """{path: (level, kind)} of every file one imported image becomes."""
    outputs = common.TRAIN_IMAGE_FOLDERS if split == "train" else common.TEST_IMAGE_FOLDERS
    name = common.image_name(image_id) + ".png"
    return {Path(root) / SPLITS[split][1] / sub / name: spec for sub, spec in outputs.items()
            if not (spec[1] == "disparity" and not has_disparity)}


def resize_image(rgb, shape):
    """Area averaging when shrinking, bicubic when enlarging."""
    enlarging = shape[0] > rgb.shape[0]
    return cv2.resize(rgb, shape[::-1], interpolation=cv2.INTER_CUBIC if enlarging else cv2.INTER_AREA)


def write_image_files(root, image_id, split, sizes, classes, rgb, index, disparity=None):
    """The image, its class index map (drawn in the table's palette) and its disparity at every
    level the split's folders hold."""
    for path, (level, kind) in output_paths(root, image_id, split, disparity is not None).items():
        shape = sizes.shape(level)
        if kind == "rgb":
            common.write_image(path, resize_image(rgb, shape))
        elif kind == "label":
            common.write_image(path, common.index_to_label(common.resize_nearest(index, shape), classes))
        else:  # nearest keeps invalid (0) pixels invalid and never mixes disparities
            common.write_image(path, common.resize_nearest(disparity, shape))


def write_id_table(path, header, rows):
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    common.write_bytes_atomic(path, text.getvalue().encode())
