"""A data root's sizes, its dataset.json and its image ids."""

import json

import pytest

import data_root
import errors


@pytest.mark.parametrize("base_height", [32, 64, 96, 128, 160, 192, 224, 256])
def test_sizes_derive_from_base_height(base_height):
    sizes = data_root.Sizes(base_height)
    assert sizes.shape(1) == (base_height, 2 * base_height)
    assert sizes.shape(2) == (2 * base_height, 4 * base_height)
    assert sizes.shape(4) == (4 * base_height, 8 * base_height)
    assert sizes.area_threshold == pytest.approx(1000 * base_height ** 2 / 256 ** 2)


def test_area_threshold_is_the_original_at_256():
    assert data_root.Sizes(256).area_threshold == 1000


@pytest.mark.parametrize("bad", [0, 16, 48, 100, -32])
def test_sizes_reject_heights_that_are_not_multiples_of_32(bad):
    with pytest.raises(errors.DataError, match="multiple of 32"):
        data_root.Sizes(bad)


def test_load_sizes_defaults_to_256_and_reads_dataset_json(tmp_path):
    assert data_root.load_sizes(tmp_path).base_height == 256
    (tmp_path / "dataset.json").write_text(json.dumps({"base_height": 64}))
    assert data_root.load_sizes(tmp_path).base_height == 64


def test_load_sizes_reports_a_broken_dataset_json_by_name(tmp_path):
    (tmp_path / "dataset.json").write_text("{not json")
    with pytest.raises(errors.DataError, match="dataset.json: not a valid"):
        data_root.load_sizes(tmp_path)
    (tmp_path / "dataset.json").write_text(json.dumps({"base_height": 50}))
    with pytest.raises(errors.DataError, match="dataset.json: base_height must be"):
        data_root.load_sizes(tmp_path)


def test_write_dataset_json_refuses_to_mix_datasets(tmp_path):
    data_root.write_dataset_json(tmp_path, data_root.Sizes(64), source="demo")
    data_root.write_dataset_json(tmp_path, data_root.Sizes(64), source="demo")  # same: fine
    with pytest.raises(errors.DataError, match="base_height=64"):
        data_root.write_dataset_json(tmp_path, data_root.Sizes(32), source="demo")
    assert json.loads((tmp_path / "dataset.json").read_text())["base_height"] == 64


def test_list_image_ids_sorts_ids_and_reports_a_missing_folder(tmp_path):
    for name in ("00000010.png", "00000002.png", "notes.txt", "00100001.png"):
        (tmp_path / name).write_bytes(b"")
    assert data_root.list_image_ids(tmp_path) == [2, 10, 100001]
    with pytest.raises(errors.DataError, match="missing: folder not found"):
        data_root.list_image_ids(tmp_path / "missing")
