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

import class_table
import command_line
import data_root
import file_io
import folders
import per_image_runner
import segment_pairs

SEGMENT_FOLDER = folders.QUERY_SEGMENTS
LABEL_FOLDER = folders.TEST_LABELS
OUTPUT_FOLDER = folders.ORDER_INPUTS


def output_file(root, image_id):
    return [root / OUTPUT_FOLDER / f"{data_root.image_name(image_id)}.mat"]


def process_image(image_id, root, sizes, classes, order):
    shape = sizes.shape(1)
    masks = segment_pairs.class_masks(root / SEGMENT_FOLDER, image_id, shape, sizes.area_threshold, classes.count)
    pair_masks, rows = [], []
    for j, k, first_class, second_class, first, second in segment_pairs.segment_pairs(masks, order):
        pair_masks.append(segment_pairs.pair_mask(first, second, first_class, second_class, classes))
        rows.append((j, k, first_class, second_class))
    file_io.save_mat(output_file(root, image_id)[0], {
        "semantic_segment_mask": file_io.stack_for_mat(pair_masks, shape + (3,), np.uint8),
        "semantic_segment_label": np.array(rows, np.float64).reshape(-1, 4),
    })


def main(argv=None):
    args = per_image_runner.step_parser(__doc__).parse_args(argv)
    root = args.root.resolve()
    per_image_runner.run_step(args, "order test pairs", LABEL_FOLDER, process_image, output_file,
                    order=class_table.class_order(root, class_table.load_classes(root)))


if __name__ == "__main__":
    command_line.run_cli(main)
