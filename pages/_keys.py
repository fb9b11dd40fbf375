"""Key labels on the pages: an API key fingerprint column shown as its friendly name.

Why one helper: the labels live in the budgets file (`[key_labels]`, edited on the Budgets
page), and every page showing keys maps them the same way, so a manager reads "search prod",
never `key-3f9a...`; a key without a label keeps its fingerprint. Display only: filters and
links still carry the fingerprint.

Example:
    >>> with_key_labels(df, Path("data"))["api_key"].tolist()
    ['search prod', 'key-ffffffffffffffff']
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from alerts import key_labels

from ._data import LEDGER_TTL_SECONDS, cached

BUDGETS_FILE = "budgets.toml"


@cached(LEDGER_TTL_SECONDS, None)
def labels(data_dir: Path) -> dict[str, str]:
    """The `[key_labels]` of `<data_dir>/budgets.toml` (none when missing or invalid); the file is in the
    ledger mark, so a label saved on the Budgets page shows at the next run."""
    return key_labels(Path(data_dir) / BUDGETS_FILE)


def with_key_labels(df: pd.DataFrame, data_dir: Path, column: str = "api_key") -> pd.DataFrame:
    """`df` with `column`'s fingerprints replaced by their labels (a copy; unchanged without labels)."""
    found = labels(data_dir)
    if not found or column not in df.columns:
        return df
    return df.assign(**{column: df[column].replace(found)})
