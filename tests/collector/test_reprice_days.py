"""`reprice` after a change to one alias date rewrites exactly the days whose costs change."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from collector._records import parse_records
from collector._reprice import reprice
from ledger import Appender, PriceBook, price_rows, read_ledger
from ledger.pricing.aliases import Alias, read_aliases
from ledger.pricing.prices import read_prices
from ledger.storage.store import day_files

pytestmark = pytest.mark.slow

DAYS = [date(2026, 3, 12) + timedelta(days=i) for i in range(7)]  # 03-12 .. 03-18
MOVED_TO = date(2026, 3, 18)  # mistral-small-latest -> 2603 really on 03-16; the edited table says 03-18


def records() -> list[dict]:
    out = []
    for day in DAYS:
        for model in ("mistral-small-latest", "mistral-large-2512"):
            out.append(
                {
                    "id": f"{model}-{day}",
                    "timestamp": f"{day}T12:00:00Z",
                    "model": model,
                    "status_code": 200,
                    "prompt_tokens": 1_000_000,
                    "completion_tokens": 1_000_000,
                }
            )
    return out


def moved_book() -> PriceBook:
    aliases = [
        Alias(alias=a.alias, model=a.model, effective_from=MOVED_TO, source=a.source)
        if (a.alias, a.model) == ("mistral-small-latest", "mistral-small-2603")
        else a
        for a in read_aliases()
    ]
    return PriceBook(read_prices(), aliases)


def files_of(data: Path) -> dict[date, list[tuple[str, int]]]:
    return {d: [(f.name, f.stat().st_mtime_ns) for f in day_files(data, d)] for d in DAYS}


def test_reprice_after_moving_one_alias_date_rewrites_only_the_affected_days(tmp_path):
    data = tmp_path / "data"
    table, _ = parse_records(records())
    Appender(data).append(price_rows(table, "s", PriceBook.load(), "USD"))
    before_files = files_of(data)
    before = {r["id"]: r for r in read_ledger(data).to_pylist()}

    counts = reprice(data, moved_book(), "USD")

    affected = {date(2026, 3, 16), date(2026, 3, 17)}  # 2603 before, 2506 now
    assert counts == {"days": 2, "rows": 2}
    after_files = files_of(data)
    assert {d for d in DAYS if after_files[d] != before_files[d]} == affected
    after = {r["id"]: r for r in read_ledger(data).to_pylist()}
    for key, row in after.items():
        day = date.fromisoformat(key[-10:])
        if key.startswith("mistral-small-latest") and day in affected:
            assert row["priced_model"] == "mistral-small-2506"
            assert row["cost"] == pytest.approx(0.1 + 0.3)  # 2506: $0.1 in + $0.3 out
            assert before[key]["cost"] == pytest.approx(0.15 + 0.6)  # was 2603: $0.15 in + $0.6 out
        else:
            assert (row["priced_model"], row["cost"]) == (before[key]["priced_model"], before[key]["cost"])
    assert reprice(data, moved_book(), "USD") == {"days": 0, "rows": 0}
