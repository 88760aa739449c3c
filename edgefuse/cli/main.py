"""The ``edgefuse`` console script: a click group that maps errors to exit codes."""

from __future__ import annotations

import logging
import sys
from typing import Any

import click

from edgefuse._version import __version__
from edgefuse.errors import EdgefuseError


class _Group(click.Group):
    """Prints ``error: ...`` for edgefuse errors (no traceback) and exits with their code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except EdgefuseError as e:
            click.echo(f"error: {e}", err=True)
            ctx.exit(e.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="edgefuse")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors.")
def cli(verbose: int, quiet: bool) -> None:
    """Infrared/visible and medical image fusion, from DTPF models to edge engines."""
    level = logging.WARNING if quiet else (logging.DEBUG if verbose > 1 else logging.INFO)
    logging.basicConfig(level=level, format="%(message)s", stream=sys.stderr)


def _register() -> None:
    from edgefuse.cli import build_cmd, eval_cmd, export_cmd, fuse_cmd, inspect_cmd, list_cmd, train_cmd
    from edgefuse.cli import bench_cmd, degrade_cmd

    cli.add_command(fuse_cmd.fuse)
    cli.add_command(eval_cmd.eval_)
    cli.add_command(degrade_cmd.degrade_cmd)
    cli.add_command(list_cmd.list_)
    cli.add_command(train_cmd.train_cmd)
    cli.add_command(train_cmd.distill_cmd)
    cli.add_command(export_cmd.export_cmd)
    cli.add_command(build_cmd.build_cmd)
    cli.add_command(inspect_cmd.inspect_cmd)
    from edgefuse.cli import rig_cmd, stream_cmd

    cli.add_command(stream_cmd.stream_cmd)
    cli.add_command(rig_cmd.rig_group)
    cli.add_command(bench_cmd.bench_cmd)


_register()


def main() -> None:
    """Entry point of the console script (click exits with the code)."""
    cli.main(prog_name="edgefuse")


if __name__ == "__main__":  # python -m edgefuse.cli.main (used by torchrun)
    main()
