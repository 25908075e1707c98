"""Evaluation metrics of the papers: SSIM, PSNR, mask-SSIM/PSNR, LPIPS (or ``lpips_effnet``), FID (or
``fid_effnet``), TCM, pose accuracy and face identity, plus :func:`evaluate_videos` / :func:`write_report`
(``reenactor evaluate``).

The torch-based parts (LPIPS, FID) are imported on first use so that the pixel metrics stay light.
"""

from __future__ import annotations

from .evaluate import evaluate_videos
from .image import masked_psnr, masked_ssim, psnr, ssim
from .report import json_safe, write_report
from .tcm import tcm

__all__ = [
    "evaluate_videos",
    "write_report",
    "json_safe",
    "ssim",
    "psnr",
    "masked_ssim",
    "masked_psnr",
    "tcm",
]
