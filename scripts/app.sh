#!/usr/bin/env bash
# Set up (if needed) and start LeNet Lab on http://localhost:8501
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/streamlit run streamlit_app.py "$@"
