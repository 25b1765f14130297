"""bnpl.simulator.render: Polars text equals Python's json.dumps text for every value the simulator writes."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from bnpl.simulator.records import first_payment_cents, risk_score
from bnpl.simulator.render import float_text


def reprs(values: np.ndarray) -> list[str]:
    return [json.dumps(float(v)) for v in values]


def test_every_amount_prints_like_python():
    """All 40,001 cent amounts (0.00-400.00) print as Python repr (30.1, not 30.10; 400.0)."""
    amounts = np.arange(40_001) / 100
    assert float_text(amounts).to_list() == reprs(amounts)


def test_every_first_payment_is_python_round_and_prints_like_python():
    """first_payment_cents is Python's round(amount * 0.25, 2); its text matches repr."""
    cents = np.arange(1500, 40_001)
    table = first_payment_cents()[cents] / 100
    assert table.tolist() == [round((k / 100) * 0.25, 2) for k in cents.tolist()]
    assert float_text(table).to_list() == reprs(table)


def test_every_credit_utilization_prints_like_python():
    """amount / L for every amount and L in {500, 1000, 1500} prints as Python repr."""
    amounts = np.arange(1500, 40_001) / 100
    values = np.concatenate([amounts / limit for limit in (500, 1000, 1500)])
    assert float_text(values).to_list() == reprs(values)


def test_every_risk_score_matches_python_arithmetic_and_text():
    """All 1,440 component combinations: NumPy's sum equals Python's, and prints the same."""
    combos = np.array(
        list(itertools.product(range(4), range(3), range(5), range(2), range(3), range(4)))
    )
    scores = risk_score(*combos.T)
    credit, verification, income = (0.1, 0.3, 0.6, 0.9), (0.1, 0.4, 0.8), (0.8, 0.6, 0.3, 0.2, 0.1)
    device, product, scenario = (0.7, 0.2), (0.1, 0.3, 0.6), (0.1, 0.4, 0.7, 0.9)
    python = [
        min(
            0.3 * credit[c]
            + 0.2 * verification[v]
            + 0.2 * income[i]
            + 0.1 * device[d]
            + 0.1 * product[p]
            + 0.1 * scenario[s],
            1.0,
        )
        for c, v, i, d, p, s in combos.tolist()
    ]
    assert scores.tolist() == python
    assert float_text(scores).to_list() == reprs(scores)
    assert "0.30000000000000004" in float_text(scores).to_list()


@pytest.mark.parametrize("scale", [1e-9, 1e-5, 1e-4, 1.0, 1e3, 1e15, 1e17, 1e300])
def test_arbitrary_floats_print_like_json_dumps(scale):
    """Noise-perturbed floats of any magnitude and sign print as json.dumps does."""
    rng = np.random.default_rng(7)
    values = np.concatenate([rng.normal(0, scale, 2000), [0.0, -0.0, scale, -scale]])
    assert float_text(values).to_list() == reprs(values)
