"""The bnpl-features flow on Prefect's temporary API: it rebuilds the snapshot marts, exports the
training set and attaches the data card as a markdown artifact."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from feature_data import DAYS
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterKey,
    FlowRunFilter,
    FlowRunFilterId,
)

from bnpl.errors import QualityGateError
from bnpl_flows.features import bnpl_features

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_api")]


def test_flow_exports_and_attaches_the_card(
    built_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run as of the last loaded day writes the export and a `training-set-card` artifact whose
    markdown is the card's; it returns the rows per split. Rebuilding the snapshot marts goes
    through the quality gate: the fixture's history has missing days, so that run fails naming
    the check and exports nothing."""
    path = tmp_path / "bnpl.duckdb"
    shutil.copy(built_db, path)
    monkeypatch.setenv("BNPL_WAREHOUSE__PATH", str(path))
    gated = tmp_path / "gated"
    with pytest.raises(QualityGateError, match="ledger_days_present"):
        bnpl_features(out=str(gated))
    assert not gated.exists()
    out = tmp_path / "export"
    state = bnpl_features(out=str(out), build=False, return_state=True)
    rows = state.result()
    card = json.loads((out / "card.json").read_text())
    assert card["as_of"] == DAYS[-1].isoformat()
    assert rows == {name: split["rows"] for name, split in card["splits"].items()}
    assert sum(rows.values()) == card["rows"] > 0
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["training-set-card"])),
            flow_run_filter=FlowRunFilter(
                id=FlowRunFilterId(any_=[state.state_details.flow_run_id])
            ),
        )
    assert artifacts and artifacts[0].data == (out / "card.md").read_text()
