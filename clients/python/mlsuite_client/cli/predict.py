"""`mlsuite predict MODEL --input in.csv [--output out.csv]`: CSV in, CSV out."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mlsuite_client.cli._arg_types import int_range
from mlsuite_client.cli._trainer_common import err, trainer_client, usage_errors
from mlsuite_client.trainer import MAX_PREDICT_BATCH
from mlsuite_client.trainer_types import FeatureColumn

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["register", "columns_from_frame"]

_TRUE = {"true", "1", "yes", "t", "y"}
_FALSE = {"false", "0", "no", "f", "n"}


def _bad(column: str, row: int, value: object, expected: str) -> ValueError:
    # row counts data rows from 1, as a spreadsheet shows them below the header.
    return ValueError(f"column {column!r}, row {row + 1}: {value!r} is not {expected}")


def _cells(frame: pd.DataFrame, feature: FeatureColumn) -> list[object]:
    """One column's values in the type the model's schema asks for; missing values are None."""
    import pandas as pd

    raw = frame[feature.name]
    missing = raw.isna() | (raw.astype("string").str.strip() == "")
    if feature.dtype in ("int64", "double"):
        numbers = pd.to_numeric(raw.where(~missing), errors="coerce")
        bad = numbers.isna() & ~missing
        if bad.any():
            row = int(bad.to_numpy().nonzero()[0][0])
            raise _bad(feature.name, row, raw.iloc[row], "a number")
        pairs = zip(numbers.tolist(), missing.tolist(), strict=True)
        return [None if m or math.isnan(v) else float(v) for v, m in pairs]
    if feature.dtype == "bool":
        cells: list[object] = []
        for row, (value, m) in enumerate(zip(raw.tolist(), missing.tolist(), strict=True)):
            text = "" if m else str(value).strip().lower()
            if not m and text not in _TRUE | _FALSE:
                raise _bad(feature.name, row, value, "true or false")
            cells.append(None if m else text in _TRUE)
        return cells
    return [None if m else str(v) for v, m in zip(raw.tolist(), missing.tolist(), strict=True)]


def columns_from_frame(frame: pd.DataFrame, features: Sequence[FeatureColumn]) -> dict[str, list[object]]:
    """The model's feature columns of the frame, each value coerced to the model's feature schema."""
    absent = [f.name for f in features if f.name not in frame.columns]
    if absent:
        raise ValueError(f"the input lacks the model's feature columns: {', '.join(absent)}")
    return {f.name: _cells(frame, f) for f in features}


@usage_errors
def _predict(args: argparse.Namespace) -> int:
    import pandas as pd

    frame = pd.read_csv(args.input, dtype=str)
    with trainer_client(args) as client:
        model = client.get_model(args.model)
        columns = columns_from_frame(frame, model.feature_columns)
        predictions = client.predict_columns(model, columns, batch_size=args.batch_size)
    result = frame.copy()
    result["prediction"] = [p.value for p in predictions]
    for cls in model.classes:
        result[f"probability_{cls}"] = [p.probabilities.get(cls) for p in predictions]
    if args.output:
        result.to_csv(args.output, index=False)
        err().print(f"wrote {len(result)} predictions of {model.name} to {args.output}", soft_wrap=True)
    else:
        result.to_csv(sys.stdout, index=False)
    return 0


def register(commands: Any) -> None:
    """Add the `predict` command to the CLI."""
    predict = commands.add_parser(
        "predict",
        help="predict a CSV with a trained model",
        description="Read rows from a CSV, predict them, and write the CSV back with a prediction column "
        "(and probability_<class> columns for classifiers).",
    )
    predict.add_argument("model", metavar="MODEL", help='"models/{id}"')
    predict.add_argument("--input", "-i", required=True, metavar="CSV", help="rows to predict, with a header")
    predict.add_argument("--output", "-o", metavar="CSV", help="where to write the result (default: stdout)")
    predict.add_argument(
        "--batch-size",
        type=int_range(1, MAX_PREDICT_BATCH),
        default=1000,
        metavar="N",
        help=f"rows per request, 1..{MAX_PREDICT_BATCH} (default 1000)",
    )
    predict.set_defaults(handler=_predict)
