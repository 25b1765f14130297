"""``bnpl features export`` and ``bnpl features evaluate``: the training set as of a date, as
Parquet with a data card, and a baseline check of its signal."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bnpl.calendar import parse_day
from bnpl.settings import load_settings


def register(app: typer.Typer) -> None:
    """Add the ``features`` group to ``app``."""
    features = typer.Typer(
        help="ML training sets: export and baseline evaluation.", no_args_is_help=True
    )
    app.add_typer(features, name="features")

    @features.command("export")
    def export_command(
        as_of: Annotated[
            str,
            typer.Option(
                "--as-of",
                help="YYYY-MM-DD: the set as of the end of this day (labels matured by then).",
            ),
        ],
        out: Annotated[
            Path, typer.Option("--out", help="Directory to write (replaced if it holds an export).")
        ],
    ) -> None:
        """Write the training set as Parquet partitioned by month, with card.json and card.md.

        Reads the published marts (run `bnpl build` first). The same as-of date over the same
        loaded data writes byte-identical files. Exit code 0 on success, 1 when the marts are
        missing or stale, 2 for bad input.
        """
        from bnpl.features import export

        day = parse_day(as_of, name="--as-of")
        result = export(day, out, settings=load_settings())
        card = result.card
        typer.echo(f"as of {card['as_of']}: {card['rows']:,} rows written to {result.out_dir}")
        for name, split in card["splits"].items():
            rate = "-" if split["label_rate"] is None else f"{100 * split['label_rate']:.2f} %"
            typer.echo(f"  {name:<10} {split['rows']:>9,} rows  label rate {rate}")
        typer.echo(f"  {len(result.files)} files: {', '.join(result.files)}")

    @features.command("evaluate")
    def evaluate_command(
        as_of: Annotated[
            str | None,
            typer.Option("--as-of", help="YYYY-MM-DD [default: the last loaded day]."),
        ] = None,
    ) -> None:
        """Train a logistic regression and a gradient-boosted model on the train split and print
        ROC AUC and PR AUC on the validation and test splits, next to risk_score alone.

        Needs scikit-learn (pip install 'bnpl[ml]'). Exit code 0 on success, 1 when the marts
        are missing or stale, 2 for bad input, a missing extra, or a split without both classes.
        """
        from bnpl.features import evaluate, evaluation_markdown

        day = None if as_of is None else parse_day(as_of, name="--as-of")
        typer.echo(evaluation_markdown(evaluate(as_of=day, settings=load_settings())), nl=False)
