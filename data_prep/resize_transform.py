"""Step 9 (resize_transform.m): the training labels at level 2, for the transformation network.

Reads  traindata/label_refine/NAME.png (level 1)
Writes traindata/label_refine_512/NAME.png, resized with MATLAB's nearest neighbour. The demo
generator and prepare_cityscapes.py already write this folder; run this step for label maps that
come from elsewhere.
"""

import sims_common as common

INPUT_FOLDER = "traindata/label_refine"
OUTPUT_FOLDER = "traindata/label_refine_512"


def output_file(root, image_id):
    return [root / OUTPUT_FOLDER / f"{common.image_name(image_id)}.png"]


def process_image(image_id, root, sizes, classes):
    index = common.read_label(root / INPUT_FOLDER / f"{common.image_name(image_id)}.png", shape=sizes.shape(1),
                              classes=classes)
    common.write_image(output_file(root, image_id)[0],
                       common.index_to_label(common.resize_nearest(index, sizes.shape(2)), classes))


def main(argv=None):
    args = common.step_parser(__doc__).parse_args(argv)
    common.run_step(args, "labels at level 2", INPUT_FOLDER, process_image, output_file)


if __name__ == "__main__":
    common.run_cli(main)
