"""Image synthesis at level 4 (the original's 1024x2048).
Starts from level 2's newest checkpoint when it has none of its own.

Test (training_phase = False, or --test): testdata/synthesis/transform_order_1024/NAME.mat (canvas and
label) -> result/synthesis/transform_order_1024/NAME.png. Training (training_phase = True, or
--train): the canvases of data_prep/train_generate_synthesis.py --level 1024; checkpoints in
trainedmodels/synthesis/synthesis_1024/. See synthesis.py for both phases.
"""

# ---- configuration (as the original's first screen) -----------------------------------------
training_phase = False
LEVEL = 4               # sizes follow the data root's base_height
EPOCHS = 100
SETS = 2                # random training canvas sets drawn from (num_folder)
SAVE_EVERY = 200         # steps between checkpoints
# the contextual loss (Mechrez et al. 2018; the original's Todo item 2) added to the CRN loss, on
# the generated and real images' VGG features (contextual_loss.py); weight 0 = off, the original
CONTEXTUAL_WEIGHT = 0.0
CONTEXTUAL_LAYERS = ("conv3_2", "conv4_2")   # any of conv1_2 .. conv5_2
CONTEXTUAL_LAYER_WEIGHTS = (1.0, 1.0)        # one per layer, times its term (CoCosNet: 2, 4, 8 on conv3_2..5_2)
CONTEXTUAL_BANDWIDTH = 0.5                   # h
CONTEXTUAL_MAX_POSITIONS = 4096              # feature maps are average-pooled by 2 down to at most this


def learning_rate(epoch):   # the original's: 1e-4 throughout
    return 1e-4


import script_setup  # noqa: E402,F401  (first: data_prep on the path, TensorFlow loaded quietly)
import command_line  # noqa: E402
import synthesis  # noqa: E402

CONFIG = synthesis.Config(level=LEVEL, learning_rate=learning_rate, epochs=EPOCHS, sets=SETS,
                          save_every=SAVE_EVERY,
                          contextual=synthesis.ContextualLoss(CONTEXTUAL_WEIGHT, CONTEXTUAL_LAYERS,
                                                              CONTEXTUAL_BANDWIDTH, CONTEXTUAL_MAX_POSITIONS,
                                                              CONTEXTUAL_LAYER_WEIGHTS))


def main(argv=None):
    synthesis.main(CONFIG, training_phase, __doc__, argv)


if __name__ == "__main__":
    command_line.run_cli(main)
