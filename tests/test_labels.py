"""Colour labels and class index maps: the palette, void, unknown colours and the round trip."""

import numpy as np

import class_table
import file_io
import labels


def test_label_to_index_maps_palette_void_and_unknown_colours():
    label = np.zeros((2, 21, 3), np.uint8)
    label[0, :19] = class_table.CITYSCAPES.palette
    label[0, 19] = (0, 0, 0)          # void
    label[0, 20] = (1, 2, 3)          # not in the palette
    label[1, :] = (128, 64, 128)      # road
    label[1, 3] = (128, 64, 129)      # one step away from road: unknown
    index, unknown = labels.label_to_index(label, class_table.CITYSCAPES)
    assert index.dtype == np.uint8
    assert index[0, :19].tolist() == list(range(19))
    assert index[0, 19] == 255 and index[0, 20] == 255
    assert index[1, 3] == 255 and (np.delete(index[1], 3) == 0).all()
    assert unknown == 2  # black is void, not unknown


def test_index_to_label_inverts_label_to_index():
    rng = np.random.default_rng(1)
    index = rng.integers(0, 20, (16, 32)).astype(np.uint8)
    index[index == 19] = 255
    label = labels.index_to_label(index, class_table.CITYSCAPES)
    assert label.shape == (16, 32, 3) and label.dtype == np.uint8
    assert (label[index == 255] == 0).all()
    back, unknown = labels.label_to_index(label, class_table.CITYSCAPES)
    np.testing.assert_array_equal(back, index)
    assert unknown == 0


def test_read_label_warns_about_colours_outside_the_palette(tmp_path, caplog):
    label = np.zeros((4, 4, 3), np.uint8)
    label[0, 0] = (1, 1, 1)
    file_io.write_image(tmp_path / "l.png", label)
    index = labels.read_label(tmp_path / "l.png", class_table.CITYSCAPES)
    assert (index == 255).all()
    assert "1 pixels have colours outside the palette" in caplog.text
