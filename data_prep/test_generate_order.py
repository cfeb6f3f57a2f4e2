"""Step 6 (test_generate_order.m): the segment pairs the ordering network judges at test time.

Reads  testdata/original_mask/CC/NAME.mat (library_mask, level 1)
Writes testdata/order/NAME.mat per test image:
         semantic_segment_mask  HxWx3xN uint8, each pair as a colour label of its two segments
         semantic_segment_label Nx4, [j, k, c1, c2]: segment j of class c1 and segment k of class
                                c2 (j, k: 1-based slices of the class's segment files; c1
                                before c2 in the class order)
       for every pair of segments above the area threshold (touching or not, as the original).
The class order is the dataset's (traindata/order.mat) when present, else the Cityscapes order.
"""

import numpy as np

import segment_pairs
import sims_common as common

SEGMENT_FOLDER = "testdata/original_mask"
LABEL_FOLDER = "testdata/label_refine"
OUTPUT_FOLDER = "testdata/order"


def output_file(root, image_id):
    return [root / OUTPUT_FOLDER / f"{common.image_name(image_id)}.mat"]


def process_image(image_id, root, sizes, classes, order):
    shape = sizes.shape(1)
    masks = segment_pairs.class_masks(root / SEGMENT_FOLDER, image_id, shape, sizes.area_threshold, classes.count)
    pair_masks, rows = [], []
    for j, k, first_class, second_class, first, second in segment_pairs.segment_pairs(masks, order):
        pair_masks.append(segment_pairs.pair_mask(first, second, first_class, second_class, classes))
        rows.append((j, k, first_class, second_class))
    common.save_mat(output_file(root, image_id)[0], {
        "semantic_segment_mask": common.stack_for_mat(pair_masks, shape + (3,), np.uint8),
        "semantic_segment_label": np.array(rows, np.float64).reshape(-1, 4),
    })


def main(argv=None):
    args = common.step_parser(__doc__).parse_args(argv)
    root = args.root.resolve()
    common.run_step(args, "order test pairs", LABEL_FOLDER, process_image, output_file,
                    order=common.class_order(root, common.load_classes(root)))


if __name__ == "__main__":
    common.run_cli(main)
