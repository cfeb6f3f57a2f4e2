"""The spatial transformer of SIMS (transformation.py of the original), in TensorFlow 2.

Training (training_phase = True, or --train): for each of --batch-size training images in shuffled
order and one of its random sets, up to NUM_PROPOSALS perturbed segments from
traindata/transform/transform_512/SS/NAME.mat are warped by the network so that, inside their true
masks, they rebuild the real image (traindata/RGB512Full, label traindata/label_refine_512).
Checkpoints and TensorBoard logs go to trainedmodels/transform/; an interrupted run continues from
the last checkpoint. training.parse_arguments lists the options for several GPUs and machines.
Test (training_phase = False, or --test): every testdata/transform/transform_512/NAME.mat is
warped with rounded parameters into result/transform/transform_512/NAME.mat (`transferred`,
NxHxWx3 uint8). Sizes come from the data root (level 2, the original's 512x1024).
"""

# ---- configuration (as the original's first screen) -----------------------------------------
training_phase = False
NUM_PROPOSALS = 10        # proposals per step, and per forward pass at test time
LEARNING_RATE = 1e-5      # the original's schedule min(1e-4 * 1.1^(epoch-1), 1e-5) is 1e-5 throughout
EPOCHS = 100
SAVE_EVERY = 200          # steps between checkpoints
OUTSIDE_THE_IMAGE = "zeros"  # what the warp samples off the image: "zeros" (the original) or "clamp"
ROUND_PARAMETERS = True   # test time rounds the 6 parameters (the original says to drop it for NYU, ADE20K)
LEVEL = 2                 # works on level-2 images ("512"); the network sees them at half size

import script_setup  # noqa: E402,F401  (first: data_prep on the path, TensorFlow loaded quietly)
import training  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import command_line  # noqa: E402
import data_root  # noqa: E402
import distribution  # noqa: E402
import errors  # noqa: E402
import file_io  # noqa: E402
import folders  # noqa: E402
import labels  # noqa: E402
from network_blocks import one_hot_labels  # noqa: E402
from spatial_transformer import OUTSIDE_MODES  # noqa: E402
from transform_network import TransformNetwork, batch_losses  # noqa: E402

# the folders it reads and writes (folders.py)
TRAIN_PAIRS = folders.TRANSFORM_TRAINING
TRAIN_IMAGES, TRAIN_LABELS = folders.train_images("512"), folders.TRAIN_LABELS_512
TEST_INPUTS, TEST_LABELS = folders.transform_inputs("512"), folders.TEST_LABELS_512
MODEL_FOLDER, RESULT_FOLDER = folders.TRANSFORM_MODEL, folders.TRANSFORMED


def read_proposals(path, shape):
    """proposal [N,H,W,3] and mask [N,H,W] of a transform file (MATLAB drops a leading N of 1)."""
    content = file_io.load_mat(path, ["proposal", "mask"])
    proposal, mask = content["proposal"], content["mask"]
    if mask.ndim == 2:
        proposal, mask = proposal[None], mask[None]
    if proposal.shape[1:] != shape + (3,) or mask.shape != proposal.shape[:3]:
        raise errors.DataError(f"{path}: proposal {proposal.shape} and mask {mask.shape} do not fit "
                               f"{shape[0]}x{shape[1]} images")
    return proposal, mask


def sample_reader(args):
    """(read_sample(index) of a training run (input_pipeline), training images): up to NUM_PROPOSALS
    random proposals of one random set of the sample's image, padded with empty masks (as the
    original); weight 0 when the image has no proposal."""
    root, seed = args.root, args.seed
    shape = args.sizes.shape(LEVEL)
    image_ids = data_root.list_image_ids(root / TRAIN_IMAGES)
    sets = sorted(p.name for p in (root / TRAIN_PAIRS).iterdir() if p.is_dir()) \
        if (root / TRAIN_PAIRS).is_dir() else []
    if not sets:
        raise errors.DataError(f"{root / TRAIN_PAIRS}: no training sets; run data_prep/train_generate_transform.py")

    def read_sample(index):
        rng = training.step_rng(seed, index)
        name = data_root.image_name(training.epoch_image(image_ids, seed, index))
        proposal, mask = read_proposals(root / TRAIN_PAIRS / sets[rng.integers(len(sets))] / f"{name}.mat", shape)
        chosen = rng.permutation(len(mask))[:NUM_PROPOSALS]
        sample = {"proposals": np.zeros((NUM_PROPOSALS,) + shape + (3,), np.uint8),
                  "masks": np.zeros((NUM_PROPOSALS,) + shape, np.uint8), "label_index": np.zeros(shape, np.uint8),
                  "real_image": np.zeros(shape + (3,), np.uint8), "weight": np.float32(len(chosen) > 0)}
        if len(chosen):   # an image without a segment above the threshold teaches nothing
            sample["proposals"][:len(chosen)] = proposal[chosen]
            sample["masks"][:len(chosen)] = mask[chosen]
            sample["label_index"] = labels.read_label(root / TRAIN_LABELS / f"{name}.png", shape=shape,
                                                      classes=args.classes)
            sample["real_image"] = file_io.read_image(root / TRAIN_IMAGES / f"{name}.png", shape=shape)
        return sample

    return read_sample, image_ids


def train(args, steps):
    read_sample, _ = sample_reader(args)
    with args.strategy.scope():
        network = TransformNetwork(input_scale=2, outside=args.outside, class_count=args.classes.count)
        optimizer = distribution.adam(args.learning_rate)
    training.train(args, training.TrainingJob("transformation", args.root / MODEL_FOLDER, network, optimizer,
                                              read_sample, lambda batch: batch_losses(network, batch)), steps)


def warp_in_chunks(warp, proposal, mask, label, round_output=False):
    """All proposals of one image warped NUM_PROPOSALS at a time by warp(proposals in 0..1 [n,H,W,3],
    masks [n,H,W,1], label) -> warped; returns NxHxWx3 uint8 (truncated as the original's, or rounded)."""
    transferred = np.zeros(proposal.shape, np.uint8, order="F")  # as the .mat file stores it
    for start in range(0, len(proposal), NUM_PROPOSALS):
        part = slice(start, start + NUM_PROPOSALS)
        warped = warp(tf.constant(proposal[part] / 255.0, tf.float32), tf.constant(mask[part, :, :, None], tf.float32),
                      label)
        transferred[part] = file_io.to_uint8(warped.numpy() * 255.0, round_output)
    return transferred


def transform_image(network, proposal, mask, label, round_parameters=ROUND_PARAMETERS, round_output=False):
    """Warp all proposals of one image with the transformer; returns NxHxWx3 uint8."""
    return warp_in_chunks(lambda proposals, masks, label_: network(proposals, masks, label_, round_parameters)[0],
                          proposal, mask, label, round_output)


def write_aligned_segments(args, network, model_folder, result_folder, warp, description, options):
    """The test phase of an aligner (this transformer, or appearance_flow.py): restore the network,
    then write result_folder/NAME.mat (`transferred`) for every test input, warped by
    warp(proposals, masks, label) in chunks. options: {name: value} of the test options that change
    the results (results written with others are written again)."""
    root, shape = args.root, args.sizes.shape(LEVEL)
    training.restore_for_test(root / model_folder, network, args.classes, root / result_folder, ".mat",
                              options=options)

    def result_of(name):
        proposal, mask = read_proposals(root / TEST_INPUTS / f"{name}.mat", shape)
        label = one_hot_labels(labels.read_label(root / TEST_LABELS / f"{name}.png", shape=shape,
                                                 classes=args.classes)[None], args.classes.count)
        return {"transferred": warp_in_chunks(warp, proposal, mask, label, args.round_output)}

    training.test_each_file(root / TEST_INPUTS, root / result_folder, result_of, description)


def test(args):
    network = TransformNetwork(input_scale=2, outside=args.outside, class_count=args.classes.count)
    write_aligned_segments(args, network, MODEL_FOLDER, RESULT_FOLDER,
                           lambda proposals, masks, label: network(proposals, masks, label, args.round_parameters)[0],
                           "transformation test", {"outside": args.outside, "round_parameters": args.round_parameters,
                                                   "round_output": args.round_output})


def main(argv=None):
    def warp_options(parser):
        parser.add_argument("--outside", choices=OUTSIDE_MODES, default=OUTSIDE_THE_IMAGE,
                            help="what the warp samples off the image: zeros (the original; leaves holes the "
                                 "synthesis network paints) or clamp (repeats the edge pixels)")
        parser.add_argument("--no-round", dest="round_parameters", action="store_false", default=ROUND_PARAMETERS,
                            help="test phase: keep the warp parameters unrounded")
        training.add_output_rounding_argument(parser)

    script = training.NetworkScript(__doc__, EPOCHS, SAVE_EVERY, TRAIN_IMAGES, learning_rate=LEARNING_RATE,
                                    add_arguments=warp_options)
    training.main(script, training_phase, argv, train, test)


if __name__ == "__main__":
    command_line.run_cli(main)
