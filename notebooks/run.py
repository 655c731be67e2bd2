"""Run the retraining notebook headless: no browser, no Jupyter server (so it runs as root).

    python notebooks/run.py [--out build/retrain.ipynb] [--timeout 1800]

Each code cell runs in a fresh kernel, from the repository's root folder, as in
JupyterLab; the text each cell prints is shown as it finishes, and the executed copy
(outputs and plots included) is written to ``--out``. The committed notebook is left as
it is (without outputs). The notebook's settings come from the environment as usual
(``MQLML_CONFIG``, ``MQLML_OUT``, ``MLFLOW_TRACKING_URI``, ``MQLML_REGISTER=1`` to log,
register and promote). Exit code 0 when every cell ran, 1 when one failed (its error
shown), 2 for a bad argument. ``make notebook-run`` runs this.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "retrain.ipynb"


def _text(cell) -> str:
    """What a cell printed and the plain text of its results, as a terminal shows it."""
    parts = []
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            parts.append(out.get("text", ""))
        elif out.output_type in ("execute_result", "display_data"):
            data = out.get("data", {})
            if "image/png" in data:
                parts.append("[a plot: see the executed notebook]\n")
            elif "text/markdown" in data:
                parts.append(data["text/markdown"] + "\n")
            elif "text/plain" in data:
                parts.append(data["text/plain"] + "\n")
        elif out.output_type == "error":
            parts.append("\n".join(out.get("traceback", [])) + "\n")
    return "".join(parts)


def main(argv: list[str] | None = None) -> int:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    parser = argparse.ArgumentParser(description="Run notebooks/retrain.ipynb headless.")
    parser.add_argument("--notebook", type=Path, default=NOTEBOOK, help="the notebook to run")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "build" / "retrain.ipynb", help="executed copy"
    )
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    args = parser.parse_args(argv)
    if args.out.resolve() == args.notebook.resolve():
        parser.error("--out must not be the notebook itself: it is committed without outputs")
    nb = nbformat.read(args.notebook, as_version=4)
    client = NotebookClient(
        nb,
        timeout=args.timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(ROOT)}},
    )
    failed = False
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                if cell.source.startswith("#"):
                    print(f"\n{cell.source.splitlines()[0]}", flush=True)
                continue
            try:
                client.execute_cell(cell, index)
            except CellExecutionError:
                failed = True
            print(_text(cell), end="", flush=True)
            if failed:
                print(f"cell {index} failed; the cells after it did not run", file=sys.stderr)
                break
    args.out.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, args.out)
    print(f"\nthe executed notebook, plots included: {args.out}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
