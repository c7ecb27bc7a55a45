"""Loader for the 1996 American National Election Study subset (``data/anes96.csv``)."""
from __future__ import annotations

from .bundled import check_as_frame, frame_to_arrays, read_bundled_csv

#: Column dtypes, in file order; ``vote`` is the binary target.
COLUMNS = {name: "int64" for name in
           ("popul", "TVnews", "selfLR", "ClinLR", "DoleLR", "PID", "age", "educ", "income", "vote")}
TARGET = "vote"


def load_anes96(as_frame=False):
    """944 respondents of the 1996 American National Election Study and their intended vote.

    Target ``vote``: 0 = Clinton, 1 = Dole (binary; 551 and 393 respondents).
    Features (all integer codes): ``popul`` (population of the respondent's census place,
    thousands), ``TVnews`` (days per week watching TV news, 0-7), ``selfLR``, ``ClinLR``,
    ``DoleLR`` (placement of self, Clinton and Dole on a 1-7 liberal-conservative scale),
    ``PID`` (party identification 0 = strong Democrat .. 6 = strong Republican), ``age``
    (years), ``educ`` (education 1 = grades 1-8 .. 7 = PhD), ``income`` (household income
    bracket 1 = under $3,000 .. 24 = $105,000 and over). Code tables:
    ``chainrule/datasets/README.md``.

    Returns
    -------
    ``as_frame=False``: ``(X, y)``: ``X`` float64 (944, 9) in the column order above,
    ``y`` int64 (944,) in {0, 1}. ``as_frame=True``: the DataFrame of the ten integer
    columns (target last).

    Source: The American National Election Studies (www.electionstudies.org), 1996 Time
    Series Study, subset distributed with statsmodels (``statsmodels.datasets.anes96``).
    Public domain.
    """
    frame = read_bundled_csv("anes96.csv", dtypes=COLUMNS)
    if check_as_frame(as_frame):
        return frame
    return frame_to_arrays(frame, TARGET)
