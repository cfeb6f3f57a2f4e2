"""Another dataset through the whole pipeline: the eight Cityscapes samples with a coarser class
table (Cityscapes' seven categories), imported by prepare_dataset.py as class-index PNGs."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import class_table
import data_root
import file_io
import labels
import matlab_image_ops
import search_segments
import test_connect_component_mask
import test_generate_canvas
import test_generate_order
import test_generate_transform
import train_connect_component_mask
import train_generate_order
import train_generate_synthesis
import train_generate_transform
from conftest import error_lines, run_script, shared_path

CITY = "aachen"
# Cityscapes label ids of each category (the official labels' "category" column); 0..6 are void
CATEGORIES = {"flat": (7, 8, 9, 10), "construction": (11, 12, 13, 14, 15, 16), "object": (17, 18, 19, 20),
              "nature": (21, 22), "sky": (23,), "human": (24, 25), "vehicle": tuple(range(26, 34))}
COARSE_TABLE = {
    "classes": [{"name": "flat", "colour": [128, 64, 128], "train_id": 0},
                {"name": "construction", "colour": [70, 70, 70], "train_id": 1},
                {"name": "object", "colour": [153, 153, 153], "train_id": 2},
                {"name": "nature", "colour": [107, 142, 35], "train_id": 3},
                {"name": "sky", "colour": [70, 130, 180], "train_id": 4},
                {"name": "human", "colour": [220, 20, 60], "train_id": 5},
                {"name": "vehicle", "colour": [0, 0, 142], "train_id": 6}],
    "groups": {"thin": ["object"], "planar": ["flat"], "standing": ["object", "human", "vehicle"],
               "ground": ["flat"], "objects": ["construction", "object", "human", "vehicle"],
               "vehicles": ["vehicle"], "context_fill": ["flat", "construction", "nature", "sky"],
               "vegetation_band": ["nature"]},
    "order": ["sky", "construction", "nature", "flat", "object", "vehicle", "human"],
}


@pytest.fixture(scope="module")
def coarse_folders(module_folder):
    """images/, labels/ (coarse class-index PNGs) for six training and two test samples, and the table."""
    samples = shared_path("cityscapes_samples")
    folder = module_folder("coarse_import")
    lookup = np.full(256, 255, np.uint8)
    for train_id, category in enumerate(COARSE_TABLE["classes"]):
        lookup[list(CATEGORIES[category["name"]])] = train_id
    images = sorted((samples / "leftImg8bit" / "train" / CITY).glob("*_leftImg8bit.png"))
    for position, image in enumerate(images):
        split = "train" if position < 6 else "val"
        stem = image.name[: -len("_leftImg8bit.png")]
        label_ids = file_io.read_image(samples / "gtFine" / "train" / CITY / f"{stem}_gtFine_labelIds.png", channels=1)
        file_io.write_image(folder / split / "labels" / f"{stem}.png", lookup[label_ids])
        (folder / split / "images").mkdir(parents=True, exist_ok=True)
        shutil.copy(image, folder / split / "images" / f"{stem}.png")
    (folder / "coarse.json").write_text(json.dumps(COARSE_TABLE))
    return folder


def _import(folders, root, *extra):
    return run_script("data_prep/prepare_dataset.py", "--images", folders / "train" / "images",
                      "--labels", folders / "train" / "labels", "--val-images", folders / "val" / "images",
                      "--val-labels", folders / "val" / "labels", "--classes", folders / "coarse.json",
                      "--root", root, "--base-height", 32, *extra)


def test_the_coarse_dataset_runs_the_whole_pipeline(coarse_folders, tmp_path):
    root = tmp_path / "root"
    imported = _import(coarse_folders, root)
    assert imported.returncode == 0, imported.stderr
    classes = class_table.load_classes(root)
    assert classes.count == 7 and classes.names[6] == "vehicle"
    assert len(data_root.list_image_ids(root / "traindata" / "label_refine")) == 6
    assert data_root.list_image_ids(root / "testdata" / "label_refine") == [100001, 100002]
    label = labels.read_label(root / "traindata" / "label_refine" / "00000001.png", classes=classes)
    expected = file_io.read_image(coarse_folders / "train" / "labels" / "aachen_000000_000019.png", channels=1)
    np.testing.assert_array_equal(label, matlab_image_ops.resize_nearest(expected, (32, 64)))
    assert "no disparity map" in imported.stderr

    for step, arguments in [(train_connect_component_mask, []), (test_connect_component_mask, []),
                            (search_segments, []), (train_generate_order, []), (test_generate_transform, []),
                            (train_generate_transform, []), (test_generate_order, []),
                            (test_generate_transform, ["--level", "256"]),
                            (train_generate_synthesis, ["--level", "256", "--sets", "1"]),
                            (test_generate_canvas, ["--level", "256"])]:
        step.main(["--root", str(root)] + arguments)
    # one segment file per class of the table, and canvases labelled in its palette
    assert len(list((root / "traindata" / "original_segment").iterdir())) == 7
    canvas = file_io.load_mat(root / "testdata" / "synthesis" / "transform_order_256" / "00100001.mat", ["label"])
    assert labels.label_to_index(canvas["label"], classes)[1] == 0

    for script, arguments in [("python_code/transformation.py", ["--train", "--max-steps", 2]),
                              ("python_code/transformation.py", ["--test"]),
                              ("python_code/synthesis_256_512.py", ["--train", "--max-steps", 2, "--sets", 1]),
                              ("python_code/synthesis_256_512.py", ["--test"])]:
        run = run_script(script, "--root", root, *arguments)
        assert run.returncode == 0, f"{script} {arguments}: {run.stderr}"
    assert sorted(p.name for p in (root / "result" / "synthesis" / "transform_order_256").glob("*.png")) == [
        "00100001.png", "00100002.png"]
    # the networks have the table's channel counts: K + 5 = 12 inputs, K + 1 = 8 semantic logits
    for model, expected in [("transform", [3, 3, 12, 64]), ("synthesis/synthesis_256", [1, 1, 256, 8])]:
        shapes = [shape for shape in tf.train.load_checkpoint(str(root / "trainedmodels" / model))
                  .get_variable_to_shape_map().values() if len(shape) == 4]
        assert expected in shapes and [3, 3, 12, 64] in shapes and not any(shape[2] == 24 for shape in shapes)
        assert json.loads((root / "trainedmodels" / model / "classes.json").read_text())["classes"] == list(classes.names)


def test_a_model_trained_with_another_table_is_one_clear_error(coarse_folders, tmp_path):
    root = tmp_path / "root"
    assert _import(coarse_folders, root).returncode == 0
    model = root / "trainedmodels" / "order"
    model.mkdir(parents=True)
    (model / "classes.json").write_text(json.dumps({"classes": list(class_table.CITYSCAPES.names)}))
    run = run_script("python_code/order.py", "--test", "--root", root)
    (line,) = error_lines(run.stderr)
    assert "trained with 19 classes" in line and "table has 7" in line


def test_a_bad_class_table_or_a_missing_label_is_one_line(coarse_folders, tmp_path):
    bad = json.loads(json.dumps(COARSE_TABLE))
    bad["groups"]["vehicles"] = ["tram"]
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    run = run_script("data_prep/prepare_dataset.py", "--images", coarse_folders / "train" / "images",
                     "--labels", coarse_folders / "train" / "labels", "--classes", tmp_path / "bad.json",
                     "--root", tmp_path / "root")
    (line,) = error_lines(run.stderr)
    assert "bad.json: group 'vehicles' names unknown class 'tram'" in line
    run = run_script("data_prep/prepare_dataset.py", "--images", coarse_folders / "train" / "images",
                     "--labels", coarse_folders / "val" / "labels", "--classes", coarse_folders / "coarse.json",
                     "--root", tmp_path / "root")
    (line,) = error_lines(run.stderr)
    assert "label not found" in line


def test_colour_labels_import_through_the_palette(coarse_folders, tmp_path):
    table = class_table.from_description(COARSE_TABLE)
    colour_labels = tmp_path / "labels"
    for path in sorted((coarse_folders / "train" / "labels").glob("*.png")):
        file_io.write_image(colour_labels / path.name, labels.index_to_label(file_io.read_image(path, channels=1), table))
    root = tmp_path / "root"
    run = run_script("data_prep/prepare_dataset.py", "--images", coarse_folders / "train" / "images",
                     "--labels", colour_labels, "--classes", coarse_folders / "coarse.json", "--root", root,
                     "--base-height", 32)
    assert run.returncode == 0, run.stderr
    label = labels.read_label(root / "traindata" / "label_refine" / "00000001.png", classes=table)
    expected = file_io.read_image(coarse_folders / "train" / "labels" / "aachen_000000_000019.png", channels=1)
    np.testing.assert_array_equal(label, matlab_image_ops.resize_nearest(expected, (32, 64)))


# --- your own layouts ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def trained_demo_root(searched_small_root, module_folder):
    """A small demo root with every data step done and tiny trained models (a few steps each)."""
    from conftest import root_after_steps

    root = root_after_steps(searched_small_root, module_folder("own_layouts"), train_generate_order,
                            test_generate_transform, train_generate_transform, test_generate_order)
    test_generate_transform.main(["--root", str(root), "--level", "256"])
    train_generate_synthesis.main(["--root", str(root), "--level", "256", "--sets", "1"])
    test_generate_canvas.main(["--root", str(root), "--level", "256"])
    for script, arguments in [("python_code/transformation.py", ["--train", "--max-steps", 2]),
                              ("python_code/order.py", ["--train", "--max-steps", 2]),
                              ("python_code/synthesis_256_512.py", ["--train", "--max-steps", 2, "--sets", 1]),
                              ("python_code/synthesis_256_512.py", ["--test"])]:
        run = run_script(script, "--root", root, *arguments)
        assert run.returncode == 0, f"{script} {arguments}: {run.stderr}"
    return root


def _snapshot(folder):
    return {str(path.relative_to(folder)): path.stat().st_mtime_ns for path in folder.rglob("*") if path.is_file()}


def test_own_layouts_are_synthesized_and_a_bad_one_is_named_and_skipped(trained_demo_root, tmp_path):
    root = trained_demo_root
    before = {name: _snapshot(root / name) for name in ("testdata", "result", "traindata")}
    # a test layout repainted (a car block painted in, drawn at twice the size), and one with a stray colour
    layout = file_io.read_image(root / "testdata" / "label_refine" / "00100001.png")
    repainted = np.repeat(np.repeat(layout, 2, axis=0), 2, axis=1)
    repainted[30:50, 40:80] = class_table.CITYSCAPES.palette[13]
    layouts = tmp_path / "layouts"
    file_io.write_image(layouts / "street_with_car.png", repainted)
    stray = layout.copy()
    stray[0, 0] = (1, 2, 3)
    file_io.write_image(layouts / "stray_colour.png", stray)

    run = run_script("python_code/synthesize_layouts.py", "--layouts", layouts, "--root", root, "--level", 256,
                     "--out", tmp_path / "out")
    assert run.returncode == 0, run.stderr
    (line,) = error_lines(run.stderr)
    assert "stray_colour.png: 1 pixels have colours outside the class table; layout skipped" in line
    image = file_io.read_image(tmp_path / "out" / "street_with_car.png")
    assert image.shape == (32, 64, 3)
    assert not (tmp_path / "out" / "stray_colour.png").exists()
    assert file_io.read_image(tmp_path / "out" / "contact_sheet.jpg").shape[0] >= 128
    assert "00100001,street_with_car" in (tmp_path / "out" / "layouts.csv").read_text()
    # the work root's canvas holds the painted car: the layout it was made from has it
    canvas_label = file_io.load_mat(tmp_path / "out" / "work" / "testdata" / "synthesis" / "transform_order_256" /
                                   "00100001.mat", ["label"])["label"]
    assert (labels.label_to_index(canvas_label, class_table.CITYSCAPES)[0] == 13).sum() > 0
    # the root's own test set, results and training data are untouched
    assert {name: _snapshot(root / name) for name in ("testdata", "result", "traindata")} == before


def test_the_ordering_network_scores_each_class_of_the_table():
    from order_network import OrderNetwork

    classes = class_table.from_description(COARSE_TABLE)
    network = OrderNetwork(classes.count)
    logits = network(tf.zeros([2, 32, 64, 3]), tf.zeros([2, 32, 64, 3]))
    assert logits.shape == (2, classes.count + 1)


def test_a_missing_layouts_folder_is_one_line(tmp_path):
    (tmp_path / "dataset.json").write_text(json.dumps({"base_height": 32}))
    run = run_script("python_code/synthesize_layouts.py", "--layouts", tmp_path / "nowhere", "--root", tmp_path,
                     "--out", tmp_path / "out")
    (line,) = error_lines(run.stderr)
    assert "nowhere: folder not found" in line and not (tmp_path / "out").exists()


def test_an_exported_synthesis_model_tests_as_the_full_one_and_synthesizes_own_layouts(trained_demo_root, tmp_path):
    import export_model
    import synthesis_256_512

    root = tmp_path / "root"
    shutil.copytree(trained_demo_root, root)
    model = Path("trainedmodels") / "synthesis" / "synthesis_256"
    export_model.main(["--root", str(root), "--model", str(model)])
    assert (root / model / "exported_from.json").exists() and len(list((root / model).glob("ckpt-*.index"))) == 1
    synthesis_256_512.main(["--test", "--root", str(root)])   # redone from the export (another checkpoint)
    results = Path("result") / "synthesis" / "transform_order_256"
    for path in (trained_demo_root / results).glob("*.png"):
        assert (root / results / path.name).read_bytes() == path.read_bytes()
    layouts = tmp_path / "layouts"
    shutil.copy(root / "testdata" / "label_refine" / "00100001.png", layouts.mkdir() or layouts / "street.png")
    run = run_script("python_code/synthesize_layouts.py", "--layouts", layouts, "--root", root, "--level", 256,
                     "--out", tmp_path / "out")
    assert run.returncode == 0, run.stderr[-3000:]
    assert file_io.read_image(tmp_path / "out" / "street.png").shape == (32, 64, 3)
