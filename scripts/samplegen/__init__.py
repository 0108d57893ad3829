"""Generators for the sample corpus in ``samples/`` (see ``scripts/make_samples.py``)."""

from . import annual_report, claim_form, manual, newsletter, recipes, slides, timetable

#: Every sample document, in the order they are written (each module has ``build() -> Sample``).
DOCUMENTS = (annual_report, manual, recipes, slides, claim_form, timetable, newsletter)

__all__ = ["DOCUMENTS"]
