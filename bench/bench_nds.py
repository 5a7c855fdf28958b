"""`specgen analyze` of a generated NDS sweep file of 25,000 records (the issue's target: under 5 s,
report written) against a named baseline in the same run: the same models as specgen's own JSONL rows
(the format `specgen sweep export` writes), analyzed the same way. Prints both times and their ratio.

    python bench/bench_nds.py [--records 25000]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' record generator

from specgen.analysis.results import load_results
from specgen.cli import main as specgen
from tests import nds_records


def analyze(path: Path, out: Path) -> float:
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            specgen(["analyze", str(path), "-o", str(out)], standalone_mode=False)
        except SystemExit as e:
            if e.code:
                raise
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=25_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        nds = nds_records.write(folder / "ResNet.json", nds_records.sweep(args.records, "ResNet", nas=100))
        rows = [
            {"id": r.id, "space": r.space, "design": r.design, "flops": r.flops, "params": r.params}
            | {"spec": r.spec, "error": r.error, "status": r.status}
            for r in load_results(nds)
        ]
        jsonl = folder / "ResNet.jsonl"
        jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows))
        ours = analyze(nds, folder / "nds-report")
        baseline = analyze(jsonl, folder / "jsonl-report")
    print(f"NDS file of {args.records:,} records (+100 NAS): analyze {ours:.2f} s (target < 5 s)")
    print(f"baseline, the same models as specgen JSONL rows: {baseline:.2f} s; ratio {ours / baseline:.2f}x")


if __name__ == "__main__":
    main()
