"""The Models tab's "Evaluate on a suite": choose a suite and models, run the evaluation as a job, then models x
domains (each model's worst domain highlighted), a confusion matrix a domain, and the images each model gets wrong.
Logic and tables: `core.suites`."""

from __future__ import annotations

import streamlit as st

from core.auth import Permission, allowed
from core.jobs import Job
from core.models.registry import Registry
from core.store import Store
from core.suites.evaluate import SuiteEvaluation
from core.suites.kinds import SUITE_EVALUATION, SuiteEvaluationParams, SuiteEvaluationResult
from core.suites.manage import last_used_suite, list_suites, overlap_warning
from core.suites.views import domain_table, worst_cells, wrong_images
from core.viz.training import confusion_heatmap
from ui.auth import needs
from ui.common import get_store
from ui.jobs import job_panel, latest_job, submit


def suite_section(store: Store, registry: Registry) -> None:
    st.subheader("Evaluate on a suite")
    suites = list_suites(store)
    if not suites:
        st.caption(
            "No evaluation suite yet. `python -m core suites create NAME --set DOMAIN=PATH ...` imports labeled "
            "test sets, one domain each (web, posed, low-res, ...); their images are never trained on."
        )
        return
    names = [s.name for s in suites]
    last = last_used_suite(store)
    name = st.selectbox("Suite", names, index=names.index(last) if last in names else 0, key="suite_pick")
    suite = suites[names.index(name)] if name in names else suites[0]
    st.caption(
        f"{suite.n_images} test images: "
        + ", ".join(f"{s.domain} {len(s.image_ids)}" for s in suite.sets)
        + ". An image a model gives no answer for (MediaPipe found no face, and the model cannot read a small image"
        " whole) counts as a wrong answer."
    )
    warning = overlap_warning(store, suite.name)
    if warning:
        st.warning(warning)
    ids = [c.id for c in registry.list()]
    active = registry.active_id()
    picked = st.multiselect(
        "Models", ids, default=[active] if active in ids else ids[:1], key="suite_models", max_selections=20
    )
    job = latest_job(SUITE_EVALUATION)
    busy = job is not None and not job.finished
    if not allowed(Permission.TRAIN):
        needs(Permission.TRAIN, "Evaluating models on a suite")
    elif (
        st.button("Evaluate", key="suite_run", disabled=not picked or busy)
        and submit(SUITE_EVALUATION, SuiteEvaluationParams(suite=suite.name, model_ids=picked)) is not None
    ):
        st.rerun()
    job_panel(SUITE_EVALUATION, show_evaluation, key="suite_job")


def show_evaluation(job: Job) -> None:
    result = job.result_as(SuiteEvaluationResult)
    if result is None:
        return
    evaluation = SuiteEvaluation.model_validate(result.evaluation)
    if result.warning:
        st.warning(result.warning)
    st.caption(f"macro-F1 on suite {evaluation.suite}, one column a domain; each model's worst domain is highlighted.")
    table = domain_table(evaluation)
    st.dataframe(table.style.apply(worst_cells, axis=None).format(precision=3), key="suite_table")
    scored = [m for m in evaluation.models if m.domains]
    if not scored:
        return
    c1, c2 = st.columns(2)
    model_ids = [m.model_id for m in scored]
    model_id = c1.selectbox("Model", model_ids, key="suite_cm_model")
    score = scored[model_ids.index(model_id)] if model_id in model_ids else scored[0]
    worst = score.worst
    domains = [d.domain for d in score.domains]
    domain_name = c2.selectbox(
        "Domain", domains, index=domains.index(worst.domain) if worst else 0, key="suite_cm_domain"
    )
    domain = score.domain(domain_name) or score.domains[0]
    st.caption(domain.line())
    st.plotly_chart(
        confusion_heatmap(
            domain.confusion_matrix, domain.labels, f"{score.model_id} on {domain.domain}", columns=domain.columns
        ),
        key="suite_cm",
    )
    st.markdown(f"**{domain.n_wrong} images {score.model_id} gets wrong in {domain.domain}**")
    if domain.wrong:
        st.dataframe(
            wrong_images(get_store(), domain),
            hide_index=True,
            column_config={"thumbnail": st.column_config.ImageColumn("Image", width="small")},
            key="suite_wrong",
        )
