"""Step 5 (train_generate_order.m): training pairs of the ordering network, labelled by depth.

Reads  traindata/original_segment/CC/NAME.mat (library_mask), traindata/disparity/NAME.png
       (level 1, Cityscapes storage: larger = closer, 0 = invalid)
Writes traindata/order/NAME.mat per training image:
         semantic_segment_mask  HxWx3xN uint8, each pair as a colour label of its two segments
         semantic_segment_label Nx1, the class in front (1-based)
         semantic_segment_pair  Nx4, [j, k, c1, c2] as in the test files (the port's addition:
                                the segments and classes of each pair)
       for every pair of touching segments (both above the area threshold) whose boundary band
       has valid disparity on both sides. Classes are paired in the Cityscapes back-to-front order
       of the original's order.mat, whatever the dataset's order is, because this step is what
       derives the dataset's order. When every image is done:
       traindata/order_frequency.mat  frequency (19x19), F(a, b) = times class a was behind class b
       traindata/order.mat            order (1x19), back to front, derived from F.
An image without a disparity map is reported in one line and skipped.
"""

import logging

import numpy as np

import class_table
import command_line
import data_root
import errors
import file_io
import folders
import per_image_runner
import segment_pairs

SEGMENT_FOLDER = folders.MEMORY_BANK
DISPARITY_FOLDER = folders.TRAIN_DISPARITY
LABEL_FOLDER = folders.TRAIN_LABELS
OUTPUT_FOLDER = folders.ORDER_TRAINING
FREQUENCY_FILE = folders.ORDER_FREQUENCY
ORDER_FILE = folders.CLASS_ORDER

LOG = logging.getLogger("sims")


def output_file(root, image_id):
    return [root / OUTPUT_FOLDER / f"{data_root.image_name(image_id)}.mat"]


def disparity_file(root, image_id):
    return root / DISPARITY_FOLDER / f"{data_root.image_name(image_id)}.png"


def process_image(image_id, root, sizes, classes, planar_rule=True):
    shape = sizes.shape(1)
    disparity_path = disparity_file(root, image_id)
    if not disparity_path.exists():
        LOG.warning("%s: no disparity map; image %s skipped", disparity_path, data_root.image_name(image_id))
        return
    disparity = file_io.read_png16(disparity_path, shape=shape)
    masks = segment_pairs.class_masks(root / SEGMENT_FOLDER, image_id, shape, sizes.area_threshold, classes.count)
    pair_masks, fronts, pairs = [], [], []
    for j, k, first_class, second_class, first, second in segment_pairs.segment_pairs(
            masks, classes.order):
        if not segment_pairs.touching(first, second):
            continue
        front = segment_pairs.front_class(first, second, first_class, second_class, disparity, classes, planar_rule)
        if front is None:
            continue
        pair_masks.append(segment_pairs.pair_mask(first, second, first_class, second_class, classes))
        fronts.append(front)
        pairs.append((j, k, first_class, second_class))
    file_io.save_mat(output_file(root, image_id)[0], {
        "semantic_segment_mask": file_io.stack_for_mat(pair_masks, shape + (3,), np.uint8),
        "semantic_segment_label": np.array(fronts, np.uint8).reshape(-1, 1),
        "semantic_segment_pair": np.array(pairs, np.float64).reshape(-1, 4),
    })


def read_pair_labels(path):
    """(pairs Nx4 [j, k, c1, c2], fronts N) of a training pair file."""
    content = file_io.load_mat(path, ["semantic_segment_label", "semantic_segment_pair"])
    pairs = content["semantic_segment_pair"].reshape(-1, 4).astype(int)
    fronts = content["semantic_segment_label"].reshape(-1).astype(int)
    if len(pairs) != len(fronts):
        raise errors.DataError(f"{path}: semantic_segment_pair and semantic_segment_label differ in length")
    return pairs, fronts


def behind_counts(paths, class_count):
    """F (K x K): F[a-1, b-1] = pairs in which class a was behind class b."""
    counts = np.zeros((class_count, class_count), np.int64)
    for path in paths:
        pairs, fronts = read_pair_labels(path)
        for (_, _, first_class, second_class), front in zip(pairs, fronts):
            behind = second_class if front == first_class else first_class
            counts[behind - 1, front - 1] += 1
    return counts


def write_class_order(root, image_ids, classes):
    """order_frequency.mat and order.mat from every image's pairs, once no image is left to do."""
    missing = [image_id for image_id in image_ids
               if not output_file(root, image_id)[0].exists() and disparity_file(root, image_id).exists()]
    if missing:
        LOG.info("class order: %d images still to do (other shards?); written when all are done", len(missing))
        return
    paths = [output_file(root, image_id)[0] for image_id in image_ids if output_file(root, image_id)[0].exists()]
    if not paths:
        LOG.warning("class order: no training image has a disparity map; the class table's order stays in use")
        return
    counts = behind_counts(paths, classes.count)
    order = class_table.class_order_from_frequency(counts, classes.order)
    file_io.save_mat(root / FREQUENCY_FILE, {"frequency": counts.astype(np.float64)})
    file_io.save_mat(root / ORDER_FILE, {"order": np.array(order, np.float64).reshape(1, -1)})
    LOG.info("class order from %d pairs of %d images: %s", counts.sum(), len(paths),
             " ".join(classes.names[c - 1] for c in order))


def main(argv=None):
    parser = per_image_runner.step_parser(__doc__)
    parser.add_argument("--no-planar-rule", dest="planar_rule", action="store_false",
                        help="label by depth alone (the original puts objects in front of road, sidewalk, terrain)")
    args = parser.parse_args(argv)
    per_image_runner.run_step(args, "order training pairs", LABEL_FOLDER, process_image, output_file,
                    planar_rule=args.planar_rule)
    root = args.root.resolve()
    write_class_order(root, data_root.list_image_ids(root / LABEL_FOLDER), class_table.load_classes(root))


if __name__ == "__main__":
    command_line.run_cli(main)
