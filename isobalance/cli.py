"""The ``isobalance`` command line.

Every command raises ``IsobalanceError`` for problems a user can fix; ``main`` turns them into one
line on stderr and a non-zero exit code, never a traceback (set ISOBALANCE_DEBUG=1 to see one).
Exit codes (``isobalance.cli_errors``): 0 done; 1 unexpected internal error; 2 bad input or setup,
usage errors included; 3 nobody detected; 4 input broke part-way (everything computed before the
break is written); 130 interrupted (SIGINT or SIGTERM: cleanup runs, finished results are kept).
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import sys
from pathlib import Path
from typing import Optional

import typer

from isobalance.cli_errors import BAD_INPUT, INTERNAL, INTERRUPTED, printable
from isobalance.config import Config, load_config
from vision.errors import IsobalanceError
from vision.memory import MALLOC_ARENAS, limit_malloc_arenas
from vision.threads import threads_left_running
from vision.workers import reap_helpers_at_exit

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Posture assessment and isometric muscle balancing from video (MediaPipe Pose).")

_DEFAULT = Config()


@app.callback()
def _options(ctx: typer.Context,
             verbose: bool = typer.Option(False, "--verbose", "-v",
                                          help="Show MediaPipe/TFLite's own log lines (hidden by default)")):
    """Posture assessment and isometric muscle balancing from video (MediaPipe Pose)."""
    from isobalance.native_logs import native_stderr_silenced, silence_native_stderr_until_exit

    # the dashboard becomes the Streamlit server (exec): its log must reach the terminal
    if not verbose and ctx.invoked_subcommand != "dashboard":
        if (ctx.obj or {}).get("whole_process"):
            silence_native_stderr_until_exit()
        else:
            ctx.with_resource(native_stderr_silenced())


@app.command("config")
def config_command(config: Optional[Path] = typer.Option(None, help="TOML file to merge over the defaults")):
    """Print the effective configuration as TOML (save it, edit it, pass it with --config)."""
    typer.echo(load_config(config).to_toml())


@app.command("landmarks")
def landmarks_command(
    source: str = typer.Argument(..., help="Video file, image, folder of images, or webcam:N"),
    out: Path = typer.Option(..., "-o", "--out", help="Output folder"),
    model: Optional[str] = typer.Option(None, help=f"Model name (lite/full/heavy) or .task path [{_DEFAULT.vision.model}]"),
    smoothing: Optional[str] = typer.Option(None, help=f"one_euro or none [{_DEFAULT.vision.smoothing}]"),
    num_poses: Optional[int] = typer.Option(None, help=("1: one person followed by MediaPipe's tracker, everybody looked for every "
                                                      "vision.search_every frames and when the tracked pose jumps; 2 or more: the "
                                                      f"person detector on every frame (~1.7x the CPU) [{_DEFAULT.vision.num_poses}]")),
    parquet: bool = typer.Option(False, help="Also write track.parquet"),
    video: bool = typer.Option(True, help="Write the annotated video"),
    max_frames: Optional[int] = typer.Option(None, help="Stop a webcam capture after this many frames"),
    config: Optional[Path] = typer.Option(None, help="TOML configuration file"),
):
    """Turn a video, image, folder or webcam into a landmark track and an annotated video."""
    from vision.landmarks_job import run_landmarks

    from isobalance.paths import output_folder

    cfg = load_config(config).override("vision", model=model, smoothing=smoothing, num_poses=num_poses)
    if not str(source).startswith("webcam:") and not Path(source).exists():
        raise IsobalanceError(f"input not found: {source}")
    output_folder(out)                  # checked before the long analysis, not after it
    summary = run_landmarks(source, out, cfg.vision, parquet=parquet, write_video=video,
                            max_frames=max_frames, progress=True)
    typer.echo(json.dumps(summary, indent=2))


def _mount_subcommands() -> None:
    """Attach command groups that live in their own modules (one job per module)."""
    from isobalance import (cli_assess, cli_batch, cli_dashboard, cli_data, cli_hold, cli_models, cli_samples,
                            cli_sessions)

    if getattr(app, "_isobalance_mounted", False):
        return
    app._isobalance_mounted = True
    app.add_typer(cli_models.models_app, name="models", help="List, fetch, verify or build pose models")
    app.add_typer(cli_samples.samples_app, name="samples", help="List or fetch the sample clips")
    app.command("assess")(cli_assess.assess_command)
    app.command("hold")(cli_hold.hold_command)
    app.command("batch")(cli_batch.batch_command)
    app.add_typer(cli_sessions.sessions_app, name="sessions",
                  help="List, show, export, import or delete sessions")
    app.add_typer(cli_sessions.patients_app, name="patients", help="Add or list patients")
    app.add_typer(cli_data.data_app, name="data", help="Remove unsaved uploads from the data folder")
    app.command("dashboard")(cli_dashboard.dashboard_command)


def _interrupt(signum, frame) -> None:
    """SIGTERM (kill, service managers) ends a command like Ctrl+C: cleanup runs, workers stop."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    # first, before any thread allocates: the command's threads share a few malloc arenas (vision.memory)
    limit_malloc_arenas(MALLOC_ARENAS)
    _mount_subcommands()
    debug = os.environ.get("ISOBALANCE_DEBUG") == "1"
    signal.signal(signal.SIGTERM, _interrupt)
    reap_helpers_at_exit()
    try:
        # typer.Exit(n) and Ctrl+C (as 130) come back as n here
        # argv None: the console script, i.e. this whole process is the command (see _options)
        code = app(args=argv, prog_name="isobalance", standalone_mode=False, obj={"whole_process": argv is None})
    except IsobalanceError as exc:
        if debug:
            raise
        typer.echo(f"error: {printable(exc)}", err=True)
        code = exc.exit_code
    except typer.Abort as exc:             # a prompt answered with Ctrl+D (end of input) or Ctrl+C
        eof = isinstance(exc.__context__, EOFError) or isinstance(exc.__cause__, EOFError)
        if eof:
            typer.echo("error: no answer (end of input)", err=True)
        code = BAD_INPUT if eof else INTERRUPTED
    except typer.TyperException as exc:    # click's usage errors (typer bundles its own click)
        show = getattr(exc, "show", None)
        show() if show is not None else typer.echo(f"error: {printable(exc)}", err=True)
        code = BAD_INPUT
    except KeyboardInterrupt:
        code = INTERRUPTED
    except Exception as exc:  # a bug: one line for the user, the traceback on request
        if debug:
            raise
        typer.echo(f"internal error: {type(exc).__name__}: {printable(exc)} "
                   "(set ISOBALANCE_DEBUG=1 for details)", err=True)
        code = INTERNAL
    interrupted = code == INTERRUPTED
    if interrupted:
        typer.echo("interrupted", err=True)
    if argv is None or (interrupted and threads_left_running()):
        # The command is the whole process (or a worker thread is still in an uninterruptible native
        # call, vision.threads.run_threads): end it here, after the exit handlers (multiprocessing's
        # reaping of its helpers among them), without interpreter shutdown. What the command keeps is
        # already written and closed by now. Shutdown meeting native threads that are still winding
        # down (MediaPipe's, FFmpeg's) can abort the process (seen once in a suite run: SIGABRT after
        # "interrupted" from `landmarks` on its parallel path), and after a finished command it is
        # serial time every command pays: 0.53 / 0.69 s -> 0.10 / 0.08 s from `main`'s return to the
        # process's end, `landmarks` on 360 frames, two alternating pairs at load 10 (README, Speed).
        _end_process(code if isinstance(code, int) else 0, join_threads=not interrupted)
    if isinstance(code, int) and code:
        sys.exit(code)


def _end_process(code: int, join_threads: bool) -> None:
    """End the process as normal exit would, without the interpreter's own finalization: the threads
    it would wait for (non-daemon ones; not after an interrupt, where one may be stuck), streams flushed,
    the exit handlers (``atexit``), then ``os._exit``."""
    import threading

    if join_threads:
        for t in threading.enumerate():
            if t is not threading.current_thread() and not t.daemon:
                t.join()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):   # a closed pipe or stream: nothing more can reach it
            pass
    atexit._run_exitfuncs()     # what normal exit would run first; os._exit skips it
    os._exit(code)


if __name__ == "__main__":
    main()
