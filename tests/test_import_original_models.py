"""Importing the authors' trained models: checkpoints in the original's format and folder layout,
with the variables (names and shapes, Adam's slots included) that the original's own graph code
creates. tests/original_variables.json lists them; benchmarks/compare_with_original.py
--list-variables wrote it from checkpoints the original's code made, so these tests need neither
the original nor its downloads (weights follow a seeded rule)."""

import argparse
import hashlib
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import class_table
import data_root
import errors
import import_original_models
import order
import training
from conftest import error_lines, run_script
from synthesis_network import SynthesisNetwork

ORIGINAL = json.loads((Path(__file__).parent / "original_variables.json").read_text())
MODEL_OF = {"order": "ordering network", "transformation": "transformation network", "synthesis_1": "synthesis level 1"}


def original_values(network, rng, with_slots=True):
    """Seeded values for the variables of one of the original's checkpoints."""
    values = {}
    for name, shape in ORIGINAL[network]["variables"].items():
        optimizer_variable = name.endswith(("/Adam", "/Adam_1")) or name in ("beta1_power", "beta2_power")
        if optimizer_variable and not with_slots:
            continue
        if name in ("beta1_power", "beta2_power"):
            values[name] = np.float32(0.9 ** 4 if name == "beta1_power" else 0.999 ** 4)   # after 3 steps
        elif name.endswith("/Adam_1"):
            values[name] = rng.uniform(0, 1e-4, shape).astype(np.float32)
        else:
            values[name] = rng.standard_normal(shape, dtype=np.float32) * 0.05
    return values


def write_original(models, network, values, folder=None):
    """A TF1 checkpoint as the original's Saver writes it: FOLDER/model.ckpt.{index,data-*} and a
    `checkpoint` file, in the original's layout under models."""
    folder = models / (folder or ORIGINAL[network]["folder"])
    folder.mkdir(parents=True, exist_ok=True)
    prefix = folder / "model.ckpt"
    tf.raw_ops.SaveV2(prefix=str(prefix), tensor_names=list(values), shape_and_slices=[""] * len(values),
                      tensors=[tf.constant(value) for value in values.values()])
    (folder / "checkpoint").write_text(f'model_checkpoint_path: "{prefix}"\nall_model_checkpoint_paths: "{prefix}"\n')
    return prefix


def restored(folder, network):
    tf.train.Checkpoint(network=network).restore(tf.train.latest_checkpoint(str(folder))).expect_partial()
    return {variable.name.split(":")[0]: variable.numpy() for variable in network.variables}


@pytest.fixture(scope="module")
def imported(module_folder):
    """The original's ordering network and transformer imported into a root (no dataset.json:
    Cityscapes' 19 classes, as the authors' models), and its level-1 synthesis network imported with
    --with-optimizer into the same root (one checkpoint of 56 million weights and their moments is
    enough disk for both questions)."""
    base = module_folder("import")
    models, root = base / "trainedmodels_of_the_original", base / "root"
    rng = np.random.default_rng(0)
    values, prefixes = {}, {}
    for network in MODEL_OF:
        values[network] = original_values(network, rng)
        prefixes[network] = write_original(models, network, values[network])
    level_1 = Path(prefixes["synthesis_1"]).parent.parent
    shutil.move(level_1, base / "level_1")
    import_original_models.main(["--models", str(models), "--root", str(root)])
    import_original_models.main(["--models", str(base / "level_1"), "--root", str(root), "--with-optimizer"])
    prefixes["synthesis_1"] = str(base / "level_1" / "0800" / "model.ckpt")
    return root, values, prefixes


def test_every_network_lands_in_the_folder_its_script_reads_with_the_originals_weights(imported):
    root, values, prefixes = imported
    classes = class_table.load_classes(root)
    for network, model_name in MODEL_OF.items():
        model = next(model for model in import_original_models.MODELS if model.name == model_name)
        folder = root / model.folder
        record = training.import_record(folder)
        assert record["network"] == model_name
        assert record["optimizer"] == ("imported (Adam's moments after 3 steps)" if network == "synthesis_1" else "dropped")
        assert record["index_sha256"] == hashlib.sha256(Path(f"{prefixes[network]}.index").read_bytes()).hexdigest()
        assert json.loads((folder / training.CLASSES_RECORD).read_text())["classes"] == list(classes.names)
        weights = restored(folder, model.build(classes.count))
        assert len(weights) == record["variables"] == sum(
            1 for name in values[network] if not name.endswith(("/Adam", "/Adam_1", "_power")))
        for name, value in weights.items():
            expected = values[network][name]
            if name.split("/")[0] in model.rgb_layers:   # BGR outputs reversed into RGB
                expected = expected[..., ::-1]
            np.testing.assert_array_equal(value, expected, err_msg=name)
    assert training.import_record(root / "trainedmodels" / "synthesis" / "synthesis_256")["bgr_to_rgb"] == ["g_256_conv100"]
    # the ordering network keeps the original's fixed pooling window, read by order.py
    args = argparse.Namespace(root=root, classes=classes, sizes=data_root.load_sizes(root))   # 256x512
    assert order.order_network(args).pool_window == [8, 12]
    with pytest.raises(errors.DataError, match="needs level-1 images of at least 256x384; this root's are 32x64"):
        order.order_network(argparse.Namespace(root=root, classes=classes, sizes=data_root.Sizes(32)))
    assert not [path for path in (root / "trainedmodels").rglob("*") if ".import-" in path.name]


def test_with_optimizer_adams_moments_and_step_count_come_along(imported):
    root, values, _ = imported
    values = values["synthesis_1"]
    folder = root / "trainedmodels" / "synthesis" / "synthesis_256"
    network = SynthesisNetwork(1, 19)
    optimizer = import_original_models.distribution.adam(1e-4)
    optimizer.build(network.trainable_variables)
    tf.train.Checkpoint(network=network, optimizer=optimizer).restore(
        tf.train.latest_checkpoint(str(folder))).expect_partial()
    assert int(optimizer.iterations.numpy()) == 3
    for variable in network.trainable_variables:
        name = variable.name.split(":")[0]
        index = optimizer._get_variable_index(variable)
        flip = (lambda x: x[..., ::-1]) if name.startswith("g_256_conv100") else (lambda x: x)
        np.testing.assert_array_equal(optimizer._momentums[index].numpy(), flip(values[f"{name}/Adam"]), err_msg=name)
        np.testing.assert_array_equal(optimizer._velocities[index].numpy(), flip(values[f"{name}/Adam_1"]),
                                      err_msg=name)


def test_a_second_import_into_the_same_root_refuses_in_one_line_and_keeps_the_model(imported, tmp_path):
    root, _, prefixes = imported
    before = (root / "trainedmodels" / "order" / "ckpt-0.index").read_bytes()
    result = run_script("python_code/import_original_models.py", "--models", Path(prefixes["order"]).parent.parent,
                        "--root", root)
    (line,) = error_lines(result.stderr)
    assert result.returncode == 1 and "already holds a model" in line and "move or delete" in line
    assert (root / "trainedmodels" / "order" / "ckpt-0.index").read_bytes() == before


@pytest.mark.parametrize("level, shape", [(2, (64, 128)), (4, (128, 256))])
def test_the_rgb_permutation_turns_a_bgr_network_into_an_rgb_one_and_changes_nothing_else(level, shape):
    """At level 4 the level-2 image feeds g_1024_conv100: its input channels are permuted too."""
    tf.random.set_seed(level)
    network = SynthesisNetwork(level, 3)
    rng = np.random.default_rng(level)
    for variable in network.variables:   # non-trivial gammas, betas and biases
        variable.assign(variable.numpy() + rng.normal(0, 0.1, variable.shape).astype(np.float32))
    label = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (1,) + shape)]
    canvas = rng.uniform(0, 1, (1,) + shape + (3,)).astype(np.float32)
    mask = (canvas[..., :1] > 0.5).astype(np.float32)
    before, logits_before = network(label, canvas, mask)
    model = next(model for model in import_original_models.MODELS if model.name == f"synthesis level {level}")
    values = import_original_models.bgr_to_rgb(model, {v.name.split(":")[0]: v.numpy() for v in network.variables})
    for variable in network.variables:
        variable.assign(values[variable.name.split(":")[0]])
    after, logits_after = network(label, canvas, mask)
    np.testing.assert_allclose(after.numpy(), before.numpy()[..., ::-1], atol=2e-3)
    np.testing.assert_allclose(logits_after.numpy(), logits_before.numpy(), atol=1e-4)


def _missing(values):
    del values["g_selection_conv6/LayerNorm/gamma"]


def _unexpected(values):
    values["g_selection_conv7/weights"] = np.zeros((1, 1, 4, 4), np.float32)


def _other_class_count(values):
    values["g_selection_classify/weights"] = np.zeros((1, 1, 1024, 31), np.float32)
    values["g_selection_classify/biases"] = np.zeros((31,), np.float32)


def _other_shape(values):
    values["g_selection_conv6/weights"] = np.zeros((1, 1, 256, 1024), np.float32)


@pytest.mark.parametrize("change, message", [
    (_missing, "ordering network without g_selection_conv6/LayerNorm/gamma"),
    (_unexpected, "g_selection_conv7/weights is not part of the port's ordering network"),
    (_other_class_count, "trained for 30 classes, the data root's class table has 19"),
    (_other_shape, "g_selection_conv6/weights is (1, 1, 256, 1024), the port's ordering network has (1, 1, 512, 1024)"),
])
def test_a_checkpoint_that_does_not_fit_is_one_clear_error_and_nothing_is_written(tmp_path, change, message):
    values = original_values("order", np.random.default_rng(2), with_slots=False)
    change(values)
    write_original(tmp_path / "models", "order", values)
    root = tmp_path / "root"
    with pytest.raises(errors.DataError, match=re.escape(message)):
        import_original_models.main(["--models", str(tmp_path / "models"), "--root", str(root)])
    assert not (root / "trainedmodels").exists() or not any((root / "trainedmodels").iterdir())


def test_no_checkpoint_an_unreadable_one_or_two_of_one_network_are_one_clear_error(tmp_path):
    models, root = tmp_path / "models", tmp_path / "root"
    models.mkdir()
    result = run_script("python_code/import_original_models.py", "--models", models, "--root", root)
    (line,) = error_lines(result.stderr)
    assert result.returncode == 1 and "no TensorFlow checkpoint" in line
    (models / "order" / "0100").mkdir(parents=True)
    (models / "order" / "0100" / "model.ckpt.index").write_bytes(b"not a checkpoint")
    with pytest.raises(errors.DataError, match="model.ckpt: not a checkpoint TensorFlow 2 can read"):
        import_original_models.main(["--models", str(models), "--root", str(root)])
    (models / "order" / "0100" / "model.ckpt.index").unlink()
    values = original_values("order", np.random.default_rng(3), with_slots=False)
    write_original(models, "order", values)
    write_original(models, "order", values, folder="order/0099")
    with pytest.raises(errors.DataError, match="a second checkpoint of the ordering network"):
        import_original_models.main(["--models", str(models), "--root", str(root)])
    assert not (root / "trainedmodels").exists()
