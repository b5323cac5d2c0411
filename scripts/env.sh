# Sourced by the scripts (and usable in a shell: `source scripts/env.sh`): where the project-local
# tools live and the variables that make Jupyter and evcxr use them.
_cb_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CANDLEBOOK_ROOT="$_cb_root"
export CANDLEBOOK_TOOLS="${CANDLEBOOK_TOOLS:-$_cb_root/.tools}"
export CANDLEBOOK_VENV="$CANDLEBOOK_TOOLS/venv"
export JUPYTER_DATA_DIR="$CANDLEBOOK_TOOLS/jupyter"
export JUPYTER_CONFIG_DIR="$CANDLEBOOK_TOOLS/jupyter-config"
export EVCXR_CONFIG_DIR="$CANDLEBOOK_TOOLS/evcxr/config"
# One absolute build folder shared by every notebook and kernel: the second run reuses the build.
export EVCXR_TMPDIR="$CANDLEBOOK_TOOLS/evcxr/build"
export PATH="$CANDLEBOOK_TOOLS/cargo/bin:$CANDLEBOOK_VENV/bin:$PATH"
unset _cb_root
