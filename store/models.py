"""The store's tables as SQLAlchemy ORM classes (the schema at the newest migration, ``head``).

Why these columns: a session keeps the whole original document (report or hold result JSON) so an
export gives back exactly what was saved, and also the few numbers the progress views query
(findings with their uncertainty band, plan items, hold repetitions) as plain columns. Timestamps are
ISO-8601 UTC strings (``2026-05-20T09:15:00Z``): they sort as text and read back identically on
SQLite and PostgreSQL. Every child row is deleted with its parent by the database (ON DELETE CASCADE).
Changing a column here needs a new migration in ``store/migrations/versions``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

ID = String(32)
UTC = String(20)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


def _children() -> dict[str, Any]:
    return {"cascade": "all, delete-orphan", "passive_deletes": True}


class Patient(Base):
    __tablename__ = "patients"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200))
    created_utc: Mapped[str] = mapped_column(UTC)
    notes: Mapped[str] = mapped_column(Text, default="")

    sessions: Mapped[list["Session"]] = relationship(back_populates="patient", order_by="Session.recorded_utc",
                                                     **_children())


class Session(Base):
    __tablename__ = "sessions"
    __table_args__ = (Index("ix_sessions_patient_recorded", "patient_id", "recorded_utc"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    patient_id: Mapped[str] = mapped_column(ID, ForeignKey("patients.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))            # "assessment" | "hold"
    recorded_utc: Mapped[str] = mapped_column(UTC)
    saved_utc: Mapped[str] = mapped_column(UTC)
    source: Mapped[str] = mapped_column(Text, default="")    # video path or webcam spec, as recorded
    source_kind: Mapped[str] = mapped_column(String(16))     # "video" | "webcam" | "track" | "memory"
    views: Mapped[dict[str, Any]] = mapped_column(JSON)
    model: Mapped[str] = mapped_column(Text, default="")
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)
    summary: Mapped[list[Any]] = mapped_column(JSON)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)   # the report / hold result as saved
    notes: Mapped[str] = mapped_column(Text, default="")

    patient: Mapped[Patient] = relationship(back_populates="sessions")
    findings: Mapped[list["FindingRow"]] = relationship(order_by="FindingRow.position", **_children())
    plan: Mapped[list["PlanItem"]] = relationship(order_by="PlanItem.position", **_children())
    holds: Mapped[list["Hold"]] = relationship(order_by="Hold.id", **_children())
    files: Mapped[list["StoredFile"]] = relationship(order_by="StoredFile.role", **_children())


class FindingRow(Base):
    __tablename__ = "findings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ID, ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    key: Mapped[str] = mapped_column(String(120))             # kind-metric (assessment.report.finding_key)
    metric: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(Text)
    view: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    unit: Mapped[str] = mapped_column(String(32))
    threshold: Mapped[float | None] = mapped_column(Float, nullable=True)
    threshold_source: Mapped[str] = mapped_column(Text)
    uncertainty: Mapped[dict[str, Any]] = mapped_column(JSON)
    direction: Mapped[str] = mapped_column(Text, default="")
    side: Mapped[str | None] = mapped_column(String(8), nullable=True)
    # added by migration 0002: the band the progress view draws (95% CI widened by the model error)
    ci_low: Mapped[float | None] = mapped_column(Float, nullable=True)
    ci_high: Mapped[float | None] = mapped_column(Float, nullable=True)
    systematic: Mapped[float | None] = mapped_column(Float, nullable=True)


class PlanItem(Base):
    __tablename__ = "plan_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ID, ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    exercise_id: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(Text)
    technique: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(8))
    why: Mapped[list[Any]] = mapped_column(JSON)
    hypothesis_ids: Mapped[list[Any]] = mapped_column(JSON)


class Hold(Base):
    __tablename__ = "holds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ID, ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    exercise_id: Mapped[str] = mapped_column(String(100), index=True)
    exercise_name: Mapped[str] = mapped_column(Text, default="")
    technique: Mapped[str] = mapped_column(String(32), default="")
    repetitions_planned: Mapped[int] = mapped_column(Integer)
    repetitions_completed: Mapped[int] = mapped_column(Integer)
    breaks: Mapped[int] = mapped_column(Integer)
    duration_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    final_phase: Mapped[str] = mapped_column(String(16))

    repetitions: Mapped[list["HoldRepetition"]] = relationship(order_by="HoldRepetition.index", **_children())


class HoldRepetition(Base):
    __tablename__ = "hold_repetitions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    hold_id: Mapped[int] = mapped_column(Integer, ForeignKey("holds.id", ondelete="CASCADE"), index=True)
    index: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(16))
    hold_duration_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    held_still_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    still_fraction: Mapped[float | None] = mapped_column(Float, nullable=True)
    longest_unbroken_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    not_visible_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    breaks: Mapped[int] = mapped_column(Integer)


class StoredFile(Base):
    __tablename__ = "files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ID, ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(32))            # "track" | "video" | "report_html" | ...
    name: Mapped[str] = mapped_column(String(200))           # file name inside the session folder
    relpath: Mapped[str] = mapped_column(Text)               # patients/<patient>/<session>/<name>
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)


# ---------------------------------------------------------------------------------------- therapy plans (0003)
class TherapyPlanRow(Base):
    """A plan the therapist saved for a patient (assessment.therapy_plan.TherapyPlan); newest = current."""

    __tablename__ = "therapy_plans"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    patient_id: Mapped[str] = mapped_column(ID, ForeignKey("patients.id", ondelete="CASCADE"), index=True)
    saved_utc: Mapped[str] = mapped_column(UTC)
    note: Mapped[str] = mapped_column(Text)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)

    items: Mapped[list["TherapyPlanItemRow"]] = relationship(order_by="TherapyPlanItemRow.position", **_children())


class TherapyPlanItemRow(Base):
    __tablename__ = "therapy_plan_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    plan_id: Mapped[str] = mapped_column(ID, ForeignKey("therapy_plans.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    exercise_id: Mapped[str] = mapped_column(String(100))
    side: Mapped[str] = mapped_column(String(8))                # left | right | both, never "affected"
    hold_s: Mapped[float] = mapped_column(Float)
    relax_s: Mapped[float] = mapped_column(Float)
    stretch_s: Mapped[float] = mapped_column(Float)
    repetitions: Mapped[int] = mapped_column(Integer)
    per_week: Mapped[int] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(Text)

    holds: Mapped[list["PlanHoldRow"]] = relationship(order_by="PlanHoldRow.done_utc", **_children())


class PlanHoldRow(Base):
    """A finished hold (a session of kind "hold") done from a plan item: the adherence record."""

    __tablename__ = "plan_holds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(Integer, ForeignKey("therapy_plan_items.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[str] = mapped_column(ID, ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    done_utc: Mapped[str] = mapped_column(UTC)
    repetitions_counted: Mapped[int] = mapped_column(Integer)
