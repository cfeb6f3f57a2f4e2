import csv
import shutil

import numpy as np

import prepare_cityscapes as prepare
import class_table
import data_root
import file_io
import labels
import matlab_image_ops
from conftest import error_lines, run_script, shared_path

CITY = "aachen"


def _sample_names():
    folder = shared_path("cityscapes_samples", "leftImg8bit", "train", CITY)
    return sorted(p.name[: -len("_leftImg8bit.png")] for p in folder.glob("*_leftImg8bit.png"))


def _make_download(tmp_path, val_names=(), disparity=False):
    """An official-layout tree from the shared samples: chosen names go to val, the rest to train."""
    samples = shared_path("cityscapes_samples")
    download = tmp_path / "cityscapes"
    for name in _sample_names():
        split = "val" if name in val_names else "train"
        for kind, suffix in (("leftImg8bit", "leftImg8bit"), ("gtFine", "gtFine_labelIds")):
            target = download / kind / split / CITY / f"{name}_{suffix}.png"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(samples / kind / "train" / CITY / f"{name}_{suffix}.png")
        if disparity:
            values = np.random.default_rng(len(name)).integers(1, 30000, (1024, 2048)).astype(np.uint16)
            values[:300] = 0  # invalid band
            file_io.write_image(download / "disparity" / split / CITY / f"{name}_disparity.png", values)
    return download


def test_labels_are_the_resized_train_classes_in_the_palette(tmp_path):
    names = _sample_names()
    download = _make_download(tmp_path, val_names=names[-2:])
    root = tmp_path / "root"
    prepare.main(["--cityscapes", str(download), "--root", str(root), "--base-height", "32"])

    lookup = prepare.label_id_lookup()
    for image_id, name, split in ((1, names[0], "train"), (100002, names[-1], "val")):
        label_ids = file_io.read_image(download / "gtFine" / split / CITY / f"{name}_gtFine_labelIds.png",
                                      channels=1)
        folder = root / ("traindata" if split == "train" else "testdata")
        for sub, shape in (("label_refine", (32, 64)), ("label_refine_512", (64, 128))):
            label = file_io.read_image(folder / sub / f"{image_id:08d}.png")
            expected_cars = matlab_image_ops.resize_nearest(label_ids == 26, shape)
            assert expected_cars.any()
            np.testing.assert_array_equal((label == class_table.CITYSCAPES.palette[13]).all(-1), expected_cars)
            index, unknown = labels.label_to_index(label, class_table.CITYSCAPES)
            assert unknown == 0
            np.testing.assert_array_equal(index, lookup[matlab_image_ops.resize_nearest(label_ids, shape)])
    assert (lookup[[7, 26, 33, 0, 29, 30]] == [0, 13, 18, 255, 255, 255]).all()  # caravan, trailer: void


def test_ids_follow_sorted_names_per_split_and_are_listed(tmp_path):
    names = _sample_names()
    download = _make_download(tmp_path, val_names=names[-2:])
    root = tmp_path / "root"
    prepare.main(["--cityscapes", str(download), "--root", str(root), "--base-height", "32"])
    assert data_root.list_image_ids(root / "traindata" / "RGB1024Full") == list(range(1, 7))
    assert data_root.list_image_ids(root / "testdata" / "RGB512Full") == [100001, 100002]
    assert file_io.read_image(root / "traindata" / "RGB1024Full" / "00000001.png").shape == (128, 256, 3)
    with open(root / "cityscapes_ids.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["id"], r["split"], r["name"]) for r in rows] == (
        [(f"{i + 1:08d}", "train", n) for i, n in enumerate(names[:-2])]
        + [(f"{100001 + i:08d}", "val", n) for i, n in enumerate(names[-2:])])


def test_images_are_area_resized(tmp_path):
    download = _make_download(tmp_path)
    root = tmp_path / "root"
    prepare.main(["--cityscapes", str(download), "--root", str(root), "--base-height", "32"])
    original = file_io.read_image(download / "leftImg8bit" / "train" / CITY / f"{_sample_names()[0]}_leftImg8bit.png")
    small = file_io.read_image(root / "traindata" / "RGB256Full" / "00000001.png").astype(float)
    # Each level-1 pixel is the mean of a 32x32 block of the 1024x2048 original.
    block_means = original.reshape(32, 32, 64, 32, 3).mean(axis=(1, 3))
    assert np.abs(small - block_means).max() <= 1.0


def test_disparity_is_resized_nearest_and_invalid_stays_invalid(tmp_path):
    download = _make_download(tmp_path, disparity=True)
    root = tmp_path / "root"
    prepare.main(["--cityscapes", str(download), "--root", str(root), "--base-height", "32"])
    name = _sample_names()[0]
    original = file_io.read_png16(download / "disparity" / "train" / CITY / f"{name}_disparity.png")
    stored = file_io.read_png16(root / "traindata" / "disparity" / "00000001.png")
    np.testing.assert_array_equal(stored, matlab_image_ops.resize_nearest(original, (32, 64)))
    assert (stored[:9] == 0).all() and (stored[10:] > 0).all()


def test_without_disparity_it_says_so_once_and_goes_on(tmp_path, caplog):
    download = _make_download(tmp_path)
    root = tmp_path / "root"
    prepare.main(["--cityscapes", str(download), "--root", str(root), "--base-height", "32"])
    warnings = [r for r in caplog.records if "no disparity map" in r.getMessage()]
    assert len(warnings) == 1
    assert not (root / "traindata" / "disparity").exists()
    assert len(data_root.list_image_ids(root / "traindata" / "label_refine")) == 8


def test_a_missing_download_folder_is_one_line(tmp_path):
    run = run_script("data_prep/prepare_cityscapes.py", "--cityscapes", tmp_path / "nowhere", "--root", tmp_path)
    assert run.returncode == 1
    assert error_lines(run.stderr) == [f"ERROR {tmp_path / 'nowhere'}: Cityscapes folder not found"]
    (tmp_path / "empty").mkdir()
    run = run_script("data_prep/prepare_cityscapes.py", "--cityscapes", tmp_path / "empty", "--root", tmp_path)
    assert run.returncode == 1 and len(error_lines(run.stderr)) == 1
    assert "leftImg8bit: folder not found" in run.stderr


def test_a_corrupt_png_is_one_line_and_nothing_is_half_written(tmp_path):
    download = _make_download(tmp_path)
    bad_name = _sample_names()[4]
    bad = download / "leftImg8bit" / "train" / CITY / f"{bad_name}_leftImg8bit.png"
    data = bad.read_bytes()
    bad.unlink()
    bad.write_bytes(data[: len(data) // 3])
    root = tmp_path / "root"
    run = run_script("data_prep/prepare_cityscapes.py", "--cityscapes", download, "--root", root,
                     "--base-height", "32")
    assert run.returncode == 1
    lines = error_lines(run.stderr)
    assert len(lines) == 1 and str(bad) in lines[0] and "cannot read image" in lines[0]
    written = [p for p in root.rglob("*") if p.is_file()]
    assert not [p for p in written if ".tmp-" in p.name]
    for path in written:
        if path.suffix == ".png":
            file_io.read_image(path)  # every file that exists is whole
    # Images before the bad one are finished, and a re-run after fixing it completes the set.
    assert data_root.list_image_ids(root / "traindata" / "RGB256Full") == [1, 2, 3, 4]
    bad.unlink()
    bad.write_bytes(data)
    prepare.main(["--cityscapes", str(download), "--root", str(root), "--base-height", "32"])
    assert len(data_root.list_image_ids(root / "traindata" / "RGB256Full")) == 8


def test_a_label_of_the_wrong_size_is_one_line(tmp_path):
    download = _make_download(tmp_path)
    name = _sample_names()[0]
    label = download / "gtFine" / "train" / CITY / f"{name}_gtFine_labelIds.png"
    small = file_io.read_image(label, channels=1)[::2, ::2]
    label.unlink()
    file_io.write_image(label, np.ascontiguousarray(small))
    run = run_script("data_prep/prepare_cityscapes.py", "--cityscapes", download, "--root", tmp_path / "root",
                     "--base-height", "32")
    assert run.returncode == 1
    assert error_lines(run.stderr) == [f"ERROR {label}: size is 512x1024, expected 1024x2048"]


def test_runs_from_inside_data_prep_as_the_original_scripts_did(tmp_path):
    download = _make_download(tmp_path)
    from conftest import REPO_ROOT
    run = run_script("data_prep/prepare_cityscapes.py", "--cityscapes", download, "--root", tmp_path / "root",
                     "--base-height", "32", "--workers", "2", cwd=REPO_ROOT / "data_prep")
    assert run.returncode == 0, run.stderr
    assert len(data_root.list_image_ids(tmp_path / "root" / "traindata" / "label_refine_512")) == 8
    shutil.rmtree(tmp_path / "root")
