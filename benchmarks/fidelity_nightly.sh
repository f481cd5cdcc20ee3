#!/usr/bin/env bash
# Nightly fidelity run: the property suite compared with SciPy under the "long" hypothesis profile
# (25,000 examples per test, 7 tests: about 175,000 random calls; set CONVCORE_LONG_EXAMPLES for
# fewer), then SciPy's own test suites against convcore (tests/conformance). Run from the source
# tree or an installed checkout:  bash benchmarks/fidelity_nightly.sh [extra pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python}
echo "examples per test: ${CONVCORE_LONG_EXAMPLES:-25000}; $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
start=$(date +%s)
"$python" -m pytest -q -p no:cacheprovider tests/test_properties.py --hypothesis-profile=long \
    --hypothesis-show-statistics "$@"
"$python" -m pytest -q -p no:cacheprovider tests/conformance "$@"
echo "fidelity nightly: $(( $(date +%s) - start )) s"
