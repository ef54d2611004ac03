"""Pydantic shapes, kept cheap to import because every function loads some at cold start.

- Every model defers building its validator to its first use (``defer_build=True``): a function
  builds only the shapes its requests touch.
- These modules do not use ``from __future__ import annotations``: pydantic would have to compile
  and evaluate every field's annotation from a string when the class is created. Quote only the
  forward references that need it.
"""
