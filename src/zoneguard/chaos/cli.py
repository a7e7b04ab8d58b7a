"""``zoneguard chaos``: seeded lifecycles with the worker SIGKILLed at random points;
exit 1 on any finding, each printed with the command that replays it."""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

import typer

from zoneguard.chaos.scenarios import SCENARIOS, select


def register(app: typer.Typer) -> None:
    @app.command("chaos")
    def chaos(
        seed: int | None = typer.Option(
            None, help="seed of the first lifecycle (the i-th uses seed+i); default: random"
        ),
        lifecycles: int = typer.Option(32, min=1, help="how many lifecycles to run"),
        scenario: list[str] = typer.Option(
            [],
            help=f"only these scenarios (repeat or comma-separate; NAME or NAME:long / "
            f"NAME:short): {', '.join(SCENARIOS)}",
        ),
        kills_per_lifecycle: int = typer.Option(
            2, min=0, max=10, help="worker SIGKILLs per lifecycle (each at a seeded point)"
        ),
        parallel: int = typer.Option(
            2, min=1, max=8, help="lifecycles side by side (each slot: its own sim and worker)"
        ),
        app_share: float = typer.Option(
            0.25, min=0.0, max=1.0, help="share of lifecycles sent through the app (0: no app)"
        ),
        keep_going: bool = typer.Option(False, help="go on after a finding (default: stop)"),
        var_dir: Path = typer.Option(
            Path("var/chaos"), help="logs and journals; wiped at start, kept where found"
        ),
    ) -> None:
        """Seeded lifecycles against the real sim, worker and app, with the worker killed
        and restarted at random points; checks no duplicate order, no flip, every crossed
        level closed, nothing left open, one final callback, the app telling the truth."""
        from zoneguard.chaos.plan import PlanOptions
        from zoneguard.chaos.runner import Runner, RunOptions

        try:
            keys = select([part for raw in scenario for part in raw.split(",") if part.strip()])
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--scenario") from None
        first = seed if seed is not None else random.SystemRandom().randrange(1, 10**6)
        options = RunOptions(
            seed=first,
            lifecycles=lifecycles,
            keys=keys,
            plan=PlanOptions(kills_per_lifecycle=kills_per_lifecycle, app_share=app_share),
            parallel=parallel,
            keep_going=keep_going,
            var_dir=var_dir,
        )
        typer.echo(
            f"chaos: seed {first}, {lifecycles} lifecycles over {len(keys)} scenario sides, "
            f"{kills_per_lifecycle} kills each, {parallel} side by side; logs in {var_dir}/"
        )
        started = time.monotonic()
        try:
            tally = asyncio.run(Runner(options, typer.echo).run())
        except KeyboardInterrupt:
            raise typer.Exit(130) from None
        typer.echo(f"disruptions: {_counts(tally.disruptions)}; app kills {tally.app_kills}")
        typer.echo(f"outcomes: {_counts(tally.outcomes)}")
        typer.echo(f"{tally.line()} ({time.monotonic() - started:.0f}s)")
        if tally.findings:
            typer.echo("replay each finding:")
            for command in dict.fromkeys(r.result.plan.replay() for r in tally.findings):
                typer.echo(f"  {command}")
            raise typer.Exit(1)


def _counts(counter: dict[str, int]) -> str:
    return ", ".join(f"{name} {n}" for name, n in sorted(counter.items())) or "none"
