"""Training emitted networks: data sources, the shared trainer, and the ONNX cross-check.

Importing this package imports torch; the CLI imports it only in `train` and `sweep`.
"""
