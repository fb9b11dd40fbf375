"""Dated price and alias history (issue 11): each case is a request on one side of a boundary.

Expected costs are worked out by hand from Mistral's docs history (see docs/prices.md), not
read back from the shipped CSVs, so a wrong row fails here. Unless noted a case is 1M prompt
and 1M completion tokens, so its cost is input price + output price.
"""

from __future__ import annotations

import csv
from typing import NamedTuple

import pytest

from collector._records import parse_records
from ledger import PriceBook, price_rows
from tests.paths import REPO

LEDGER = REPO / "ledger" / "pricing"
M = 1_000_000


class Case(NamedTuple):
    model: str
    timestamp: str
    priced_model: str | None
    cost: float | None
    currency: str = "USD"
    prompt: int = M
    cached: int = 0
    completion: int = M


CASES = [
    # mistral-large-latest: 2402 from the Feb. 26, 2024 launch, 2407, 2411, then medium-2508 for three months
    Case("mistral-large-latest", "2024-05-01T12:00:00Z", "mistral-large-2402", 32.0),  # 8 + 24
    Case("mistral-large-latest", "2024-11-17T23:59:59Z", "mistral-large-2407", None),  # 2407: no price in the history
    Case("mistral-large-latest", "2024-11-18T00:00:00Z", "mistral-large-2411", 8.0),  # 2 + 6
    Case("mistral-large-latest", "2025-08-26T23:59:59Z", "mistral-large-2411", 8.0),  # 2 + 6
    Case("mistral-large-latest", "2025-08-27T00:00:00Z", "mistral-medium-2508", 2.4),  # 0.4 + 2
    Case("mistral-large-latest", "2025-12-01T23:59:59Z", "mistral-medium-2508", 2.4),  # 0.4 + 2
    Case("mistral-large-latest", "2025-12-02T00:00:00Z", "mistral-large-2512", 2.0),  # 0.5 + 1.5
    # mistral-medium-latest stayed on 2508 until 2026-06-16, seven weeks after Medium 3.5 shipped
    Case("mistral-medium-latest", "2026-05-01T09:00:00Z", "mistral-medium-2508", 2.4),  # 0.4 + 2
    Case("mistral-medium-latest", "2026-06-15T23:59:59Z", "mistral-medium-2508", 2.4),  # 0.4 + 2
    Case("mistral-medium-latest", "2026-06-16T00:00:00Z", "mistral-medium-3-5", 9.0),  # 1.5 + 7.5
    Case("mistral-medium-latest", "2024-03-01T00:00:00Z", "mistral-medium-2312", 10.8),  # 2.7 + 8.1
    # mistral-small-latest moved to 2506 when its API opened (2025-06-23), not at the 06-20 release
    Case("mistral-small-latest", "2025-06-22T23:59:59Z", "mistral-small-2503", 0.4),  # 0.1 + 0.3
    Case("mistral-small-latest", "2025-06-23T00:00:00Z", "mistral-small-2506", 0.4),  # 0.1 + 0.3
    Case("mistral-small-latest", "2024-03-01T00:00:00Z", "mistral-small-2402", 8.0),  # 2 + 6
    # devstral-latest first appears with Devstral 2; before that it is unpriced
    Case("devstral-latest", "2025-12-08T23:59:59Z", None, None),
    Case("devstral-latest", "2025-12-09T00:00:00Z", "devstral-2512", 0.0),  # free at launch
    # free periods: price 0 from release, list price from the day the docs set free: false
    Case("devstral-2512", "2026-01-26T23:59:59Z", "devstral-2512", 0.0),
    Case("devstral-2512", "2026-01-27T00:00:00Z", "devstral-2512", 2.4),  # 0.4 + 2
    Case("devstral-2512", "2026-01-26T12:00:00Z", "devstral-2512", 0.0, "EUR"),
    Case("devstral-2512", "2026-01-27T12:00:00Z", "devstral-2512", 2.1, "EUR"),  # 0.35 + 1.75
    Case("labs-devstral-small-2512", "2026-03-10T23:59:59Z", "labs-devstral-small-2512", 0.0),
    Case("labs-devstral-small-2512", "2026-03-11T00:00:00Z", "labs-devstral-small-2512", 0.4),  # 0.1 + 0.3
    Case("devstral-small-latest", "2026-02-01T00:00:00Z", "labs-devstral-small-2512", 0.0),
    # aliases before their first row resolve to nothing and stay unpriced
    Case("codestral-latest", "2024-05-28T23:59:59Z", None, None),
    Case("mistral-medium-latest", "2024-02-25T23:59:59Z", None, None),
    # retired ids a backfill meets: priced from the 2024 table, or unpriced where the history has no price
    Case("open-mistral-7b", "2024-06-01T00:00:00Z", "open-mistral-7b", 0.5),  # 0.25 + 0.25
    Case("open-mixtral-8x7b", "2024-06-01T00:00:00Z", "open-mixtral-8x7b", 1.3, "EUR"),  # 0.65 + 0.65
    Case("mistral-medium-2312", "2024-01-15T00:00:00Z", "mistral-medium-2312", 10.0, "EUR"),  # 2.5 + 7.5
    Case("mistral-tiny", "2024-01-15T00:00:00Z", "open-mistral-7b", 0.56, "EUR"),  # 0.14 + 0.42
    Case("open-mixtral-8x22b", "2024-06-01T00:00:00Z", "open-mixtral-8x22b", None),
    Case("codestral-latest", "2024-06-01T00:00:00Z", "codestral-2405", None),
    # moderation: 2411 at $0.1 input, then the free 2603
    Case("mistral-moderation-latest", "2026-03-16T12:00:00Z", "mistral-moderation-2411", 0.1, completion=0),
    Case("mistral-moderation-latest", "2026-03-17T12:00:00Z", "mistral-moderation-2603", 0.0, completion=0),
    # zai-glm-5-2 publishes its own cached-input price: 1.4 in, 4.4 out, cached 0.26 then 0.14
    Case("zai-glm-5-2", "2026-08-11T12:00:00Z", "zai-glm-5-2", 5.23, cached=M // 2),  # 0.5*1.4 + 0.5*0.26 + 4.4
    Case("zai-glm-5-2", "2026-08-12T00:00:00Z", "zai-glm-5-2", 5.17, cached=M // 2),  # 0.5*1.4 + 0.5*0.14 + 4.4
    # voxtral-small-2507 output went from 0.3 to 0.4 on 2026-08-11
    Case("voxtral-small-latest", "2026-08-10T23:59:59Z", "voxtral-small-2507", 0.4),  # 0.1 + 0.3
    Case("voxtral-small-latest", "2026-08-11T00:00:00Z", "voxtral-small-2507", 0.5),  # 0.1 + 0.4
    # mistral-large-4-0 (2026-10-06): launch price (50% off) for two weeks, then list 1.36 / 4.18, cached 0.14
    Case("mistral-large-4", "2026-10-05T23:59:59Z", None, None),  # the alias is not in service yet
    Case("mistral-large-4", "2026-10-06T00:00:00Z", "mistral-large-4-0", 2.77),  # 0.68 + 2.09
    Case("mistral-large-4-0", "2026-10-10T12:00:00Z", "mistral-large-4-0", 2.77),  # 0.68 + 2.09
    Case("mistral-large-4-0", "2026-10-19T23:59:59Z", "mistral-large-4-0", 2.77),  # last launch day
    Case("mistral-large-4-0", "2026-10-20T00:00:00Z", "mistral-large-4-0", 5.54),  # 1.36 + 4.18
    Case("mistral-large-4", "2026-10-25T12:00:00Z", "mistral-large-4-0", 5.54),  # 1.36 + 4.18
    Case("mistral-large", "2026-10-10T12:00:00Z", "mistral-large-4-0", 2.77),  # 0.68 + 2.09
    Case("mistral-large-4-0", "2026-10-10T12:00:00Z", "mistral-large-4-0", 0.07, cached=M, completion=0),
    Case("mistral-large-4-0", "2026-10-25T12:00:00Z", "mistral-large-4-0", 0.14, cached=M, completion=0),  # not 0.136
    Case("mistral-large-4-0", "2026-10-25T12:00:00Z", "mistral-large-4-0", None, "EUR"),  # no EUR published
    Case("mistral-large-latest", "2026-10-25T12:00:00Z", "mistral-large-2512", 2.0),  # no source moves it to 4
    # zai-glm-5-3 (2026-09-15) and its aliases zai-glm-5 and zai-glm-latest: 1.4 in, 4.4 out, cached 0.14
    Case("zai-glm-latest", "2026-09-14T23:59:59Z", None, None),
    Case("zai-glm-latest", "2026-09-15T00:00:00Z", "zai-glm-5-3", 5.8),  # 1.4 + 4.4
    Case("zai-glm-5", "2026-11-15T12:00:00Z", "zai-glm-5-3", 5.17, cached=M // 2),  # 0.5*1.4 + 0.5*0.14 + 4.4
    Case("zai-glm-5-3", "2026-10-01T12:00:00Z", "zai-glm-5-3", 4.93, "EUR"),  # 1.19 + 3.74
    # retirements announced 2026-09-29: past days keep their price
    Case("zai-glm-5-2", "2026-10-30T23:59:59Z", "zai-glm-5-2", 5.8),  # retires 2026-10-31; 1.4 + 4.4
    Case("labs-leanstral-1-5", "2026-09-29T12:00:00Z", "labs-leanstral-1-5", 0.0),  # free until it retired
    # aliases added with their first date in the docs
    Case("open-mistral-nemo-latest", "2024-07-17T23:59:59Z", None, None),
    Case("open-mistral-nemo-latest", "2024-07-18T00:00:00Z", "open-mistral-nemo-2407", 0.3),  # 0.15 + 0.15
    Case("mistral-medium-latest", "2025-01-15T00:00:00Z", "mistral-medium-2312", 10.8),  # inferred gap; 2.7 + 8.1
    Case("codestral-embed", "2025-06-01T00:00:00Z", "codestral-embed-2505", 0.15, completion=0),  # inferred alias
]


def price(case: Case, batch: bool = False) -> tuple[str | None, float | None]:
    record = {
        "id": "1",
        "timestamp": case.timestamp,
        "model": case.model,
        "status_code": 200,
        "batch": batch,
        "prompt_tokens": case.prompt,
        "cached_tokens": case.cached,
        "completion_tokens": case.completion,
    }
    table, rejected = parse_records([record])
    assert not rejected
    priced = price_rows(table, "s", PriceBook.load(), case.currency)
    return priced["priced_model"][0].as_py(), priced["cost"][0].as_py()


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[f"{c.model}@{c.timestamp[:10]}/{c.currency}" for c in CASES])
def test_dated_case(case: Case) -> None:
    priced_model, cost = price(case)
    assert priced_model == case.priced_model
    if case.cost is None:
        assert cost is None
    else:
        assert cost == pytest.approx(case.cost)


def test_free_is_a_price_of_zero_not_unpriced() -> None:
    """A free model costs 0.0, which sums and shows as 0; an unpriced one stays null."""
    free = Case("labs-leanstral-2603", "2026-04-01T00:00:00Z", "labs-leanstral-2603", 0.0)
    _, cost = price(free)
    assert cost == 0.0 and cost is not None
    _, batch_cost = price(free._replace(model="devstral-2512", timestamp="2026-01-01T00:00:00Z"), batch=True)
    assert batch_cost == 0.0


def _rows(name: str) -> list[dict[str, str]]:
    with (LEDGER / name).open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_every_row_cites_the_docs_history_or_says_why_it_is_inferred() -> None:
    for row in _rows("prices.csv") + _rows("aliases.csv"):
        source = row["source"]
        assert source.startswith(("mistralai/platform-docs-public ", "inferred: ")), row
        assert " @ " in source, row  # a commit is named even in an inferred row


def test_models_the_history_does_not_price_are_left_out_not_invented() -> None:
    models = {row["model"] for row in _rows("prices.csv")}
    for absent in (
        "mistral-large-2407",
        "open-mixtral-8x22b",
        "codestral-2405",
        "open-codestral-mamba",
        "mistral-saba-2502",
    ):
        assert absent not in models, absent


def _source(name: str, **key: str) -> str:
    (row,) = [row for row in _rows(name) if all(row[k] == v for k, v in key.items())]
    return row["source"]


def test_a_date_no_docs_commit_shows_is_marked_inferred() -> None:
    """The launch price is seen at release; its end (two weeks later) and the alias rows no commit shows are not."""
    large = {"model": "mistral-large-4-0", "currency": "USD"}
    assert _source("prices.csv", effective_from="2026-10-06", **large).startswith("mistralai/platform-docs-public ")
    assert _source("prices.csv", effective_from="2026-10-20", **large).startswith("inferred: ")
    for alias, target, since in (
        ("codestral-embed", "codestral-embed-2505", "2025-05-28"),
        ("mistral-medium-latest", "mistral-medium-2312", "2024-11-25"),
        ("zai-glm-5", "zai-glm-5-3", "2026-09-15"),
        ("zai-glm-latest", "zai-glm-5-3", "2026-09-15"),
        ("mistral-large", "mistral-large-4-0", "2026-10-06"),
    ):
        assert _source("aliases.csv", alias=alias, model=target, effective_from=since).startswith("inferred: ")


def test_each_new_row_cites_the_docs_version_it_was_read_in() -> None:
    cited = {
        ("prices.csv", "mistral-large-4-0"): ("2175369b", "69fa7f5a"),
        ("prices.csv", "zai-glm-5-3"): ("4a8de858",),
        ("aliases.csv", "voxtral-mini-tts-2603"): ("ce7b6c69",),
    }
    for (name, model), commits in cited.items():
        rows = [row for row in _rows(name) if row["model"] == model]
        assert rows, model
        for row in rows:
            if name == "aliases.csv" and row["alias"] != "voxtral-tts-2603":
                continue
            assert any(f" @ {commit} " in row["source"] for commit in commits), row
