"""Image synthesis at level 1 (the original's 256x512), the first of the coarse-to-fine networks.

Test (training_phase = False, or --test): testdata/synthesis/transform_order_256/NAME.mat (canvas and
label) -> result/synthesis/transform_order_256/NAME.png. Training (training_phase = True, or
--train): the canvases of data_prep/train_generate_synthesis.py --level 256; checkpoints in
trainedmodels/synthesis/synthesis_256/. See synthesis.py for both phases.
"""

# ---- configuration (as the original's first screen) -----------------------------------------
training_phase = False
LEVEL = 1               # sizes follow the data root's base_height
LEARNING_RATE = 1e-4
EPOCHS = 100
SAVE_EVERY = 200         # steps between checkpoints

import training  # noqa: E402,F401  (first: quiets TensorFlow's start-up, sets up the data_prep path)
import sims_common as common  # noqa: E402
import synthesis  # noqa: E402

CONFIG = synthesis.Config(level=LEVEL, learning_rate=LEARNING_RATE, epochs=EPOCHS, save_every=SAVE_EVERY)


def main(argv=None):
    synthesis.main(CONFIG, training_phase, __doc__, argv)


if __name__ == "__main__":
    common.run_cli(main)
