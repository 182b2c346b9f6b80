"""``isobalance hold VIDEO --exercise ID -o OUT/``: check an isometric hold, frame by frame.

``run_hold`` does the work (usable from the dashboard); ``hold_command`` is the typer command the CLI
mounts. Frames stream through the pose model into the same ``HoldMonitor`` a live webcam uses
(``webcam:N`` works too; it stops when the protocol is done or after ``--max-frames``). Outputs in
OUT/: hold.json (result) and hold.mp4 (each frame annotated with timer, phase and stillness).
When a video breaks part-way, the result for the frames read is still written, then the error is
reported.

Safety first (``assessment.safety``): before any frame is read the red-flag screen and the pain score
are taken - asked in a terminal, or given with ``--no-red-flags`` / ``--red-flag ID`` and
``--pain-before N`` when there is no terminal (scripts, CI). A red flag, pain of 7/10 or more, or a
therapist-only technique without the therapist's plan stops with one plain message and exit code 5.
The blood-pressure caution is printed before every hold.

The therapist's plan: ``--plan FILE`` (a plan saved from the review page) or ``--patient ID`` (the
plan saved for that patient in the store) runs a plan item with the therapist's side and dose;
``--exercise`` (and ``--side``) choose the item when the plan has several. With ``--patient`` the
finished hold is saved to the patient's history and recorded against the plan item (adherence).
"""

from __future__ import annotations

import contextlib
import json
import math
from pathlib import Path
from typing import Any, Optional

import typer

from vision.errors import IsobalanceError


class HoldInputError(IsobalanceError):
    """The input or the options of ``isobalance hold`` cannot be used."""


def safety_gate(red_flags: list[str], no_red_flags: bool, pain_before: int | None, interactive: bool,
                echo=print, confirm=None, prompt=None) -> int:
    """Run the red-flag screen and the pain check; return the pain score. Raises SafetyStop / HoldInputError."""
    from assessment.safety import load_safety, pain_before as check_pain, screen

    rules = load_safety()
    if red_flags and no_red_flags:
        raise HoldInputError("--no-red-flags and --red-flag contradict each other; give one of them")
    if red_flags or no_red_flags:
        answers = {f.id: f.id in red_flags for f in rules.red_flags}
        answers.update({k: True for k in red_flags})       # unknown ids are reported by screen()
    elif interactive:
        echo("Safety questions - answer each one (y/n):")
        answers = {f.id: bool(confirm(f"  {f.question}")) for f in rules.red_flags}
    else:
        listing = "\n".join(f"  {f.id}: {f.question}" for f in rules.red_flags)
        raise HoldInputError("answer the safety questions first. Without a terminal, read them and pass "
                             "--no-red-flags if every answer is no, or --red-flag ID for each yes:\n" + listing)
    screen(answers, rules).raise_if_stopped()
    if pain_before is None:
        if not interactive:
            raise HoldInputError("give your pain now on a 0-10 scale with --pain-before N (0 = none, 10 = worst)")
        pain_before = int(prompt("Pain right now, 0 (none) to 10 (worst imaginable)", type=int))
    check_pain(pain_before, rules).raise_if_stopped()
    echo(rules.bp_caution)
    return pain_before


def run_hold(video: str | Path, exercise: str | None, out: Path, model: str | Path | None = None,
             calibrate_s: float = 0.0, settle_s: float = 1.0, write_video: bool = True,
             max_frames: int | None = None, config: Path | None = None, progress: bool = False,
             plan_item: Any = None, safety: dict | None = None) -> dict[str, Any]:
    """Run the hold monitor over a video (or webcam) and write OUT/hold.json (+ OUT/hold.mp4).

    ``plan_item`` (an ``assessment.therapy_plan.PlanItem``) gives the therapist's side and dose;
    without it the catalog's dose is used and a therapist-only technique is refused."""
    from assessment.exercises import load_catalog
    from assessment.hold import HoldMonitor, HoldProtocol, HoldSettings, Phase
    from assessment.hold_drawing import draw_hold_overlay
    from isobalance.config import load_config
    from isobalance.paths import output_folder
    from vision.errors import NoPersonError, PartialInputError
    from vision.drawing import AnnotatedVideoWriter
    from vision.search import open_estimator
    from vision.landmarks_job import model_for
    from vision.pipeline import make_smoother, stream_poses
    from vision.sources import open_source
    from vision.subject import SubjectSelector
    from vision.threads import BackgroundConsumer

    if not (math.isfinite(calibrate_s) and math.isfinite(settle_s)) or calibrate_s < 0 or settle_s <= 0:
        raise HoldInputError("--calibrate-s must be >= 0 and --settle-s > 0 (finite seconds), "
                             f"not {calibrate_s} and {settle_s}")
    from assessment.safety import may_start

    catalog = load_catalog()
    ex = catalog.get(plan_item.exercise_id if plan_item is not None else exercise)   # CatalogError lists valid ids
    may_start(ex, therapist_confirmed=plan_item is not None).raise_if_stopped()
    protocol = plan_item.protocol(catalog) if plan_item is not None else HoldProtocol.from_exercise(ex)
    out = Path(out)
    output_folder(out)                  # checked before the long analysis, not after it
    spec = str(video)
    live = spec.startswith("webcam:")
    if not live and not Path(spec).exists():
        raise HoldInputError(f"video not found: {spec}")
    cfg = load_config(config).override("vision", model=str(model) if model is not None else None)
    model_path = model_for(cfg.vision.model)
    settings = cfg.vision.pipeline_settings()
    src = open_source(spec, **({"max_frames": max_frames} if live and max_frames else {}))
    info = src.info
    monitor = HoldMonitor(protocol, (info.width, info.height),
                          HoldSettings(calibrate_s=calibrate_s, settle_s=settle_s))
    video_path = out / "hold.mp4"
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=info.n_frames, unit="frame", desc=info.name, disable=None)
    annotated = contextlib.ExitStack()
    try:
        # a long file on every core; otherwise (or a file that must be read in order) frames stream
        frames, seen, monitor = _hold_on_every_core(src, model_path, settings, monitor, protocol,
                                                    video_path if write_video else None, bar) \
            if not live and not max_frames else (0, 0, monitor)
        if not frames:
            annotate = None
            if write_video:
                writer = annotated.enter_context(AnnotatedVideoWriter(video_path, info.width, info.height,
                                                                      info.fps))

                def draw_and_write(item) -> None:
                    rgb, status, image_landmarks, timestamp_ms = item
                    draw_hold_overlay(rgb, status, image_landmarks, protocol.still_landmarks)
                    writer.write(rgb, timestamp_ms)

                # drawing and H.264 encoding overlap with inference on the other core (as in ``landmarks``)
                annotate = annotated.enter_context(BackgroundConsumer(draw_and_write, depth=4))
            with open_estimator(model_path, settings) as est:   # the same estimator as every pipeline run
                for frame, pose in stream_poses(src, est, SubjectSelector(), make_smoother(settings),
                                                settings.prefetch):
                    status = monitor.update(pose)
                    frames += 1
                    seen += pose.detected
                    if annotate is not None:
                        annotate.submit((frame.rgb.copy(), status, pose.image, frame.timestamp_ms))
                    if bar is not None:
                        bar.update(1)
                    if (live and status.phase is Phase.DONE) or (max_frames and frames >= max_frames):
                        break
    finally:
        annotated.close()    # the frames still being drawn, then the video (kept with every frame read)
        if bar is not None:
            bar.close()
        src.close()
    if frames == 0:
        raise HoldInputError(f"{info.name} has no frames")
    if seen == 0:
        raise NoPersonError(f"no person detected in any of the {frames} frames of {info.name}; nothing to check")
    result = monitor.result()            # NotMeasurableError when the watched joints were never seen
    result.source = spec
    result.context = {"safety": safety or {},
                      "plan_item": None if plan_item is None else {"exercise_id": plan_item.exercise_id,
                                                                   "side": plan_item.side}}
    if src.error is not None:
        result.notes.append(f"the input broke part-way; only the first {frames} frames were checked: {src.error}")
    written = {"result": str(result.save_json(out / "hold.json")),
               "video": str(video_path) if write_video and video_path.exists() else None,
               "repetitions_completed": result.completed, "repetitions_planned": protocol.repetitions,
               "repetitions_counted": result.counted,
               "breaks": sum(len(r.breaks) for r in result.repetitions), "frames": frames,
               "document": result.to_dict(), "protocol": protocol}
    if src.error is not None:
        raise PartialInputError(f"{src.error} The result for the frames read is in {written['result']}.")
    return written


# The monitor's cost per frame as a share of a hold.mp4 part's (decode, draw, encode): since its settle
# window is incremental (091978f, b1f121c) ~0.25-0.35 ms against ~5.3 ms CPU at 576x576 (1200-frame clip,
# 2 cores; it was ~0.8 ms, and this 0.15). The render gives the first part that much more of the clip
# (vision.render.plan_parts): the last part waits for the monitor to reach its first frame.
MONITOR_LEAD = 0.05


def _hold_on_every_core(src, model_path, settings, monitor, protocol, video_path: Path | None,
                        bar) -> tuple[int, int, object]:
    """A long video file: the track on every core (``vision.parallel``), the monitor over its final
    poses frame by frame as soon as they are final (each time a segment ends with every earlier one:
    ``run_parallel``'s ``on_poses``), on the core the first segment to end frees, and the annotated video
    drawn from its statuses in parallel parts that start then too (``vision.render.BackgroundRender``).
    Returns (frames checked, frames with a person, the monitor fed), or (0, 0, a monitor not fed) when
    the file is short or must be read sequentially (the caller's streaming loop then runs)."""
    import copy
    from functools import partial

    from vision.parallel import available_cores, parallel_pays, run_parallel
    from vision.render import BackgroundRender
    from vision.sources import VideoFileSource

    if not isinstance(src, VideoFileSource) or not parallel_pays(src.info.n_frames):
        return 0, 0, monitor
    fresh = copy.deepcopy(monitor)       # for the streaming loop if the parallel run is abandoned part-way
    with contextlib.ExitStack() as stack:
        render = None if video_path is None else stack.enter_context(BackgroundRender(
            src.path, video_path, partial(draw_hold_frame, still_landmarks=protocol.still_landmarks),
            workers=available_cores(), info=src.info, lead=MONITOR_LEAD))
        def check(poses: list, n: int) -> None:
            # the monitor is causal: a final pose's status is final; the parts draw each as it is made
            # (the first segment's frames in a part of their own: BackgroundRender.put_final)
            if render is None:
                for pose in poses:
                    monitor.update(pose)
            else:
                render.put_final(((monitor.update(pose), pose.image) for pose in poses), len(poses), n)

        run = run_parallel(src.path, model_path, settings, on_progress=bar.update if bar is not None else None,
                           on_poses=check)
        if run is None:
            if render is not None:
                render.cancel()
            return 0, 0, fresh
        if render is not None:
            render.wait()
    return len(run.track), int(run.track.detected.sum()), monitor


def draw_hold_frame(rgb, index: int, timestamp_ms: float, payload, still_landmarks: tuple[str, ...] = ()) -> None:
    """``vision.render``'s drawing of one hold.mp4 frame: the same overlay as the streaming loop."""
    from assessment.hold_drawing import draw_hold_overlay

    status, image_landmarks = payload
    draw_hold_overlay(rgb, status, image_landmarks, still_landmarks)


def hold_command(
    video: Path = typer.Argument(..., help="Video file of the hold (or webcam:N for a live check)"),
    exercise: Optional[str] = typer.Option(None, "--exercise", "-e",
                                           help="Exercise id from the catalog (or the plan item to run)"),
    plan: Optional[Path] = typer.Option(None, "--plan", help="Run an item of this therapist's plan (JSON)"),
    patient: Optional[str] = typer.Option(None, "--patient",
                                          help="Run an item of the plan saved for this patient; save the hold"),
    side: Optional[str] = typer.Option(None, "--side", help="Plan item side (left/right/both) when ambiguous"),
    db: Optional[str] = typer.Option(None, "--db", help="Store database URL (with --patient)"),
    out: Path = typer.Option(Path("hold_out"), "-o", "--out", help="Output folder for hold.json and hold.mp4"),
    model: Optional[Path] = typer.Option(None, help="Pose model name (lite/full/heavy) or .task path"),
    calibrate_s: float = typer.Option(0.0, "--calibrate-s",
                                      help="Seconds at rest at the start to measure jitter (0 = default band)"),
    settle_s: float = typer.Option(1.0, "--settle-s", help="Seconds still in position before a hold starts"),
    video_out: bool = typer.Option(True, "--video/--no-video", help="Write the annotated video"),
    max_frames: Optional[int] = typer.Option(None, help="Stop after this many frames"),
    config: Optional[Path] = typer.Option(None, help="TOML configuration file"),
    progress: bool = typer.Option(True, help="Show a progress bar"),
    no_red_flags: bool = typer.Option(False, "--no-red-flags",
                                      help="I have read the safety questions and every answer is no"),
    red_flag: Optional[list[str]] = typer.Option(None, "--red-flag",
                                                 help="A safety question answered yes (its id); stops the exercise"),
    pain_before: Optional[int] = typer.Option(None, "--pain-before", help="Pain now, 0-10 (asked if not given)"),
    pain_after: Optional[int] = typer.Option(None, "--pain-after",
                                             help="Pain after the exercise, 0-10 (asked in a terminal if not "
                                                  "given); saved with the hold"),
) -> None:
    """Check that the joints an exercise names stay still during its isometric holds."""
    import sys

    from isobalance.cli_errors import fail

    interactive = sys.stdin.isatty()
    store = None

    try:
        if plan is not None and patient is not None:
            raise HoldInputError("give --plan FILE or --patient ID, not both")
        if plan is None and patient is None and exercise is None:
            raise HoldInputError("choose what to run: --exercise ID, --plan FILE or --patient ID")
        therapy, item, pid = None, None, None
        if plan is not None:
            from assessment.therapy_plan import load_plan

            therapy = load_plan(plan)
        elif patient is not None:
            from isobalance.config import load_config
            from isobalance.paths import open_store
            from store.plans import current_plan

            store = open_store(load_config(config), db)
            pid = store.resolve_patient(patient)
            therapy = current_plan(store, pid)
            if therapy is None:
                raise HoldInputError(f"no plan is saved for patient {patient}: the therapist saves one on the "
                                     "review page ('Save plan for this patient')")
        if therapy is not None:
            item = therapy.item(exercise, side)
        pain = safety_gate(list(red_flag or []), no_red_flags, pain_before, interactive,
                           echo=typer.echo, confirm=lambda q: typer.confirm(q, default=None),
                           prompt=typer.prompt)
        from assessment.safety import pain_record

        pain_record(pain, pain_after)           # a wrong --pain-after fails before the video is read
        written = run_hold(video, exercise, out, model=model, calibrate_s=calibrate_s, settle_s=settle_s,
                           write_video=video_out, max_frames=max_frames, config=config, progress=progress,
                           plan_item=item, safety=pain_record(pain, None))
        if item is not None:
            typer.echo(f"plan item: {item.exercise_id} ({item.side}), hold {item.hold_s:g} s x {item.repetitions}")
        show_hold(written)
        record = pain_after_record(pain, pain_after, interactive)
        written["document"]["context"]["safety"] = record
        Path(written["result"]).write_text(json.dumps(written["document"], indent=2), encoding="utf-8")
        if store is not None:
            from store.plans import adherence, save_plan_hold

            files = {"hold_video": written["video"]} if written["video"] else None
            sid = save_plan_hold(store, pid, therapy, item, written["document"], files)
            typer.echo(f"saved to the patient's history: session {sid}")
            for row in adherence(store, pid):
                typer.echo(f"  {row['exercise_id']} ({row['side']}): {row['done_this_week']}/{row['per_week']} "
                           f"this week ({row['week']})")
    except IsobalanceError as exc:
        fail(exc)                       # one escaped line, the error's exit code
    finally:
        if store is not None:
            store.close()
    if record["stop"]:
        from assessment.safety import SafetyStop

        fail(SafetyStop(record["pain_message"]))     # saved first: the therapist sees the rise in the history


def pain_after_record(before: int, after: int | None, interactive: bool) -> dict[str, Any]:
    """Pain after the exercise (flag, or asked in a terminal) and the stop rule's answer, as saved."""
    from assessment.safety import pain_record

    if after is None and interactive:
        after = typer.prompt("Pain now, after the exercise, 0-10", type=int)
    record = pain_record(before, after)
    typer.echo(record["pain_message"] or "pain after the exercise: not given (--pain-after N records it)")
    return record


def show_hold(written: dict[str, Any]) -> None:
    typer.echo(f"result: {written['result']}")
    if written["video"]:
        typer.echo(f"video: {written['video']}")
    typer.echo(f"repetitions: {written['repetitions_counted']}/{written['repetitions_planned']} counted "
               f"({written['repetitions_completed']} completed), {written['breaks']} break(s)")
    for row in written["document"]["summary"]["per_repetition"]:
        barrier = "" if row["barrier_deg"] is None else f", barrier {row['barrier_deg']:.1f} +/- {row['barrier_error_deg']:.1f} deg"
        typer.echo(f"  rep {row['index']}: held still {row['held_still_s']:.1f} s, longest still "
                   f"{row['longest_still_s']:.1f} s, {row['breaks']} break(s){barrier}"
                   + ("" if row["counted"] else f" - not counted: {row['why_not']}"))
    gain = (written["document"]["barrier"] or {}).get("gain")
    if gain:
        typer.echo(f"range gained over the set: {gain['gain_deg']:+.1f} deg "
                   f"({'beyond' if gain['beyond_noise'] else 'within'} noise; {gain['rule']})")
