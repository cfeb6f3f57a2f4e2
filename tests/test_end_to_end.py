"""The whole demo at tiny scale through run_demo.sh itself: every step's files, the final images and
the evaluation (protocol, table and its JSON record) of the quick preset, then --long on the same
root, which keeps what the quick run finished and adds level 512; then the evaluation with a user's
segmenter and an Inception-like graph."""

import hashlib
import json

import numpy as np
import pytest

import class_table
import data_root
import evaluate
import file_io
import folders
import labels
from conftest import TINY_DEMO_TEST as TEST, TINY_DEMO_TRAIN as TRAIN
from conftest import error_lines, run_script, run_tiny_demo, small_disk
from test_feature_distances import write_inception_like_graph
from test_segmentation import RoadEverywhere, export


@pytest.fixture(scope="module")
def demo_run(module_folder):
    root = module_folder("end_to_end")
    return root, run_tiny_demo(root)


def _names(folder, suffix):
    return sorted(path.name for path in folder.glob(f"*{suffix}"))


def test_every_step_wrote_its_files(demo_run):
    root, _ = demo_run
    train_names = [f"{data_root.image_name(i)}" for i in range(1, TRAIN + 1)]
    test_names = [f"{data_root.image_name(data_root.FIRST_TEST_ID + i)}" for i in range(TEST)]
    for folder, names, suffix in (
            ("traindata/original_segment/14", train_names, ".mat"),
            ("testdata/original_mask/01", test_names, ".mat"),
            ("testdata/searched_top10_segments/03", test_names, ".mat"),
            ("traindata/order", train_names, ".mat"),
            ("testdata/transform/transform_512", test_names, ".mat"),
            ("traindata/transform/transform_512/02", train_names, ".mat"),
            ("result/transform/transform_512", test_names, ".mat"),
            ("testdata/order", test_names, ".mat"),
            ("result/order/data", test_names, ".mat"),
            ("traindata/synthesis/traindata_synthesis_256_512/traindata_mat/05", train_names, ".mat"),
            ("traindata/synthesis/traindata_synthesis_256_512/traindata_label/05", train_names, ".png"),
            ("testdata/transform/transform_256", test_names, ".mat"),
            ("testdata/synthesis/transform_order_256", test_names, ".mat"),
            ("testdata/synthesis/transform_order_256_canvas", test_names, ".jpg"),
            ("result/synthesis/transform_order_256", test_names, ".png"),
            ("result/synthesis_parametric/transform_order_256", test_names, ".png"),
            ("result/segmentation/segmentation_256", test_names, ".png"),
            ("result/contact_sheets", test_names, ".jpg")):
        assert _names(root / folder, suffix) == [name + suffix for name in names], folder
    assert (root / "traindata" / "order.mat").exists() and (root / "traindata" / "order_frequency.mat").exists()
    for model in ("transform", "order", "synthesis/synthesis_256", "synthesis_parametric/synthesis_256",
                  "segmentation/segmentation_256"):
        assert list((root / "trainedmodels" / model).glob("ckpt-2.index")), model
    # the quick preset stops at level 256
    assert not (root / "trainedmodels" / "synthesis" / "synthesis_512").exists()
    assert not (root / "testdata" / "synthesis" / "transform_order_512").exists()


def _check_final_images_and_table(root, result, level):
    shape = data_root.load_sizes(root).shape(level)
    level_name = {1: "256", 2: "512"}[level]
    images = list((root / "result" / "synthesis" / f"transform_order_{level_name}").glob("*.png"))
    assert len(images) == TEST
    for path in images:
        image = file_io.read_image(path)
        assert image.shape == shape + (3,) and image.std() > 0
    # label | canvas | SIMS | parametric | ground truth, enlarged to at least 128 pixels high
    overview = file_io.read_image(root / "result" / "overview.jpg")
    factor = -(-128 // shape[0])
    assert overview.shape[1] == 5 * factor * shape[1] + 4 * 4 and overview.shape[0] >= TEST * factor * shape[0]
    methods = ("SIMS (canvas + synthesis)", "parametric (empty canvas)", "canvas alone")
    record = json.loads((root / folders.evaluation_record(level_name)).read_text())
    rows, protocol = record["rows"], record["protocol"]
    assert list(rows) == [*methods, evaluate.REAL_ROW]
    for method in methods:
        figures = rows[method]
        assert figures["images"] == TEST and 0 < figures["psnr"] < 100 and -1 <= figures["ssim"] <= 1
        assert 0 <= figures["lpips"] < 2 and 0 <= figures["canvas_error"] <= 255 and figures["vgg16_fd"] > -1e-6
        assert 0 <= figures["miou"] <= 1 and 0 <= figures["pixel_accuracy"] <= 1 and 0 <= figures["miou_revised"] <= 1
        assert set(figures["iou"]) == set(class_table.CITYSCAPES.names)
    assert rows["canvas alone"]["canvas_error"] == 0   # the canvas alone keeps its canvas exactly
    real = rows[evaluate.REAL_ROW]
    assert "psnr" not in real and "miou_revised" not in real and {"vgg16_fd", "vgg16_kid", "miou"} <= set(real)
    assert protocol["test_images"] == TEST and protocol["resolution"] == f"{shape[0]}x{shape[1]}"
    assert protocol["level"] == level_name and len(protocol["classes"]) == 19 and protocol["inception"] is None
    assert "own segmenter" in protocol["segmenter"]
    assert any("fewer than the 512 features" in warning for warning in record["warnings"])
    printed = result.stdout.splitlines()
    assert any(line.startswith(f"protocol: level {level_name}, compared at {shape[0]}x{shape[1]}") for line in printed)
    header = next(line for line in printed if line.startswith("method"))
    assert all(title in header for title in ("LPIPS", "FD-VGG16", "KID-VGG16", "mIoU", "pixel acc", "mIoU revised"))
    assert all(any(line.startswith(row) for line in printed) for row in rows)


def test_the_final_images_and_the_evaluation(demo_run):
    root, result = demo_run
    assert "preset quick" in result.stderr and "evaluate.py --level 256" in result.stderr
    _check_final_images_and_table(root, result, 1)


def test_a_full_disk_during_the_evaluation_leaves_whole_files_and_a_rerun_finishes(demo_run):
    root, _ = demo_run
    sheets = root / folders.CONTACT_SHEETS
    written = {path.name: path.read_bytes() for path in sheets.iterdir()}
    with small_disk(sheets, sum(map(len, written.values())) // 2) as grow:   # hides the written sheets
        result = run_script("python_code/evaluate.py", "--root", root, "--level", "256")
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
        (line,) = error_lines(result.stderr)
        assert str(sheets) in line and "disk is full" in line
        assert {path.name for path in sheets.iterdir()} < set(written)
        assert all(path.read_bytes() == written[path.name] for path in sheets.iterdir())
        grow(4 * sum(map(len, written.values())))
        assert run_script("python_code/evaluate.py", "--root", root, "--level", "256").returncode == 0
        assert {path.name: path.read_bytes() for path in sheets.iterdir()} == written


def test_long_on_the_same_root_keeps_the_quick_runs_work_and_adds_level_512(demo_run):
    root, _ = demo_run
    before = {path: path.read_bytes() for path in (root / "result" / "synthesis").rglob("*.png")}
    longer = run_tiny_demo(root, "--long")
    assert "preset long" in longer.stderr and "already there" in longer.stderr
    assert {path: (root / path).read_bytes() for path in before} == before
    for model in ("synthesis/synthesis_512", "synthesis_parametric/synthesis_512", "appearance_flow"):
        assert list((root / "trainedmodels" / model).glob("ckpt-2.index")), model
    flow_results = sorted((root / "result" / "transform" / "appearance_flow_512").glob("*.mat"))
    assert [path.name for path in flow_results] == \
        sorted(path.name for path in (root / "result" / "transform" / "transform_512").glob("*.mat"))
    _check_final_images_and_table(root, longer, 2)


def test_the_evaluation_with_a_users_segmenter_and_an_inception_graph(demo_run, tmp_path, capsys):
    root, _ = demo_run
    classes = class_table.load_classes(root)
    inception_file = tmp_path / "classify_image_graph_def.pb"
    write_inception_like_graph(inception_file)
    saved = export(RoadEverywhere(classes.count), tmp_path / "road_everywhere")
    evaluate.main(["--root", str(root), "--level", "256", "--segmenter", str(saved), "--inception", str(inception_file)])
    record = json.loads((root / folders.evaluation_record("256")).read_text())
    # every pixel labelled road: road's IoU is its share of the labelled layout pixels, every other
    # class present in the layouts scores 0
    shape = data_root.load_sizes(root).shape(1)
    layouts = [labels.read_label(path, classes, shape=shape) for path in sorted((root / folders.TEST_LABELS).glob("*.png"))]
    labelled = np.concatenate([layout[layout < classes.count] for layout in layouts])
    road_share = np.mean(labelled == 0)
    for row, figures in record["rows"].items():
        assert figures["iou"]["road"] == pytest.approx(road_share), row
        assert figures["miou"] == pytest.approx(road_share / len(np.unique(labelled))), row
        assert figures["pixel_accuracy"] == pytest.approx(road_share), row
        assert np.isfinite(figures["inception_fd"]) and np.isfinite(figures["inception_kid"]), row
    protocol = record["protocol"]
    assert protocol["segmenter"] == f"SavedModel {saved}"
    assert protocol["inception"]["sha256"] == hashlib.sha256(inception_file.read_bytes()).hexdigest()
    header = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("method"))
    assert "FID" in header.split() and "KID" in header.split()
