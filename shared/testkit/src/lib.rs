//! In-memory ports for fast handler and job tests.
