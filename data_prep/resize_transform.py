"""Step 9 (resize_transform.m): the training labels at level 2, for the transformation network.

Reads  traindata/label_refine/NAME.png (level 1)
Writes traindata/label_refine_512/NAME.png, resized with MATLAB's nearest neighbour. The demo
generator and prepare_cityscapes.py already write this folder; run this step for label maps that
come from elsewhere.
"""

import command_line
import data_root
import file_io
import folders
import labels
import matlab_image_ops
import per_image_runner

INPUT_FOLDER = folders.TRAIN_LABELS
OUTPUT_FOLDER = folders.TRAIN_LABELS_512


def output_file(root, image_id):
    return [root / OUTPUT_FOLDER / f"{data_root.image_name(image_id)}.png"]


def process_image(image_id, root, sizes, classes):
    index = labels.read_label(root / INPUT_FOLDER / f"{data_root.image_name(image_id)}.png", shape=sizes.shape(1),
                              classes=classes)
    file_io.write_image(output_file(root, image_id)[0],
                       labels.index_to_label(matlab_image_ops.resize_nearest(index, sizes.shape(2)), classes))


def main(argv=None):
    args = per_image_runner.step_parser(__doc__).parse_args(argv)
    per_image_runner.run_step(args, "labels at level 2", INPUT_FOLDER, process_image, output_file)


if __name__ == "__main__":
    command_line.run_cli(main)
