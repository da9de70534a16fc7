"""Active learning: the unlabeled pool, uncertainty queue, Gemini label proposals, human approval and rounds.

Submodules: `pool` (import and extract), `scoring` (uncertainty and the diverse queue), `labeling` (Gemini
structured output), `approval` (approve/correct/reject/skip, undo, bulk approve: labels in the database only), `rounds`
(retrain and history), `simulation` (uncertainty vs random on a labeled set whose labels are hidden).
"""
