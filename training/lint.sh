#!/bin/sh
# Lints the Python recipe: flake8 (.flake8) and black --check (pyproject.toml), from the repository root.
# Without flake8 or black (apt-get install -y flake8 black) it says so and passes, except under CI=true.
set -e
cd "$(dirname "$0")/.."
for tool in flake8 black; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    if [ "$CI" = "true" ]; then
      echo "training/lint.sh: $tool not found (CI=true: apt-get install -y flake8 black)" >&2
      exit 1
    fi
    echo "SKIPPED: training/ lint: $tool not found (apt-get install -y flake8 black)"
    exit 0
  fi
done
flake8 training
black --check --quiet training
echo "training/: flake8 and black clean"
