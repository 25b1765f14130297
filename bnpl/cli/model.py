"""``bnpl model train|promote|rollback|list|monitor``: the risk model's versions in the MLflow
registry, champion/challenger promotion on matured outcomes, rollback, and monitoring of the
logged scores on outcomes as they mature."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bnpl.calendar import parse_day
from bnpl.errors import ConfigError
from bnpl.settings import load_settings

AS_OF_OPTION = typer.Option(
    "--as-of", help="YYYY-MM-DD outcomes known by [default: last loaded day]."
)
"""``--as-of`` of the commands that judge on matured outcomes (promote, monitor)."""


def _pct(value: float) -> str:
    return f"{value:.4f}"


def register(app: typer.Typer) -> None:
    """Add the ``model`` group to ``app``."""
    model = typer.Typer(
        help="The risk model: train, promote, roll back, list (MLflow registry).",
        no_args_is_help=True,
    )
    app.add_typer(model, name="model")

    @model.command("train")
    def train_command(
        as_of: Annotated[
            str,
            typer.Option("--as-of", help="YYYY-MM-DD: train on the labels matured by this day."),
        ],
        source: Annotated[
            Path | None,
            typer.Option(
                "--from", help="An export of the same as-of date (bnpl features export) to read."
            ),
        ] = None,
    ) -> None:
        """Train on the training set as of a date and register it as a new version with the
        `challenger` alias.

        Refuses a set with days that failed the quality gate, or a feature whose PSI exceeds
        BNPL_MODEL__PSI_ERROR. Exit code 0 on success, 1 when the run fails (stale marts, a
        check refused, MLflow failed), 2 for bad input or settings.
        """
        from bnpl.governance import train

        day = parse_day(as_of, name="--as-of")
        result = train(load_settings(), as_of=day, source=source)
        typer.echo(
            f"version {result.version} registered as challenger (as of {result.as_of}, "
            f"trained on {result.training}, run {result.run_id})"
        )
        typer.echo(
            "| split | rows | model ROC AUC | risk_score ROC AUC | model PR AUC | model ECE |"
        )
        typer.echo("|---|---:|---:|---:|---:|---:|")
        for split, by in result.scores.items():
            m, r = by["model"], by["risk_score"]
            typer.echo(
                f"| {split} | {result.rows[split]:,} | {_pct(m.roc_auc)} | {_pct(r.roc_auc)} | "
                f"{_pct(m.pr_auc)} | {_pct(m.ece)} |"
            )
        worst = [d for d in result.drift if d.level != "ok"]
        window = result.drift_window or "-"
        typer.echo(
            f"PSI against {window}: {len(result.drift)} features, "
            + (", ".join(f"{d.feature} {d.psi:.3f} ({d.level})" for d in worst) or "all below warn")
        )

    @model.command("promote")
    def promote_command(
        initial: Annotated[
            bool,
            typer.Option("--initial", help="Make the latest version the first champion."),
        ] = False,
        as_of: Annotated[str | None, AS_OF_OPTION] = None,
    ) -> None:
        """Compare the challenger with the champion on the newest matured out-of-time window
        and move `champion` only on a significant, calibrated gain; every decision is recorded.

        Exit code 0 whether promoted or kept, 1 when the run fails, 2 for bad input (no
        champion yet: use --initial; no challenger; too few outcomes).
        """
        from bnpl.governance import promote
        from bnpl.governance.report import decision_markdown

        day = None if as_of is None else parse_day(as_of, name="--as-of")
        decision = promote(load_settings(), as_of=day, initial=initial)
        typer.echo(decision_markdown(decision), nl=False)

    @model.command("rollback")
    def rollback_command() -> None:
        """Make the previous champion champion again (recorded as a decision).

        Exit code 0 on success, 1 when the run fails, 2 when there is nothing to roll back to.
        """
        from bnpl.governance import rollback

        decision = rollback(load_settings())
        typer.echo(decision.reason)

    @model.command("list")
    def list_command() -> None:
        """Every version with its aliases, training window and test figures."""
        from bnpl.governance.report import versions_markdown

        typer.echo(versions_markdown(load_settings()), nl=False)

    @model.command("monitor")
    def monitor_command(
        as_of: Annotated[str | None, AS_OF_OPTION] = None,
        per: Annotated[
            str, typer.Option("--per", help="Period of the figures: day or week.")
        ] = "week",
        version: Annotated[
            list[int] | None,
            typer.Option("--version", help="Only this model version (repeatable)."),
        ] = None,
        json_output: Annotated[
            bool, typer.Option("--json", help="Print the figures as one JSON document.")
        ] = False,
    ) -> None:
        """Join the logged scores (bnpl_raw.scores) with the outcomes matured by --as-of and
        report per model version and period: ROC AUC, Brier, ECE, score PSI against the
        version's first period, approval rate; the figures are appended to
        bnpl_audit.model_monitor (and shown by `bnpl model promote`).

        Exit code 0 on success, 1 when the run fails, 2 for bad input (no scores yet, an
        unknown version or period).
        """
        from bnpl.cli.output import emit, want_json
        from bnpl.governance.monitor import monitor_warehouse
        from bnpl.governance.monitor_figures import GRAINS, monitor_markdown

        as_json = want_json("model monitor", json_output)
        if per not in GRAINS:
            raise ConfigError(f"--per must be one of {', '.join(GRAINS)}, got {per!r}")
        day = None if as_of is None else parse_day(as_of, name="--as-of")
        result = monitor_warehouse(
            load_settings(),
            as_of=day,
            grain="day" if per == "day" else "week",
            versions=version or (),
        )
        if as_json:
            emit("", result.as_dict())
        else:
            typer.echo(monitor_markdown(result), nl=False)
