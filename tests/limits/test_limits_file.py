"""The budgets file's [[limits]] and [key_labels]: validated with the line, kept across saves, and
read back by the gateway exactly as the page wrote them."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerts import (
    NO_PROJECT,
    Budget,
    BudgetFileError,
    label_for,
    load_budgets,
    load_limits,
    load_projects,
    save_budgets,
    save_limits,
)
from alerts._limits import parse_limit_form
from foundation.limit_rules import load_book, load_limit_file

FILE = """
[[budgets]]
name = "search monthly"
amount = 200
project = "search"

[key_labels]
"key-0123456789abcdef" = "search prod"

[[limits]]
name = "search daily"
project = "search"
period = "day"
amount = 25.5

[[limits]]
name = "prod keys"
api_key = "search prod"
requests_per_minute = 600
tokens_per_minute = 200000
hard = false
"""


def test_a_budgets_file_with_limits_and_labels_loads(tmp_path: Path) -> None:
    path = tmp_path / "budgets.toml"
    path.write_text(FILE)
    assert [b.name for b in load_budgets(path)] == ["search monthly"]
    limits, labels = load_limits(path)
    assert labels == {"key-0123456789abcdef": "search prod"}
    assert [(lim.name, lim.amount, lim.period, lim.requests_per_minute, lim.hard) for lim in limits] == [
        ("search daily", 25.5, "day", None, True),
        ("prod keys", None, "day", 600, False),
    ]
    assert limits[1].key_ids == frozenset({"key-0123456789abcdef"})


def test_saving_budgets_keeps_limits_and_labels(tmp_path: Path) -> None:
    path = tmp_path / "budgets.toml"
    path.write_text(FILE)
    save_budgets(path, [*load_budgets(path), Budget(name="new one", amount=10.0)])
    assert load_limits(path) == load_limits_of_text(tmp_path, FILE)
    assert [b.name for b in load_budgets(path)] == ["search monthly", "new one"]


def load_limits_of_text(tmp_path: Path, text: str) -> tuple[object, object]:
    other = tmp_path / "expected.toml"
    other.write_text(text)
    return load_limits(other)


def test_saving_limits_keeps_budgets_and_the_gateway_reads_them_back(tmp_path: Path) -> None:
    path = tmp_path / "budgets.toml"
    path.write_text(FILE)
    labels = {"key-0123456789abcdef": 'prod "search" \\ é'}
    odd = parse_limit_form(
        {
            "name": 'a "quoted" \\ name',
            "project": "search",
            "period": "week",
            "amount": 3.0,
            "requests_per_minute": None,
            "timezone": "Europe/Paris",
        },
        labels,
    )
    save_limits(path, [odd], labels)
    assert [b.name for b in load_budgets(path)] == ["search monthly"]
    assert load_limit_file(path) == ([odd], labels)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[[limits]]\nname = "x"\nproject = "a"\namount = -1\n',
            "line 4: limits[0].amount: must be greater than 0",
        ),
        ('[[limits]]\nname = "x\\u0007"\namount = 1\n', "line 2: limits[0].name: 'x\\x07' contains a control"),
        ('[[limits]]\nname = "x"\namount = 1\nperiod = "year"\n', "line 4: limits[0].period: 'year' is not"),
        ('[[limits]]\nname = "x"\napi_key = "nobody"\namount = 1\n', "line 3: limits[0].api_key: 'nobody' is neither"),
        ('[[limits]]\nname = "x"\nproject = "a"\n', "limits[0].amount: a limit needs amount, requests_per_minute"),
        ('[key_labels]\n"key-0123456789abcdef" = "a\\nb"\n', "line 1: key_labels.key-0123456789abcdef: 'a\\nb'"),
        ('[key_labels]\n"sk-live" = "a"\n', "key_labels.sk-live: 'sk-live' is not an API key fingerprint"),
        ('[[limits]]\nname = "x"\namount = 1\n[[limits]]\nname = "x"\namount = 2\n', "a name is used twice"),
        ('[key_projects]\n"nobody" = "search"\n', "line 1: key_projects.nobody: 'nobody' is neither a key label"),
        ('\n[key_projects]\n"key-0123456789abcdef" = "(No Project)"\n', "line 2: key_projects.key-0123456789abcdef"),
        (
            '[projects]\nknown = "web"\n',
            'line 1: projects.known: expected a list, got "web"; write e.g. known = ["web"',
        ),
        (
            '[projects]\nknown = ["web"]\nstrict = true\n',
            "line 1: projects.strict: unknown key; remove it",
        ),
        ('[[limits]]\nname = "x"\nproject = "..."\namount = 1\n', "line 3: limits[0].project: '...' has no letters"),
    ],
)
def test_bad_limits_name_the_line_and_the_key(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "budgets.toml"
    path.write_text(text)
    with pytest.raises(BudgetFileError) as raised:
        load_budgets(path)
    assert expected in str(raised.value)
    assert "\n" not in str(raised.value)


def test_label_for_shows_the_label_or_the_fingerprint() -> None:
    labels = {"key-0123456789abcdef": "search prod"}
    assert label_for("key-0123456789abcdef", labels) == "search prod"
    assert label_for("key-ffffffffffffffff", labels) == "key-ffffffffffffffff"
    assert label_for(None, labels) is None


def test_a_limit_on_a_labelled_fingerprint_is_shown_by_its_label(tmp_path: Path) -> None:
    path = tmp_path / "budgets.toml"
    path.write_text(
        '[key_labels]\n"key-0123456789abcdef" = "search prod"\n\n'
        '[[limits]]\nname = "k"\napi_key = "key-0123456789abcdef"\nrequests_per_minute = 5\n'
    )
    [limit], _ = load_limits(path)
    assert limit.scope_label() == "API key search prod"
    assert limit.key_ids == frozenset({"key-0123456789abcdef"})


BOUND = """
[key_labels]
"key-0123456789abcdef" = "search prod"

[key_projects]
"search prod" = "Search"
"key-fedcba9876543210" = "batch"

[projects]
known = ["Web", "ads."]

[[limits]]
name = "strays"
project = "(No Project)"
requests_per_minute = 5

[[limits]]
name = "large"
project = " SEARCH. "
model = "Mistral-Large-Latest"
amount = 2
"""


def test_bindings_and_known_projects_are_read_normalised(tmp_path: Path) -> None:
    path = tmp_path / "budgets.toml"
    path.write_text(BOUND)
    book = load_book(path)
    assert [(lim.project, lim.model) for lim in book.limits] == [
        (NO_PROJECT, None),
        ("search", "mistral-large-latest"),
    ]
    projects = book.projects
    assert projects.bound == {"key-0123456789abcdef": "search", "key-fedcba9876543210": "batch"}
    assert projects.known == {"web", "ads", "search", "batch"}
    assert projects.project_of("Web", "key-0123456789abcdef") == "search"  # the binding wins
    assert projects.project_of(" Web! ", "key-ffffffffffffffff") == "web"
    assert projects.project_of("", None) is None
    assert [projects.scope_of(p) for p in ("web", "webb", None)] == ["web", NO_PROJECT, NO_PROJECT]


def test_saving_budgets_or_limits_keeps_the_bindings(tmp_path: Path) -> None:
    path = tmp_path / "budgets.toml"
    path.write_text(BOUND)
    before = load_book(path)
    save_budgets(path, [Budget(name="new one", amount=10.0)])
    limits, labels = load_limits(path)
    save_limits(path, limits, labels)
    assert load_book(path) == before
    assert load_projects(path).written == (("search prod", "Search"), ("key-fedcba9876543210", "batch"))
