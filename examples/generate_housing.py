"""Regenerate examples/housing.csv and examples/predict.csv (seeded, so the output never changes)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

NEIGHBORHOODS = {"downtown": 90.0, "riverside": 60.0, "suburbs": 0.0, "industrial": -50.0}


def make_housing(rows: int = 1500, seed: int = 7, missing: bool = True) -> pd.DataFrame:
    """Houses whose price depends non-linearly on size, distance, age and lot, shifted by neighborhood."""
    rng = np.random.default_rng(seed)
    sqft = rng.uniform(600, 4000, rows).round()
    bedrooms = np.clip(np.round(sqft / 700 + rng.normal(0, 0.6, rows)), 1, 6).astype(int)
    age = rng.integers(0, 91, rows).astype(float)
    distance = np.clip(rng.gamma(2.0, 4.0, rows), 0.5, 40).round(2)
    lot = np.exp(rng.normal(-1.2, 0.5, rows)).round(3)
    hood = rng.choice(list(NEIGHBORHOODS), rows, p=[0.25, 0.25, 0.35, 0.15])
    price_k = (
        60
        + 140 * np.log(sqft / 500)  # diminishing returns on size
        + 120 * np.exp(-distance / 6)  # proximity premium
        + 0.03 * (age - 45) ** 2  # new and historic homes sell above middle-aged ones
        + 60 * np.tanh(2 * lot)
        + 10 * bedrooms
        + np.vectorize(NEIGHBORHOODS.get)(hood)
        + rng.normal(0, 12, rows)
    )
    frame = pd.DataFrame(
        {
            "sqft": sqft.astype(int),
            "bedrooms": bedrooms,
            "age_years": age,
            "distance_km": distance,
            "lot_acres": lot,
            "neighborhood": hood.astype(object),
            "price": (price_k * 1000).round(-2).astype(int),
        }
    )
    # A few missing feature values, imputed by the trainer.
    for column, count in (("age_years", 20), ("lot_acres", 15), ("neighborhood", 10)) if missing else ():
        frame.loc[rng.choice(rows, count, replace=False), column] = None
    frame["age_years"] = frame["age_years"].astype("Int64")
    return frame


def main() -> None:
    """Write both CSVs next to this script."""
    here = Path(__file__).parent
    housing = make_housing()
    housing.to_csv(here / "housing.csv", index=False)
    sample = make_housing(rows=6, seed=11, missing=False).drop(columns=["price"])
    sample.loc[2, "lot_acres"] = None
    sample.to_csv(here / "predict.csv", index=False)


if __name__ == "__main__":
    main()
