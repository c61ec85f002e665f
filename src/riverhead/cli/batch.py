"""``riverhead batch ...``: run MapReduce jobs of the batch engine.

``riverhead batch run JOB.py [INPUT...] [-o OUT] [--runner local] [job options...]`` loads
the job file as a module (its ``if __name__ == "__main__"`` block does not run), picks the
:class:`~riverhead.batch.MapReduceJob` subclass defined in it (``--job NAME`` when there
are several) and runs it exactly as ``python JOB.py ...`` would: every argument after the
file goes to the job. The global ``-X/--brokers`` is used for ``topic://`` inputs and
outputs unless the job's own ``--brokers`` is given.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any

import typer

from riverhead.cli.errors import CliError
from riverhead.cli.options import settings
from riverhead.cli.output import print_line

app = typer.Typer(help="Run batch jobs.", no_args_is_help=True)


def load_job_module(path: Path) -> ModuleType:
    """Import ``path`` as a module named after it (registered in ``sys.modules``)."""
    if not path.is_file():
        raise CliError("INVALID_ARGUMENT", f"job file {str(path)!r} not found", "give a .py file")
    name = "riverhead_job_" + "".join(c if c.isalnum() else "_" for c in path.stem)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise CliError("INVALID_ARGUMENT", f"cannot load {str(path)!r} as Python")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    sys.path.insert(0, str(path.resolve().parent))
    spec.loader.exec_module(module)
    return module


def find_job_class(module: ModuleType, wanted: str | None) -> Any:
    """The job class of ``module``: the one named ``wanted``, or the only one defined."""
    from riverhead.batch import MapReduceJob

    found = {
        name: obj
        for name, obj in vars(module).items()
        if inspect.isclass(obj)
        and issubclass(obj, MapReduceJob)
        and obj.__module__ == module.__name__
    }
    if wanted is not None:
        if wanted not in found:
            raise CliError(
                "INVALID_ARGUMENT",
                f"no job class {wanted!r} in {module.__file__}",
                f"job classes there: {', '.join(sorted(found)) or 'none'}",
            )
        return found[wanted]
    if len(found) != 1:
        raise CliError(
            "INVALID_ARGUMENT",
            f"{module.__file__} defines {len(found)} job classes ({', '.join(sorted(found))})",
            "pick one with --job NAME" if found else "define a MapReduceJob subclass",
        )
    return next(iter(found.values()))


@app.command(
    "run",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def run(
    ctx: typer.Context,
    job_file: Annotated[Path, typer.Argument(metavar="JOB.py", help="File defining the job.")],
    job_name: Annotated[
        str | None, typer.Option("--job", help="Job class, if the file defines several.")
    ] = None,
) -> None:
    """Run a MapReduce job file; remaining arguments go to the job (INPUT... -o OUT ...)."""
    from riverhead.batch import BatchError, JobFailed

    args = list(ctx.args)
    job_class = find_job_class(load_job_module(job_file), job_name)
    try:
        job = job_class(args)
    except SystemExit as exc:  # argparse already printed its usage message
        raise typer.Exit(int(exc.code or 0)) from None
    if "--brokers" not in args and not any(a.startswith("--brokers=") for a in args):
        job.config.brokers = settings(ctx).brokers
    try:
        result = job.run_job()
    except JobFailed as exc:
        sys.stderr.write(exc.traceback.rstrip("\n") + "\n")
        raise CliError(exc.name, exc.message, exc.hint) from None
    except BatchError as exc:
        raise CliError(exc.name, exc.message, exc.hint) from None
    if job.config.output is None:
        for line in result.read_lines():
            print_line(line)
        result.cleanup()
