"""Emission: a NetworkSpec rendered through Jinja templates into a vendorable .py and an ONNX graph."""
