"""Bounds on every spec value, so a hostile spec cannot exhaust memory or time.

They admit every published RegNet up to RegNetY-128GF (widths to 7,392,
depth 27, 644 M params, 128 GF) with room to spare, and the paper's
design spaces (d < 64, w0 and wa < 256).
"""

MAX_STAGES = 8
MAX_STAGE_DEPTH = 128
MAX_TOTAL_DEPTH = 256
MAX_WIDTH = 16384
MAX_STEM_WIDTH = 1024
MAX_GROUP_WIDTH = MAX_WIDTH
MAX_BOTTLENECK_RATIO = 64.0
MIN_BOTTLENECK_RATIO = 1 / 64
MAX_STRIDE = 4
MAX_SE_RATIO = 1.0
MAX_CLASSES = 100_000
MAX_IN_CHANNELS = 64
MAX_RESOLUTION = 2048
MAX_PARAMS = 2_000_000_000
MAX_FLOPS = 2_000_000_000_000

MAX_W0 = 4096
MAX_WA = 4096.0
MAX_WM = 16.0
MAX_Q = 256

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
