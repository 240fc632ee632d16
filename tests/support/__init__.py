"""Helpers shared by the test layers (unit, integration, e2e). conftest.py only holds fixtures."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
