//! Shared helpers for kiln's integration tests.
