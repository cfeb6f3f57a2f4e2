"""The appearance-flow aligner: the flow warp, the network, what it learns that an affine warp
cannot, and the script's training and test phases."""

import shutil

import numpy as np
import pytest
import tensorflow as tf

import appearance_flow
import data_root
import errors
import file_io
import test_generate_transform
import train_generate_transform
import training
import transformation
from conftest import root_after_steps
from flow_network import FlowNetwork, batch_losses, spill, total_variation
from network_blocks import one_hot_labels
from spatial_transformer import affine_warp, flow_warp
from transform_network import TransformNetwork
from transform_network import batch_losses as affine_batch_losses

LEVEL2 = (64, 128)  # level 2 of a base-height-32 root


# --- the flow warp ------------------------------------------------------------------------------

def test_zero_offsets_reproduce_the_input_exactly():
    image = np.random.default_rng(0).random((2, 9, 13, 3)).astype(np.float32)
    np.testing.assert_array_equal(flow_warp(image, np.zeros((2, 9, 13, 2))).numpy(), image)


@pytest.mark.parametrize("dx, dy", [(3, 0), (-2, 1), (0, -4)])
def test_a_constant_offset_of_k_pixels_shifts_by_k_and_outside_is_zero(dx, dy):
    image = np.random.default_rng(1).uniform(0.1, 1, (1, 9, 13, 3)).astype(np.float32)
    offsets = np.broadcast_to(np.array([dx, dy], np.float32), (1, 9, 13, 2))
    warped = flow_warp(image, offsets).numpy()[0]
    expected = np.zeros_like(image[0])
    # output (row, col) samples (row + dy, col + dx)
    rows, cols = slice(max(0, -dy), 9 - max(0, dy)), slice(max(0, -dx), 13 - max(0, dx))
    expected[rows, cols] = image[0, max(0, dy):9 + min(0, dy), max(0, dx):13 + min(0, dx)]
    np.testing.assert_allclose(warped, expected, atol=1e-6)
    far = flow_warp(image, np.full((1, 9, 13, 2), 50.0, np.float32)).numpy()
    assert not far.any()


def test_gradients_reach_the_offsets_and_half_pixels_average():
    rng = np.random.default_rng(2)
    image = tf.constant(rng.random((1, 6, 8, 3)), tf.float32)
    offsets = tf.Variable(np.full((1, 6, 8, 2), 0.5, np.float32))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(flow_warp(image, offsets) * rng.random((1, 6, 8, 3)))
    gradient = tape.gradient(loss, offsets).numpy()
    assert np.isfinite(gradient).all() and (np.abs(gradient[0, :-1, :-1]) > 0).all()
    halfway = flow_warp(image, offsets).numpy()[0]
    np.testing.assert_allclose(halfway[2, 3], image.numpy()[0, 2:4, 3:5].mean(axis=(0, 1)), atol=1e-6)


# --- the network --------------------------------------------------------------------------------

def test_the_network_starts_at_the_identity_and_its_head_gets_gradients():
    rng = np.random.default_rng(3)
    network = FlowNetwork(19, input_scale=2)
    proposals = tf.constant(rng.random((3,) + LEVEL2 + (3,)), tf.float32)
    masks = tf.constant(rng.integers(0, 2, (3,) + LEVEL2 + (1,)), tf.float32)
    label = one_hot_labels(rng.integers(0, 19, (1,) + LEVEL2), 19)
    with tf.GradientTape() as tape:
        warped, offsets = network(proposals, masks, label)
        loss = tf.reduce_sum(tf.abs(warped - tf.roll(proposals, 1, axis=2)))
    assert offsets.shape == (3,) + LEVEL2 + (2,) and not offsets.numpy().any()
    np.testing.assert_array_equal(warped.numpy(), proposals.numpy())
    gradient = tape.gradient(loss, network.offset_weights)
    assert np.abs(gradient.numpy()).max() > 0
    assert {"g_flow_conv1/g_flow_conv1_1/weights:0", "g_flow_offsets/weights:0"} <= \
        {v.name for v in network.trainable_variables}


def test_the_smoothness_term_is_the_total_variation_of_the_offsets():
    offsets = np.zeros((2, 4, 5, 2), np.float32)
    offsets[1, :, 3:, 0] = 2.0   # one step of 2 pixels across, in dx
    np.testing.assert_allclose(total_variation(tf.constant(offsets)).numpy(), [0.0, 2.0 * 4 / (4 * 4 * 2)])


def test_the_outside_term_counts_what_the_warped_segment_puts_outside_its_mask():
    support = np.zeros((1, 2, 6, 8, 1), np.float32)   # one image, two proposals
    masks = np.zeros_like(support)
    support[0, 0, 1:3, 1:3] = 1.0    # 4 pixels, their mask the same place: nothing outside
    masks[0, 0, 1:3, 1:3] = 1.0
    support[0, 1, 3:5, 0:2] = 1.0    # 4 pixels, 2 of them moved off their mask by the flow below
    masks[0, 1, 3:5, 1:3] = 1.0
    offsets = np.zeros((2, 6, 8, 2), np.float32)
    offsets[1, ..., 0] = -1.0        # the second samples one pixel to its left: moved right, onto its mask
    np.testing.assert_allclose(spill(tf.constant(support), tf.constant(offsets), tf.constant(masks)).numpy(),
                               [255.0 * 0 / 9])
    offsets[1, ..., 0] = 0.0         # unmoved: its left column (2 pixels) lies outside its mask
    np.testing.assert_allclose(spill(tf.constant(support), tf.constant(offsets), tf.constant(masks)).numpy(),
                               [255.0 * 2 / 9])


def _bent_task(rng, count=4):
    """Segments (smooth blobs inside ellipses) and their targets: the same segments bowed sideways,
    by 6 pixels in the middle rows and none at the top and bottom (not an affine map)."""
    rows, cols = np.mgrid[0:LEVEL2[0], 0:LEVEL2[1]]
    bow = np.zeros(LEVEL2 + (2,), np.float32)
    bow[..., 0] = 6 * np.sin(np.pi * rows / LEVEL2[0])
    proposals, targets, reals = [], [], []
    for _ in range(count):
        image = np.zeros(LEVEL2 + (3,))
        for _ in range(8):
            row, col, spread = rng.uniform(0, LEVEL2[0]), rng.uniform(0, LEVEL2[1]), rng.uniform(3, 8)
            image += rng.uniform(0, 1, 3) * np.exp(-((rows - row) ** 2 + (cols - col) ** 2) / (2 * spread ** 2))[..., None]
        centre_row, centre_col = rng.uniform(29, 35), rng.uniform(58, 70)
        mask = (((rows - centre_row) / 22) ** 2 + ((cols - centre_col) / 40) ** 2 < 1).astype(np.float32)
        segment = np.clip(image, 0, 1) * mask[..., None]
        bent = flow_warp(np.concatenate([segment, mask[..., None]], axis=2)[None], bow[None]).numpy()[0]
        proposals.append(segment)
        targets.append(bent[..., 3] > 0.5)
        reals.append(bent[..., :3])
    return np.array(proposals, np.float32), np.array(targets), np.array(reals)


def _mask_iou(first, second):
    return np.mean(np.logical_and(first, second).sum(axis=(1, 2)) / np.logical_or(first, second).sum(axis=(1, 2)))


def test_a_short_run_bends_segments_that_the_affine_network_cannot_fit():
    proposals, targets, reals = _bent_task(np.random.default_rng(4))
    void = np.full((1,) + LEVEL2, 255, np.uint8)   # a layout without classes
    label = one_hot_labels(void, 19)
    shapes = (proposals.sum(axis=3, keepdims=True) > 0).astype(np.float32)
    masks = tf.constant(targets[..., None], tf.float32)
    reached = {}
    for kind in ("flow", "affine"):
        tf.random.set_seed(3)
        if kind == "flow":
            network = FlowNetwork(19, input_scale=2)
            losses = lambda batch: batch_losses(network, batch, 1.0)  # noqa: E731
        else:
            network = TransformNetwork(19, input_scale=2)
            losses = lambda batch: affine_batch_losses(network, batch)  # noqa: E731
        step = training.make_train_step(tf.distribute.get_strategy(), network, tf.keras.optimizers.Adam(1e-4), losses)
        for index in range(40):
            i = index % len(proposals)
            step({"proposals": np.round(proposals[None, i:i + 1] * 255).astype(np.uint8),
                  "masks": targets[None, i:i + 1].astype(np.uint8), "label_index": void,
                  "real_image": np.round(reals[i:i + 1] * 255).astype(np.uint8), "weight": tf.ones([1])})
        if kind == "flow":
            aligned = flow_warp(shapes, network.offsets(tf.constant(proposals), masks, label))
        else:
            aligned = affine_warp(shapes, network.parameters(tf.constant(proposals), masks, label))
        reached[kind] = _mask_iou(aligned.numpy()[..., 0] > 0.5, targets)
    unaligned = _mask_iou(shapes[..., 0] > 0, targets)
    # measured: flow 0.954, affine 0.855, unaligned 0.855
    assert reached["flow"] > 0.93 and reached["flow"] > reached["affine"] + 0.05, (reached, unaligned)


# --- the script ---------------------------------------------------------------------------------

def test_the_test_phase_handles_none_and_more_than_ten_proposals():
    """The fresh network is the identity: exact copies, last row and column included."""
    rng = np.random.default_rng(5)
    network = FlowNetwork(19, input_scale=2)
    warp = lambda proposals, masks, label: network(proposals, masks, label)[0]  # noqa: E731
    label = tf.zeros([1, 32, 64, 20])
    proposal = rng.integers(0, 256, (13, 32, 64, 3), dtype=np.uint8)
    mask = rng.integers(0, 2, (13, 32, 64), dtype=np.uint8)
    transferred = transformation.warp_in_chunks(warp, proposal, mask, label)
    assert transferred.dtype == np.uint8 and transferred.shape == proposal.shape
    np.testing.assert_array_equal(transferred, proposal)
    empty = transformation.warp_in_chunks(warp, proposal[:0], mask[:0], label)
    assert empty.shape == (0, 32, 64, 3) and empty.dtype == np.uint8


@pytest.fixture(scope="module")
def flow_root(searched_small_root, module_folder):
    return root_after_steps(searched_small_root, module_folder("flow"), train_generate_transform,
                            test_generate_transform)


def _variables(root):
    network = FlowNetwork(19, input_scale=2)
    tf.train.Checkpoint(network=network).restore(
        tf.train.latest_checkpoint(str(root / appearance_flow.MODEL_FOLDER))).expect_partial()
    return {v.name: v.numpy() for v in network.trainable_variables}


def test_training_resumes_where_it_stopped_and_the_test_phase_writes_results(flow_root, tmp_path):
    interrupted, straight = tmp_path / "interrupted", tmp_path / "straight"
    for root in (interrupted, straight):
        shutil.copytree(flow_root, root)
    options = ["--train", "--learning-rate", "1e-3"]   # large enough that the weights move visibly
    appearance_flow.main(["--root", str(interrupted), *options, "--max-steps", "2"])
    appearance_flow.main(["--root", str(interrupted), *options, "--max-steps", "4"])
    appearance_flow.main(["--root", str(straight), *options, "--max-steps", "4"])
    resumed, uninterrupted = _variables(interrupted), _variables(straight)
    for name, value in uninterrupted.items():
        np.testing.assert_allclose(resumed[name], value, rtol=1e-5, atol=1e-6, err_msg=name)
    assert np.abs(uninterrupted["g_flow_offsets/weights:0"]).max() > 0   # the offset head has left zero
    with pytest.raises(errors.DataError, match="--smoothness-weight 1.0, this run asks for 2.0"):
        appearance_flow.main(["--root", str(interrupted), *options, "--max-steps", "5", "--smoothness-weight", "2"])

    appearance_flow.main(["--root", str(interrupted), "--test"])
    for image_id in data_root.list_image_ids(interrupted / "testdata" / "label_refine"):
        name = data_root.image_name(image_id)
        count = len(transformation.read_proposals(test_generate_transform.output_file(interrupted, image_id)[0],
                                                  LEVEL2)[1])
        result = interrupted / appearance_flow.RESULT_FOLDER / f"{name}.mat"
        transferred = file_io.load_mat(result, ["transferred"])["transferred"]
        assert transferred.dtype == np.uint8 and transferred.size == count * LEVEL2[0] * LEVEL2[1] * 3
    assert not (interrupted / transformation.RESULT_FOLDER).exists()   # the transformer's results are its own


def test_a_missing_checkpoint_or_a_negative_weight_is_one_clear_error(tmp_path, capsys):
    # command_line.run_cli makes a DataError one line and a non-zero exit (the other scripts' tests run it)
    with pytest.raises(errors.DataError, match="appearance_flow: no checkpoint found; train the network first"):
        appearance_flow.main(["--test", "--root", str(tmp_path)])
    with pytest.raises(SystemExit):
        appearance_flow.main(["--train", "--root", str(tmp_path), "--smoothness-weight", "-0.5"])
    assert "--smoothness-weight: expected a number >= 0, got '-0.5'" in capsys.readouterr().err
