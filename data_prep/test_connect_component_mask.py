"""Step 1, test side (test_connect_component_mask.m): the query segments of each test layout.

Reads  testdata/label_refine/NAME.png (level 1)
Writes testdata/original_mask/CC/NAME.mat per class CC (%02d, 1-based) with library_mask and
       library_mask_pole (HxWxN uint8), the same segments as the training side without pixels.
Unlike the original, no empty slice is written for the background.
"""

import class_table
import command_line
import data_root
import file_io
import folders
import labels
import per_image_runner
import segments

LABEL_FOLDER = folders.TEST_LABELS
OUTPUT_FOLDER = folders.QUERY_SEGMENTS


def process_image(image_id, root, sizes, classes, thin_merge=True):
    name = data_root.image_name(image_id) + ".png"
    index = labels.read_label(root / LABEL_FOLDER / name, shape=sizes.shape(1), classes=classes)
    for class_id in range(1, classes.count + 1):
        library_mask, library_mask_pole = segments.class_segments(index, class_id, classes.ids("thin"), thin_merge)
        file_io.save_mat(segments.segment_file(root / OUTPUT_FOLDER, class_id, image_id),
                        {"library_mask": library_mask, "library_mask_pole": library_mask_pole}, background=True)


def output_files(root, image_id):
    return segments.segment_files(root / OUTPUT_FOLDER, image_id, class_table.load_classes(root).count)


def main(argv=None):
    parser = per_image_runner.step_parser(__doc__)
    segments.add_thin_merge_argument(parser)
    args = parser.parse_args(argv)
    per_image_runner.run_step(args, "test segments", LABEL_FOLDER, process_image, output_files, thin_merge=args.thin_merge)


if __name__ == "__main__":
    command_line.run_cli(main)
