"""TensorFlow's start-up noise stays out of the output on CPU-only machines; real errors do not."""

import subprocess
import sys

import pytest

import quiet_tensorflow
from conftest import REPO_ROOT

BANNER = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
INFO = "I0000 00:00:1795837201.466856    8631 port.cc:153] oneDNN custom operations are on."
CUDA_INFO = "I0000 00:00:1795837201.467000    8631 cudart_stub.cc:31] Could not find cuda drivers on your machine"
CUDA_ERROR = ("E0000 00:00:1795837203.801494    8631 cuda_platform.cc:52] failed call to cuInit: INTERNAL: "
              "CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)")
WARNING = "W0000 00:00:1795837203.9    8631 some_op.cc:12] a warning"
OTHER_ERROR = "E0000 00:00:1795837204.1    8631 direct_session.cc:90] a real failure"
PLAIN = "Traceback (most recent call last):"


def test_noise_is_dropped_and_real_errors_are_kept():
    text = "\n".join([BANNER, INFO, CUDA_INFO, CUDA_ERROR, WARNING, OTHER_ERROR, PLAIN])
    assert quiet_tensorflow.lines_to_show(text, min_level=2, gpu_present=False) == [OTHER_ERROR, PLAIN]
    assert quiet_tensorflow.lines_to_show(text, min_level=0, gpu_present=False) == [INFO, WARNING, OTHER_ERROR,
                                                                                  PLAIN]


def test_cuda_errors_are_kept_where_a_gpu_is_present():
    text = "\n".join([CUDA_INFO, CUDA_ERROR, OTHER_ERROR])
    assert quiet_tensorflow.lines_to_show(text, min_level=2, gpu_present=True) == [CUDA_ERROR, OTHER_ERROR]


def test_a_network_script_starts_without_cuda_noise():
    if quiet_tensorflow.has_nvidia_device():
        pytest.skip("this machine has an NVIDIA device: its CUDA messages are not noise")
    result = subprocess.run([sys.executable, "-c", "import script_setup; print('ready')"], cwd=REPO_ROOT / "python_code",
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and result.stdout.strip() == "ready", result.stderr
    for noise in ("cuInit", "cuda drivers", "absl::InitializeLog", "oneDNN"):
        assert noise not in result.stderr
