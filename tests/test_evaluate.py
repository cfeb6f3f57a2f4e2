"""The evaluation's LPIPS (zero for identical images, growing with the distortion) and its
|x - canvas| (the canvas' content only: neither the black gaps nor the white elision marks), and
the comparison with a reference folder (the authors' results)."""

import numpy as np
import pytest

import errors
import evaluate
import file_io
import folders


def test_lpips_is_zero_for_identical_images_and_grows_with_noise():
    rng = np.random.default_rng(0)
    rows, cols = np.mgrid[0:64, 0:128]
    image = np.stack([rows * 3, cols * 2, (rows + cols) % 256], axis=2).astype(np.float32)
    lpips = evaluate.Lpips()
    slightly = np.clip(image + rng.normal(0, 5, image.shape), 0, 255)
    heavily = np.clip(image + rng.normal(0, 60, image.shape), 0, 255)
    assert lpips(image, image) == 0
    assert 0 < lpips(image, slightly) < lpips(image, heavily)
    psnr, ssim, _ = evaluate.scores([slightly], [image], lpips)
    assert 25 < psnr < 40 and 0 < ssim < 1


def test_canvas_error_counts_only_the_canvas_content():
    canvas = np.zeros((4, 6, 3), np.uint8)
    canvas[:, :3] = (10, 20, 30)       # pasted content
    canvas[0, 0] = 255                 # an elision mark: painted over, not kept
    canvas[1, 4] = (0, 0, 5)           # content in a dark colour still counts
    image = np.full((4, 6, 3), 200, np.uint8)
    image[:, :3] = (13, 26, 39)        # content kept with an error of 3, 6, 9 (mean 6)
    image[1, 4] = (0, 0, 8)            # error 1 there
    content = evaluate.canvas_content(canvas)
    assert content.sum() == 11 + 1 and not content[0, 0] and content[1, 4]
    assert np.isclose(evaluate.canvas_error([image], [canvas]), (11 * 6 + 1) / 12)
    assert evaluate.canvas_error([canvas], [canvas]) == 0
    # an image whose canvas is empty is left out of the mean, and none at all gives nan
    empty = np.zeros_like(canvas)
    assert np.isclose(evaluate.canvas_error([image, image], [canvas, empty]), (11 * 6 + 1) / 12)
    assert np.isnan(evaluate.canvas_error([image], [empty]))


def test_canvas_error_with_a_margin_counts_only_pixels_that_far_inside_the_content():
    canvas = np.zeros((7, 9, 3), np.uint8)
    canvas[:, :6] = 100            # content: columns 0-5, a gap to the right of it
    canvas[3, 2] = 255             # an elision mark inside
    image = canvas.copy()
    image[:, 5] = 160              # the content's column next to the gap is off by 60
    # margin 1: all 41 content pixels, the 7 next to the gap wrong
    assert np.isclose(evaluate.canvas_error([image], [canvas]), 7 * 60 / 41)
    inner = evaluate.canvas_content(canvas, margin=2)
    # two or more steps from the gap and the mark; the image's border is not an edge
    assert not inner[:, 5:].any() and not inner[3, 2] and not inner[2, 2] and not inner[3, 1]
    assert inner[0, 0] and inner[3, 0] and inner[6, 4]
    assert evaluate.canvas_error([image], [canvas], margin=2) == 0
    assert inner.sum() == 7 * 5 - 5


def test_canvas_edge_sums_split_the_content_by_its_distance_from_gaps_and_elision_marks():
    canvas = np.zeros((5, 8, 3), np.uint8)
    canvas[:, :6] = 100            # content: columns 0-5, a gap (columns 6-7) to the right of it
    canvas[0, 0] = 255             # an elision mark in the corner
    image = canvas.astype(np.int16)
    image[:, 5] -= 30              # the column next to the gap pulled toward black by 30
    image[:, 4] += 12              # the next column off by 12 the other way
    sums = evaluate.canvas_edge_sums(np.clip(image, 0, 255).astype(np.uint8), canvas)
    assert list(sums) == list(evaluate.EDGE_BANDS)
    assert sums["next to a gap"] == (5, 5 * 30, -5 * 30)
    assert sums["next to an elision mark"] == (2, 0, 0)     # (0, 1) and (1, 0)
    assert sums["2 px from an edge"] == (5 + 3, 5 * 12, 5 * 12)   # column 4, and (0, 2), (1, 1), (2, 0)
    assert sums["3+ px inside"] == (14, 0, 0)               # columns 0-3 three or more steps from the mark
    assert sum(pixels for pixels, _, _ in sums.values()) == evaluate.canvas_content(canvas).sum()


def test_reference_compares_the_sims_images_with_another_folder_per_image_and_overall(tmp_path, capsys):
    root, reference = tmp_path / "root", tmp_path / "authors_results"
    ours = root / folders.synthesized("512")
    ours.mkdir(parents=True)
    reference.mkdir()
    rng = np.random.default_rng(4)
    image = rng.integers(10, 240, (8, 16, 3), dtype=np.uint8)
    file_io.write_image(ours / "00000001.png", image)
    file_io.write_image(reference / "00000001.png", image)            # identical
    shifted = image.copy()
    shifted[0, 0, 0] += 3                                              # one value 3 levels off
    file_io.write_image(ours / "00000002.png", image)
    file_io.write_image(reference / "00000002.png", shifted)
    file_io.write_image(ours / "00000003.png", image)                 # no reference image
    evaluate.main(["--root", str(root), "--level", "512", "--reference", str(reference)])
    lines = capsys.readouterr().out.splitlines()
    mean = 3 / image.size
    assert lines[0] == "00000001: max 0, mean 0.000, PSNR inf (identical)"
    assert lines[1] == f"00000002: max 3, mean {mean:.3f}, PSNR {10 * np.log10(255 ** 2 / (9 / image.size)):.2f} dB"
    assert lines[2] == f"all 2 images: max 3, mean {mean / 2:.3f}, PSNR {10 * np.log10(255 ** 2 / (4.5 / image.size)):.2f} dB"
    assert lines[3] == f"1 images not in {reference} (first: 00000003)"
    file_io.write_image(reference / "00000003.png", image[:4])
    with pytest.raises(errors.DataError, match="00000003.png: 4x16, .* is 8x16"):
        evaluate.main(["--root", str(root), "--level", "512", "--reference", str(reference)])
    with pytest.raises(errors.DataError, match="no image with the name of one"):
        evaluate.main(["--root", str(root), "--level", "1024", "--reference", str(reference)])
    with pytest.raises(errors.DataError, match="--level 1024: the table needs ground-truth"):
        evaluate.main(["--root", str(root), "--level", "1024"])
