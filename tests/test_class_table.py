"""Class tables: the built-in Cityscapes table is the original's, the shipped tables load, and
every kind of bad table is one clear line naming dataset.json."""

import copy
import json

import numpy as np
import pytest
import scipy.io

import class_table
import errors
import file_io
import labels
from conftest import error_lines, run_script, shared_path


def test_the_cityscapes_table_is_the_originals_palette_and_order():
    palette = file_io.load_mat(shared_path("sims_reference", "mapping.mat"), ["mapping"])["mapping"]
    order = file_io.load_mat(shared_path("sims_reference", "order.mat"), ["order"])["order"].ravel()
    table = class_table.CITYSCAPES
    assert table.count == 19
    np.testing.assert_array_equal(table.palette, np.asarray(palette, np.uint8).reshape(-1, 3)[:19])
    assert table.order == tuple(int(c) for c in order)
    assert table.ids("thin") == (6, 7, 8) and table.ids("vegetation_band") == (9,)


def test_a_root_without_a_table_is_cityscapes_and_a_table_replaces_it(tmp_path):
    assert class_table.load_classes(tmp_path) is class_table.CITYSCAPES
    (tmp_path / "dataset.json").write_text(json.dumps({"base_height": 32}))
    assert class_table.load_classes(tmp_path) is class_table.CITYSCAPES
    ade = json.loads((class_table.DATASETS_FOLDER / "ade20k_150.json").read_text())
    (tmp_path / "dataset.json").write_text(json.dumps({"base_height": 32, "classes": ade}))
    table = class_table.load_classes(tmp_path)
    assert table.count == 150 and table.names[0] == "wall" and table.train_ids[0] == 1
    assert table.order[0] == table.names.index("sky") + 1
    assert len({tuple(colour) for colour in table.palette}) == 150


def test_labels_map_through_the_table():
    table = class_table.from_description({"classes": [{"name": "ground", "colour": [10, 20, 30]},
                                                      {"name": "thing", "colour": [200, 0, 0]}]})
    index = np.array([[0, 1], [255, 1]], np.uint8)
    label = labels.index_to_label(index, table)
    np.testing.assert_array_equal(label[0, 0], [10, 20, 30])
    back, unknown = labels.label_to_index(label, table)
    np.testing.assert_array_equal(back, index)
    assert unknown == 0
    label[1, 0] = (1, 2, 3)
    assert labels.label_to_index(label, table)[1] == 1
    assert table.order == (1, 2) and table.ids("thin") == ()


def _cityscapes():
    return class_table.CITYSCAPES.description()


def _with(change):
    description = copy.deepcopy(_cityscapes())
    change(description)
    return description


BAD_TABLES = [
    (lambda d: d["classes"][3].update(colour=[128, 64, 128]), "classes 'road' and 'wall' have the same colour"),
    (lambda d: d["classes"][3].pop("colour"), "class 'wall': no colour"),
    (lambda d: d["classes"][3].update(colour=[0, 0, 0]), "class 'wall': colour (0, 0, 0) is void"),
    (lambda d: d["classes"][3].update(colour=[300, 0, 0]), "is not three whole numbers 0..255"),
    (lambda d: d["classes"][3].update(name="road"), "classes 'road' and 'road' have the same name"),
    (lambda d: d["classes"][3].update(train_id=0), "classes 'road' and 'wall' have the same train_id 0"),
    (lambda d: d["groups"]["thin"].append("lamp post"), "group 'thin' names unknown class 'lamp post'"),
    (lambda d: d["groups"].update(shiny=["road"]), "unknown group 'shiny'"),
    (lambda d: d["order"].pop(), '"order" must list every class once'),
    (lambda d: d.update(classes=[]), '"classes" must be a non-empty list'),
]


@pytest.mark.parametrize("change, message", BAD_TABLES)
def test_a_bad_table_is_one_line_naming_the_file(tmp_path, change, message):
    path = tmp_path / "dataset.json"
    path.write_text(json.dumps({"base_height": 32, "classes": _with(change)}))
    with pytest.raises(errors.DataError) as error:
        class_table.load_classes(tmp_path)
    assert str(error.value).startswith(f"{path}: classes: ") and message in str(error.value)
    assert "\n" not in str(error.value)


def test_a_step_reports_a_bad_table_in_one_line(tmp_path):
    (tmp_path / "dataset.json").write_text(json.dumps({"base_height": 32, "classes": _with(
        lambda d: d["classes"][3].update(colour=[128, 64, 128]))}))
    (tmp_path / "testdata" / "label_refine").mkdir(parents=True)
    result = run_script("data_prep/test_connect_component_mask.py", "--root", tmp_path)
    assert result.returncode != 0
    (line,) = error_lines(result.stderr)
    assert "dataset.json: classes: classes 'road' and 'wall' have the same colour" in line


def test_the_written_out_cityscapes_table_gives_byte_identical_outputs(tmp_path):
    import make_demo_dataset
    from test_step_files import STEPS

    roots = [tmp_path / "built_in", tmp_path / "table"]
    for root in roots:
        make_demo_dataset.main(["--root", str(root), "--train", "10", "--test", "2", "--base-height", "32",
                                "--seed", "4"])
    description = json.loads((roots[1] / "dataset.json").read_text())
    description["classes"] = json.loads((class_table.DATASETS_FOLDER / "cityscapes.json").read_text())
    (roots[1] / "dataset.json").write_text(json.dumps(description))
    assert class_table.load_classes(roots[1]) is not class_table.CITYSCAPES
    for root in roots:
        for step, arguments in STEPS:
            step.main(["--root", str(root)] + arguments)
    files = [sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file() and p.name != "dataset.json"
                    and "segment_index" not in p.parts) for root in roots]
    assert files[0] == files[1] and len(files[0]) > 300
    for relative in files[0]:
        assert (roots[0] / relative).read_bytes() == (roots[1] / relative).read_bytes(), relative


# --- the original's palette and class order ---------------------------------------------------

def test_palette_equals_original_mapping():
    mapping = scipy.io.loadmat(shared_path("sims_reference", "mapping.mat"))["mapping"]
    np.testing.assert_array_equal(class_table.CITYSCAPES.palette, mapping)


def test_palette_starts_the_original_colormap():
    colormap = scipy.io.loadmat(shared_path("sims_reference", "cityscapes_colormap.mat"))["colormap"]
    np.testing.assert_array_equal(np.round(colormap[:19] * 255).astype(np.uint8), class_table.CITYSCAPES.palette)


def test_class_order_is_the_original_order_and_follows_from_its_frequencies():
    order = scipy.io.loadmat(shared_path("sims_reference", "order.mat"))["order"].ravel().tolist()
    frequency = scipy.io.loadmat(shared_path("sims_reference", "order_frequency.mat"))["frequency"]
    assert list(class_table.CITYSCAPES.order) == order
    assert list(class_table.class_order_from_frequency(frequency, class_table.CITYSCAPES.order)) == order
