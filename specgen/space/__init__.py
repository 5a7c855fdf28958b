"""Design spaces (docs/reference.md §4): families of networks written as data, sampled and counted.

- `domains`: the values a parameter takes and how they are drawn;
- `schema`: the DesignSpace model and the checks the schema alone cannot state;
- `constraints/`: one class per constraint behind a registry, each carrying its schema,
  check, vectorized mask, error message, counting rule and Hypothesis strategy hook;
- `batch`: candidates as NumPy arrays, resolved and filtered by the constraints' masks;
- `spec_limits`: NetworkSpec's own limits, which every sample keeps;
- `sampler`, `sizes`, `validate`, `strategies`: drawing, counting, checking one spec, and
  Hypothesis strategies (public as `specgen.testing`), all through the constraint classes;
- `builtins`: the built-in spaces (specs/spaces/) and loading a space by name or path.
"""
