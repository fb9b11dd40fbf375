"""An unpriced model seen in traffic: one email per model, through the outbox, over real SMTP."""

from __future__ import annotations

from datetime import timedelta

import pytest

from alerts import UnpricedModel, unpriced_models_seen
from tests.support.alerts import bodies, paris, rows

NOW = paris("2026-11-20T10:00:00")


def traffic(data_dir, model: str, n: int, at=NOW - timedelta(hours=2)) -> None:
    rows(
        data_dir,
        [
            {
                "timestamp": at + timedelta(minutes=i),
                "model": model,
                "cost": None,
                "prompt_tokens": 100 + i,
                "completion_tokens": 10,
            }
            for i in range(n)
        ],
    )


@pytest.mark.slow
def test_each_unpriced_model_is_mailed_exactly_once(tmp_path, smtp_server, make_engine):
    data = tmp_path / "data"
    traffic(data, "acme-finetune-1", 3)
    rows(
        data,
        [
            {"timestamp": NOW - timedelta(hours=1), "cost": 0.25},  # priced
            {
                "timestamp": NOW - timedelta(hours=1),
                "model": "unknown",
                "endpoint": "/v1/files",
                "billable": False,
                "cost": 0.0,
                "prompt_tokens": 0,
                "completion_tokens": 0,
            },
        ],
    )

    engine = make_engine(smtp_server.port, rules_enabled=["unpriced"], repeat_hours=1)
    assert engine.run(NOW).sent == 1
    (message,) = smtp_server.messages
    assert message["To"] == "oncall@example.com"
    assert "acme-finetune-1 has no price: 3 requests" in message["Subject"]
    text, html = bodies(message)
    assert "Their tokens: 333" in text  # (100 + 101 + 102) + 3 x 10
    assert "python -m collector" in text and "reprice" in text and "acme-finetune-1" in html
    assert "unknown" not in message["Subject"] and "mistral-small" not in text

    for later in (NOW + timedelta(minutes=5), NOW + timedelta(hours=3), NOW + timedelta(days=2)):
        assert make_engine(smtp_server.port, rules_enabled=["unpriced"], repeat_hours=1).run(later).queued == 0
    assert len(smtp_server.messages) == 1  # no reminder, no repeat after a restart

    traffic(data, "acme-finetune-2", 2, at=NOW + timedelta(days=2))
    assert engine.run(NOW + timedelta(days=2, hours=1)).sent == 1
    assert len(smtp_server.messages) == 2
    assert "acme-finetune-2 has no price: 2 requests" in smtp_server.messages[1]["Subject"]
    assert "acme-finetune-1" not in smtp_server.messages[1]["Subject"]


def test_the_data_function_lists_unpriced_models_and_never_unbilled_calls(tmp_path):
    data = tmp_path / "data"
    traffic(data, "acme-finetune-1", 4)
    traffic(data, "old-model", 1, at=NOW - timedelta(days=40))  # outside the 31-day look-back
    rows(data, [{"timestamp": NOW - timedelta(hours=1), "model": "unknown", "billable": False, "cost": 0.0}])
    assert unpriced_models_seen(data, NOW) == [UnpricedModel("acme-finetune-1", 4, 4 * 110 + 6)]  # 100..103 + 4x10
    assert unpriced_models_seen(data, NOW, days=60)[1] == UnpricedModel("old-model", 1, 110)


def test_the_rule_can_be_switched_off(tmp_path, smtp_server, make_engine):
    traffic(tmp_path / "data", "acme-finetune-1", 2)
    assert make_engine(smtp_server.port, rules_enabled=["threshold"]).run(NOW).queued == 0
    assert smtp_server.messages == []
