"""The appearance-flow aligner (the original's Todo item 1), a sibling of transformation.py that
bends each retrieved segment with a dense field instead of one affine warp (flow_network.py).

Training (training_phase = True, or --train): the transformer's training data, read the same way
(transformation.sample_reader: up to NUM_PROPOSALS perturbed segments of one random set of each of
--batch-size images from traindata/transform/transform_512/SS/NAME.mat); the warped segments must
rebuild the real image (traindata/RGB512Full) inside their true masks, and the total variation of
the offsets keeps the field smooth, and with --outside-weight a term on what the warped segments put
outside their masks (which the rebuild loss does not see) keeps them in place. Checkpoints and TensorBoard logs go to
trainedmodels/appearance_flow/; an interrupted run continues from the last checkpoint.
Test (training_phase = False, or --test): every testdata/transform/transform_512/NAME.mat is
warped into result/transform/appearance_flow_512/NAME.mat (`transferred`, NxHxWx3 uint8, as the
transformer writes); data_prep/test_generate_canvas.py --aligner flow pastes them.
"""

# ---- configuration ---------------------------------------------------------------------------
training_phase = False
LEARNING_RATE = 1e-4       # the transformer's 1e-5 barely moves a field that starts at zero
SMOOTHNESS_WEIGHT = 1.0    # x the mean |difference| of neighbouring offsets (pixels per pixel)
OUTSIDE_WEIGHT = 1.0       # x what the warped segments put outside their masks (flow_network.spill)
EPOCHS = 100
SAVE_EVERY = 200           # steps between checkpoints

import script_setup  # noqa: E402,F401  (first: data_prep on the path, TensorFlow loaded quietly)
import command_line  # noqa: E402
import distribution  # noqa: E402
import folders  # noqa: E402
import training  # noqa: E402
import transformation  # noqa: E402  (the same data, read and written the same way)
from flow_network import FlowNetwork, batch_losses  # noqa: E402

MODEL_FOLDER, RESULT_FOLDER = folders.FLOW_MODEL, folders.FLOW_TRANSFORMED   # its folders (folders.py)


def train(args, steps):
    read_sample, _ = transformation.sample_reader(args)
    with args.strategy.scope():
        network = FlowNetwork(input_scale=2, class_count=args.classes.count)
        optimizer = distribution.adam(args.learning_rate)
    training.train(args, training.TrainingJob("appearance flow", args.root / MODEL_FOLDER, network, optimizer,
                                              read_sample, lambda batch: batch_losses(network, batch, args.smoothness_weight,
                                                                                      args.outside_weight),
                                              options={"smoothness_weight": args.smoothness_weight,
                                                       "outside_weight": args.outside_weight}), steps)


def test(args):
    network = FlowNetwork(input_scale=2, class_count=args.classes.count)
    transformation.write_aligned_segments(args, network, MODEL_FOLDER, RESULT_FOLDER,
                                          lambda proposals, masks, label: network(proposals, masks, label)[0],
                                          "appearance flow test", {"round_output": args.round_output})


def main(argv=None):
    def flow_options(parser):
        parser.add_argument("--smoothness-weight", type=command_line.non_negative_float, default=SMOOTHNESS_WEIGHT,
                            help=f"weight of the offsets' total variation (default {SMOOTHNESS_WEIGHT:g})")
        parser.add_argument("--outside-weight", type=command_line.non_negative_float, default=OUTSIDE_WEIGHT,
                            help="weight of what the warped segments put outside their masks, in the "
                                 f"alignment loss's units (default {OUTSIDE_WEIGHT:g}; 0: off)")
        training.add_output_rounding_argument(parser)

    script = training.NetworkScript(__doc__, EPOCHS, SAVE_EVERY, transformation.TRAIN_IMAGES,
                                    learning_rate=LEARNING_RATE, add_arguments=flow_options)
    training.main(script, training_phase, argv, train, test)


if __name__ == "__main__":
    command_line.run_cli(main)
