"""One call for ``cachesim measure compare``: re-run the model if asked, write the table, count the rows."""

from __future__ import annotations

from pathlib import Path

from ..records import read_once, write_text_atomic
from .markdown import comparison_markdown
from .predictions import write_predictions
from .rows import summary

__all__ = ["compare_measurements"]


def compare_measurements(directory: str | Path = "measurements/gpu", *, markdown: str | Path | None = None,
                         rerun_model: bool = False, workers: int = 2) -> dict:
    """Compare the model with the GPU records in ``directory``; return the counts of :func:`summary`.

    Parameters
    ----------
    directory : str or Path
        Folder of the GPU records (and of the stored model predictions).
    markdown : str or Path, optional
        Write the comparison table (:func:`comparison_markdown`) here. The table is built first and then
        written through a temporary file in the same folder, so a failure leaves an existing file as it was.
    rerun_model : bool
        Re-run the model for every ncu case and store the predictions first (:func:`write_predictions`;
        minutes).
    workers : int
        Processes for ``rerun_model``.
    """
    if rerun_model:
        write_predictions(directory, workers=workers)
    with read_once():  # the table and the counts read the same records
        if markdown is not None:
            write_text_atomic(markdown, comparison_markdown(directory))
        return summary(directory)
