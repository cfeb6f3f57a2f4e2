"""The project's own segmenter, for evaluate.py's segmentation score (not a network of SIMS).

Training (training_phase = True, or --train): each step takes --batch-size training images at
--level (traindata/RGB<level>Full/NAME.png) with their layouts (traindata/label_refine/ at 256,
label_refine_512/ at 512), flipped left-right at random, and minimises the softmax cross-entropy
over the labelled pixels (segmentation_network.py). Checkpoints and TensorBoard logs go to
trainedmodels/segmentation/segmentation_<level>/; an interrupted run continues from the last one.
Test (training_phase = False, or --test): labels every real test image (testdata/RGB<level>Full/)
into result/segmentation/segmentation_<level>/NAME.png (colour labels) and logs the score against
the test layouts: how good the segmenter is, the reference row of evaluate.py's table.
Its scores are not comparable with those of DRN-D-105 or PSPNet on Cityscapes in the papers.
"""

# ---- configuration ---------------------------------------------------------------------------
training_phase = False
LEVEL_NAME = "256"          # --level: the evaluated level the segmenter is trained for
LEARNING_RATE = 1e-3        # Adam's, fixed
EPOCHS = 20                 # passes over the training images without --epochs or --max-steps
SAVE_EVERY = 200            # steps between checkpoints
FLIP_SHARE = 0.5            # training images seen mirrored

import script_setup  # noqa: E402,F401  (first: data_prep on the path, TensorFlow loaded quietly)
import training  # noqa: E402
import logging  # noqa: E402

import numpy as np  # noqa: E402

import command_line  # noqa: E402
import data_root  # noqa: E402
import distribution  # noqa: E402
import errors  # noqa: E402
import file_io  # noqa: E402
import folders  # noqa: E402
import labels  # noqa: E402
import per_image_runner  # noqa: E402
import segmentation_score  # noqa: E402
from segmentation_network import SegmentationNetwork, batch_losses  # noqa: E402

LOG = logging.getLogger("sims")
LEVEL_NAMES = tuple(folders.LAYOUTS)   # the levels with layouts (and real test images)


def sample_reader(args):
    root, level_name = args.root, args.level
    shape = args.sizes.shape(data_root.LEVELS[level_name])
    image_folder, layout_folder = root / folders.train_images(level_name), root / folders.LAYOUTS[level_name][0]
    image_ids = data_root.list_image_ids(layout_folder)
    if not image_ids:
        raise errors.DataError(f"{layout_folder}: no training layouts")

    def read_sample(index):
        rng = training.step_rng(args.seed, index)
        name = data_root.image_name(training.epoch_image(image_ids, args.seed, index))
        image = file_io.read_image(image_folder / f"{name}.png", shape=shape)
        index_map = labels.read_label(layout_folder / f"{name}.png", args.classes, shape=shape)
        if rng.random() < FLIP_SHARE:
            image, index_map = image[:, ::-1], index_map[:, ::-1]
        return {"image": np.ascontiguousarray(image), "index": np.ascontiguousarray(index_map),
                "weight": np.float32((index_map < args.classes.count).any())}

    return read_sample


def train(args, steps):
    read_sample = sample_reader(args)
    with args.strategy.scope():
        network = SegmentationNetwork(args.classes.count)
        optimizer = distribution.adam(args.learning_rate)
    training.train(args, training.TrainingJob(
        f"segmentation {args.level}", args.root / folders.segmentation_model(args.level), network, optimizer,
        read_sample, lambda batch: batch_losses(network, batch)), steps)


def test(args):
    root, level_name = args.root, args.level
    shape = args.sizes.shape(data_root.LEVELS[level_name])
    image_folder, result_folder = root / folders.test_images(level_name), root / folders.segmented(level_name)
    layout_folder = root / folders.LAYOUTS[level_name][1]
    segmenter = segmentation_score.OwnSegmenter(root, level_name, args.classes, result_folder=result_folder,
                                                result_suffix=".png")

    def process(image_id):
        name = data_root.image_name(image_id)
        index_map = segmenter.index_map(file_io.read_image(image_folder / f"{name}.png", shape=shape), shape)
        file_io.write_image(result_folder / f"{name}.png", labels.index_to_label(index_map, args.classes))

    image_ids = data_root.list_image_ids(image_folder)
    if not image_ids:
        raise errors.DataError(f"{image_folder}: no test images to segment")
    per_image_runner.run_per_image(process, image_ids, lambda image_id: [result_folder / f"{data_root.image_name(image_id)}.png"],
                                   description=f"segmentation {level_name} test")
    matrix = sum(segmentation_score.confusion(labels.read_label(result_folder / f"{data_root.image_name(i)}.png", args.classes),
                                              labels.read_label(layout_folder / f"{data_root.image_name(i)}.png",
                                                                args.classes, shape=shape), args.classes.count)
                 for i in image_ids)
    score = segmentation_score.scores(matrix)
    LOG.info("the own segmenter on the %d real test images against their layouts: mIoU %.3f, pixel accuracy %.3f",
             len(image_ids), score["miou"], score["pixel_accuracy"])


def segmentation_options(parser):
    parser.add_argument("--level", choices=LEVEL_NAMES, default=LEVEL_NAME,
                        help=f"the level of the images it segments (default {LEVEL_NAME})")


def main(argv=None):
    script = training.NetworkScript(__doc__, EPOCHS, SAVE_EVERY, folders.TRAIN_LABELS, learning_rate=LEARNING_RATE,
                                    add_arguments=segmentation_options)
    training.main(script, training_phase, argv, train, test)


if __name__ == "__main__":
    command_line.run_cli(main)
