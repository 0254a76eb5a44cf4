"""Resource names ("datasets/{id}", "trainingJobs/{id}", "models/{id}") and their opaque ids."""

from __future__ import annotations

import re
import uuid

from mlsuite_common.errors import InvalidArgument

__all__ = ["new_id", "parse_name", "DATASETS", "TRAINING_JOBS", "MODELS"]

DATASETS = "datasets"
TRAINING_JOBS = "trainingJobs"
MODELS = "models"

_ID = re.compile(r"[a-z0-9]{1,64}")  # fullmatch: "$" would also take a trailing newline


def new_id() -> str:
    """A fresh opaque id (32 lower-case hex characters)."""
    return uuid.uuid4().hex


def parse_name(name: str, collection: str, field: str) -> str:
    """The id of `collection/{id}`; INVALID_ARGUMENT naming `field` if the name is malformed."""
    prefix = f"{collection}/"
    if not name:
        raise InvalidArgument(f"{field} is required ({prefix}{{id}})", field=field, reason="MISSING_NAME")
    resource_id = name[len(prefix):] if name.startswith(prefix) else ""
    if not _ID.fullmatch(resource_id):
        shown = name if len(name) <= 80 else name[:77] + "..."
        raise InvalidArgument(
            f"{field} must look like {prefix}{{id}}, got {shown!r}", field=field, reason="INVALID_NAME"
        )
    return resource_id
