"""Evaluation protocols of the papers (e.g. Aberman et al.'s self-reenactment, Table 1)."""
