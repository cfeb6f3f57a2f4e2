"""Import TensorFlow without its start-up noise on machines without a GPU.

TensorFlow's C++ side writes to the process's standard error before its log settings apply:
"Could not find cuda drivers" and "failed call to cuInit" (an ERROR line) on every CPU-only
machine, at every network step, which reads like a failure. import_tensorflow() captures what is
written to file descriptor 2 while TensorFlow loads and probes its devices, then passes on every
line except: lines below TF_CPP_MIN_LOG_LEVEL (its INFO = 0, WARNING = 1, ERROR = 2), the
banner about messages before absl::InitializeLog, and, only where the machine has no NVIDIA
device, the CUDA probing errors. Everything else, real errors included, still reaches stderr.
"""

import glob
import os
import re
import sys
import tempfile

# glog-style line: severity letter, MMDD, time, thread, file:line]
_LOG_LINE = re.compile(r"^([IWEF])\d{4} \d+:\d+:\d+\.\d+\s+\d+ \S+:\d+\] ")
_SEVERITY = {"I": 0, "W": 1, "E": 2, "F": 3}
_BANNER = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
_CUDA_PROBING = re.compile(r"cuInit|cuda drivers|cuda_platform|cuda_executor|cuda_diagnostics")


def has_nvidia_device():
    return bool(glob.glob("/dev/nvidia[0-9]*")) or os.path.exists("/proc/driver/nvidia/version")


def lines_to_show(text, min_level, gpu_present):
    """The captured start-up lines worth showing."""
    shown = []
    for line in text.splitlines():
        if line.strip() == _BANNER:
            continue
        match = _LOG_LINE.match(line)
        if match and _SEVERITY[match.group(1)] < min_level:
            continue
        if not gpu_present and _CUDA_PROBING.search(line) and (match is None or match.group(1) != "F"):
            continue
        shown.append(line)
    return shown


def import_tensorflow():
    """TensorFlow, imported and its devices listed, with the noise above filtered out."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    min_level = int(os.environ["TF_CPP_MIN_LOG_LEVEL"]) if os.environ["TF_CPP_MIN_LOG_LEVEL"].isdigit() else 0
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow as tf
            tf.config.list_physical_devices()   # the CUDA probing happens here, not at import
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            for line in lines_to_show(captured.read().decode(errors="replace"), min_level, has_nvidia_device()):
                print(line, file=sys.stderr)
    return tf
