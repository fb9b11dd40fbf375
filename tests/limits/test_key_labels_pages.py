"""Pages show a key's label from the budgets file, its fingerprint when it has none."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pages._keys import labels, with_key_labels


def test_key_fingerprints_are_shown_as_their_labels(tmp_path: Path) -> None:
    (tmp_path / "budgets.toml").write_text('[key_labels]\n"key-0123456789abcdef" = "search prod"\n')
    df = pd.DataFrame({"api_key": ["key-0123456789abcdef", "key-ffffffffffffffff", None], "spend": [1.0, 2.0, 3.0]})
    shown = with_key_labels(df, tmp_path)
    assert shown["api_key"].tolist()[:2] == ["search prod", "key-ffffffffffffffff"]
    assert pd.isna(shown["api_key"].iloc[2])
    assert shown["spend"].tolist() == [1.0, 2.0, 3.0]
    assert df["api_key"].iloc[0] == "key-0123456789abcdef"  # the caller's frame is untouched


def test_an_invalid_budgets_file_leaves_fingerprints(tmp_path: Path) -> None:
    (tmp_path / "budgets.toml").write_text('[key_labels]\n"key-0123456789abcdef" = "a\\u0007"\n')
    labels.clear()
    df = pd.DataFrame({"api_key": ["key-0123456789abcdef"]})
    assert with_key_labels(df, tmp_path)["api_key"].tolist() == ["key-0123456789abcdef"]
