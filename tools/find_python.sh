# Sourced by tools/dist_*.sh and tools/slurm_*.sh: sets PYTHON to the project's Python.
#   1. $PYTHON when set (e.g. PYTHON=/opt/conda/bin/python bash tools/dist_train.sh ...);
#   2. else <repo>/.venv/bin/python when it exists (the environment `make install` builds);
#   3. else `python` from PATH (an activated environment, or an installed ba2m_mm whose
#      tools mim runs from site-packages/ba2m_mm/.mim/tools).
# It says which one it picked on stderr.
_ba2m_repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -n "${PYTHON:-}" ]; then
    _ba2m_why='$PYTHON'
elif [ -x "$_ba2m_repo/.venv/bin/python" ]; then
    PYTHON="$_ba2m_repo/.venv/bin/python"
    _ba2m_why='the repository'"'"'s .venv (set PYTHON to use another)'
else
    PYTHON=python
    _ba2m_why='PATH (no .venv in the repository; set PYTHON to choose)'
fi
echo "[ba2m_mm] python: $PYTHON (from $_ba2m_why)" >&2
unset _ba2m_repo _ba2m_why
