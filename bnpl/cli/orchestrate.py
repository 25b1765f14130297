"""``bnpl daily``, ``bnpl simulate-days`` and ``bnpl prefect setup``: orchestration commands.

Arguments are checked here, before anything starts, so bad input is one line on stderr and exit
code 2. ``daily`` runs the flow's composition (:class:`bnpl.pipeline.DailyRun`) directly unless a
Prefect API is configured or ``--prefect`` is given (:mod:`bnpl.cli.runmode`). The flows are
imported inside the commands: ``bnpl`` never imports Prefect at module level.
"""

from __future__ import annotations

import logging
import uuid
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from bnpl.calendar import check_processable_day, check_range, parse_day
from bnpl.cli.ingest import PREFECT_OPTION, prepare_prefect
from bnpl.cli.output import emit, want_json
from bnpl.cli.runmode import use_prefect
from bnpl.errors import ConfigError
from bnpl.pipeline.daily import DailyResult, previous_day
from bnpl.reaper import start_reaper
from bnpl.settings import BigQuerySettings, Settings, load_settings
from bnpl.stopping import HARD_EXIT_AFTER_S, stop_on_signals
from bnpl.timeutil import utc_now
from bnpl.warehouse.labels import job_labels

logger = logging.getLogger(__name__)


def _fault_rate(value: float) -> float:
    if not 0 <= value <= 1:
        raise ConfigError(f"--fault-rate {value} is not between 0 and 1 (0.05 means 5 %)")
    return value


def _daily_direct(settings: Settings, day: date) -> DailyResult:
    """The daily run's six steps in this process (:class:`bnpl.pipeline.DailyRun`); its summary
    is logged, as the flow keeps it as an artifact."""
    from bnpl import pipeline

    start_reaper()  # the bundled simulator ends with this process
    run = pipeline.DailyRun(day, run_id=uuid.uuid4().hex)
    outcome = "failed"
    logger.info("daily run for %s (run %s)", day, run.run_id)
    try:
        with (
            stop_on_signals(hard_exit_after_s=HARD_EXIT_AFTER_S),
            pipeline.open_session(settings, source=not settings.live.seal_days) as session,
            job_labels(run_id=run.run_id),
        ):
            result = run.run(session)
        outcome = "completed"
        return result
    finally:
        logger.info("%s", run.summary(outcome=outcome).strip())


def register(app: typer.Typer) -> None:
    """Add ``daily``, ``simulate-days`` and the ``prefect`` group to ``app``."""
    prefect_app = typer.Typer(
        name="prefect",
        help="Prepare a Prefect server or Cloud workspace for bnpl's deployments.",
        no_args_is_help=True,
    )

    @app.command("daily")
    def daily(
        day: Annotated[
            str | None,
            typer.Option("--date", help="Day to process, YYYY-MM-DD [default: yesterday, UTC]."),
        ] = None,
        prefect: Annotated[bool | None, PREFECT_OPTION] = None,
        json_output: Annotated[
            bool, typer.Option("--json", help="Print the summary as one JSON document.")
        ] = False,
    ) -> None:
        """Run the daily pipeline for one day: extract, validate, load, build, check, publish.

        Exit code 0 when the day was published, 1 when a step failed (the quality gate, the
        source after its retries, ...), 2 for bad input. Runs once: no automatic retry here.
        """
        want_json("daily", json_output)
        logical: date | None = parse_day(day, name="--date") if day is not None else None
        if logical is not None:
            check_processable_day(logical, today=utc_now().date())
        settings = load_settings()  # a bad setting fails here, before anything starts
        if not use_prefect(prefect):
            result = _daily_direct(settings, logical or previous_day(utc_now()))
        else:
            prepare_prefect()  # Prefect's temporary API and the simulator end with this process
            from bnpl_flows.daily import daily_bnpl_processing

            with stop_on_signals(hard_exit_after_s=HARD_EXIT_AFTER_S):
                figures = daily_bnpl_processing(logical_date=logical)
            result = DailyResult.from_dict(figures)
        emit(str(result), result.as_dict())

    @app.command("simulate-days")
    def simulate_days(
        start: Annotated[str, typer.Option("--start", help="First day, YYYY-MM-DD.")],
        end: Annotated[str, typer.Option("--end", help="Last day (inclusive), YYYY-MM-DD.")],
        fault_rate: Annotated[
            float,
            typer.Option(
                "--fault-rate",
                help="Probability that one source request attempt fails (5xx, 429 or a cut "
                "stream), 0..1.",
            ),
        ] = 0.05,
        retries: Annotated[
            int, typer.Option("--retries", help="Retries of a failed daily run.")
        ] = 1,
        seed: Annotated[int, typer.Option("--seed", help="Seed of the fault decisions.")] = 0,
    ) -> None:
        """Replay the daily flow over a range with injected source faults; report failure rates.

        Each day from --start to --end is one daily run, as if it were "today"; the bundled
        simulator fails --fault-rate of the request attempts; a failed run is retried (--retries).
        The report gives the per-run failure rate and how many runs a retry recovered.

        Writes to the configured warehouse (BNPL_WAREHOUSE__PATH); point it at a scratch file.
        Exit code 0 when the report was produced, whatever it says.
        """
        first = parse_day(start, name="--start")
        last = parse_day(end, name="--end")
        check_range(first, last)
        check_processable_day(last, today=utc_now().date())
        start_reaper()
        from bnpl_flows.simulation import simulate_days as run_simulation

        report = run_simulation(
            first, last, fault_rate=_fault_rate(fault_rate), retries=retries, fault_seed=seed
        )
        typer.echo(report.render())

    @prefect_app.command("setup")
    def setup(
        pool: Annotated[str, typer.Option("--pool", help="Work pool name.")] = "bnpl-process",
        pool_type: Annotated[
            str,
            typer.Option(
                "--pool-type",
                help="process (local), cloud-run-v2 (prefect-gcp) or kubernetes; the base job "
                "template comes from deployments/.",
            ),
        ] = "process",
        api_limit: Annotated[
            int | None,
            typer.Option(
                "--api-limit",
                help="Slots of the `simtom-api` global concurrency limit "
                "[default: BNPL_INGEST__CONCURRENCY].",
            ),
        ] = None,
        gcp_credentials_block: Annotated[
            str | None,
            typer.Option(
                "--gcp-credentials-block",
                help="prefect-gcp GcpCredentials block for BigQuery and Cloud Run "
                "[default: BNPL_WAREHOUSE__CREDENTIALS_BLOCK].",
            ),
        ] = None,
        gcp_key_file: Annotated[
            Path | None,
            typer.Option(
                "--gcp-key-file",
                help="Service-account key JSON to store in that block (creates or rotates it).",
            ),
        ] = None,
        notify: Annotated[
            str | None,
            typer.Option(
                "--notify",
                help="Notification block the automations send through, e.g. "
                "slack-webhook/bnpl-alerts (without it they fire into the event feed only).",
            ),
        ] = None,
        prefect_file: Annotated[
            Path | None,
            typer.Option(
                "--prefect-file",
                help="The prefect.yaml declaring the deployments [default: the checkout's, else "
                "the installed wheel's, else ./prefect.yaml].",
            ),
        ] = None,
        deployments: Annotated[
            bool,
            typer.Option(
                "--deployments/--no-deployments",
                help="Also register every deployment of prefect.yaml (prefect deploy --all).",
            ),
        ] = True,
    ) -> None:
        """Create or update what the deployments need, then the deployments (idempotent).

        The work pool (template from deployments/), the `simtom-api` global concurrency limit, the
        GCP credentials block when one is named, the automations in deployments/automations/, and
        every deployment of prefect.yaml with its schedule, concurrency limit and triggers.
        Needs PREFECT_API_URL (a Prefect server or Cloud workspace).
        """
        settings = load_settings()
        block = gcp_credentials_block
        if block is None and isinstance(settings.warehouse, BigQuerySettings):
            block = settings.warehouse.credentials_block
        from bnpl_flows.deploy import declared_deployments, find_prefect_file, register_deployments
        from bnpl_flows.infra import setup_prefect

        declared = find_prefect_file(prefect_file) if deployments else None
        if declared is not None:
            declared_deployments(declared)  # a bad file fails here, before the server is touched
        steps = setup_prefect(
            pool=pool,
            pool_type=pool_type,
            api_limit=api_limit if api_limit is not None else settings.ingest.concurrency,
            gcp_credentials_block=block,
            gcp_key_file=gcp_key_file,
            notify=notify,
        )
        if declared is not None:
            steps += register_deployments(declared)
        width = max(len(f"{s.kind} {s.name}") for s in steps)
        for step in steps:
            note = f" ({step.note})" if step.note else ""
            typer.echo(f"{f'{step.kind} {step.name}':<{width}}  {step.outcome}{note}")

    app.add_typer(prefect_app)
