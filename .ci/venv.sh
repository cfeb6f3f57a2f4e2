# Sourced by run_demo.sh and run_tests.sh: make .venv when missing and install the requirements
# only when they changed since the last install (their checksum is kept in a stamp file).
venv_dir="$repo_root/.venv"
stamp="$venv_dir/.requirements.sha256"
wanted=$(cat "$repo_root/requirements.txt" "$repo_root/requirements-nodeps.txt" | sha256sum | cut -d' ' -f1)
if [ ! -x "$venv_dir/bin/python" ]; then
    echo "creating $venv_dir" >&2
    python3 -m venv "$venv_dir" || { echo "error: python3 -m venv failed (on Debian/Ubuntu: apt-get install python3-venv)" >&2; exit 1; }
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
    echo "installing requirements.txt and requirements-nodeps.txt into $venv_dir" >&2
    "$venv_dir/bin/python" -m pip install --disable-pip-version-check -q -r "$repo_root/requirements.txt" \
        || { echo "error: installing requirements.txt failed" >&2; exit 1; }
    "$venv_dir/bin/python" -m pip install --disable-pip-version-check -q --no-deps -r "$repo_root/requirements-nodeps.txt" \
        || { echo "error: installing requirements-nodeps.txt failed" >&2; exit 1; }
    echo "$wanted" > "$stamp"
fi
PYTHON="$venv_dir/bin/python"
