#!/bin/sh
# Lints the Python recipe: flake8 (.flake8) and black --check (pyproject.toml), from the repository root.
set -e
cd "$(dirname "$0")/.."
flake8 training
black --check --quiet training
echo "training/: flake8 and black clean"
