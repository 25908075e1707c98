"""Evaluation protocols of the papers (e.g. paper 004's self-reenactment, Table 1)."""
