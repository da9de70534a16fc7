"""Widgets and background runs of the Generate page. The generation itself is `core.generation`.

A run is a job (core.jobs): a worker runs it with the server's key, or, with a key typed into the page, a thread of
this process does. Closing the tab loses nothing: the items, their states and the run are in the database, and the
page only polls them.
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
import streamlit as st
from pydantic import ValidationError

from core.auth import Permission, require
from core.generation.image_api import estimate_cost
from core.generation.jobs import JobStore
from core.generation.kinds import GEMINI_KEY, GENERATION, GenerationParams
from core.generation.templates import (
    GenerationJob,
    GenerationTemplate,
    TemplateError,
    describe_validation_error,
    parse_template,
)
from core.jobs import Job
from core.schema import EMOTIONS, GEN_DONE, GEN_FAILED, GEN_PENDING, GEN_RUNNING
from core.settings import Settings
from ui.gemini_key import gemini_key_ui
from ui.jobs import get_queue, run_here, submit

log = logging.getLogger("ui.generate")
KEY_STATE = "gen_api_key"  # the widget's session-state key: the typed key lives only in this session's memory
PREVIEW_ROWS = 20


# ---- runs (jobs) -------------------------------------------------------------------------------------------
def runs_of(generation_job_id: int) -> list[Job]:
    """The queue's jobs that ran (or run) this generation job, newest first."""
    return [
        j
        for j in get_queue().recent(kind=GENERATION, limit=200)
        if j.params.get("generation_job_id") == generation_job_id
    ]


def active_run(generation_job_id: int) -> Job | None:
    return next((j for j in runs_of(generation_job_id) if not j.finished), None)


def start_run(generation_job_id: int, settings: Settings, api_key: str, *, extract: bool) -> int | None:
    """Run the generation job's pending items as a job: in a worker with the server's key, or in this process
    when the key was typed into the page (it must stay in this session's memory)."""
    require(Permission.GENERATE)  # refused here, in the session, with a message
    if active_run(generation_job_id) is not None:
        return None
    params = GenerationParams(generation_job_id=generation_job_id, extract_landmarks=extract)
    if settings.gemini_api_key is not None:
        return submit(GENERATION, params)
    return run_here(GENERATION, params, {GEMINI_KEY: api_key})


def api_key_ui(settings: Settings) -> str | None:
    return gemini_key_ui(settings, key=KEY_STATE, disabled_what="generation")


def _lines(text: str) -> list[str]:
    return [v.strip() for v in text.replace(",", "\n").splitlines() if v.strip()]


# Template field -> widget key. Widgets read their values from session state, so a loaded template fills them.
LIST_WIDGETS = {
    "ages": "gen_ages",
    "sexes": "gen_sexes",
    "ethnicities": "gen_ethnicities",
    "head_poses": "gen_poses",
    "lightings": "gen_lightings",
    "backgrounds": "gen_backgrounds",
    "glasses": "gen_glasses",
    "accessories": "gen_accessories",
}
VALUE_WIDGETS = {
    "name": "gen_name",
    "emotions": "gen_emotions",
    "expansion": "gen_expansion",
    "sample_size": "gen_sample",
    "images_per_combination": "gen_per",
    "seed": "gen_seed",
    "output_size": "gen_size",
    "model": "gen_model",
    "prompt_template": "gen_prompt",
}
UPLOAD_KEY = "gen_template_file"
UPLOAD_ERROR = "gen_template_error"


def _fill_widgets(template: GenerationTemplate, settings: Settings, *, overwrite: bool) -> None:
    values = template.model_dump()
    values["model"] = template.model or settings.gemini_image_model
    values["sample_size"] = template.sample_size or 24
    for field_name, key in LIST_WIDGETS.items():
        if overwrite or key not in st.session_state:
            st.session_state[key] = "\n".join(values[field_name])
    for field_name, key in VALUE_WIDGETS.items():
        if overwrite or key not in st.session_state:
            st.session_state[key] = values[field_name]


def _load_uploaded(settings: Settings) -> None:
    """on_change of the uploader: runs before the script, so it may set the widgets' state."""
    upload = st.session_state.get(UPLOAD_KEY)
    st.session_state[UPLOAD_ERROR] = None
    if upload is None:
        return
    try:
        template = parse_template(upload.getvalue().decode("utf-8", errors="replace"))
    except TemplateError as exc:
        st.session_state[UPLOAD_ERROR] = f"{upload.name}: {exc}"
        return
    _fill_widgets(template, settings, overwrite=True)


def template_ui(settings: Settings) -> GenerationTemplate | None:
    """The template form; returns a valid template or shows what is wrong (field by field)."""
    _fill_widgets(GenerationTemplate(), settings, overwrite=False)  # defaults, once per session
    st.file_uploader(
        "Load a template file (JSON, as written by the download button or for the CLI)",
        type=["json"],
        key=UPLOAD_KEY,
        on_change=_load_uploaded,
        args=(settings,),
    )
    if st.session_state.get(UPLOAD_ERROR):
        st.error(st.session_state[UPLOAD_ERROR])
    help_lines = "One value per line."
    c1, c2, c3 = st.columns(3)
    values: dict[str, Any] = {"name": c1.text_input("Name", key="gen_name")}
    values["ages"] = _lines(c1.text_area("Ages (bucket or range)", key="gen_ages", height=100, help=help_lines))
    values["sexes"] = _lines(c2.text_area("Sexes", key="gen_sexes", height=100, help=help_lines))
    values["ethnicities"] = _lines(c3.text_area("Ethnicities", key="gen_ethnicities", height=100, help=help_lines))
    values["emotions"] = st.multiselect("Emotions", EMOTIONS, key="gen_emotions")
    with st.expander("Pose, lighting, background, glasses, accessories"):
        e1, e2, e3 = st.columns(3)
        for col, (label, field_name) in zip(
            (e1, e2, e3, e1, e2),
            [
                ("Head poses", "head_poses"),
                ("Lighting", "lightings"),
                ("Backgrounds", "backgrounds"),
                ("Glasses", "glasses"),
                ("Accessories", "accessories"),
            ],
            strict=True,
        ):
            values[field_name] = _lines(col.text_area(label, key=LIST_WIDGETS[field_name], height=100, help=help_lines))
    c4, c5, c6, c7 = st.columns(4)
    values["expansion"] = c4.radio("Expansion", ["product", "sample"], key="gen_expansion", horizontal=True)
    if values["expansion"] == "sample":
        values["sample_size"] = int(c4.number_input("Combinations to sample", 1, 20_000, key="gen_sample"))
    values["images_per_combination"] = int(c5.number_input("Images per combination", 1, 100, key="gen_per"))
    values["seed"] = int(c6.number_input("Seed", 0, 2**31 - 1, key="gen_seed"))
    values["output_size"] = int(c7.number_input("Output size (px)", 64, 4096, key="gen_size"))
    values["model"] = st.text_input("Model", key="gen_model").strip() or None
    with st.expander("Prompt template"):
        values["prompt_template"] = st.text_area(
            "Placeholders: {age} {sex} {ethnicity} {emotion} {expression} {head_pose} {lighting} {background} "
            "{glasses} {accessories}",
            key="gen_prompt",
            height=140,
        )
    try:
        return GenerationTemplate.model_validate(values)
    except ValidationError as exc:
        st.error(f"The template is not valid: {describe_validation_error(exc)}")
        return None


def preview_ui(template: GenerationTemplate, model: str) -> None:
    n = template.item_count()
    st.markdown(
        f"**{n} images** ({template.combination_count()} combinations × {template.images_per_combination}) "
        f"with `{model}`: about **${estimate_cost(model, n):.2f}** at list price."
    )
    with st.expander(f"Preview the prompts (first {min(n, PREVIEW_ROWS)})"):
        # One block per prompt, wrapped: a table cell would cut a prompt of several sentences.
        for i, sample in enumerate(template.expand()[:PREVIEW_ROWS], start=1):
            st.markdown(f"**{i}. {sample.attributes.emotion}** · persona `{sample.persona}`")
            st.code(sample.prompt, language=None, wrap_lines=True)
    st.download_button(
        "Download this template (for `python -m core generate --template`)",
        template.model_dump_json(indent=2, exclude_defaults=False),
        file_name=f"{template.name or 'template'}.json",
        mime="application/json",
        key="gen_download",
    )


def job_picker(jobs: JobStore) -> GenerationJob | None:
    all_jobs = jobs.list_jobs()
    if not all_jobs:
        return None
    labels = {
        j.id: f"#{j.id} {j.name}: {j.counts[GEN_DONE]}/{j.total} done, {j.counts[GEN_FAILED]} failed" for j in all_jobs
    }
    chosen = st.selectbox("Job", list(labels), format_func=labels.__getitem__, key="gen_job")
    job = next(j for j in all_jobs if j.id == chosen)
    if job.started_by:
        st.caption(f"Started by {job.started_by}.")
    return job


def progress_ui(jobs: JobStore, job_id: int) -> None:
    """Progress, gallery and failures of one job, read from the database (so any tab sees the same)."""
    counts = jobs.counts(job_id)
    total = sum(counts.values()) or 1
    settled = counts[GEN_DONE] + counts[GEN_FAILED]
    runs = runs_of(job_id)
    active = next((j for j in runs if not j.finished), None)
    if active is not None:
        state = "waiting for a worker" if active.status == "queued" else "running"
    else:
        state = "finished" if counts[GEN_PENDING] == 0 else "stopped (resume to continue)"
    st.progress(settled / total, text=f"{settled}/{total} settled · {state}")
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Done", counts[GEN_DONE])
    m2.metric("Failed", counts[GEN_FAILED])
    m3.metric("Pending", counts[GEN_PENDING] + counts[GEN_RUNNING])
    rate = jobs.recent_rate(job_id)
    m4.metric("Rate", f"{rate:.2f}/s", help="Images settled per second over the last 30 s.")
    if runs and runs[0].status == "failed":
        st.error(f"The last run stopped: {runs[0].error}")

    recent = jobs.recent_done(job_id, limit=8)
    store = jobs.store
    if recent:
        cols = st.columns(8)
        for col, item in zip(cols, recent, strict=False):
            record = store.get(item.image_id) if item.image_id is not None else None
            if record is not None and store.absolute_path(record).is_file():
                col.image(str(store.absolute_path(record)), caption=item.emotion, width="stretch")

    failures = jobs.items(job_id, states=[GEN_FAILED])
    if failures:
        st.markdown(f"**Failures ({len(failures)})**")
        st.dataframe(
            pd.DataFrame([{"item": f.file_name, "emotion": f.emotion, "reason": f.reason} for f in failures]),
            hide_index=True,
            key=f"gen_failures_{job_id}",
        )
