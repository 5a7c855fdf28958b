"""Design-space analysis (docs/reference.md §6): error EDFs, KS comparisons, bootstrap ranges,
quantized linear fits, and the `specgen analyze` report built from them.

Nothing here imports torch: analysis reads results, it never builds networks.
"""
