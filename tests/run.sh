#!/usr/bin/env bash
# The test suite: builds every binary (the integration tests run the real executables),
# then runs all unit, integration and interop tests of the workspace.
# Interop tests need OpenSSH (apt-get install -y openssh-server openssh-client);
# without it they skip with a printed reason, or fail when CI=true.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --workspace --bins --locked
cargo test --workspace --locked "$@"
