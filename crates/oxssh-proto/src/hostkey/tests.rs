//! Unit tests for host key signatures.
