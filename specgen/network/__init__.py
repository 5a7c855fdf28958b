"""The network core: a spec resolves to stages of blocks behind a stem, and is counted.

`spec` (the concrete AnyNet network), `regnet` (the paper's quantized linear rule, resolved to
a spec), `layers` (the vocabulary every block and stem is described in), `blocks` and `stems`
(one module per type behind a registry), `complexity` (flops, params, acts). It imports nothing
else of specgen but `errors`.
"""
