"""The evaluation's LPIPS: zero for identical images, growing with the distortion."""

import numpy as np

import evaluate


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
