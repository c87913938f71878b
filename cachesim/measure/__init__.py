"""Measurements of real torch / Triton kernels, recorded with provenance, compared with the model."""

from .records import MeasurementRecord, load_records, provenance, write_record

__all__ = ["MeasurementRecord", "load_records", "provenance", "write_record"]
