"""The spatial transformer: its data steps, the warp, the network, training and the test phase."""

import shutil

import numpy as np
import pytest
import tensorflow as tf

import class_table
import data_root
import file_io
import test_generate_transform
import train_generate_transform
import training
import transformation
from conftest import error_lines, root_after_steps, run_script
from network_blocks import layer_norm, one_hot_labels
from spatial_transformer import IDENTITY, affine_warp
from transform_network import TransformNetwork, batch_losses, transform_loss

LEVEL2 = (64, 128)  # level 2 of a base-height-32 root


def _smooth_blobs(rng, height, width, count=6):
    """A smooth random image in [0, 1]: a few coloured Gaussian blobs."""
    rows, cols = np.mgrid[0:height, 0:width]
    image = np.zeros((height, width, 3))
    for _ in range(count):
        centre_row, centre_col, spread = rng.uniform(0, height), rng.uniform(0, width), rng.uniform(3, 8)
        blob = np.exp(-((rows - centre_row) ** 2 + (cols - centre_col) ** 2) / (2 * spread ** 2))
        image += rng.uniform(0, 1, 3) * blob[:, :, None]
    return np.clip(image, 0, 1).astype(np.float32)


# --- the warp -----------------------------------------------------------------------------------

def test_identity_warp_returns_the_input_when_clamping():
    images = np.random.default_rng(0).random((3, 9, 14, 5)).astype(np.float32)
    warped = affine_warp(images, np.tile(IDENTITY, (3, 1)), outside="clamp")
    np.testing.assert_allclose(warped.numpy(), images, atol=1e-6)


def test_the_original_sampler_blanks_the_last_row_and_column_even_under_the_identity():
    """The original clips the neighbour indices but weights by the unclipped point: at x = W-1
    both weights are 0, so its identity warp loses the last column and row."""
    images = np.random.default_rng(0).random((2, 9, 14, 3)).astype(np.float32) + 0.1
    warped = affine_warp(images, np.tile(IDENTITY, (2, 1))).numpy()
    np.testing.assert_allclose(warped[:, :-1, :-1], images[:, :-1, :-1], atol=1e-6)
    assert not warped[:, -1].any() and not warped[:, :, -1].any()


@pytest.mark.parametrize("shift_x, shift_y", [(2, -1), (-3, 4), (0, 1)])
def test_an_integer_translation_shifts_by_exactly_those_pixels(shift_x, shift_y):
    images = np.random.default_rng(1).random((2, 12, 16, 3)).astype(np.float32) + 0.1
    theta = np.array([[1, 0, shift_x, 0, 1, shift_y]] * 2, np.float32)
    # output(row, col) samples input(row + shift_y, col + shift_x)
    rows, cols = np.arange(12) + shift_y, np.arange(16) + shift_x
    clamped = affine_warp(images, theta, outside="clamp").numpy()
    np.testing.assert_allclose(clamped, images[:, np.clip(rows, 0, 11)][:, :, np.clip(cols, 0, 15)], atol=1e-6)
    # the original: black wherever the source point is off the image (or on its last row or column)
    inside = ((rows >= 0) & (rows < 11))[:, None] & ((cols >= 0) & (cols < 15))[None, :]
    expected = images[:, np.clip(rows, 0, 11)][:, :, np.clip(cols, 0, 15)] * inside[None, :, :, None]
    np.testing.assert_allclose(affine_warp(images, theta).numpy(), expected, atol=1e-6)


def _original_sampler(image, theta):
    """Plain-loop reference of the original's bilinear sampling for one HxWxC image."""
    height, width = image.shape[:2]
    warped = np.zeros_like(image)
    for row in range(height):
        for col in range(width):
            x_t, y_t = col - width // 2, row - height // 2
            x = theta[0] * x_t + theta[1] * y_t + theta[2] + width // 2
            y = theta[3] * x_t + theta[4] * y_t + theta[5] + height // 2
            x0, y0 = int(np.floor(x)), int(np.floor(y))
            x0c, x1c = min(max(x0, 0), width - 1), min(max(x0 + 1, 0), width - 1)
            y0c, y1c = min(max(y0, 0), height - 1), min(max(y0 + 1, 0), height - 1)
            warped[row, col] = ((x1c - x) * (y1c - y) * image[y0c, x0c] + (x1c - x) * (y - y0c) * image[y1c, x0c]
                                + (x - x0c) * (y1c - y) * image[y0c, x1c] + (x - x0c) * (y - y0c) * image[y1c, x1c])
    return warped


def test_the_default_warp_equals_the_original_sampler_for_a_general_affine_map():
    image = np.random.default_rng(5).random((10, 16, 2)).astype(np.float32)
    theta = np.array([1.1, 0.15, 2.6, -0.2, 0.9, -1.3], np.float32)
    np.testing.assert_allclose(affine_warp(image[None], theta[None]).numpy()[0], _original_sampler(image, theta),
                               atol=1e-5)


def test_scaling_is_about_the_image_centre():
    images = np.random.default_rng(2).random((1, 11, 11, 1)).astype(np.float32)
    warped = affine_warp(images, [[2, 0, 0, 0, 2, 0]]).numpy()
    assert warped[0, 5, 5, 0] == pytest.approx(images[0, 5, 5, 0])   # the centre stays
    assert warped[0, 6, 7, 0] == pytest.approx(images[0, 7, 9, 0])   # (+1, +2) samples (+2, +4)


def test_gradients_reach_the_six_parameters():
    image = _smooth_blobs(np.random.default_rng(3), 24, 32)[None]
    target = tf.constant(np.roll(image, 1, axis=2))
    theta = tf.Variable([[1.05, 0.02, 0.3, -0.03, 0.97, 0.2]])
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.abs(affine_warp(image, theta) - target))
    gradient = tape.gradient(loss, theta).numpy()
    assert np.all(np.abs(gradient) > 1e-6), gradient


def test_the_network_starts_at_the_identity_and_its_head_gets_gradients():
    rng = np.random.default_rng(4)
    network = TransformNetwork(19, input_scale=2)
    proposals = tf.constant(np.stack([_smooth_blobs(rng, 32, 64) for _ in range(3)]))
    masks = tf.ones([3, 32, 64, 1])
    label = tf.constant(one_hot_labels(rng.integers(0, 20, (32, 64)), 19)[None], tf.float32)
    real = tf.constant(np.roll(proposals.numpy()[:1], 2, axis=2) * 255.0)
    with tf.GradientTape() as tape:
        warped, theta = network(proposals, masks, label)
        loss = transform_loss(real, warped[None], masks[None])
    np.testing.assert_allclose(theta.numpy(), np.tile(IDENTITY, (3, 1)), atol=1e-6)
    np.testing.assert_allclose(warped.numpy()[:, :-1, :-1], proposals.numpy()[:, :-1, :-1], atol=1e-6)
    weights_gradient, bias_gradient = tape.gradient(loss, [network.affine_weights, network.affine_bias])
    assert np.all(np.abs(bias_gradient.numpy()) > 0)
    assert np.abs(weights_gradient.numpy()).max() > 0


def test_variables_keep_the_original_scopes():
    names = {v.name for v in TransformNetwork(19).trainable_variables}
    for expected in ("g_transform_conv1/g_transform_conv1_1/weights:0",
                     "g_transform_conv1/g_transform_conv1_1/LayerNorm/gamma:0",
                     "g_transfrom_conv2/g_transfrom_conv2_2/LayerNorm/beta:0",
                     "g_transform_conv5/g_transform_conv5_3/weights:0",
                     "g_transform_param:0", "g_b_fc1:0"):
        assert any(name.endswith(expected) for name in names), expected
    assert len(names) == 13 * 3 + 2


def test_layer_norm_matches_a_numpy_reference():
    rng = np.random.default_rng(5)
    x = rng.normal(3.0, 2.0, (4, 5, 6, 7)).astype(np.float32)
    gamma, beta = rng.normal(size=7).astype(np.float32), rng.normal(size=7).astype(np.float32)
    mean = x.mean(axis=(1, 2, 3), keepdims=True)
    variance = x.var(axis=(1, 2, 3), keepdims=True)
    expected = (x - mean) / np.sqrt(variance + 1e-12) * gamma + beta
    np.testing.assert_allclose(layer_norm(x, gamma, beta).numpy(), expected, rtol=1e-4, atol=1e-4)


def test_the_loss_is_the_mean_absolute_error_inside_the_masks():
    rng = np.random.default_rng(6)
    warped = rng.random((2, 4, 5, 3)).astype(np.float32)
    masks = np.zeros((2, 4, 5, 1), np.float32)
    masks[0, :2] = 1
    masks[1, 2:, :3] = 1
    real = rng.random((1, 4, 5, 3)).astype(np.float32) * 255
    composite = (warped * masks).sum(axis=0) * 255
    covered = masks.sum(axis=0)[:, :, 0] > 0
    expected = np.abs(composite - real[0]).mean(axis=2)[covered].sum() / (covered.sum() + 1)
    assert transform_loss(real, warped[None], masks[None]).numpy() == pytest.approx([expected], rel=1e-5)
    # padding proposals (empty masks) changes nothing; a batch holds each image's own loss
    padded = np.concatenate([warped, rng.random((3, 4, 5, 3)).astype(np.float32)])[None]
    padded_masks = np.concatenate([masks, np.zeros((3, 4, 5, 1), np.float32)])[None]
    both = transform_loss(np.concatenate([real, real * 0]), np.concatenate([padded, padded]),
                          np.concatenate([padded_masks, padded_masks])).numpy()
    assert both[0] == pytest.approx(expected, rel=1e-5) and both[1] > both[0]


def test_short_training_recovers_a_shift():
    """Targets are the proposals moved by (3, -2) pixels: training must learn to undo it."""
    rng = np.random.default_rng(7)
    tf.random.set_seed(7)
    shift_x, shift_y = 3, -2
    images = np.stack([_smooth_blobs(rng, 32, 64) for _ in range(4)])
    proposals = np.roll(images, (shift_y, shift_x), axis=(1, 2))
    masks = np.zeros((4, 32, 64, 1), np.float32)
    masks[:, 6:26, 12:52] = 1
    void = np.full((1, 32, 64), 255, np.uint8)   # a layout without classes
    network = TransformNetwork(19, input_scale=2)
    train_step = training.make_train_step(tf.distribute.get_strategy(), network, tf.keras.optimizers.Adam(1e-3),
                                           lambda batch: batch_losses(network, batch))
    losses = []
    for step in range(60):
        i = step % 4
        batch = {"proposals": np.round(proposals[None, i:i + 1] * 255).astype(np.uint8),
                 "masks": masks[None, i:i + 1, :, :, 0].astype(np.uint8), "label_index": void,
                 "real_image": np.round(images[i:i + 1] * 255).astype(np.uint8), "weight": tf.ones([1])}
        losses.append(float(train_step(batch)[0]["loss"]))
    assert np.mean(losses[-8:]) < 0.4 * np.mean(losses[:4])
    _, theta = network(tf.constant(proposals), tf.constant(masks), one_hot_labels(void, 19))
    np.testing.assert_allclose(theta.numpy()[:, 2], shift_x, atol=1.0)
    np.testing.assert_allclose(theta.numpy()[:, 5], shift_y, atol=1.0)


# --- the data steps -----------------------------------------------------------------------------

def test_perturb_moves_a_segment_by_at_most_its_scale_and_shift():
    rng = np.random.default_rng(8)
    mask = np.zeros((64, 128), bool)
    mask[20:40, 30:70] = True
    pixels = np.where(mask[:, :, None], np.array([0.5, 0.4, 0.6]), 0.0)
    for _ in range(20):
        moved = train_generate_transform.perturb(pixels, mask, rng)
        rows, cols = np.nonzero(moved.sum(axis=2) > 0.25)
        height, width = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
        assert 0.88 * 20 <= height <= 1.12 * 20 and 0.88 * 40 <= width <= 1.12 * 40
        # shifts reach size/32 (+ rounding); columns are centred with the row length, as the original
        assert abs(rows.mean() - 29.5) <= 22 / 32 + 1.5
        assert abs(cols.mean() - 49.5) <= 44 / 32 + 1.5 + (width - height) / 2


@pytest.fixture(scope="module")
def transform_root(searched_small_root, module_folder):
    return root_after_steps(searched_small_root, module_folder("transform"), train_generate_transform, test_generate_transform)


def test_training_pairs_hold_true_cuts_and_their_perturbations(transform_root):
    sizes = data_root.load_sizes(transform_root)
    checked = 0
    for image_id in data_root.list_image_ids(transform_root / "traindata" / "RGB512Full"):
        image = file_io.read_image(transform_root / "traindata" / "RGB512Full" / f"{data_root.image_name(image_id)}.png",
                                  shape=LEVEL2)
        for path in train_generate_transform.output_files(transform_root, image_id):
            content = file_io.load_mat(path, ["proposal", "mask", "proposal_gt"])
            proposal, mask, truth = transformation.read_proposals(path, LEVEL2) + (content["proposal_gt"],)
            truth = truth.reshape(proposal.shape)
            assert proposal.dtype == mask.dtype == truth.dtype == np.uint8
            np.testing.assert_array_equal(truth, image * mask[..., None])
            for j in range(len(mask)):
                assert mask[j].sum() * 4 > sizes.area_threshold
                checked += 1
    assert checked > 20


def test_two_sets_differ_and_a_rerun_is_identical(transform_root, tmp_path):
    first, second = train_generate_transform.output_files(transform_root, 1)
    one = file_io.load_mat(first, ["proposal"])["proposal"]
    two = file_io.load_mat(second, ["proposal"])["proposal"]
    assert one.shape == two.shape and not np.array_equal(one, two)
    copy = tmp_path / "root"
    shutil.copytree(transform_root, copy)
    shutil.rmtree(copy / "traindata" / "transform")
    train_generate_transform.main(["--root", str(copy)])
    np.testing.assert_array_equal(file_io.load_mat(train_generate_transform.output_files(copy, 1)[0],
                                                  ["proposal"])["proposal"], one)


def test_test_inputs_hold_every_segment_once_in_class_order(transform_root):
    order = class_table.class_order(transform_root, class_table.CITYSCAPES)
    train_ids = data_root.list_image_ids(transform_root / "traindata" / "RGB256Full")
    for image_id in data_root.list_image_ids(transform_root / "testdata" / "label_refine"):
        path = test_generate_transform.output_file(transform_root, image_id)[0]
        names = ["proposal", "mask", "class", "proposal_iou", "proposal_pole_mask", "response_index",
                 "original_index", "mask_remained", "class_remained", "original_index_remained", "all_class_flag"]
        content = file_io.load_mat(path, names)
        proposal, mask = transformation.read_proposals(path, LEVEL2)
        count = len(mask)
        classes = content["class"].ravel()
        remained_classes = content["class_remained"].ravel()
        flags = content["all_class_flag"].reshape(-1, 2)
        assert len(classes) == count and content["proposal_iou"].size == count
        assert content["response_index"].size == count and content["original_index"].size == count
        assert sorted(flags[flags[:, 0] == 1, 1]) == list(range(1, count + 1))
        assert sorted(flags[flags[:, 0] == 2, 1]) == list(range(1, len(remained_classes) + 1))
        visited = [classes[i - 1] if kind == 1 else remained_classes[i - 1] for kind, i in flags]
        assert visited == sorted(visited, key=order.index)
        for j in range(count):
            source_id = train_ids[int(content["response_index"].ravel()[j]) - 1]
            source = file_io.read_image(transform_root / "traindata" / "RGB512Full" /
                                       f"{data_root.image_name(source_id)}.png", shape=LEVEL2)
            shape = proposal[j].sum(axis=2) > 0
            assert shape.any()
            np.testing.assert_array_equal(proposal[j][shape], source[shape])
            assert 0 < content["proposal_iou"].ravel()[j] <= 1


# --- the network script -------------------------------------------------------------------------

def test_the_test_phase_handles_none_and_more_than_ten_proposals():
    """The fresh network is the identity, and rounded parameters warp whole pixels: exact copies
    (but for the last row and column, which the original's sampler leaves black)."""
    rng = np.random.default_rng(9)
    network = TransformNetwork(19, input_scale=2)
    label = tf.zeros([1, 32, 64, 20])
    proposal = rng.integers(0, 256, (13, 32, 64, 3), dtype=np.uint8)
    mask = rng.integers(0, 2, (13, 32, 64), dtype=np.uint8)
    transferred = transformation.transform_image(network, proposal, mask, label)
    assert transferred.dtype == np.uint8 and transferred.shape == proposal.shape
    np.testing.assert_array_equal(transferred[:, :-1, :-1], proposal[:, :-1, :-1])
    assert not transferred[:, -1].any() and not transferred[:, :, -1].any()
    empty = transformation.transform_image(network, proposal[:0], mask[:0], label)
    assert empty.shape == (0, 32, 64, 3) and empty.dtype == np.uint8


def test_parameters_are_rounded_at_test_time_unless_switched_off():
    rng = np.random.default_rng(10)
    network = TransformNetwork(19, input_scale=2, outside="clamp")
    network.affine_bias.assign([1.0, 0.0, 0.4, 0.0, 1.0, 0.0])   # a shift of 0.4 pixels rounds to none
    label = tf.zeros([1, 32, 64, 20])
    proposal = rng.integers(0, 256, (2, 32, 64, 3), dtype=np.uint8)
    mask = np.ones((2, 32, 64), np.uint8)
    np.testing.assert_array_equal(transformation.transform_image(network, proposal, mask, label), proposal)
    unrounded = transformation.transform_image(network, proposal, mask, label, round_parameters=False)
    expected = np.round(0.6 * proposal[:, :, :-1].astype(float) + 0.4 * proposal[:, :, 1:])
    np.testing.assert_allclose(unrounded[:, :, :-1], expected, atol=1)


def _variables(root):
    network = TransformNetwork(19, input_scale=2)
    tf.train.Checkpoint(network=network).restore(
        tf.train.latest_checkpoint(str(root / "trainedmodels" / "transform"))).expect_partial()
    return [v.numpy() for v in network.trainable_variables]


def test_training_resumes_where_it_stopped_and_the_test_phase_writes_results(transform_root, tmp_path):
    interrupted, straight = tmp_path / "interrupted", tmp_path / "straight"
    for root in (interrupted, straight):
        shutil.copytree(transform_root, root)
    transformation.main(["--train", "--root", str(interrupted), "--max-steps", "2"])
    second = run_script("python_code/transformation.py", "--train", "--root", interrupted, "--max-steps", 4)
    assert second.returncode == 0, second.stderr
    assert "resuming from" in second.stderr and "(step 2)" in second.stderr
    transformation.main(["--train", "--root", str(straight), "--max-steps", "4"])
    for resumed, uninterrupted in zip(_variables(interrupted), _variables(straight)):
        np.testing.assert_allclose(resumed, uninterrupted, rtol=1e-5, atol=1e-6)
    logs = list((interrupted / "trainedmodels" / "transform" / "logs").glob("events.out.tfevents.*"))
    tags = {value.tag for path in logs for event in tf.compat.v1.train.summary_iterator(str(path))
            for value in event.summary.value}
    assert "loss" in tags

    transformation.main(["--test", "--root", str(interrupted)])
    for image_id in data_root.list_image_ids(interrupted / "testdata" / "label_refine"):
        name = data_root.image_name(image_id)
        inputs = test_generate_transform.output_file(interrupted, image_id)[0]
        count = len(transformation.read_proposals(inputs, LEVEL2)[1])
        result = interrupted / "result" / "transform" / "transform_512" / f"{name}.mat"
        transferred = file_io.load_mat(result, ["transferred"])["transferred"]
        assert transferred.dtype == np.uint8 and transferred.size == count * LEVEL2[0] * LEVEL2[1] * 3


def test_a_missing_checkpoint_is_one_clear_error(tmp_path):
    result = run_script("python_code/transformation.py", "--test", "--root", tmp_path)
    assert result.returncode != 0
    (line,) = error_lines(result.stderr)
    assert str(tmp_path / "trainedmodels" / "transform") in line and "--train" in line


def test_the_written_pixels_are_truncated_as_the_originals_unless_rounded():
    rng = np.random.default_rng(11)
    network = TransformNetwork(19, input_scale=2, outside="clamp")
    network.affine_bias.assign([1.0, 0.0, 0.4, 0.0, 1.0, 0.0])   # a blend of neighbours: fractions to cut
    label = tf.zeros([1, 32, 64, 20])
    proposal = rng.integers(0, 256, (2, 32, 64, 3), dtype=np.uint8)
    mask = np.ones((2, 32, 64), np.uint8)
    warped, _ = network(tf.constant(proposal / 255.0, tf.float32), tf.ones([2, 32, 64, 1]), label, False)
    values = np.clip(warped.numpy() * 255.0, 0, 255)
    truncated = transformation.transform_image(network, proposal, mask, label, round_parameters=False)
    rounded = transformation.transform_image(network, proposal, mask, label, round_parameters=False, round_output=True)
    np.testing.assert_array_equal(truncated, values.astype(np.uint8))   # the original's np.uint8(x * 255.0)
    np.testing.assert_array_equal(rounded, np.round(values).astype(np.uint8))
    assert (rounded != truncated).any()
