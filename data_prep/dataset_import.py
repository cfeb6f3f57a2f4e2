"""What the importers (prepare_cityscapes.py, prepare_dataset.py) share: where an imported image
goes, how it is resized, and the table of ids they write."""

import csv
import io
from pathlib import Path

import cv2

import command_line
import data_root
import file_io
import folders
import labels
import matlab_image_ops
import per_image_runner

SPLITS = {"train": (1, folders.TRAIN), "val": (data_root.FIRST_TEST_ID, folders.TEST)}  # first id, folder


def add_output_arguments(parser):
    """--root, --base-height and the runner's --workers, --shard."""
    command_line.add_root_argument(parser)
    parser.add_argument("--base-height", type=int, default=data_root.DEFAULT_BASE_HEIGHT,
                        help="height of level 1 (the original's 256, the default); a multiple of 32")
    per_image_runner.add_runner_arguments(parser)


def output_paths(root, image_id, split, has_disparity):
    """{path: (level, kind)} of every file one imported image becomes."""
    outputs = folders.TRAIN_IMAGE_FOLDERS if split == "train" else folders.TEST_IMAGE_FOLDERS
    name = data_root.image_name(image_id) + ".png"
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
            file_io.write_image(path, resize_image(rgb, shape))
        elif kind == "label":
            file_io.write_image(path, labels.index_to_label(matlab_image_ops.resize_nearest(index, shape), classes))
        else:  # nearest keeps invalid (0) pixels invalid and never mixes disparities
            file_io.write_image(path, matlab_image_ops.resize_nearest(disparity, shape))


def write_id_table(path, header, rows):
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    file_io.write_bytes_atomic(path, text.getvalue().encode())
